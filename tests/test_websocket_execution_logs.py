"""WebSocket API execution logs (#19): a stage's DefaultRouteSettings / RouteSettings LoggingLevel (OFF, ERROR,
INFO) and DataTraceEnabled write lines for connect, message routing, the integration call and disconnect to
API-Gateway-Execution-Logs_{apiId}/{stage} (AWS's group for REST and WebSocket APIs), read back here through the
gateway's CloudWatch Logs API with boto3 while a real `websockets` client talks to the API."""

from __future__ import annotations

import json
import re
from typing import Any

import websockets

from helpers import GatewayProcess, log_lines, wait_for
from websocket_helpers import ECHO, SocketApi, run

FAILING = """
def lambda_handler(event, context):
    raise RuntimeError("the backend broke")
"""

_LINE = re.compile(r"\(([^)]+)\) (.*)")


def _blocks(gateway: GatewayProcess, group: str) -> dict[str, list[str]]:
    """The group's lines by request id, each without its ``(request id)`` prefix, in order."""
    blocks: dict[str, list[str]] = {}
    for line in log_lines(gateway, group):
        found = _LINE.fullmatch(line)
        assert found is not None, line
        blocks.setdefault(found.group(1), []).append(found.group(2))
    return blocks


def _route_of(block: list[str]) -> str:
    return next(line for line in block if line.startswith("WebSocket Request Route: "))


def test_info_with_data_trace_logs_connect_message_and_disconnect(gateway: GatewayProcess) -> None:
    sockets = SocketApi(gateway)
    echo = sockets.integration(sockets.function(ECHO))
    for key in ("$connect", "$disconnect"):
        sockets.route(key, echo)
    sockets.route("send", echo, two_way=True)
    sockets.deploy("live", DefaultRouteSettings={"LoggingLevel": "INFO", "DataTraceEnabled": True})
    group = f"API-Gateway-Execution-Logs_{sockets.id}/live"
    seen: dict[str, Any] = {}

    async def session() -> None:
        async with websockets.connect(sockets.url("live"), user_agent_header="exec-log-test") as socket:
            await socket.send('{"action": "send", "n": 1}')
            seen.update(json.loads(await socket.recv())["requestContext"])

    run(session())
    connection = seen["connectionId"]
    wait_for(lambda: any("disconnected from API" in line for line in log_lines(gateway, group)))
    blocks = _blocks(gateway, group)
    by_route = {_route_of(block): (rid, block) for rid, block in blocks.items()}
    assert set(by_route) == {
        "WebSocket Request Route: [$connect]",
        "WebSocket Request Route: [send]",
        "WebSocket Request Route: [$disconnect]",
    }
    for rid, block in blocks.items():
        assert block[:2] == [f"Extended Request Id: {rid}", f"Starting execution for request: {rid}"]

    _, connect = by_route["WebSocket Request Route: [$connect]"]
    assert (
        f"Client [UserAgent: exec-log-test, SourceIp: 127.0.0.1] is connecting to WebSocket API [{sockets.id}]."
        in connect
    )
    assert any(line.startswith("Endpoint request URI: arn:aws:apigateway:") for line in connect)
    sent = next(line for line in connect if line.startswith("Endpoint request body after transformations: "))
    assert json.loads(sent.split(": ", 1)[1])["requestContext"]["eventType"] == "CONNECT"  # DataTraceEnabled
    assert any(
        re.fullmatch(r"Received response\. Status: 200, Integration latency: \d+ ms", x) for x in connect
    )
    assert connect[-1] == (
        f"Client [Connection Id: {connection}] connected to API [{sockets.id}] "
        "with integration response status code [200]."
    )

    message_id, message = by_route["WebSocket Request Route: [send]"]
    assert message_id == seen["requestId"]  # the id the integration saw
    assert f"Client [Connection Id: {connection}] sent a message on route [send]." in message
    assert 'Method request body before transformations: {"action": "send", "n": 1}' in message
    answered = next(
        line for line in message if line.startswith("Endpoint response body before transformations: ")
    )
    assert json.loads(answered.split(": ", 1)[1])["requestContext"]["routeKey"] == "send"
    assert message[-1] == "Method completed with status: 200"

    _, disconnect = by_route["WebSocket Request Route: [$disconnect]"]
    assert disconnect[-1] == (
        f"Client [Connection Id: {connection}] disconnected from API [{sockets.id}] "
        "with integration response status code [200]. Close reason: [1000: ]"
    )


def test_error_level_logs_only_failures_and_route_settings_override_the_default(
    gateway: GatewayProcess,
) -> None:
    sockets = SocketApi(gateway)
    echo = sockets.integration(sockets.function(ECHO))
    broken = sockets.integration(sockets.function(FAILING))
    sockets.route("send", echo, two_way=True)
    sockets.route("boom", broken, two_way=True)
    sockets.route("hush", broken, two_way=True)
    sockets.deploy(
        "live",
        DefaultRouteSettings={"LoggingLevel": "ERROR", "DataTraceEnabled": False},
        RouteSettings={"hush": {"LoggingLevel": "OFF"}, "send": {"LoggingLevel": "ERROR"}},
    )
    group = f"API-Gateway-Execution-Logs_{sockets.id}/live"
    frames: list[dict[str, Any]] = []

    async def session() -> None:
        async with websockets.connect(sockets.url("live")) as socket:
            for action in ("send", "hush", "boom", "nowhere"):  # the last: no route and no $default
                await socket.send(json.dumps({"action": action}))
                frames.append(json.loads(await socket.recv()))

    run(session())
    assert [frame.get("message") for frame in frames[1:]] == [
        "Internal server error",
        "Internal server error",
        "Forbidden",
    ]
    wait_for(lambda: any("route [-]" in line for line in log_lines(gateway, group)))
    blocks = list(_blocks(gateway, group).values())
    # Logged: the failed "boom" and the unrouted message (the stage's default level). Not logged: the
    # successful "send" at ERROR, "hush" (OFF for its route), the connect and disconnect (fine, at ERROR).
    assert [_route_of(block) for block in blocks] == [
        "WebSocket Request Route: [boom]",
        "WebSocket Request Route: [-]",
    ]
    boom, unrouted = blocks
    assert "Execution failed: Internal server error" in " ".join(boom)
    assert boom[-1] == "Method completed with status: 500"
    assert not any("body" in line for line in boom)  # DataTraceEnabled is off
    assert "Execution failed: no route matches the message and there is no $default route" in unrouted
    assert unrouted[-1] == "Method completed with status: 403"
