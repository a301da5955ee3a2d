"""The gateway application: one request handler in front of the management API and the data plane."""

from __future__ import annotations

import logging
import re
from collections.abc import Coroutine
from typing import Any

import orjson

from apigate import __version__
from apigate.aws import wire
from apigate.aws.errors import AwsError
from apigate.config import Settings
from apigate.control import (
    api_keys,
    deployments,
    models,
    openapi,
    resources,
    rest_apis,
    test_invoke,
    usage_plans,
    validators,
)
from apigate.control import functions as lambda_api
from apigate.control import v2 as http_api_control
from apigate.control.context import ControlContext
from apigate.control.deploy import set_account_limit, set_cache_budget_scale
from apigate.control.sync import ConfigSync
from apigate.dataplane import integrations
from apigate.dataplane.http_api import HttpApis
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.pipeline import Pipeline, SharedState
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


def _shared_state(settings: Settings, registry: Registry) -> tuple[SharedState, Any]:
    """Memory state for one process (the default), or Redis shared by every process that names the same server."""
    if settings.redis_url is None:
        return SharedState(registry), None
    from apigate.state.cache import RedisResponseCache
    from apigate.state.redis import RedisQuotaCounter, RedisRateLimiter, connect

    client = connect(settings.redis_url)
    fail_open = settings.on_state_error != "deny"
    state = SharedState(
        registry,
        limiter=RedisRateLimiter(client, fail_open=fail_open),
        quotas=RedisQuotaCounter(client, fail_open=fail_open),
        cache=RedisResponseCache(client),
    )
    return state, client


class Gateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = SqliteStore(settings.data_dir / "apigate.db")
        self.functions = FunctionDirectory(settings, self.store)
        self.upstream = UpstreamPool()
        set_account_limit(settings.account_rate, settings.account_burst)  # before any stage is compiled
        set_cache_budget_scale(settings.cache_budget_scale)
        self.registry = Registry()
        self.state, self._redis = _shared_state(settings, self.registry)
        self.pipeline = Pipeline(
            integrations.build(integrations.IntegrationServices(self.functions, self.upstream)), self.state
        )
        ctx = ControlContext(
            settings,
            self.store,
            self.registry,
            self.functions,
            self.pipeline,
            quotas=self.state.quotas,
            cache=self.state.cache,
        )
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
                **api_keys.handlers(ctx),
                **usage_plans.handlers(ctx),
            },
            lock=ctx.writes,
            unlocked=frozenset({"TestInvokeMethod"}),
        )
        # HTTP APIs (apigatewayv2): their own compiled stages, served again after a restart.
        self.http_apis = ctx.http_apis = HttpApis(self.functions, self.upstream, self.state.limiter)
        self.apigatewayv2 = wire.ServiceApi(
            "apigatewayv2", http_api_control.handlers(ctx, self.http_apis), lock=ctx.writes
        )
        http_api_control.load_all(ctx, self.http_apis)
        self.lambda_api = wire.ServiceApi(
            "lambda", lambda_api.handlers(self.functions), lock=ctx.writes, unlocked=frozenset({"Invoke"})
        )
        # Serve every stored stage again after a restart, and later what other processes on this data dir change.
        self.sync = ConfigSync(ctx, settings.data_dir / "apigate.db")
        self.sync.reload()
        self.sync.also_reload.append(lambda: http_api_control.load_all(ctx, self.http_apis))

    def start_sync(self) -> None:
        """Poll for changes other processes made to the shared data dir (needs the running loop)."""
        self.sync.start(self.settings.sync_interval)

    async def close(self) -> None:
        await self.sync.stop()
        await self.functions.close()
        await self.upstream.close()
        if self._redis is not None:
            await self._redis.aclose()
        self.store.close()

    async def __call__(self, request: Request) -> Response:
        path = request.raw_path
        if path.startswith(_EXECUTE_API_PREFIX):  # first: the path form needs no header lookup
            api_id, _, rest = path[len(_EXECUTE_API_PREFIX) :].partition("/")
            answer = self._execute(request, api_id, "/" + rest, f"{api_id}.execute-api.localhost")
            return answer if isinstance(answer, Response) else await answer
        host = request.header("host") or ""
        if ".execute-api." in host:
            answer = self._execute(request, host.split(".", 1)[0], path, host.split(":", 1)[0])
            return answer if isinstance(answer, Response) else await answer
        if path.startswith("/_apigate/"):
            return self._internal(request, path)
        return await self._manage(request)

    def _execute(
        self, request: Request, api_id: str, path: str, domain: str
    ) -> Response | Coroutine[Any, Any, Response]:
        """An answer, or the coroutine that makes it: returned, not awaited here, so each request walks one
        coroutine level less on every suspension (the data plane's hot path)."""
        if api_id in self.http_apis:
            return self.http_apis.serve(request, api_id, path, domain)
        stage, slash, rest = path[1:].partition("/")
        deployed = self.registry.get(api_id, stage)
        if deployed is None:
            return _forbidden()
        if not slash:  # "/{stage}" without the slash names no resource, not even the root
            return render(GatewayError(ResponseType.MISSING_AUTHENTICATION_TOKEN))
        below = "/" + rest
        return self.pipeline.run(Invocation(request, deployed, below, f"/{stage}{below}", domain))

    def _internal(self, request: Request, path: str) -> Response:
        if path == "/_apigate/health":
            return Response(
                200,
                list(_JSON),
                orjson.dumps({"status": "ok", "version": __version__, "config": self.sync.digest}),
            )
        if path == "/_apigate/metrics":
            return Response(
                200,
                [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                self.state.metrics.render(),
            )
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
        if request.raw_path.startswith("/v2/"):
            order = [self.apigatewayv2]
        try:
            for api in order:
                response = await api.dispatch(request, request.raw_path, query)
                if response is not None:
                    if request.method != "GET":
                        self.sync.check()  # this process serves its own change before answering
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
