"""OpenTelemetry traces (``apigate serve --otlp-endpoint URL``), exported over OTLP/HTTP in batches by the SDK's
own thread: a span per request to a REST stage whose ``tracingEnabled`` is true, per HTTP API request, and per
WebSocket ``$connect``, message and ``$disconnect``; below it a child span for each REST step that ran
(authorizer, validation, cache…), for the integration, and for the function call inside it.

The trace continues the caller's: a W3C ``traceparent`` it sent is the span's parent; otherwise the trace id is
the request's X-Ray root (``Root=1-{8 hex}-{24 hex}``, the 32 hex digits), so the ``X-Amzn-Trace-Id`` response
header, ``$context.xrayTraceId`` in access logs and the OpenTelemetry trace name one trace. An HTTP
integration receives the span's ``traceparent``; a function gets ``_X_AMZN_TRACE_ID`` (``Root=…;Parent=…;
Sampled=1``) and finds the ``traceparent`` among its event's headers.

Off by default; when off, the data plane pays one attribute check per request (``inv.span`` stays None, the
stage's ``tracing`` flag is False unless the gateway was started with an endpoint), and the OpenTelemetry
packages are never imported.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from apigate.aws.ids import trace_id, trace_root

if TYPE_CHECKING:
    from apigate.dataplane.http_api.call import HttpCall
    from apigate.dataplane.invocation import Invocation

__all__ = [
    "RequestTrace",
    "Tracing",
    "call_trace_root",
    "finish_http",
    "function_trace_header",
    "step_name",
    "trace_http",
]

_Step = Callable[["Invocation"], Awaitable[None]]


def step_name(step: object) -> str:
    """``AuthorizerStep`` -> ``authorizer``, ``CacheLookupStep`` -> ``cache lookup``."""
    name = getattr(step, "__name__", None) or type(step).__name__
    name = name.removesuffix("Step")
    words: list[str] = []
    for char in name:
        if char.isupper() and words:
            words.append(" ")
        words.append(char.lower())
    return "".join(words).strip("_ ")


def function_trace_header(root: str, trace: RequestTrace | None) -> str:
    """The ``X-Amzn-Trace-Id`` a function sees: the request's X-Ray root, and when traced the trace's own id
    in X-Ray's form (the same as ``root`` unless the caller sent a traceparent) and the current span."""
    if trace is None:
        return f"{root};Sampled=0"
    context = trace.current.get_span_context()
    hex_id = f"{context.trace_id:032x}"
    return f"Root=1-{hex_id[:8]}-{hex_id[8:]};Parent={context.span_id:016x};Sampled=1"


def call_trace_root(call: HttpCall) -> str:
    """An HTTP API request's X-Ray root: the caller's, else a new one."""
    return trace_root(call.request.header("x-amzn-trace-id")) or trace_id(call.start_epoch_ms // 1000)


def trace_http(tracing: Tracing, call: HttpCall) -> RequestTrace | None:
    request = call.request
    return tracing.begin(
        f"{request.method} {call.path}",
        {
            "http.request.method": request.method,
            "url.path": call.raw_path,
            "aws.api_gateway.api_id": call.api.api_id,
            "aws.api_gateway.stage": call.api.stage,
            "aws.request_id": call.request_id,
        },
        request.headers,
        trace_root(request.header("x-amzn-trace-id")),
    )


def finish_http(call: HttpCall, status: int) -> None:
    traced: RequestTrace = call.span
    route = call.route
    if route is not None:
        traced.span.update_name(f"{call.request.method} {route.route_key.split(' ', 1)[-1]}")
        traced.span.set_attribute("http.route", route.route_key)
    traced.end(status)
    call.span = None


class RequestTrace:
    """One traced request: its span, the span its next children go under (``enter``/``leave``), and the
    tracer that makes them. Held by ``Invocation.span``, an HTTP API call, a WebSocket event."""

    __slots__ = ("_context", "_tracer", "current", "span")

    def __init__(self, tracer: Any, span: Any, context: Any) -> None:
        self._tracer = tracer
        self._context = context  # builds a parent context from a span
        self.span = span
        self.current = span

    def traceparent(self) -> str:
        context = self.current.get_span_context()
        return f"00-{context.trace_id:032x}-{context.span_id:016x}-01"

    def current_span_id(self) -> str:
        return f"{self.current.get_span_context().span_id:016x}"

    def child(
        self, name: str, started_ns: int, ended_ns: int, attributes: dict[str, Any] | None = None
    ) -> None:
        """A finished piece of the request, under the current span."""
        span = self._tracer.start_span(
            name, context=self._context(self.current), start_time=started_ns, attributes=attributes
        )
        span.end(end_time=ended_ns)

    def enter(self, name: str, attributes: dict[str, Any] | None = None) -> Any:
        """Start a child span now and make it the current one; hand what ``enter`` returns to ``leave``."""
        previous = self.current
        self.current = self._tracer.start_span(name, context=self._context(previous), attributes=attributes)
        return previous

    def leave(self, previous: Any, error: str | None = None) -> None:
        span = self.current
        if error is not None:
            span.set_attribute("error.type", error)
            _mark_error(span)
        span.end()
        self.current = previous

    def end(self, status: int | None = None, error_type: str | None = None) -> None:
        span = self.span
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if error_type:
            span.set_attribute("aws.api_gateway.error_type", error_type)
        if (status is not None and status >= 500) or error_type == "failed":
            _mark_error(span)
        span.end()


def _mark_error(span: Any) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_status(Status(StatusCode.ERROR))


class Tracing:
    """``ratio``: which requests are traced. As X-Ray's default sampling rule: the first request of each second,
    then ``ratio`` of the others (measured: a traced MOCK request cost ~5x an untraced one in the OpenTelemetry
    SDK, so tracing every request under load is for tests and debugging: ``--otlp-sample-ratio 1``)."""

    def __init__(
        self, endpoint: str, *, ratio: float = 0.05, service_name: str = "apigate", delay_ms: int = 200
    ) -> None:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

        class _RootIds(RandomIdGenerator):
            """A new trace takes the id it is handed (the request's X-Ray root), else a random one."""

            next_trace_id = 0

            def generate_trace_id(self) -> int:
                handed, self.next_trace_id = self.next_trace_id, 0
                return handed or super().generate_trace_id()

        url = endpoint.rstrip("/")
        if not url.endswith("/v1/traces"):
            url += "/v1/traces"
        self._ids = _RootIds()
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": service_name}), id_generator=self._ids
        )
        self._provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=url), schedule_delay_millis=delay_ms)
        )
        self._tracer = self._provider.get_tracer("apigate")
        self._in = trace.set_span_in_context
        self._remote = _remote_parent
        self._ratio = ratio
        self._second = 0  # the second whose reservoir request was taken
        self._random = random.Random()

    def sampled(self) -> bool:
        now = int(time.monotonic())
        if now != self._second:
            self._second = now
            return True
        return self._ratio >= 1.0 or self._random.random() < self._ratio

    def begin(
        self,
        name: str,
        attributes: dict[str, Any],
        headers: Iterable[tuple[str, str]] = (),
        xray_root: str | None = None,
        kind: str = "SERVER",
    ) -> RequestTrace | None:
        """A request's span, started now (None when this request is not sampled: one random draw)."""
        if not self.sampled():
            return None
        from opentelemetry.trace import SpanKind

        parent = None
        for header, value in headers:
            if len(header) == 11 and header.lower() == "traceparent":
                parent = self._remote(value)
        if parent is None and xray_root is not None:
            self._ids.next_trace_id = _xray_trace_id(xray_root)
        span = self._tracer.start_span(
            name,
            kind=SpanKind.SERVER if kind == "SERVER" else SpanKind.INTERNAL,
            attributes=attributes,
            context=parent,
        )
        self._ids.next_trace_id = 0
        return RequestTrace(self._tracer, span, self._in)

    # --- REST APIs (the pipeline and its metrics step call these) ---

    def start(self, inv: Invocation) -> None:
        """The request's span; its traceparent added to the request for the integration."""
        request = inv.request
        method = inv.method
        route = method.resource_path if method is not None else inv.path
        traced = self.begin(
            f"{request.method} {route}",
            {
                "http.request.method": request.method,
                "url.path": inv.stage_path,
                "http.route": route,
                "aws.api_gateway.api_id": inv.api.api_id,
                "aws.api_gateway.stage": inv.api.stage,
                "aws.request_id": inv.request_id,
                "aws.xray.trace_id": inv.trace_id,
            },
            request.headers,
            inv.trace_id,
        )
        if traced is None:
            return
        # The next hop's parent is this span: a traceparent the caller sent is replaced, not repeated.
        request.headers[:] = [(k, v) for k, v in request.headers if k.lower() != "traceparent"]
        request.headers.append(("traceparent", traced.traceparent()))
        request._index = None  # the header index, if built, saw the old list
        inv.span = traced

    @staticmethod
    def steps(inv: Invocation, steps: Sequence[_Step]) -> tuple[_Step, ...]:
        """The request's steps, each timed as a child span of the request."""
        trace: RequestTrace = inv.span

        def timed(step: _Step) -> _Step:
            name = step_name(step)

            async def run(inv: Invocation) -> None:
                outer = trace.enter(name)  # current while it runs: a function it calls goes under it
                try:
                    await step(inv)
                finally:
                    trace.leave(outer)

            return run

        return tuple(timed(step) for step in steps)

    def child(self, inv: Invocation, name: str, started_ns: int, ended_ns: int, **attributes: Any) -> None:
        """A finished step of the request, as a child of its current span."""
        trace: RequestTrace | None = inv.span
        if trace is not None:
            trace.child(name, started_ns, ended_ns, attributes)

    def finish(self, inv: Invocation, status: int) -> None:
        trace: RequestTrace | None = inv.span
        if trace is None:
            return
        trace.end(status, inv.error_type)
        inv.span = None

    def close(self) -> None:
        self._provider.shutdown()  # flushes what is queued


def _xray_trace_id(root: str) -> int:
    """``Root=1-5759e988-bd862e3fe1be46a994272793`` -> the 128-bit id ``5759e988bd862e3fe1be46a994272793``."""
    try:
        return int(root.removeprefix("Root=1-").replace("-", ""), 16)
    except ValueError:
        return 0


def _remote_parent(traceparent: str) -> Any:
    """A caller's W3C traceparent as the parent context, or None when it is not one."""
    parts = traceparent.strip().split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    context = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags & 1))
    return trace.set_span_in_context(NonRecordingSpan(context))
