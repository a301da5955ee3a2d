"""The ``@connections`` API (``apigatewaymanagementapi``): post to, describe and close a connection.

A management call, reached two ways: at a stage's URL (``/{stage}/@connections/{id}``, exactly that form, for a
stage deployed on that API) and at the gateway's root (``/@connections/{id}``, what boto3 in a function reaches
through ``AWS_ENDPOINT_URL``), which stands for the connection's own API and stage. Either way a call reaches only
a connection of that API and stage: any other is ``GoneException`` (410), as on AWS, where a connection id means
nothing at another API's endpoint.

Under ``--admin-key`` a call must be signed (SigV4, service ``execute-api``, the API's region) by an identity whose
policies allow ``execute-api:ManageConnections`` on
``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{VERB}/@connections/{id}`` (AWS's REST-style ARN, with the
call's own verb: POST, GET or DELETE); the admin key may do everything. Without it the API stays open, as the
rest of the local management API is.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote

from apigate.aws import arns, sigv4, wire
from apigate.aws.errors import AwsError
from apigate.aws.identity import Identities, Identity
from apigate.aws.policy import Decision, evaluate_all
from apigate.model.websocket import DeployedWebSocketApi
from apigate.server.message import Request, Response
from apigate.state.connections import ConnectionDirectory, Owner, PostResult

__all__ = ["ACTION", "ConnectionsApi", "connection_arn"]

ACTION = "execute-api:ManageConnections"
_SERVICE = "execute-api"  # apigatewaymanagementapi's signing name
_PREFIX = "/@connections/"

# The API and stage the call being served is scoped to (None: any connection, the open root form).
_owner: contextvars.ContextVar[Owner | None] = contextvars.ContextVar(
    "apigate_connections_owner", default=None
)


def _iso(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms / 1000)) + f".{epoch_ms % 1000:03d}Z"


def _gone() -> AwsError:
    return AwsError("GoneException", "", 410)


def _forbidden() -> AwsError:
    # What AWS answers for a stage (or a path) that does not exist on an API's endpoint.
    return AwsError("ForbiddenException", "Forbidden", 403)


def connection_arn(deployed: DeployedWebSocketApi, method: str, connection_id: str) -> str:
    return arns.execute_api_arn(
        deployed.region, deployed.account_id, deployed.api_id, deployed.stage, f"{method}/@connections/{connection_id}"
    )


def _management_api(directory: ConnectionDirectory, max_message: int) -> wire.ServiceApi:
    async def post_to_connection(params: dict[str, Any]) -> None:
        data = params.get("Data") or b""
        if len(data) > max_message:
            raise AwsError(
                "PayloadTooLargeException", f"Message too long. Max size is {max_message} bytes", 413
            )
        result = await directory.post(params["ConnectionId"], data, _owner.get())
        if result is PostResult.GONE:
            raise _gone()
        if result is PostResult.FULL:
            raise AwsError("LimitExceededException", "The client's buffer is full", 429)

    async def get_connection(params: dict[str, Any]) -> dict[str, Any]:
        info = await directory.get(params["ConnectionId"])
        owner = _owner.get()
        if info is None or (owner is not None and (info.api_id, info.stage) != owner):
            raise _gone()
        return {
            "ConnectedAt": _iso(info.connected_at),
            "Identity": {"SourceIp": info.source_ip, "UserAgent": info.user_agent},
            "LastActiveAt": _iso(info.last_active_at),
        }

    async def delete_connection(params: dict[str, Any]) -> None:
        if not await directory.delete(params["ConnectionId"], _owner.get()):
            raise _gone()

    return wire.ServiceApi(
        "apigatewaymanagementapi",
        {
            "PostToConnection": post_to_connection,
            "GetConnection": get_connection,
            "DeleteConnection": delete_connection,
        },
    )


class ConnectionsApi:
    """The @connections calls, scoped to one API and stage and authorized as AWS authorizes them."""

    def __init__(
        self,
        directory: ConnectionDirectory,
        max_message: int,
        stage: Callable[[str, str], DeployedWebSocketApi | None],
    ) -> None:
        self._directory = directory
        self._api = _management_api(directory, max_message)
        self._stage = stage
        # Set by the gateway once its IAM directory exists: who signed, and what their policies allow.
        self.identities: Identities | None = None
        self.signed_only = False  # --admin-key: every call signed, and allowed by the signer's policies
        self.region = "us-east-1"  # the gateway's: what a call for an unknown connection is signed for

    def secure(self, identities: Identities, *, signed_only: bool, region: str) -> None:
        self.identities = identities
        self.signed_only = signed_only
        self.region = region

    @staticmethod
    def is_connections_path(path: str) -> bool:
        """Whether a path at an API's URL names the @connections API, in any form (exact or not)."""
        return "@connections" in unquote(path)

    async def at_stage(self, request: Request, api_id: str, path: str) -> Response:
        """``/{stage}/@connections/{id}`` at an API's URL: nothing else, and only for a deployed stage."""
        stage, _, rest = path[1:].partition("/")
        connection = rest[len(_PREFIX) - 1 :] if rest.startswith(_PREFIX[1:]) else ""
        matched = self._match(request, connection)
        deployed = self._stage(api_id, stage) if stage else None
        if matched is None or deployed is None:
            return wire.error_response(_forbidden())
        return await self._serve(request, deployed, connection, matched)

    async def at_root(self, request: Request) -> Response:
        """``/@connections/{id}`` at the gateway's root: the connection's own API and stage."""
        connection = request.raw_path[len(_PREFIX) :]
        matched = self._match(request, connection)
        if matched is None:
            return wire.error_response(_forbidden())
        if not self.signed_only:
            return await self._dispatch(request, connection, None)
        info = await self._directory.get(matched)
        deployed = self._stage(info.api_id, info.stage) if info is not None else None
        if deployed is None:  # who signed still matters: an unsigned call learns nothing
            try:
                self._signer(request, self.region)
            except AwsError as exc:
                return wire.error_response(exc)
            return wire.error_response(_gone())
        return await self._serve(request, deployed, connection, matched)

    def _match(self, request: Request, connection: str) -> str | None:
        """The connection id when the path is exactly ``@connections/{id}`` for one of the API's operations."""
        if not connection or "/" in connection:
            return None
        found = self._api.match(request.method, _PREFIX + connection, [])
        return found[1]["connectionId"] if found is not None else None

    async def _serve(
        self, request: Request, deployed: DeployedWebSocketApi, connection: str, connection_id: str
    ) -> Response:
        if self.signed_only:
            try:
                self._authorize(request, deployed, connection_id)
            except AwsError as exc:
                return wire.error_response(exc)
        return await self._dispatch(request, connection, (deployed.api_id, deployed.stage))

    async def _dispatch(self, request: Request, connection: str, owner: Owner | None) -> Response:
        """The operation, reaching only connections of ``owner`` (``connection``: the id as it is in the path)."""
        token = _owner.set(owner)
        try:
            query = parse_qsl(request.query_string, keep_blank_values=True)
            answer = await self._api.dispatch(request, _PREFIX + connection, query)
        finally:
            _owner.reset(token)
        return answer if answer is not None else wire.error_response(_forbidden())

    def _signer(self, request: Request, region: str) -> Identity:
        identities = self.identities
        if identities is None:
            raise _forbidden()
        try:
            return sigv4.authenticate(request, identities, service=_SERVICE, region=region)
        except sigv4.SignatureError as exc:
            raise AwsError(exc.failure.error_type, exc.message, 403) from None

    def _authorize(self, request: Request, deployed: DeployedWebSocketApi, connection_id: str) -> None:
        identity = self._signer(request, deployed.region)
        if identity.is_root:
            return
        assert self.identities is not None
        arn = connection_arn(deployed, request.method, connection_id)
        now = time.time()
        context = {
            "aws:SourceIp": request.client[0],
            "aws:SecureTransport": "true" if request.scheme == "https" else "false",
            "aws:CurrentTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "aws:EpochTime": str(int(now)),
            "aws:PrincipalAccount": identity.account_id,
            "aws:userid": identity.user_id,
        }
        policies = self.identities.policies(identity)
        if evaluate_all(policies, ACTION, arn, context, identity.arn) is not Decision.ALLOW:
            raise AwsError(
                "AccessDeniedException",
                f"User: {identity.arn} is not authorized to perform: {ACTION} on resource: {arn}",
                403,
            )
