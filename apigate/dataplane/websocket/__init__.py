"""The WebSocket API data plane: the handshake with ``$connect``, message routing, ``$disconnect``, and the
``@connections`` API that backends use to talk to connected clients.

Stages are compiled at deployment (``DeployedWebSocketApi``) and swapped whole, as HTTP API stages are. Each
message is routed with the stage as deployed when it arrives, so a redeployment applies to open connections.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson

from apigate.aws import arns, sigv4
from apigate.aws.identity import Identities
from apigate.aws.ids import extended_request_id, trace_id
from apigate.aws.policy import Decision, evaluate_all
from apigate.aws.service_access import ServiceAccess
from apigate.dataplane.function_call import FunctionCallFailed, call_function
from apigate.dataplane.http_api.targets import lambda_function
from apigate.dataplane.steps.metrics import (
    WS_CLIENT_ERROR,
    WS_EXECUTION_ERROR,
    WS_INTEGRATION_ERROR,
    Metrics,
)
from apigate.dataplane.substitution import stage_variables
from apigate.dataplane.websocket.authorizer import Refused, authorize, forbidden
from apigate.dataplane.websocket.events import connect_event, disconnect_event, message_event
from apigate.dataplane.websocket.management import ConnectionsApi
from apigate.dataplane.websocket.service_calls import (
    ServiceCallFailed,
    call_service,
    render_request,
    render_response,
)
from apigate.dataplane.websocket.session import Session
from apigate.functions.directory import FunctionDirectory
from apigate.model.usage import PlanIndex
from apigate.model.websocket import CONNECT, DISCONNECT, DeployedWebSocketApi, WsIntegration, WsRoute
from apigate.observe.access_log import AccessLogs
from apigate.observe.console import RequestConsole
from apigate.observe.execution_log import WsExecutionLog, execution_log_group
from apigate.observe.tracing import RequestTrace, Tracing, function_trace_header
from apigate.registry import DeployedStages
from apigate.server.message import Request, Response
from apigate.server.upstream import UpstreamError, UpstreamPool, UpstreamTimeout
from apigate.server.websocket import WebSocketServer
from apigate.state.base import RateLimiter
from apigate.state.connections import ConnectionDirectory, ConnectionInfo, PostResult
from apigate.state.memory import MemoryRateLimiter

__all__ = ["WebSocketApis"]

log = logging.getLogger("apigate.websocket")

_SEND_BUFFER_LIMIT = 1024 * 1024  # bytes queued for a client that does not read: posts get 429 beyond this
# Messages of one connection handled at once; beyond it the gateway stops reading from that client (TCP
# backpressure), so a client sending faster than its integration answers cannot grow the gateway's memory.
_IN_FLIGHT_LIMIT = 32
_JSON = ("Content-Type", "application/json")


class _Outcome:
    """What an integration answered: a status and a body to send back, or the error frame's message."""

    __slots__ = ("body", "error", "headers", "status")

    def __init__(
        self, status: int = 200, body: str | None = None, error: str | None = None, headers: Any = None
    ) -> None:
        self.status = status
        self.body = body
        self.error = error
        self.headers: dict[str, Any] = headers if isinstance(headers, dict) else {}


class WebSocketApis(DeployedStages[DeployedWebSocketApi]):
    """Deployed WebSocket API stages and the connections this process holds."""

    def __init__(
        self,
        functions: FunctionDirectory,
        upstream: UpstreamPool,
        server: WebSocketServer,
        directory: ConnectionDirectory,
        plans: Callable[[], PlanIndex] = PlanIndex,
        limiter: RateLimiter | None = None,
        identities: Callable[[], Identities | None] = lambda: None,
        aws: ServiceAccess | None = None,
    ) -> None:
        super().__init__()
        self._aws = aws or ServiceAccess()  # AWS service integrations' endpoints and keys
        self._identities = identities  # who may sign an AWS_IAM $connect (the gateway's IAM directory)
        self._limiter = limiter or MemoryRateLimiter()  # RouteSettings throttles, shared as HTTP APIs' are
        self._plans = plans  # the API keys and usage plans (REST's registry keeps them for both kinds)
        self._functions = functions
        self._upstream = upstream
        self.server = server
        self.directory = directory
        self._sessions: dict[str, Session] = {}  # connection id -> session, for this process
        self._tasks: set[asyncio.Task[Any]] = set()
        self.management = ConnectionsApi(directory, self.server.limits.message_size, self.get)
        self.metrics: Metrics | None = None  # /_apigate/metrics and the web console's live view
        self.console: RequestConsole | None = (
            None  # a line per connect, message and close (observe/console.py)
        )
        # `serve --otlp-endpoint`: a span for each of them (observe/tracing.py)
        self.tracing: Tracing | None = None
        self.access_logs: AccessLogs | None = None  # stages' AccessLogSettings (observe/access_log.py)

    def _observe(
        self,
        deployed: DeployedWebSocketApi,
        event: str,
        route_key: str,
        status: int,
        started: float,
        integration_ms: float | None = None,
        error: str = "",
    ) -> None:
        """One request counted and shown; only for a deployed stage (a made-up stage name adds no series)."""
        metrics = self.metrics
        if metrics is not None:
            latency = (time.perf_counter() - started) * 1000.0
            metrics.record_websocket(
                deployed.api_id,
                deployed.stage,
                deployed.api_name,
                event,
                route_key,
                status,
                latency,
                integration_ms,
                error,
            )

    # --- what is deployed (DeployedStages), and closing the connections to what is removed ------------------

    async def remove(self, api_id: str, stage: str) -> None:
        """A deleted stage: no new connections, and the open ones are closed."""
        self.forget(api_id, stage)
        for session in list(self._sessions.values()):
            if session.api_id == api_id and session.stage == stage:
                session.connection.close(1001, "Going away")

    async def remove_api(self, api_id: str) -> None:
        self.forget_api(api_id)
        for session in list(self._sessions.values()):
            if session.api_id == api_id:
                session.connection.close(1001, "Going away")

    # --- lifecycle -----------------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.directory.start(self)

    async def close(self) -> None:
        """Shutdown: clients get a close frame (1001); ``$disconnect`` runs, briefly waited for."""
        self.server.close_all()
        await asyncio.sleep(0.05)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
        self.server.stop()
        await self.directory.close()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("WebSocket task failed", exc_info=task.exception())

    # --- HTTP requests to a WebSocket API's URL ------------------------------------------------------------

    async def serve_http(
        self, request: Request, api_id: str, path: str, *, through_domain: bool = False
    ) -> Response:
        """``/{stage}/@connections/{id}`` is the management API; anything else needs an upgrade (426), on a stage
        that is served (else AWS's 403, as for the handshake). ``through_domain``: the request came through a
        custom domain (else DisableExecuteApiEndpoint applies)."""
        if not through_domain and self._execute_api_disabled(api_id, path):
            return Response(403, [_JSON], b'{"message":"Forbidden"}')
        if self.management.is_connections_path(path):
            return await self.management.at_stage(request, api_id, path)
        if self.get(api_id, path[1:].partition("/")[0]) is None:
            return Response(403, [_JSON], b'{"message":"Forbidden"}')
        return Response(426, [_JSON], b'{"message":"Upgrade Required"}')

    # --- the handshake ------------------------------------------------------------------------------------

    def _execute_api_disabled(self, api_id: str, path: str) -> bool:
        deployed = self.get(api_id, path[1:].partition("/")[0])
        return deployed is not None and deployed.execute_api_disabled

    def upgrade(
        self,
        request: Request,
        transport: Any,
        early: bytes,
        api_id: str,
        path: str,
        domain: str,
        *,
        through_domain: bool = False,
    ) -> None:
        """A handshake to ``/{stage}``; ``through_domain`` as for ``serve_http``."""
        connection, refusal = self.server.take_over(request, transport, early)
        if refusal is not None:
            return
        if not through_domain and self._execute_api_disabled(api_id, path):
            connection.reject(Response(403, [_JSON], b'{"message":"Forbidden"}'))
            return
        stage = path[1:].partition("/")[0]
        now_ms = int(time.time() * 1000)
        session = Session(
            self,
            connection,
            api_id,
            stage,
            domain,
            request.headers,
            request.query_string,
            request.client[0],
            now_ms,
        )
        self._spawn(self._connect(session, request, now_ms))

    async def _connect(self, session: Session, request: Request, now_ms: int) -> None:
        if not self._observing(session):
            await self._open(session, request, now_ms, extended_request_id(), None)
            return
        started = time.perf_counter()
        request_id = extended_request_id()
        traced = self._trace(session, CONNECT, request_id, request.headers)
        xlog = self._execution_log(session)
        status = 500
        try:
            status = await self._open(session, request, now_ms, request_id, traced, xlog)
        finally:
            self._observed(session, CONNECT, status, started, request_id, traced, xlog)

    async def _open(
        self,
        session: Session,
        request: Request,
        now_ms: int,
        request_id: str,
        traced: RequestTrace | None,
        xlog: WsExecutionLog | None = None,
    ) -> int:
        """``$connect``: the handshake's answer (200 when accepted, else the refusal's status)."""
        connection = session.connection
        deployed = self.get(session.api_id, session.stage)
        started = time.perf_counter()
        integration_ms: float | None = None
        error = WS_CLIENT_ERROR  # what a refusal counts as, until the integration is called
        status = 200
        try:
            if deployed is None:
                raise forbidden()
            headers: list[tuple[str, str]] = []
            route = deployed.routes.get(CONNECT)
            if xlog is not None:
                _routed(xlog, deployed, route, CONNECT)
                xlog.add(
                    f"Client [UserAgent: {session.user_agent or 'null'}, SourceIp: {session.source_ip}] is "
                    f"connecting to WebSocket API [{deployed.api_id}]."
                )
            if route is not None and not await self._allowed(route):
                raise Refused(429, "Too Many Requests")
            if route is not None:
                if route.iam:
                    self._check_iam(request, deployed)
                if route.authorizer is not None:
                    session.authorizer = await authorize(
                        self._functions, route.authorizer, session, deployed, request_id, now_ms
                    )
                if route.api_key_required:  # after the authorizer: it may be where the key comes from
                    self._check_api_key(session, deployed)
                if route.required_parameters:
                    _check_required(session, route)
                if route.integration is not None:
                    event = connect_event(session, request_id, now_ms)
                    called = time.perf_counter()
                    error = WS_EXECUTION_ERROR
                    outcome = await self._logged_call(
                        xlog, route.integration, lambda: event, None, request_id, deployed, traced
                    )
                    integration_ms = (time.perf_counter() - called) * 1000.0
                    status = outcome.status
                    if outcome.error is not None:  # AWS: 502 for a failed function, 504 past the timeout
                        raise Refused(502 if outcome.status == 200 else outcome.status, outcome.error)
                    if not 200 <= outcome.status < 300:
                        error = WS_INTEGRATION_ERROR
                        raise Refused(outcome.status, outcome.body or "", raw=True)
                    protocol = outcome.headers.get("Sec-WebSocket-Protocol") or outcome.headers.get(
                        "sec-websocket-protocol"
                    )
                    if protocol:
                        headers.append(("Sec-WebSocket-Protocol", str(protocol)))
        except Refused as refused:
            response_headers = [_JSON]
            if refused.error_type:
                response_headers.append(("x-amzn-ErrorType", refused.error_type))
            body = refused.message.encode() if refused.raw else orjson.dumps({"message": refused.message})
            connection.reject(Response(refused.status, response_headers, body))
            if xlog is not None:
                xlog.error(
                    f"Client [Connection Id: {session.connection_id}] failed to connect to API "
                    f"[{session.api_id}] with status code [{refused.status}]: {refused.message}"
                )
            if deployed is not None:
                self._observe(deployed, "CONNECT", CONNECT, refused.status, started, integration_ms, error)
            return refused.status
        except Exception:
            log.exception("$connect failed")
            connection.reject(Response(500, [_JSON], b'{"message":"Internal server error"}'))
            if xlog is not None:
                xlog.error("Execution failed due to an internal error")
            if deployed is not None:
                self._observe(deployed, "CONNECT", CONNECT, 500, started, integration_ms, WS_EXECUTION_ERROR)
            return 500
        self._observe(deployed, "CONNECT", CONNECT, 200, started, integration_ms)
        if xlog is not None:
            xlog.add(
                f"Client [Connection Id: {session.connection_id}] connected to API [{session.api_id}] "
                f"with integration response status code [{status}]."
            )
        self._sessions[session.connection_id] = session
        if not connection.accept(session, headers):
            self._sessions.pop(session.connection_id, None)
            return 499  # the client left during the handshake
        try:
            await self.directory.added(session.info)
        except Exception:
            log.warning(
                "could not record connection %s in the shared state", session.connection_id, exc_info=True
            )
        return 200

    def _check_iam(self, request: Request, deployed: DeployedWebSocketApi) -> None:
        """AWS_IAM on $connect: the handshake signed for execute-api (headers or query string, as SigV4 clients
        presign a wss:// URL), and the signer's policies allowing execute-api:Invoke on the $connect route."""
        identities = self._identities()
        if identities is None:
            raise forbidden()
        try:
            identity = sigv4.authenticate(request, identities, service="execute-api", region=deployed.region)
        except sigv4.SignatureError as exc:
            raise Refused(403, exc.message, exc.failure.error_type) from None
        arn = arns.execute_api_arn(
            deployed.region, deployed.account_id, deployed.api_id, deployed.stage, CONNECT
        )
        if identity.is_root:
            return
        context = {"aws:sourceip": request.client[0], "aws:epochtime": str(int(time.time()))}
        decision = evaluate_all(
            identities.policies(identity), "execute-api:Invoke", arn, context, identity.arn
        )
        if decision is not Decision.ALLOW:
            raise Refused(
                403,
                f"User: {identity.arn} is not authorized to perform: execute-api:Invoke on resource: {arn}",
                "AccessDeniedException",
            )

    async def _allowed(self, route: WsRoute) -> bool:
        return route.limit is None or (await self._limiter.acquire((route.limit,))).allowed

    def _check_api_key(self, session: Session, deployed: DeployedWebSocketApi) -> None:
        """A known, enabled key in a usage plan of this stage, taken where ApiKeySelectionExpression says (the
        ``x-api-key`` header, or the authorizer's ``usageIdentifierKey``); else AWS's 403."""
        selection = deployed.api_key_selection
        value: object = None
        if selection.startswith("$request.header."):
            wanted = selection[len("$request.header.") :].lower()
            value = next((v for k, v in session.raw_headers if k.lower() == wanted), None)
        elif selection == "$context.authorizer.usageIdentifierKey" and session.authorizer:
            value = session.authorizer.get("usageIdentifierKey")
        plans = self._plans()
        entry = plans.keys.get(str(value)) if value else None
        stage_plans = plans.stages.get((deployed.api_id, deployed.stage)) if entry is not None else None
        if entry is None or not entry.enabled or stage_plans is None or entry.id not in stage_plans:
            raise forbidden()

    # --- messages ---------------------------------------------------------------------------------------------

    def on_message(self, session: Session, data: str | bytes) -> None:
        now_ms = int(time.time() * 1000)
        session.info.last_active_at = now_ms
        self.directory.active(session.info)
        session.in_flight += 1
        if session.in_flight == _IN_FLIGHT_LIMIT:
            session.connection.hold(True)
        self._spawn(self._message(session, data, now_ms))

    async def _message(self, session: Session, data: str | bytes, now_ms: int) -> None:
        try:
            if not self._observing(session):
                await self._route(session, data, now_ms, extended_request_id(), None)
            else:
                started = time.perf_counter()
                request_id = extended_request_id()
                traced = self._trace(session, "message", request_id)
                xlog = self._execution_log(session)
                status, key = 500, "message"
                try:
                    status, key = await self._route(session, data, now_ms, request_id, traced, xlog)
                    if xlog is not None:
                        if status >= 400 and not xlog.failed:
                            xlog.error(f"Execution failed with status: {status}")
                        xlog.add(f"Method completed with status: {status}")
                finally:
                    self._observed(session, key, status, started, request_id, traced, xlog)
        finally:
            session.in_flight -= 1
            if session.in_flight == _IN_FLIGHT_LIMIT - 1:
                session.connection.hold(False)

    async def _route(
        self,
        session: Session,
        data: str | bytes,
        now_ms: int,
        request_id: str,
        traced: RequestTrace | None,
        xlog: WsExecutionLog | None = None,
    ) -> tuple[int, str]:
        """A message through its route: (the status the console shows, the route key)."""
        deployed = self.get(session.api_id, session.stage)
        route: WsRoute | None = deployed.route_for(data) if deployed is not None else None
        started = time.perf_counter()
        if xlog is not None:
            _message_routed(xlog, session, deployed, route, data)
        if route is None or deployed is None:
            if xlog is not None:
                xlog.error("Execution failed: no route matches the message and there is no $default route")
            self._error_frame(session, "Forbidden", request_id)
            if deployed is not None:
                self._observe(deployed, "MESSAGE", "-", 403, started, error=WS_CLIENT_ERROR)
            return 403, "?"
        key = route.route_key
        if route.integration is None:
            if xlog is not None:
                xlog.error(f"Execution failed due to configuration error: route [{key}] has no integration")
            self._error_frame(session, "Internal server error", request_id)
            self._observe(deployed, "MESSAGE", key, 500, started, error=WS_EXECUTION_ERROR)
            return 500, key
        if not await self._allowed(route):
            self._error_frame(session, "Too Many Requests", request_id)
            self._observe(deployed, "MESSAGE", key, 429, started, error=WS_CLIENT_ERROR)
            return 429, key
        if route.request_models and not _valid_body(route, data):
            if xlog is not None:
                xlog.error("Request body does not match model schema")
            self._error_frame(session, "Invalid request body", request_id)
            self._observe(deployed, "MESSAGE", key, 400, started, error=WS_CLIENT_ERROR)
            return 400, key

        def event() -> dict[str, Any]:  # built only for functions and templates
            return message_event(session, key, data, request_id, now_ms)

        called = time.perf_counter()
        try:
            outcome = await self._logged_call(xlog, route.integration, event, data, request_id, deployed, traced)
            if route.two_way and outcome.error is None and route.integration.responses:
                rendered = render_response(
                    route.integration,
                    outcome.status,
                    outcome.body or "",
                    event()["requestContext"],
                    deployed.stage_variables,
                )
                if rendered is not None:
                    outcome.body = rendered
        except ServiceCallFailed as exc:
            log.warning("WebSocket route %s: %s", route.route_key, exc)
            outcome = _Outcome(error="Internal server error")
        except Exception:
            log.exception("WebSocket route %s failed", route.route_key)
            outcome = _Outcome(error="Internal server error")
        integration_ms = (time.perf_counter() - called) * 1000.0
        if outcome.error is not None:
            if xlog is not None and not xlog.failed:
                xlog.error(f"Execution failed: {outcome.error}")
            self._error_frame(session, outcome.error, request_id)
            status = 500 if outcome.status == 200 else outcome.status
            self._observe(deployed, "MESSAGE", key, status, started, integration_ms, WS_EXECUTION_ERROR)
            return status, key
        if route.two_way and outcome.body is not None:
            session.connection.send(outcome.body.encode())
        failed = WS_INTEGRATION_ERROR if outcome.status >= 400 else ""
        self._observe(deployed, "MESSAGE", key, outcome.status, started, integration_ms, failed)
        return outcome.status, key

    def _error_frame(self, session: Session, message: str, request_id: str) -> None:
        session.connection.send(
            orjson.dumps({"message": message, "connectionId": session.connection_id, "requestId": request_id})
        )

    async def _logged_call(
        self,
        xlog: WsExecutionLog | None,
        integration: WsIntegration,
        event: Callable[[], dict[str, Any]],
        data: str | bytes | None,
        request_id: str,
        deployed: DeployedWebSocketApi,
        traced: RequestTrace | None,
    ) -> _Outcome:
        """``_call``, with the integration's request and answer in the execution log when there is one."""
        if xlog is None:
            return await self._call(integration, event, data, request_id, deployed, traced)
        if integration.type == "MOCK":
            xlog.add("Mock integration: the request does not leave the gateway")
        else:
            xlog.add(f"Endpoint request URI: {integration.uri}")
            if integration.type == "AWS_PROXY":
                xlog.body("Endpoint request body after transformations", orjson.dumps(event()))
            else:
                xlog.body("Endpoint request body after transformations", data)
        called = time.perf_counter()
        outcome = await self._call(integration, event, data, request_id, deployed, traced)
        latency = round((time.perf_counter() - called) * 1000.0)
        if outcome.error is not None:
            xlog.error(f"Execution failed: {outcome.error} (status {outcome.status}, latency {latency} ms)")
        else:
            xlog.add(f"Received response. Status: {outcome.status}, Integration latency: {latency} ms")
            xlog.body("Endpoint response body before transformations", outcome.body)
        return outcome

    async def _call(
        self,
        integration: WsIntegration,
        event: Callable[[], dict[str, Any]],
        data: str | bytes | None,
        request_id: str,
        deployed: DeployedWebSocketApi,
        traced: RequestTrace | None = None,
    ) -> _Outcome:
        if traced is None:
            return await self._integration(integration, event, data, request_id, deployed, None)
        outer = traced.enter(f"integration {integration.type}")
        try:
            return await self._integration(integration, event, data, request_id, deployed, traced)
        finally:
            traced.leave(outer)

    async def _integration(
        self,
        integration: WsIntegration,
        event: Callable[[], dict[str, Any]],
        data: str | bytes | None,
        request_id: str,
        deployed: DeployedWebSocketApi,
        traced: RequestTrace | None,
    ) -> _Outcome:
        kind = integration.type
        if kind == "MOCK":
            return _Outcome(200, integration.mock_response)
        uri = integration.uri
        if "stageVariables" in uri:  # ${stageVariables.fn} in a function ARN or an endpoint URL
            uri = stage_variables(uri, deployed.stage_variables)
        if kind in ("HTTP", "HTTP_PROXY"):
            body = data.encode() if isinstance(data, str) else data or b""
            if kind == "HTTP" and integration.request_templates and data is not None:
                try:
                    body = self._rendered(integration, event, data, deployed) or body
                except ServiceCallFailed:
                    return _Outcome(error="Internal server error")
            try:
                answer = await self._upstream.request(
                    integration.method or "POST",
                    uri,
                    [("Content-Type", "application/json")],
                    body,
                    timeout=integration.timeout_seconds,
                    identity=deployed.client_identity,
                )
            except UpstreamTimeout:
                return _Outcome(504, error="Endpoint request timed out")
            except UpstreamError:
                return _Outcome(error="Internal server error")
            return _Outcome(answer.status, answer.body.decode(errors="replace"))
        name = lambda_function(uri)
        if name is None and kind == "AWS":  # an AWS service (Kinesis, SQS…), not a function
            return await self._service(integration, uri, event, data, deployed)
        if name is None:
            return _Outcome(error="Internal server error")
        if kind == "AWS":  # non-proxy: the message through its request template, else the message itself
            payload = data.encode() if isinstance(data, str) else data or orjson.dumps(event())
            if integration.request_templates and data is not None:
                try:
                    payload = self._rendered(integration, event, data, deployed) or payload
                except ServiceCallFailed:
                    return _Outcome(error="Internal server error")
        else:
            payload = orjson.dumps(event())
        outer = None if traced is None else traced.enter(f"function {name}", {"faas.invoked_name": name})
        try:
            result = await call_function(
                self._functions,
                name,
                payload,
                timeout=integration.timeout_seconds,
                request_id=request_id,
                trace=function_trace_header(trace_id(int(time.time())), traced),
            )
        except FunctionCallFailed as failed:
            if failed.timed_out:
                return _Outcome(504, error="Endpoint request timed out")
            return _Outcome(error="Internal server error")
        finally:
            if traced is not None:
                traced.leave(outer)
        if result.function_error:
            return _Outcome(error="Internal server error")
        return _proxy_outcome(result.payload)

    def _rendered(
        self,
        integration: WsIntegration,
        event: Callable[[], dict[str, Any]],
        data: str | bytes,
        deployed: DeployedWebSocketApi,
    ) -> bytes | None:
        context = event()["requestContext"]  # $context.connectionId, routeKey… for the template
        return render_request(integration, data, context, deployed.stage_variables)

    async def _service(
        self,
        integration: WsIntegration,
        uri: str,
        event: Callable[[], dict[str, Any]],
        data: str | bytes | None,
        deployed: DeployedWebSocketApi,
    ) -> _Outcome:
        context = event()["requestContext"]  # $context.connectionId, routeKey… for the template
        try:
            status, body = await call_service(
                integration,
                uri,
                self._upstream,
                self._aws,
                data,
                context,
                deployed.stage_variables,
                deployed.region,
            )
        except ServiceCallFailed as exc:
            log.warning("WebSocket AWS integration failed: %s", exc)
            return _Outcome(error="Internal server error")
        except UpstreamTimeout:
            return _Outcome(504, error="Endpoint request timed out")
        except UpstreamError:
            return _Outcome(error="Internal server error")
        return _Outcome(status, body.decode(errors="replace"))

    # --- the close ------------------------------------------------------------------------------------------

    def on_close(self, session: Session, code: int, reason: str) -> None:
        self._sessions.pop(session.connection_id, None)
        self._spawn(self._disconnect(session, code, reason))

    async def _disconnect(self, session: Session, code: int, reason: str) -> None:
        if not self._observing(session):
            await self._closed(session, code, reason, None)
            return
        started = time.perf_counter()
        traced = self._trace(session, DISCONNECT, "")
        xlog = self._execution_log(session)
        request_id = ""
        try:
            request_id = await self._closed(session, code, reason, traced, xlog)
        finally:
            self._observed(session, DISCONNECT, code, started, request_id, traced, xlog)

    async def _closed(
        self,
        session: Session,
        code: int,
        reason: str,
        traced: RequestTrace | None,
        xlog: WsExecutionLog | None = None,
    ) -> str:
        """``$disconnect``: its request id, when its route has an integration."""
        try:
            await self.directory.removed(session.connection_id)
        except Exception:
            log.warning("could not remove connection %s from the shared state", session.connection_id)
        deployed = self.get(session.api_id, session.stage)
        if deployed is None:
            return ""
        started = time.perf_counter()
        route = deployed.routes.get(DISCONNECT)
        if xlog is not None:
            _routed(xlog, deployed, route, DISCONNECT)
        if route is None or route.integration is None:
            self._observe(deployed, "DISCONNECT", DISCONNECT, 200, started)
            if xlog is not None:
                xlog.add(_disconnected(session, 200, code, reason))
            return ""
        event = disconnect_event(session, code, reason)
        request_id = str(event["requestContext"]["requestId"])
        status, error = 200, ""
        try:  # best effort, as on AWS: nobody is left to tell about a failure
            outcome = await self._logged_call(
                xlog, route.integration, lambda: event, None, request_id, deployed, traced
            )
            if outcome.error is not None:
                status, error = 500, WS_EXECUTION_ERROR
            elif xlog is not None:
                xlog.add(_disconnected(session, outcome.status, code, reason))
        except Exception:
            log.exception("$disconnect failed")
            status, error = 500, WS_EXECUTION_ERROR
            if xlog is not None:
                xlog.error("Execution failed due to an internal error")
        self._observe(
            deployed,
            "DISCONNECT",
            DISCONNECT,
            status,
            started,
            (time.perf_counter() - started) * 1000.0,
            error,
        )
        return request_id

    # --- what is seen: console lines and spans ---------------------------------------------------------------

    def _observing(self, session: Session) -> bool:
        """Whether anything sees this connection's events: the console, tracing, or its stage's access log."""
        if self.console is not None or self.tracing is not None:
            return True
        if self.access_logs is None:
            return False
        deployed = self.get(session.api_id, session.stage)
        return deployed is not None and (deployed.access_log is not None or deployed.execution_logging)

    def _execution_log(self, session: Session) -> WsExecutionLog | None:
        """A collector for the event's execution log lines, when its stage has any route logging."""
        if self.access_logs is None:
            return None
        deployed = self.get(session.api_id, session.stage)
        if deployed is None or not deployed.execution_logging:
            return None
        return WsExecutionLog(deployed.log_level, deployed.data_trace)

    def _trace(
        self, session: Session, event: str, request_id: str, headers: list[tuple[str, str]] | None = None
    ) -> RequestTrace | None:
        if self.tracing is None or not self.tracing.sampled():
            return None
        return self.tracing.begin(
            f"WebSocket {event}",
            {
                "aws.api_gateway.api_id": session.api_id,
                "aws.api_gateway.stage": session.stage,
                "aws.api_gateway.connection_id": session.connection_id,
                "aws.request_id": request_id,
            },
            headers or (),
            sampled=True,
        )

    def _observed(
        self,
        session: Session,
        event: str,
        status: int,
        started: float,
        request_id: str,
        traced: RequestTrace | None,
        xlog: WsExecutionLog | None = None,
    ) -> None:
        """``event``: ``$connect``, ``$disconnect`` (``status`` is then the close code) or a route key."""
        if traced is not None:
            traced.set("aws.api_gateway.route_key", event)
            traced.end(None if event == DISCONNECT else status)
        latency_ms = (time.perf_counter() - started) * 1000.0
        deployed = self.get(session.api_id, session.stage)
        if xlog is not None and deployed is not None and self.access_logs is not None:
            logged_id = request_id or extended_request_id()  # a $disconnect without integration has none
            block = xlog.finish(logged_id, 200 if event == DISCONNECT else status)
            if block is not None:
                self.access_logs.add_execution(
                    execution_log_group(deployed.api_id, deployed.stage),
                    logged_id,
                    int(time.time() * 1000 - latency_ms),
                    block,
                )
        if deployed is not None and deployed.access_log is not None and self.access_logs is not None:
            kind = "CONNECT" if event == CONNECT else "DISCONNECT" if event == DISCONNECT else "MESSAGE"
            self.access_logs.add_websocket(
                deployed.access_log,
                session,
                kind,
                event,
                request_id,
                int(time.time() * 1000 - latency_ms),
                200 if event == DISCONNECT else status,
                latency_ms,
            )
        console = self.console
        if console is not None:
            route = deployed.routes.get(event) if deployed is not None else None
            console.websocket(
                deployed.api_name if deployed is not None and deployed.api_name else session.api_id,
                session.stage,
                event,
                session.connection_id,
                status,
                latency_ms,
                None if route is None else route.integration,
                request_id,
            )

    # --- LocalConnections (what the connection directory delivers here) -----------------------------------

    def info(self, connection_id: str) -> ConnectionInfo | None:
        session = self._sessions.get(connection_id)
        return session.info if session is not None else None

    def post(self, connection_id: str, data: bytes) -> PostResult:
        session = self._sessions.get(connection_id)
        if session is None or not session.connection.open:
            return PostResult.GONE
        if session.connection.buffered() > _SEND_BUFFER_LIMIT:
            return PostResult.FULL
        try:
            data.decode()
            text = True
        except UnicodeDecodeError:
            text = False
        session.connection.send(data, text=text)
        return PostResult.SENT

    def disconnect(self, connection_id: str) -> bool:
        session = self._sessions.get(connection_id)
        if session is None or not session.connection.open:
            return False
        session.connection.close(1000, "")
        return True


def _routed(xlog: WsExecutionLog, deployed: DeployedWebSocketApi, route: WsRoute | None, key: str) -> None:
    """The route's own logging settings from here on (the stage's defaults for a message no route takes)."""
    if route is not None:
        xlog.settle(route.log_level, route.data_trace)
    xlog.add(f"WebSocket Request Route: [{key}]")


def _message_routed(
    xlog: WsExecutionLog,
    session: Session,
    deployed: DeployedWebSocketApi | None,
    route: WsRoute | None,
    data: str | bytes,
) -> None:
    key = route.route_key if route is not None else "-"
    if deployed is not None:
        _routed(xlog, deployed, route, key)
    xlog.add(f"Client [Connection Id: {session.connection_id}] sent a message on route [{key}].")
    xlog.body("Method request body before transformations", data)


def _disconnected(session: Session, status: int, code: int, reason: str) -> str:
    return (
        f"Client [Connection Id: {session.connection_id}] disconnected from API [{session.api_id}] with "
        f"integration response status code [{status}]. Close reason: [{code}: {reason}]"
    )


def _valid_body(route: WsRoute, data: str | bytes) -> bool:
    """The message against the route's model: the one ModelSelectionExpression's value names, else $default."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    key = route.model_selection.evaluate(body) if route.model_selection is not None else "$default"
    validate = route.request_models.get(key) or route.request_models.get("$default")
    if validate is None:
        return True
    try:
        validate(body)
    except Exception:  # fastjsonschema's JsonSchemaValueException, or a budgeted pattern giving up
        return False
    return True


def _check_required(session: Session, route: WsRoute) -> None:
    """$connect's required request parameters (headers, query strings): missing ones refuse the handshake
    with the 400 REST validators answer."""
    headers = {name.lower() for name, _ in session.raw_headers}
    query = {name for name, _ in parse_qsl(session.query_string, keep_blank_values=True)}
    missing = [
        name
        for kind, name in route.required_parameters
        if (name.lower() not in headers if kind == "header" else name not in query)
    ]
    if missing:
        raise Refused(
            400, f"Missing required request parameters: [{', '.join(missing)}]", "BadRequestException"
        )


def _proxy_outcome(payload: bytes) -> _Outcome:
    """A function's answer: ``{"statusCode", "body", "headers"}``, or any other JSON sent back as it is."""
    try:
        answer = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return _Outcome(200, payload.decode(errors="replace"))
    if not isinstance(answer, dict) or not ("statusCode" in answer or "body" in answer):
        return _Outcome(200, None if answer is None else payload.decode())
    status = answer.get("statusCode", 200)
    try:
        status = int(status)
    except (TypeError, ValueError):
        return _Outcome(error="Internal server error")
    body = answer.get("body")
    if body is not None and not isinstance(body, str):
        body = orjson.dumps(body).decode()
    return _Outcome(status, body, headers=answer.get("headers"))
