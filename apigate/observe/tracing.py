"""OpenTelemetry traces (``apigate serve --otlp-endpoint URL``): a span per request to a stage whose
``tracingEnabled`` is true, with a child span for the integration, exported over OTLP/HTTP in batches by the
SDK's own thread. The request carries the span's W3C ``traceparent`` to the integration (an HTTP integration
receives it as a header, a function finds it in its event's headers).

Off by default; when off, the data plane pays one attribute check per request (the stage's ``tracing`` flag is
False unless the gateway was started with an endpoint), and the OpenTelemetry packages are never imported.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apigate.dataplane.invocation import Invocation

__all__ = ["Tracing"]


class Tracing:
    """``ratio``: which requests are traced. As X-Ray's default sampling rule: the first request of each second,
    then ``ratio`` of the others (measured: a traced MOCK request cost ~5x an untraced one in the OpenTelemetry
    SDK, so tracing every request under load is for tests and debugging: ``--otlp-sample-ratio 1``)."""

    def __init__(
        self, endpoint: str, *, ratio: float = 0.05, service_name: str = "apigate", delay_ms: int = 200
    ) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        url = endpoint.rstrip("/")
        if not url.endswith("/v1/traces"):
            url += "/v1/traces"
        self._provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self._provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=url), schedule_delay_millis=delay_ms)
        )
        self._tracer = self._provider.get_tracer("apigate")
        self._ratio = ratio
        self._second = 0  # the second whose reservoir request was taken
        self._random = random.Random()

    def sampled(self) -> bool:
        now = int(time.monotonic())
        if now != self._second:
            self._second = now
            return True
        return self._ratio >= 1.0 or self._random.random() < self._ratio

    def start(self, inv: Invocation) -> None:
        """The request's span, started now; its traceparent added to the request for the integration. An
        unsampled request gets neither (costs one random draw)."""
        if not self.sampled():
            return
        from opentelemetry.trace import SpanKind, format_span_id, format_trace_id

        request = inv.request
        method = inv.method
        route = method.resource_path if method is not None else inv.path
        span = self._tracer.start_span(
            f"{request.method} {route}",
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": request.method,
                "url.path": inv.stage_path,
                "http.route": route,
                "aws.api_gateway.api_id": inv.api.api_id,
                "aws.api_gateway.stage": inv.api.stage,
                "aws.request_id": inv.request_id,
                "aws.xray.trace_id": inv.trace_id,
            },
        )
        context = span.get_span_context()
        traceparent = f"00-{format_trace_id(context.trace_id)}-{format_span_id(context.span_id)}-01"
        request.headers.append(("traceparent", traceparent))
        inv.span = span

    def child(self, inv: Invocation, name: str, started_ns: int, ended_ns: int, **attributes: Any) -> None:
        """A finished step of the request (the integration), as a child of its span."""
        from opentelemetry import trace

        parent = inv.span
        if parent is None:
            return
        span = self._tracer.start_span(
            name, context=trace.set_span_in_context(parent), start_time=started_ns, attributes=attributes
        )
        span.end(end_time=ended_ns)

    def finish(self, inv: Invocation, status: int) -> None:
        span = inv.span
        if span is None:
            return
        span.set_attribute("http.response.status_code", status)
        if inv.error_type:
            span.set_attribute("aws.api_gateway.error_type", inv.error_type)
        if status >= 500:
            from opentelemetry.trace import Status, StatusCode

            span.set_status(Status(StatusCode.ERROR))
        span.end()
        inv.span = None

    def close(self) -> None:
        self._provider.shutdown()  # flushes what is queued
