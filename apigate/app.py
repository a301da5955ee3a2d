"""The gateway application: one request handler in front of the management API and the data plane."""

from __future__ import annotations

import logging
import re

import orjson

from apigate import __version__
from apigate.aws import wire
from apigate.aws.errors import AwsError
from apigate.config import Settings
from apigate.control import deployments, models, openapi, resources, rest_apis, test_invoke, validators
from apigate.control import functions as lambda_api
from apigate.control.context import ControlContext
from apigate.control.deploy import compile_stage
from apigate.dataplane import integrations
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.pipeline import Pipeline
from apigate.dataplane.responses import GatewayError, ResponseType, render
from apigate.functions.directory import FunctionDirectory
from apigate.registry import Registry
from apigate.server.message import Request, Response
from apigate.server.upstream import UpstreamPool
from apigate.store.sqlite import SqliteStore

log = logging.getLogger("apigate")

_SIGNING_SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
_EXECUTE_API_PREFIX = "/_aws/execute-api/"
_JSON = [("Content-Type", "application/json")]


def _forbidden() -> Response:
    # What AWS answers for a stage that does not exist on an API's endpoint.
    return Response(403, [*_JSON, ("x-amzn-ErrorType", "ForbiddenException")], b'{"message":"Forbidden"}')


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = SqliteStore(settings.data_dir / "apigate.db")
        self.functions = FunctionDirectory(settings, self.store)
        self.upstream = UpstreamPool()
        self.pipeline = Pipeline(
            integrations.build(integrations.IntegrationServices(self.functions, self.upstream))
        )
        self.registry = Registry()
        ctx = ControlContext(settings, self.store, self.registry, self.functions, self.pipeline)
        self.control = ctx  # declarative deployments call the same handlers
        self.apigateway = wire.ServiceApi(
            "apigateway",
            {
                **rest_apis.handlers(ctx),
                **resources.handlers(ctx),
                **deployments.handlers(ctx),
                **test_invoke.handlers(ctx),
                **models.handlers(ctx),
                **validators.handlers(ctx),
                **openapi.handlers(ctx),
            },
        )
        self.lambda_api = wire.ServiceApi("lambda", lambda_api.handlers(self.functions))
        self._load_stages()

    def _load_stages(self) -> None:
        """Serve every stored stage again after a restart, from its stored deployment snapshot."""
        for api in self.store.list("restapi"):
            for stage in self.store.list("stage", api["id"]):
                snapshot = self.store.get("snapshot", f"{api['id']}/{stage['deploymentId']}")
                if snapshot is None:
                    log.error("stage %s of %s points at a missing deployment", stage["stageName"], api["id"])
                    continue
                self.registry.install(
                    compile_stage(
                        snapshot, stage, region=self.settings.region, account_id=self.settings.account_id
                    )
                )

    async def close(self) -> None:
        await self.functions.close()
        await self.upstream.close()
        self.store.close()

    async def __call__(self, request: Request) -> Response:
        path = request.raw_path
        if path.startswith(_EXECUTE_API_PREFIX):  # first: the path form needs no header lookup
            api_id, _, rest = path[len(_EXECUTE_API_PREFIX) :].partition("/")
            return await self._execute(request, api_id, "/" + rest, f"{api_id}.execute-api.localhost")
        host = request.header("host") or ""
        if ".execute-api." in host:
            return await self._execute(request, host.split(".", 1)[0], path, host.split(":", 1)[0])
        if path.startswith("/_apigate/"):
            return self._internal(request, path)
        return await self._manage(request)

    async def _execute(self, request: Request, api_id: str, path: str, domain: str) -> Response:
        stage, slash, rest = path[1:].partition("/")
        deployed = self.registry.get(api_id, stage)
        if deployed is None:
            return _forbidden()
        if not slash:  # "/{stage}" without the slash names no resource, not even the root
            return render(GatewayError(ResponseType.MISSING_AUTHENTICATION_TOKEN))
        below = "/" + rest
        return await self.pipeline.run(Invocation(request, deployed, below, f"/{stage}{below}", domain))

    def _internal(self, request: Request, path: str) -> Response:
        if path == "/_apigate/health":
            return Response(200, list(_JSON), orjson.dumps({"status": "ok", "version": __version__}))
        if path.startswith("/_apigate/code/") and path.endswith(".zip"):
            name = path[len("/_apigate/code/") : -len(".zip")]
            doc = self.store.get("function", name)
            if doc is not None:
                data = self.functions.code.zip_bytes(name, doc["CodeSha256"])
                return Response(200, [("Content-Type", "application/zip")], data)
        return Response(404, list(_JSON), b'{"message":"Not Found"}')

    async def _manage(self, request: Request) -> Response:
        query = wire.parse_query(request.query_string)
        signed = _SIGNING_SERVICE.search(request.header("authorization") or "")
        service = signed.group(1) if signed else None
        order = (
            [self.lambda_api, self.apigateway] if service == "lambda" else [self.apigateway, self.lambda_api]
        )
        try:
            for api in order:
                response = await api.dispatch(request, request.raw_path, query)
                if response is not None:
                    return response
        except AwsError as exc:
            return wire.error_response(exc)
        except Exception:
            log.exception("management call failed")
            return wire.error_response(
                AwsError("InternalFailure", "The server encountered an internal error", 500)
            )
        return wire.error_response(
            AwsError(
                "UnknownOperationException", f"No operation matches {request.method} {request.raw_path}", 404
            )
        )
