"""OpenTelemetry traces (``apigate serve --otlp-endpoint URL``), exported over OTLP/HTTP in batches by a thread
of ours (observe/otlp.py): a span per request to a REST stage whose ``tracingEnabled`` is true, per HTTP API request, and per
WebSocket ``$connect``, message and ``$disconnect``; below it a child span for each REST step that ran
(authorizer, validation, cache…), for the integration, and for the function call inside it.

The trace continues the caller's: a W3C ``traceparent`` it sent is the span's parent; otherwise the trace id is
the request's X-Ray root (``Root=1-{8 hex}-{24 hex}``, the 32 hex digits), so the ``X-Amzn-Trace-Id`` response
header, ``$context.xrayTraceId`` in access logs and the OpenTelemetry trace name one trace. An HTTP
integration receives the span's ``traceparent``; a function gets ``_X_AMZN_TRACE_ID`` (``Root=…;Parent=…;
Sampled=1``) and finds the ``traceparent`` among its event's headers.

Off by default; when off, the data plane pays one attribute check per request (``inv.span`` stays None, the
stage's ``tracing`` flag is False unless the gateway was started with an endpoint), and the OpenTelemetry
packages are never imported. When on, an unsampled request pays one random draw; a sampled one records its
spans as plain tuples (no SDK span objects on the request path) and the thread encodes and sends them.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from apigate.aws.ids import trace_id, trace_root

if TYPE_CHECKING:
    from apigate.dataplane.http_api.call import HttpCall
    from apigate.dataplane.invocation import Invocation
    from apigate.observe.otlp import FinishedSpan
    from apigate.server.message import Request

_log = logging.getLogger("apigate.tracing")

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


def _timed(step: _Step) -> _Step:
    name = step_name(step)

    async def run(inv: Invocation) -> None:
        trace: RequestTrace = inv.span
        outer = trace.enter(name)  # current while it runs: a function it calls goes under it
        try:
            await step(inv)
        finally:
            trace.leave(outer)

    return run


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
    hex_id = f"{trace.trace_id:032x}"
    return f"Root=1-{hex_id[:8]}-{hex_id[8:]};Parent={trace.current[1]:016x};Sampled=1"


def call_trace_root(call: HttpCall) -> str:
    """An HTTP API request's X-Ray root: the caller's, else a new one."""
    return trace_root(call.request.header("x-amzn-trace-id")) or trace_id(call.start_epoch_ms // 1000)


def _pass_on(request: Request, traced: RequestTrace) -> None:
    """The request's headers carry the span's ``traceparent`` on (a function finds it in its event, an HTTP
    integration receives it): one the caller sent is replaced, not repeated."""
    headers = request.headers
    if any(len(k) == 11 and k.lower() == "traceparent" for k, _ in headers):
        headers[:] = [(k, v) for k, v in headers if k.lower() != "traceparent"]
        request._index = None  # the header index, if built, saw the old list
    headers.append(("traceparent", traced.traceparent()))
    if request._index is not None:
        request._index.setdefault("traceparent", []).append(headers[-1][1])


def trace_http(tracing: Tracing, call: HttpCall) -> RequestTrace | None:
    if not tracing.sampled():
        return None
    request = call.request
    traced = tracing.begin(
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
        sampled=True,
    )
    if traced is not None:
        _pass_on(request, traced)
    return traced


def finish_http(call: HttpCall, status: int) -> None:
    traced: RequestTrace = call.span
    route = call.route
    if route is not None:
        traced.rename(f"{call.request.method} {route.route_key.split(' ', 1)[-1]}")
        traced.set("http.route", route.route_key)
    traced.end(status)
    call.span = None


# An open span: [name, span id, parent span id (0: none), start (ns), attributes, failed]
_Open = list[Any]


class RequestTrace:
    """One traced request: its span, the span its next children go under (``enter``/``leave``), and the queue
    finished spans go to. Held by ``Invocation.span``, an HTTP API call, a WebSocket event.

    Spans are plain lists and tuples here, made into the SDK's ``ReadableSpan`` only by the export thread
    (measured: the SDK's ``start_span`` with its sampler, attribute checks and locks cost ~60 µs of a traced
    MOCK request's ~140 µs, most of it on the request path)."""

    __slots__ = ("_finished", "_next_id", "current", "root", "trace_id")

    def __init__(
        self,
        finished: deque[FinishedSpan],
        next_id: Callable[[], int],
        trace_id: int,
        parent_id: int,
        name: str,
        attributes: dict[str, Any],
    ) -> None:
        self._finished = finished
        self._next_id = next_id
        self.trace_id = trace_id
        self.root: _Open = [name, next_id(), parent_id, time.time_ns(), attributes, False]
        self.current = self.root

    def traceparent(self) -> str:
        return f"00-{self.trace_id:032x}-{self.current[1]:016x}-01"

    def set(self, key: str, value: Any) -> None:
        """An attribute of the request's span."""
        self.root[4][key] = value

    def rename(self, name: str) -> None:
        self.root[0] = name

    def child(
        self, name: str, started_ns: int, ended_ns: int, attributes: dict[str, Any] | None = None
    ) -> None:
        """A finished piece of the request, under the current span."""
        self._finished.append(
            (
                name,
                self.trace_id,
                self._next_id(),
                self.current[1],
                started_ns,
                ended_ns,
                attributes,
                False,
                False,
            )
        )

    def enter(self, name: str, attributes: dict[str, Any] | None = None) -> _Open:
        """Start a child span now and make it the current one; hand what ``enter`` returns to ``leave``."""
        previous = self.current
        self.current = [name, self._next_id(), previous[1], time.time_ns(), attributes, False]
        return previous

    def leave(self, previous: Any, error: str | None = None) -> None:
        name, span_id, parent_id, started, attributes, _ = self.current
        if error is not None:
            attributes = {**(attributes or {}), "error.type": error}
        self._finished.append(
            (
                name,
                self.trace_id,
                span_id,
                parent_id,
                started,
                time.time_ns(),
                attributes,
                False,
                error is not None,
            )
        )
        self.current = previous

    def end(self, status: int | None = None, error_type: str | None = None) -> None:
        name, span_id, parent_id, started, attributes, _ = self.root
        if status is not None:
            attributes["http.response.status_code"] = status
        if error_type:
            attributes["aws.api_gateway.error_type"] = error_type
        failed = status is not None and status >= 500
        self._finished.append(
            (
                name,
                self.trace_id,
                span_id,
                parent_id,
                started,
                time.time_ns(),
                attributes,
                True,
                failed,
            )
        )


class Tracing:
    """``ratio``: which requests are traced. As X-Ray's default sampling rule: the first request of each second,
    then ``ratio`` of the others (tracing every request under load is for tests and debugging:
    ``--otlp-sample-ratio 1``). Finished spans wait in a bounded queue; a thread of ours exports them in batches
    every ``delay_ms`` (a flood drops the oldest, never grows the memory) and refills the second's reservoir."""

    def __init__(
        self,
        endpoint: str,
        *,
        ratio: float = 0.05,
        service_name: str = "apigate",
        delay_ms: int = 200,
        capacity: int = 20_000,
    ) -> None:
        from apigate.observe.otlp import OtlpExporter  # the OTLP packages: only when tracing is on

        self._exporter = OtlpExporter(endpoint, service_name)
        self._finished: deque[FinishedSpan] = deque(maxlen=capacity)
        self._delay = delay_ms / 1000.0
        self._stop = threading.Event()
        self._steps: dict[int, tuple[tuple[_Step, ...], tuple[_Step, ...]]] = {}
        self._ratio = ratio
        self._second = int(time.monotonic())  # the second whose reservoir request is given
        self._reservoir = True  # the first request of the current second is traced
        self._next_export = 0.0
        self._random = random.Random()
        bits = self._random.getrandbits
        self._next_id = lambda: bits(64) or 1
        self._thread = threading.Thread(target=self._export_loop, name="apigate-otlp", daemon=True)
        self._thread.start()

    def sampled(self) -> bool:
        """No clock read here (measured: ~0.7 µs of the 0.8 a draw cost on this machine): the export thread
        refills the reservoir when a new second begins."""
        if self._reservoir:
            self._reservoir = False
            return True
        return self._ratio >= 1.0 or self._random.random() < self._ratio

    def _refill(self) -> None:
        second = int(time.monotonic())
        if second != self._second:
            self._second = second
            self._reservoir = True

    def begin(
        self,
        name: str,
        attributes: dict[str, Any],
        headers: Iterable[tuple[str, str]] = (),
        xray_root: str | None = None,
        *,
        sampled: bool = False,
    ) -> RequestTrace | None:
        """A request's span, started now (None when this request is not sampled: one random draw).
        ``sampled``: the caller drew already (and built ``attributes`` only then)."""
        if not sampled and not self.sampled():
            return None
        parent = None
        for header, value in headers:
            if len(header) == 11 and header.lower() == "traceparent":
                parent = _remote_parent(value) or parent
        if parent is not None:
            trace_id, parent_id = parent
        else:
            trace_id = (_xray_trace_id(xray_root) if xray_root else 0) or self._random.getrandbits(128) or 1
            parent_id = 0
        return RequestTrace(self._finished, self._next_id, trace_id, parent_id, name, attributes)

    # --- REST APIs (the pipeline and its metrics step call these) ---

    def start(self, inv: Invocation) -> None:
        """The request's span; its traceparent added to the request for the integration."""
        if not self.sampled():
            return
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
            sampled=True,
        )
        if traced is None:
            return
        _pass_on(request, traced)
        inv.span = traced

    def steps(self, steps: tuple[_Step, ...]) -> tuple[_Step, ...]:
        """A method's steps, each timed as a child span of a traced request: made once per method plan (the
        pipeline's), not per request."""
        wrapped = self._steps.get(id(steps))
        if wrapped is not None and wrapped[0] is steps:
            return wrapped[1]
        if len(self._steps) > 10_000:  # old deployments' plans
            self._steps.clear()
        timed = tuple(_timed(step) for step in steps)
        self._steps[id(steps)] = (steps, timed)
        return timed

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
        """Stop the export thread, after it sent what is queued."""
        self._stop.set()
        self._thread.join(timeout=10)
        self._exporter.close()

    # --- the export thread ---

    def _export_loop(self) -> None:
        while not self._stop.wait(min(self._delay, 0.1)):
            self._refill()
            if time.monotonic() >= self._next_export:
                self._next_export = time.monotonic() + self._delay
                self._export()
        self._export()

    def _export(self) -> None:
        finished = self._finished
        while finished:
            batch = [finished.popleft() for _ in range(min(len(finished), 512))]
            try:
                self._exporter.send(self._exporter.encode(batch))
            except (OSError, ValueError):  # a collector that is down loses spans, never the gateway
                _log.debug("OTLP export to %s failed", self._exporter.url, exc_info=True)


def _xray_trace_id(root: str) -> int:
    """``Root=1-5759e988-bd862e3fe1be46a994272793`` -> the 128-bit id ``5759e988bd862e3fe1be46a994272793``."""
    try:
        return int(root.removeprefix("Root=1-").replace("-", ""), 16)
    except ValueError:
        return 0


def _remote_parent(traceparent: str) -> tuple[int, int] | None:
    """A caller's W3C traceparent: (trace id, parent span id), or None when it is not one."""
    parts = traceparent.strip().split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        trace_id, span_id = int(parts[1], 16), int(parts[2], 16)
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    return trace_id, span_id
