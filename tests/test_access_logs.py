"""Stage access logs (#19): accessLogSettings with $context variables and the AWS console's presets, one line
per request in the stage's destination (a log group: read back through the CloudWatch Logs API)."""

from __future__ import annotations

import json
from typing import Any

import requests

from helpers import GatewayProcess, RestApi, log_lines, unique, wait_for

ARN = "arn:aws:logs:us-east-1:000000000000:log-group:"


def _api_with_log(apigw: Any, group: str, log_format: str) -> RestApi:
    api = RestApi(apigw, unique("access"))
    api.mock("/ping", "GET", '{"ok": true}')
    api.deploy("test")
    apigw.update_stage(
        restApiId=api.id,
        stageName="test",
        patchOperations=[
            {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": ARN + group},
            {"op": "replace", "path": "/accessLogSettings/format", "value": log_format},
        ],
    )
    return api


def test_custom_format_with_context_variables(gateway: GatewayProcess, apigw: Any) -> None:
    group = unique("API-Gateway-Access-Logs")
    log_format = (
        '{"id":"$context.requestId","trace":"$context.xrayTraceId","m":"$context.httpMethod",'
        '"r":"$context.resourcePath","s":"$context.status","len":"$context.responseLength",'
        '"err":"$context.error.responseType","stage":"$context.stage"}'
    )
    api = _api_with_log(apigw, group, log_format)
    stage = apigw.get_stage(restApiId=api.id, stageName="test")
    assert stage["accessLogSettings"] == {"destinationArn": ARN + group, "format": log_format}
    ok = requests.get(gateway.invoke_url(api.id, "test", "/ping"), timeout=10)
    missing = requests.get(gateway.invoke_url(api.id, "test", "/nowhere"), timeout=10)
    wait_for(lambda: len(log_lines(gateway, group)) >= 2)
    first, second = (json.loads(line) for line in log_lines(gateway, group))
    assert first == {
        "id": ok.headers["x-amzn-RequestId"],
        "trace": ok.headers["X-Amzn-Trace-Id"].removeprefix("Root="),
        "m": "GET",
        "r": "/ping",
        "s": "200",
        "len": str(len(ok.content)),
        "err": "-",
        "stage": "test",
    }
    assert second["id"] == missing.headers["x-amzn-RequestId"]
    assert (second["s"], second["r"], second["err"]) == ("403", "-", "MISSING_AUTHENTICATION_TOKEN")


def test_clf_preset(gateway: GatewayProcess, apigw: Any) -> None:
    group = unique("clf")
    api = _api_with_log(apigw, group, "CLF")
    ok = requests.get(gateway.invoke_url(api.id, "test", "/ping"), timeout=10)
    wait_for(lambda: len(log_lines(gateway, group)) >= 1)
    line = log_lines(gateway, group)[0]
    assert line.startswith("127.0.0.1 - - [")
    assert f'] "GET /ping HTTP/1.1" 200 {len(ok.content)} {ok.headers["x-amzn-RequestId"]} ' in line
    assert line.endswith(ok.headers["x-amz-apigw-id"])


def test_turned_off_by_removing_the_settings(gateway: GatewayProcess, apigw: Any) -> None:
    group = unique("off")
    api = _api_with_log(apigw, group, "$context.requestId")
    apigw.update_stage(
        restApiId=api.id,
        stageName="test",
        patchOperations=[
            {"op": "remove", "path": "/accessLogSettings/destinationArn"},
            {"op": "remove", "path": "/accessLogSettings/format"},
        ],
    )
    assert "accessLogSettings" not in apigw.get_stage(restApiId=api.id, stageName="test")
    marker = _api_with_log(apigw, group, "marker $context.requestId")  # the same group, still on
    requests.get(gateway.invoke_url(api.id, "test", "/ping"), timeout=10)
    after = requests.get(gateway.invoke_url(marker.id, "test", "/ping"), timeout=10)
    wait_for(lambda: any(after.headers["x-amzn-RequestId"] in line for line in log_lines(gateway, group)))
    assert log_lines(gateway, group) == [f"marker {after.headers['x-amzn-RequestId']}"]


def test_http_api_access_log(gateway: GatewayProcess) -> None:
    v2 = gateway.client("apigatewayv2")
    api = v2.create_api(Name=unique("access-http"), ProtocolType="HTTP")["ApiId"]
    integration = v2.create_integration(
        ApiId=api,
        IntegrationType="HTTP_PROXY",
        IntegrationMethod="ANY",
        IntegrationUri="http://127.0.0.1:9/",
        PayloadFormatVersion="1.0",
    )["IntegrationId"]
    v2.create_route(ApiId=api, RouteKey="GET /items", Target=f"integrations/{integration}")
    group = unique("http-access")
    v2.create_stage(
        ApiId=api,
        StageName="$default",
        AutoDeploy=True,
        AccessLogSettings={
            "DestinationArn": ARN + group,
            "Format": "$context.requestId $context.routeKey $context.status $context.identity.sourceIp "
            "$context.integrationErrorMessage",
        },
    )
    url = f"{gateway.url}/_aws/execute-api/{api}/items"
    wait_for(lambda: requests.get(url, timeout=10).status_code != 404)  # AutoDeploy: served shortly
    answered = requests.get(url, timeout=10)
    request_id = answered.headers["apigw-requestid"]
    wait_for(lambda: any(line.startswith(request_id) for line in log_lines(gateway, group)))
    line = next(line for line in log_lines(gateway, group) if line.startswith(request_id))
    assert line == f"{request_id} GET /items {answered.status_code} 127.0.0.1 -"


def test_websocket_api_access_log(gateway: GatewayProcess) -> None:
    import websockets

    from websocket_helpers import ECHO, SocketApi, run

    sockets = SocketApi(gateway)
    echo = sockets.integration(sockets.function(ECHO))
    sockets.route("$connect", echo)
    sockets.route("send", echo, two_way=True)
    group = unique("ws-access")
    sockets.deploy(
        "live",
        AccessLogSettings={
            "DestinationArn": ARN + group,
            "Format": "$context.eventType $context.routeKey $context.connectionId $context.status "
            "$context.identity.sourceIp $context.requestId",
        },
    )
    connection: list[str] = []

    async def session() -> None:
        async with websockets.connect(sockets.url("live")) as socket:
            await socket.send('{"action": "send"}')
            answer = json.loads(await socket.recv())
            connection.append(answer["requestContext"]["connectionId"])

    run(session())
    wait_for(lambda: any(line.startswith("DISCONNECT ") for line in log_lines(gateway, group)))
    lines = [line.split() for line in log_lines(gateway, group)]
    assert [line[:5] for line in lines] == [
        ["CONNECT", "$connect", connection[0], "200", "127.0.0.1"],
        ["MESSAGE", "send", connection[0], "200", "127.0.0.1"],
        ["DISCONNECT", "$disconnect", connection[0], "200", "127.0.0.1"],
    ]
    assert lines[1][5] != "-"  # the message's request id
