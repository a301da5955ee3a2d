"""REQUEST Lambda authorizers on ``$connect``: identity sources, the IAM policy, the context for every route."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from apigate.aws import arns
from apigate.dataplane.authorizers.function_answer import (
    TIMEOUT,
    InvalidAnswer,
    answer_context,
    decode_answer,
    error_message,
    iam_statements,
    policy_allows,
    with_principal,
)
from apigate.dataplane.function_call import FunctionCallFailed, call_function
from apigate.dataplane.http_api.targets import lambda_function
from apigate.dataplane.websocket.events import connect_event
from apigate.functions.directory import FunctionDirectory
from apigate.model.websocket import DeployedWebSocketApi, WsAuthorizer

if TYPE_CHECKING:
    from apigate.dataplane.websocket.session import Session



class Refused(Exception):
    """The handshake is answered with ``status`` and AWS's message instead of 101."""

    def __init__(self, status: int, message: str, error_type: str = "", *, raw: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.raw = raw  # message is the body as the integration answered it, not AWS's {"message": ...}


def unauthorized() -> Refused:
    return Refused(401, "Unauthorized", "UnauthorizedException")


def forbidden() -> Refused:
    return Refused(403, "Forbidden", "ForbiddenException")


def internal_error() -> Refused:
    return Refused(500, "Internal server error", "AuthorizerConfigurationException")


def _identity(session: Session, api: DeployedWebSocketApi, sources: tuple[str, ...]) -> list[str] | None:
    values = []
    for source in sources:
        value: str | None = None
        if source.startswith("route.request.header."):
            value = session.header(source[len("route.request.header.") :])
        elif source.startswith("route.request.querystring."):
            value = session.query()[0].get(source[len("route.request.querystring.") :])
        elif source.startswith("stageVariables."):
            value = api.stage_variables.get(source[len("stageVariables.") :])
        elif source.startswith("context."):
            value = {
                "connectionId": session.connection_id,
                "stage": session.stage,
                "apiId": session.api_id,
            }.get(source[len("context.") :])
        if not value:
            return None
        values.append(value)
    return values


async def authorize(
    functions: FunctionDirectory,
    authorizer: WsAuthorizer,
    session: Session,
    api: DeployedWebSocketApi,
    request_id: str,
    now_ms: int,
) -> dict[str, Any]:
    """The ``requestContext.authorizer`` of every later event, or Refused (401, 403, 500)."""
    if _identity(session, api, authorizer.identity_source) is None and authorizer.identity_source:
        raise unauthorized()  # no invocation, as AWS does
    name = lambda_function(authorizer.function)
    if name is None:
        raise internal_error()
    arn = arns.execute_api_arn(api.region, api.account_id, api.api_id, api.stage, "$connect")
    event = connect_event(session, request_id, now_ms)
    event = {"type": "REQUEST", "methodArn": arn, **event, "stageVariables": dict(api.stage_variables)}
    event.pop("isBase64Encoded", None)
    try:
        result = await call_function(
            functions, name, orjson.dumps(event), timeout=TIMEOUT, request_id=request_id
        )
    except FunctionCallFailed:
        raise internal_error() from None
    if result.function_error:
        message = error_message(result.payload)
        raise unauthorized() if message == "Unauthorized" else internal_error()
    try:
        answer = decode_answer(result.payload)
        statements = iam_statements(answer)
        context = answer_context(answer)
    except InvalidAnswer:
        raise internal_error() from None
    if not policy_allows(statements, arn):
        raise forbidden()
    return with_principal(context, answer)
