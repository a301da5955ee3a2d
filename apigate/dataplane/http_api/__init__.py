"""The HTTP API (apigatewayv2) data plane: stage, route, CORS, authorizer, integration, response rules."""

from __future__ import annotations

import logging
import time

import orjson

from apigate.aws.ids import trace_id
from apigate.aws.service_access import ServiceAccess
from apigate.dataplane.function_call import FunctionCallFailed, call_function
from apigate.dataplane.http_api.call import HttpCall
from apigate.dataplane.http_api.cors import decorate, is_preflight, preflight
from apigate.dataplane.http_api.jwt_authorizer import JwtVerifier
from apigate.dataplane.http_api.lambda_authorizer import LambdaAuthorizers
from apigate.dataplane.http_api.parameters import map_request, map_response
from apigate.dataplane.http_api.responses import (
    HttpApiError,
    forbidden,
    internal_error,
    not_found,
    too_many_requests,
    unavailable,
)
from apigate.dataplane.http_api.service_calls import call_service
from apigate.dataplane.http_api.targets import lambda_function
from apigate.dataplane.lambda_proxy.http import proxy_event_v1, proxy_event_v2
from apigate.dataplane.lambda_proxy.v1 import ProxyFormatError, parse_v1
from apigate.dataplane.lambda_proxy.v2 import parse_v2
from apigate.dataplane.local_issuers import LocalIssuers
from apigate.dataplane.routing import route_http
from apigate.dataplane.steps.metrics import Metrics
from apigate.dataplane.substitution import fill_placeholders, stage_variables
from apigate.functions.directory import FunctionDirectory
from apigate.model.http import DeployedHttpApi, HttpIntegration, JwtAuthorizer
from apigate.observe.access_log import AccessLogs
from apigate.observe.console import RequestConsole
from apigate.observe.tracing import Tracing, call_trace_root, finish_http, function_trace_header, trace_http
from apigate.registry import DeployedStages
from apigate.server.message import Request, Response
from apigate.server.upstream import HOP_BY_HOP, UpstreamError, UpstreamPool, UpstreamTimeout, end_to_end
from apigate.state import MemoryRateLimiter, RateLimiter

__all__ = ["HttpApis"]

log = logging.getLogger("apigate.dataplane")


class HttpApis(DeployedStages[DeployedHttpApi]):
    """Deployed HTTP API stages, swapped whole per stage, and serving requests to them."""

    def __init__(
        self,
        functions: FunctionDirectory,
        upstream: UpstreamPool,
        limiter: RateLimiter | None = None,
        local_issuers: LocalIssuers | None = None,
        aws: ServiceAccess | None = None,
    ) -> None:
        super().__init__()
        self._aws = aws or ServiceAccess()  # AWS service integrations' endpoints and keys
        self._functions = functions
        self._limiter = limiter or MemoryRateLimiter()
        self._upstream = upstream
        self.jwt = JwtVerifier(upstream, local_issuers)
        self.lambda_authorizers = LambdaAuthorizers(functions)
        self.console: RequestConsole | None = None  # request lines on stderr (apigate/observe/console.py)
        self.access_logs: AccessLogs | None = None  # stages' AccessLogSettings (observe/access_log.py)
        self.metrics: Metrics | None = None  # /_apigate/metrics and the web console's live view
        self.tracing: Tracing | None = None  # `serve --otlp-endpoint`: a span per request (observe/tracing.py)

    async def serve(
        self, request: Request, api_id: str, path: str, domain: str, raw_path: str | None = None
    ) -> Response:
        """``raw_path``: given for a request through a custom domain (rawPath, with the API mapping key); without
        it the request came to the execute-api endpoint, which DisableExecuteApiEndpoint closes."""
        started = time.perf_counter()
        stages = self._apis.get(api_id) or {}
        first, _, rest = path[1:].partition("/")
        deployed = stages.get(first) if first != "$default" else None
        if deployed is not None:
            below = "/" + rest
        else:
            deployed = stages.get("$default")
            below = path
            if deployed is None:
                return not_found().response()
        if raw_path is None and deployed.execute_api_disabled:
            return forbidden().response()
        call = HttpCall(request, deployed, below, raw_path or path, domain, int(time.time() * 1000))
        cors = deployed.cors
        if cors is not None and is_preflight(request):
            response = preflight(cors, request)
            response.headers.append(("apigw-requestid", call.request_id))
            return response
        if self.tracing is not None:
            call.span = trace_http(self.tracing, call)
        try:
            response = await self._route_and_call(call)
        except HttpApiError as error:
            response = error.response()
        except Exception:  # a bug of ours must not become a dropped connection
            log.exception("HTTP API request failed")
            response = internal_error().response()
        if call.span is not None:
            finish_http(call, response.status)
        if cors is not None:
            decorate(cors, request, response)
        response.headers.append(("apigw-requestid", call.request_id))
        latency = (time.perf_counter() - started) * 1000.0
        access_log = deployed.access_log
        if access_log is not None and self.access_logs is not None:
            self.access_logs.add_http(access_log, call, response, latency)
        metrics = self.metrics
        if metrics is not None:
            metrics.record_http(
                deployed.api_id,
                deployed.stage,
                deployed.api_name,
                request.method,
                raw_path or path,
                response.status,
                latency,
                call.integration_ms,
            )
        console = self.console
        if console is not None:
            route = call.route
            console.request(
                deployed.api_id,
                deployed.stage,
                request.method,
                below,
                response.status,
                latency,
                None if route is None else route.integration,
                call.request_id,
            )
        return response

    async def _route_and_call(self, call: HttpCall) -> Response:
        match = route_http(call.api, call.request.method, call.segments)
        if match is None:
            raise not_found()
        route, call.path_parameters = match
        call.route = route
        if route.limit is not None and not (await self._limiter.acquire((route.limit,))).allowed:
            raise too_many_requests()
        authorizer = route.authorizer
        if isinstance(authorizer, JwtAuthorizer):
            token = _identity(call, authorizer.identity_source)
            call.authorizer = await self.jwt.authorize(authorizer, token, route.scopes)
        elif authorizer is not None:
            traced = call.span
            outer = None if traced is None else traced.enter("authorizer")
            try:
                call.authorizer = await self.lambda_authorizers.authorize(authorizer, call)
            finally:
                if traced is not None:
                    traced.leave(outer)
        integration = route.integration
        if integration is None:
            raise not_found()
        started = time.perf_counter()
        traced = call.span
        outer = None if traced is None else traced.enter(f"integration {integration.type}")
        try:
            if integration.subtype is not None:  # an AWS service integration (SQS-SendMessage…)
                response = await call_service(call, integration, self._upstream, self._aws)
            elif integration.type == "AWS_PROXY":
                response = await self._lambda(call, integration)
            elif integration.type == "HTTP_PROXY":
                response = await self._http(call, integration)
            else:
                raise internal_error()
        finally:
            call.integration_ms = (time.perf_counter() - started) * 1000.0
            if traced is not None:
                traced.leave(outer)
        if integration.response_parameters:
            maps = integration.response_parameters.get(str(response.status))
            if maps:
                map_response(call, maps, response)
        return response

    async def _lambda(self, call: HttpCall, integration: HttpIntegration) -> Response:
        name = lambda_function(integration.uri)
        if name is None:
            raise internal_error()
        v2 = integration.payload_format_version == "2.0"
        event = orjson.dumps(proxy_event_v2(call) if v2 else proxy_event_v1(call))
        traced = call.span
        outer = None if traced is None else traced.enter(f"function {name}", {"faas.invoked_name": name})
        try:
            result = await call_function(
                self._functions,
                name,
                event,
                timeout=integration.timeout_seconds,
                request_id=call.request_id,
                trace=function_trace_header(call_trace_root(call), traced),
            )
        except FunctionCallFailed as failed:
            raise (unavailable() if failed.timed_out else internal_error()) from None
        finally:
            if traced is not None:
                traced.leave(outer)
        if result.function_error:
            raise internal_error()
        try:
            if v2:
                return parse_v2(result.payload)
            return parse_v1(result.payload, lenient=True, content_type_header="content-type")
        except ProxyFormatError:
            raise internal_error() from None

    async def _http(self, call: HttpCall, integration: HttpIntegration) -> Response:
        url = stage_variables(integration.uri, call.api.stage_variables, braced_only=True)
        url = fill_placeholders(url, call.path_parameters)
        if integration.private:
            url += call.raw_path
        query = call.request.query_string
        if query:
            url += ("&" if "?" in url else "?") + query
        request = call.request
        verb = request.method if integration.method in (None, "ANY") else integration.method
        # What the client's Connection names goes before the mappings add theirs (a client cannot remove them).
        headers = end_to_end(request.headers)
        if request.header("x-amzn-trace-id") is None:  # AWS starts a trace when the client did not
            trace = trace_id(call.start_epoch_ms // 1000)
            headers = [*headers, ("X-Amzn-Trace-Id", trace)]  # never the request's own list
        if call.span is not None:  # the integration span's W3C context, for the upstream to continue
            headers = [
                *(h for h in headers if h[0].lower() != "traceparent"),
                ("traceparent", call.span.traceparent()),
            ]
        if integration.request_parameters:
            url, headers = map_request(call, integration.request_parameters, url, list(headers))
        try:
            answer = await self._upstream.request(
                verb, url, headers, request.body, timeout=integration.timeout_seconds
            )
        except UpstreamTimeout:
            raise unavailable() from None
        except UpstreamError:
            raise internal_error() from None
        return Response(
            answer.status, [(k, v) for k, v in answer.headers if k.lower() not in HOP_BY_HOP], answer.body
        )


def _identity(call: HttpCall, sources: tuple[str, ...]) -> str | None:
    """The first identity source's value: ``$request.header.X`` (any case), ``$request.querystring.X``."""
    for source in sources:
        if source.startswith("$request.header."):
            value = call.request.header(source[len("$request.header.") :])
        elif source.startswith("$request.querystring."):
            name = source[len("$request.querystring.") :]
            value = None
            for key, found in _query_pairs(call.request.query_string):
                if key == name:
                    value = found
        else:
            value = None
        if value:
            return value
    return None


def _query_pairs(query: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query, keep_blank_values=True)
