"""The metrics text: each family once (one HELP and TYPE, whatever kinds of API report into it), WebSocket stages
only in AWS's WebSocket families, and hostile API names escaped inside their label."""

from __future__ import annotations

import re

import orjson

from apigate.dataplane.steps.metrics import WS_CLIENT_ERROR, WS_EXECUTION_ERROR, Metrics


def test_http_and_websocket_stages_render_in_their_families() -> None:
    metrics = Metrics()
    metrics.record_http("h1", "$default", 'say "hi"\\', "GET", "/x", 200, 3.0, 2.0)
    metrics.record_http("h1", "$default", 'say "hi"\\', "GET", "/x", 429, 1.0, None)
    metrics.record_websocket("w1", "live", "chat", "CONNECT", "$connect", 200, 1.0, None)
    metrics.record_websocket("w1", "live", "chat", "MESSAGE", "send", 200, 4.0, 3.5)
    metrics.record_websocket("w1", "live", "chat", "MESSAGE", "-", 403, 0.1, None, WS_CLIENT_ERROR)
    metrics.record_websocket("w1", "live", "chat", "MESSAGE", "send", 500, 9.0, 8.0, WS_EXECUTION_ERROR)
    text = metrics.render().decode()

    types = re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE)
    assert len(types) == len(set(types))  # a family is declared once
    http = 'ApiName="say \\"hi\\"\\\\",ApiId="h1",Stage="$default"'
    ws = 'ApiName="chat",ApiId="w1",Stage="live"'
    for line in (
        f"apigateway_Count{{{http}}} 2",
        f"apigateway_4XXError{{{http}}} 1",
        f"apigateway_ThrottledCount{{{http}}} 1",
        f"apigateway_IntegrationLatency_count{{{http}}} 1",
        f"apigateway_ConnectCount{{{ws}}} 1",
        f"apigateway_MessageCount{{{ws}}} 3",
        f"apigateway_ClientError{{{ws}}} 1",
        f"apigateway_ExecutionError{{{ws}}} 1",
        f"apigateway_IntegrationError{{{ws}}} 0",
        f"apigateway_IntegrationLatency_count{{{ws}}} 2",
        f"apigateway_IntegrationLatency_sum{{{ws}}} 11.500",
    ):
        assert line in text.splitlines(), line
    assert f"apigateway_Count{{{ws}}}" not in text
    # The IntegrationLatency family's lines stay together under its one TYPE line.
    lines = text.splitlines()
    start = lines.index("# TYPE apigateway_IntegrationLatency summary")
    block = lines[start + 1 : start + 5]
    assert all(line.startswith("apigateway_IntegrationLatency_") for line in block), block


def test_request_lines_say_their_kind() -> None:
    metrics = Metrics()
    metrics.record_http("h1", "dev", "api", "POST", "/dev/x", 201, 1.234, None)
    metrics.record_websocket("w1", "live", "chat", "DISCONNECT", "$disconnect", 200, 0.5, None)

    answer = orjson.loads(metrics.lines.since(0))
    assert [(line["kind"], line["method"], line["path"], line["status"]) for line in answer["lines"]] == [
        ("HTTP", "POST", "/dev/x", 201),
        ("WEBSOCKET", "DISCONNECT", "$disconnect", 200),
    ]
    assert answer["seq"] == 2 and answer["lines"][0]["latencyMs"] == 1.23
