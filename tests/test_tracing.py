"""OpenTelemetry traces (#19): `serve --otlp-endpoint` sends a span per request to stages with tracingEnabled, with
a child span for the integration, to an OTLP/HTTP collector (a stand-in this test starts); the span's traceparent
reaches the HTTP integration."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from helpers import GatewayProcess, RestApi, unique, wait_for


class Collector:
    """An OTLP/HTTP trace receiver: POST /v1/traces with a protobuf ExportTraceServiceRequest."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        spans = self.spans

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                export = ExportTraceServiceRequest()
                export.ParseFromString(body)
                for resource in export.resource_spans:
                    for scope in resource.scope_spans:
                        spans.extend(scope.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, Collector]]:
    collector = Collector()
    process = GatewayProcess(
        tmp_path_factory.mktemp("traced"), ["--otlp-endpoint", collector.url, "--otlp-sample-ratio", "1"]
    )
    process.start()
    yield process, collector
    process.stop()
    collector.close()


def _attributes(span: Any) -> dict[str, Any]:
    return {a.key: a.value.string_value or a.value.int_value for a in span.attributes}


def test_spans_for_traced_stages_only(
    traced: tuple[GatewayProcess, Collector], upstream: str, tmp_path: Path
) -> None:
    gateway, collector = traced
    apigw = gateway.client("apigateway")
    api = RestApi(apigw, unique("traced"))
    api.http_proxy("/echo", "GET", upstream + "/echo")
    apigw.create_deployment(restApiId=api.id, stageName="traced", tracingEnabled=True)
    apigw.create_deployment(restApiId=api.id, stageName="plain")

    answered = requests.get(gateway.invoke_url(api.id, "traced", "/echo"), timeout=10)
    assert answered.status_code == 200
    request_id = answered.headers["x-amzn-RequestId"]
    plain = requests.get(gateway.invoke_url(api.id, "plain", "/echo"), timeout=10)

    def server_span() -> Any:
        return next((s for s in collector.spans if _attributes(s).get("aws.request_id") == request_id), None)

    wait_for(lambda: server_span() is not None and len(collector.spans) >= 2)
    span = server_span()
    attributes = _attributes(span)
    assert span.name == "GET /echo"
    assert attributes["http.response.status_code"] == 200
    assert attributes["aws.api_gateway.stage"] == "traced"
    assert attributes["aws.xray.trace_id"] == answered.headers["X-Amzn-Trace-Id"]
    children = [s for s in collector.spans if s.parent_span_id == span.span_id]
    print(sorted(c.name for c in children))
    child = next(s for s in children if s.name == "integration HTTP_PROXY")
    assert child.trace_id == span.trace_id
    # The trace is the request's X-Ray trace: one id in the response header, the access log and the collector.
    assert span.trace_id.hex() == answered.headers["X-Amzn-Trace-Id"].removeprefix("Root=1-").replace("-", "")
    assert span.start_time_unix_nano <= child.start_time_unix_nano <= child.end_time_unix_nano
    assert child.end_time_unix_nano <= span.end_time_unix_nano + 1_000_000  # clocks read microseconds apart
    # The integration received the span's context.
    headers = {k.lower(): v for k, v in answered.json()["headers"]}
    assert headers["traceparent"] == f"00-{span.trace_id.hex()}-{span.span_id.hex()}-01"
    # The untraced stage made no span and passed no traceparent.
    assert "traceparent" not in {k.lower() for k, _ in plain.json()["headers"]}
    assert not any(
        _attributes(s).get("aws.request_id") == plain.headers["x-amzn-RequestId"] for s in collector.spans
    )
