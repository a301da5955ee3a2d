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

from helpers import GatewayProcess, RestApi, lambda_uri, unique, wait_for


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


SEES_TRACE = """
import json, os
def lambda_handler(event, context):
    headers = event.get("headers") or {}
    body = {"env": os.environ.get("_X_AMZN_TRACE_ID"), "traceparent": headers.get("traceparent")}
    return {"statusCode": 200, "body": json.dumps(body)}
"""

ALLOW = """
def lambda_handler(event, context):
    return {"principalId": "me", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}]}}
"""


def _spans_of(collector: Collector, trace_id: bytes) -> dict[bytes, Any]:
    return {s.span_id: s for s in collector.spans if s.trace_id == trace_id}


def _path(spans: dict[bytes, Any], span: Any) -> list[str]:
    """The span's name and its ancestors' names, up to the request's span."""
    names = [span.name]
    while span.parent_span_id in spans:
        span = spans[span.parent_span_id]
        names.append(span.name)
    return names


def test_rest_children_and_the_trace_a_function_sees(traced: tuple[GatewayProcess, Collector]) -> None:
    from helpers import create_function

    gateway, collector = traced
    apigw, lam = gateway.client("apigateway"), gateway.client("lambda")
    function = create_function(lam, SEES_TRACE)
    authorizer_fn = create_function(lam, ALLOW)
    api = RestApi(apigw, unique("traced-fn"))
    api.lambda_proxy("/fn", "GET", function)
    authorizer = apigw.create_authorizer(
        restApiId=api.id,
        name="allow",
        type="REQUEST",
        authorizerUri=lambda_uri(authorizer_fn),
        identitySource="method.request.header.auth",
        authorizerResultTtlInSeconds=0,
    )["id"]
    apigw.update_method(
        restApiId=api.id,
        resourceId=api.resource("/fn"),
        httpMethod="GET",
        patchOperations=[
            {"op": "replace", "path": "/authorizationType", "value": "CUSTOM"},
            {"op": "replace", "path": "/authorizerId", "value": authorizer},
        ],
    )
    apigw.create_deployment(restApiId=api.id, stageName="traced", tracingEnabled=True)
    apigw.create_deployment(restApiId=api.id, stageName="plain")

    answered = requests.get(gateway.invoke_url(api.id, "traced", "/fn"), headers={"auth": "x"}, timeout=30)
    assert answered.status_code == 200, answered.text
    seen = answered.json()
    root = answered.headers["X-Amzn-Trace-Id"]
    trace_id = bytes.fromhex(root.removeprefix("Root=1-").replace("-", ""))
    wait_for(lambda: any(s.name == f"function {function}" for s in _spans_of(collector, trace_id).values()))
    spans = _spans_of(collector, trace_id)
    by_name = {s.name: s for s in spans.values()}
    assert _path(spans, by_name[f"function {function}"]) == [
        f"function {function}",
        "integration AWS_PROXY",
        "GET /fn",
    ]
    assert _path(spans, by_name[f"function {authorizer_fn}"]) == [
        f"function {authorizer_fn}",
        "authorizer",
        "GET /fn",
    ]
    # _X_AMZN_TRACE_ID: the request's root, the function span as parent, sampled.
    function_span = by_name[f"function {function}"]
    assert seen["env"] == f"{root};Parent={function_span.span_id.hex()};Sampled=1"
    request_span = by_name["GET /fn"]
    assert seen["traceparent"] == f"00-{trace_id.hex()}-{request_span.span_id.hex()}-01"

    # Untraced: the function still gets the request's root, not sampled.
    plain = requests.get(gateway.invoke_url(api.id, "plain", "/fn"), headers={"auth": "x"}, timeout=30)
    assert plain.json()["env"] == f"{plain.headers['X-Amzn-Trace-Id']};Sampled=0"


def test_a_callers_traceparent_is_continued(traced: tuple[GatewayProcess, Collector], upstream: str) -> None:
    gateway, collector = traced
    apigw = gateway.client("apigateway")
    api = RestApi(apigw, unique("traced-parent"))
    api.http_proxy("/echo", "GET", upstream + "/echo")
    apigw.create_deployment(restApiId=api.id, stageName="traced", tracingEnabled=True)
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    answered = requests.get(
        gateway.invoke_url(api.id, "traced", "/echo"), headers={"traceparent": parent}, timeout=10
    )
    trace_id = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
    wait_for(lambda: any(s.name == "GET /echo" for s in _spans_of(collector, trace_id).values()))
    span = next(s for s in _spans_of(collector, trace_id).values() if s.name == "GET /echo")
    assert span.parent_span_id == bytes.fromhex("b7ad6b7169203331")
    sent = [v for k, v in answered.json()["headers"] if k.lower() == "traceparent"]
    assert sent == [f"00-{trace_id.hex()}-{span.span_id.hex()}-01"]  # replaced, not repeated


def test_http_api_and_websocket_spans(traced: tuple[GatewayProcess, Collector]) -> None:
    import websockets

    from helpers import create_function
    from websocket_helpers import ECHO, SocketApi, run

    gateway, collector = traced
    lam = gateway.client("lambda")
    function = create_function(lam, SEES_TRACE)
    v2 = gateway.client("apigatewayv2")
    api = v2.create_api(Name=unique("traced-http"), ProtocolType="HTTP")["ApiId"]
    integration = v2.create_integration(
        ApiId=api,
        IntegrationType="AWS_PROXY",
        IntegrationUri=f"arn:aws:lambda:us-east-1:000000000000:function:{function}",
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    v2.create_route(ApiId=api, RouteKey="GET /items/{id}", Target=f"integrations/{integration}")
    v2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    url = f"{gateway.url}/_aws/execute-api/{api}/items/7"
    wait_for(lambda: requests.get(url, timeout=10).status_code == 200)
    answered = requests.get(url, timeout=10)
    request_id = answered.headers["apigw-requestid"]

    def http_span() -> Any:
        return next((s for s in collector.spans if _attributes(s).get("aws.request_id") == request_id), None)

    wait_for(lambda: http_span() is not None)
    span = http_span()
    assert span.name == "GET /items/{id}" and _attributes(span)["http.response.status_code"] == 200
    spans = _spans_of(collector, span.trace_id)
    wait_for(
        lambda: any(s.name == f"function {function}" for s in _spans_of(collector, span.trace_id).values())
    )
    spans = _spans_of(collector, span.trace_id)
    inner = next(s for s in spans.values() if s.name == f"function {function}")
    assert _path(spans, inner) == [f"function {function}", "integration AWS_PROXY", "GET /items/{id}"]
    hex_id = span.trace_id.hex()
    assert (
        answered.json()["env"] == f"Root=1-{hex_id[:8]}-{hex_id[8:]};Parent={inner.span_id.hex()};Sampled=1"
    )
    assert answered.json()["traceparent"] == f"00-{hex_id}-{span.span_id.hex()}-01"  # in the event's headers

    sockets = SocketApi(gateway)
    echo = sockets.integration(sockets.function(ECHO))
    sockets.route("$connect", echo)
    sockets.route("send", echo, two_way=True)
    sockets.deploy("live")

    async def session() -> None:
        async with websockets.connect(sockets.url("live")) as socket:
            await socket.send('{"action": "send"}')
            await socket.recv()

    run(session())

    def socket_spans() -> list[Any]:
        return [s for s in collector.spans if _attributes(s).get("aws.api_gateway.api_id") == sockets.id]

    wait_for(
        lambda: (
            {s.name for s in socket_spans()}
            >= {"WebSocket $connect", "WebSocket message", "WebSocket $disconnect"}
        )
    )
    message = next(s for s in socket_spans() if s.name == "WebSocket message")
    assert _attributes(message)["aws.api_gateway.route_key"] == "send"
    children = [s.name for s in collector.spans if s.parent_span_id == message.span_id]
    assert children == ["integration AWS_PROXY"]


def test_a_collector_that_is_down_costs_no_request(tmp_path: Path) -> None:
    import socket

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    gateway = GatewayProcess(
        tmp_path / "data", ["--otlp-endpoint", f"http://127.0.0.1:{port}", "--otlp-sample-ratio", "1"]
    )
    gateway.start()
    try:
        apigw = gateway.client("apigateway")
        api = RestApi(apigw, unique("traced-down"))
        api.mock("/ping", "GET", '{"ok": true}')
        apigw.create_deployment(restApiId=api.id, stageName="traced", tracingEnabled=True)
        for _ in range(20):
            assert requests.get(gateway.invoke_url(api.id, "traced", "/ping"), timeout=10).status_code == 200
    finally:
        assert gateway.stop() == 0


def test_a_bad_endpoint_is_refused_at_start() -> None:
    import subprocess
    import sys

    refused = subprocess.run(
        [sys.executable, "-m", "apigate.cli", "serve", "--otlp-endpoint", "collector:4318"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "--otlp-endpoint: not an http:// or https:// URL" in refused.stderr
    assert "Traceback" not in refused.stderr
