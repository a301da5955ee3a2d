"""Finished spans to an OTLP/HTTP collector: ``ExportTraceServiceRequest`` protobuf messages built with the
OTLP packages' generated classes (``opentelemetry-proto``), posted to ``{endpoint}/v1/traces``.

Built here rather than through the SDK's ``ReadableSpan`` and its encoder: measured on this machine, building
the messages directly cost about half as much per span (the span export runs on the gateway's core). The
``OTEL_EXPORTER_OTLP_HEADERS`` / ``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` variables (``key=value,…``) add headers,
as they do for the SDK's exporter (a hosted collector's API key).
"""

from __future__ import annotations

import os
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

__all__ = ["FinishedSpan", "OtlpExporter", "traces_url"]

# (name, trace id, span id, parent id, start ns, end ns, attributes, server kind, failed)
FinishedSpan = tuple[str, int, int, int, int, int, "Mapping[str, Any] | None", bool, bool]

_SERVER, _INTERNAL = Span.SpanKind.SPAN_KIND_SERVER, Span.SpanKind.SPAN_KIND_INTERNAL
_ERROR = Status(code=Status.StatusCode.STATUS_CODE_ERROR)


def traces_url(endpoint: str) -> str:
    url = endpoint.rstrip("/")
    return url if url.endswith("/v1/traces") else url + "/v1/traces"


def _value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def _attributes(attributes: Mapping[str, Any] | None) -> list[KeyValue]:
    if not attributes:
        return []
    return [KeyValue(key=key, value=_value(value)) for key, value in attributes.items() if value is not None]


def _headers() -> dict[str, str]:
    headers = {"Content-Type": "application/x-protobuf"}
    for variable in ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"):
        for item in (os.environ.get(variable) or "").split(","):
            key, sep, value = item.partition("=")
            if sep and key.strip():
                headers[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(value.strip())
    return headers


class OtlpExporter:
    def __init__(self, endpoint: str, service_name: str, timeout: float = 10.0) -> None:
        self.url = traces_url(endpoint)
        self._timeout = timeout
        self._headers = _headers()
        self._resource = Resource(attributes=_attributes({"service.name": service_name}))
        self._scope = InstrumentationScope(name="apigate")

    def encode(self, spans: Iterable[FinishedSpan]) -> bytes:
        built = [
            Span(
                trace_id=trace_id.to_bytes(16, "big"),
                span_id=span_id.to_bytes(8, "big"),
                parent_span_id=parent_id.to_bytes(8, "big") if parent_id else b"",
                name=name,
                kind=_SERVER if server else _INTERNAL,
                start_time_unix_nano=started,
                end_time_unix_nano=ended,
                attributes=_attributes(attributes),
                status=_ERROR if failed else None,
            )
            for name, trace_id, span_id, parent_id, started, ended, attributes, server, failed in spans
        ]
        request = ExportTraceServiceRequest(
            resource_spans=[
                ResourceSpans(
                    resource=self._resource, scope_spans=[ScopeSpans(scope=self._scope, spans=built)]
                )
            ]
        )
        return bytes(request.SerializeToString())

    def send(self, body: bytes) -> None:
        """POST one batch; raises OSError (urllib's errors are OSErrors) when the collector does not take it."""
        request = urllib.request.Request(self.url, data=body, headers=self._headers, method="POST")
        with urllib.request.urlopen(request, timeout=self._timeout) as answer:
            answer.read()
