"""GET /_apigate/metrics: AWS's API Gateway metric names per API and stage, in Prometheus's text format."""

from __future__ import annotations

import json
import re
from typing import Any

import requests
import websockets

from helpers import GatewayProcess, RestApi, create_function, unique, wait_for

ECHO = """
import json
def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
"""


def scrape(gateway: GatewayProcess, api_id: str, stage: str) -> dict[str, float]:
    answer = requests.get(f"{gateway.url}/_apigate/metrics", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    values: dict[str, float] = {}
    for line in answer.text.splitlines():
        found = re.match(r'^(apigateway_\w+)\{ApiName="[^"]*",ApiId="(\w+)",Stage="(\w+)"\} (\S+)$', line)
        if found and found.group(2) == api_id and found.group(3) == stage:
            values[found.group(1)] = float(found.group(4))
    return values


def test_metrics_per_api_and_stage(gateway: GatewayProcess, apigw: Any) -> None:
    api = RestApi(apigw, unique("metered"))
    api.mock("/ok", "GET", "{}")
    api.mock("/fail", "GET", "{}", status="500")
    api.mock("/cached", "GET", "{}")
    api.deploy("prod", cacheClusterEnabled=True)
    apigw.update_stage(
        restApiId=api.id,
        stageName="prod",
        patchOperations=[
            {"op": "replace", "path": "/~1cached/GET/caching/enabled", "value": "true"},
            {"op": "replace", "path": "/~1ok/GET/throttling/rateLimit", "value": "0.001"},
            {"op": "replace", "path": "/~1ok/GET/throttling/burstLimit", "value": "2"},
        ],
    )
    url = gateway.invoke_url(api.id, "prod")
    codes = [requests.get(url + path, timeout=5).status_code for path in ("ok", "ok", "ok", "fail", "nope")]
    assert codes == [200, 200, 429, 500, 403]
    for _ in range(3):
        assert requests.get(url + "cached", timeout=5).status_code == 200

    metrics = scrape(gateway, api.id, "prod")
    assert metrics["apigateway_Count"] == 8
    assert metrics["apigateway_4XXError"] == 2
    assert metrics["apigateway_5XXError"] == 1
    assert metrics["apigateway_ThrottledCount"] == 1
    assert metrics["apigateway_QuotaExceededCount"] == 0
    assert metrics["apigateway_CacheHitCount"] == 2
    assert metrics["apigateway_CacheMissCount"] == 1
    assert metrics["apigateway_Latency_count"] == 8 and metrics["apigateway_Latency_sum"] > 0
    # The integration ran for 2 x ok, fail and the one cache miss (a MOCK integration is an integration too).
    assert metrics["apigateway_IntegrationLatency_count"] == 4

    text = requests.get(f"{gateway.url}/_apigate/metrics", timeout=5).text
    for name in ("Count", "4XXError", "5XXError", "CacheHitCount", "CacheMissCount"):
        assert f"# TYPE apigateway_{name} counter" in text
    assert (
        "# TYPE apigateway_Latency summary" in text and "# TYPE apigateway_IntegrationLatency summary" in text
    )


FAILS = """
def lambda_handler(event, context):
    raise RuntimeError("this route always fails")
"""


def _lines_after(gateway: GatewayProcess, start: int, api_id: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{gateway.url}/_apigate/requests?after={start}", timeout=5).json()
    return [line for line in answer["lines"] if line["apiId"] == api_id]


def test_http_api_requests_are_counted_and_shown_live(gateway: GatewayProcess, lam: Any) -> None:
    v2 = gateway.client("apigatewayv2")
    function = create_function(lam, ECHO)
    api = v2.create_api(Name=unique("metered-http"), ProtocolType="HTTP")
    target = v2.create_integration(
        ApiId=api["ApiId"],
        IntegrationType="AWS_PROXY",
        IntegrationUri=f"arn:aws:lambda:us-east-1:000000000000:function:{function}",
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    for key in ("GET /hi", "GET /slow"):
        v2.create_route(ApiId=api["ApiId"], RouteKey=key, Target=f"integrations/{target}")
    v2.create_stage(
        ApiId=api["ApiId"],
        StageName="live",
        AutoDeploy=True,
        RouteSettings={"GET /slow": {"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 0.001}},
    )
    start = requests.get(f"{gateway.url}/_apigate/requests", timeout=5).json()["seq"]
    url = f"{gateway.url}/_aws/execute-api/{api['ApiId']}/live"
    wait_for(lambda: requests.get(url + "/hi", timeout=5).status_code == 200)  # auto-deploy is applied
    codes = [requests.get(url + path, timeout=10).status_code for path in ("/hi", "/slow", "/slow", "/nope")]
    assert codes == [200, 200, 429, 404]

    lines = _lines_after(gateway, start, api["ApiId"])[-4:]
    assert [
        (line["kind"], line["method"], line["path"], line["status"], line["error"]) for line in lines
    ] == [
        ("HTTP", "GET", "/live/hi", 200, ""),
        ("HTTP", "GET", "/live/slow", 200, ""),
        ("HTTP", "GET", "/live/slow", 429, "THROTTLED"),
        ("HTTP", "GET", "/live/nope", 404, ""),
    ]
    metrics = scrape(gateway, api["ApiId"], "live")
    served = metrics["apigateway_Count"]
    assert served >= 4 and metrics["apigateway_4XXError"] == 2 and metrics["apigateway_5XXError"] == 0
    assert metrics["apigateway_ThrottledCount"] == 1
    assert metrics["apigateway_Latency_count"] == served
    assert metrics["apigateway_IntegrationLatency_count"] == served - 2  # not for the 429 nor the 404


def test_websocket_api_requests_are_counted_and_shown_live(gateway: GatewayProcess, lam: Any) -> None:
    from websocket_helpers import SocketApi, run

    api = SocketApi(gateway)
    echo = api.integration(api.function(ECHO))
    api.route("$default", echo, two_way=True)
    api.route("fail", api.integration(api.function(FAILS)))
    api.route("$connect", None)  # no integration: connecting needs nothing
    api.deploy("live")
    start = requests.get(f"{gateway.url}/_apigate/requests", timeout=5).json()["seq"]

    async def talk() -> list[str]:
        async with websockets.connect(api.url("live")) as ws:
            await ws.send('{"action": "echo"}')
            first = str(await ws.recv())
            await ws.send('{"action": "fail"}')
            second = str(await ws.recv())
            return [first, second]

    first, second = run(talk())
    assert '"routeKey": "$default"' in first or '"routeKey":"$default"' in first
    assert json.loads(second)["message"] == "Internal server error"

    def seen() -> list[dict[str, Any]]:
        return _lines_after(gateway, start, api.id)

    wait_for(lambda: any(line["method"] == "DISCONNECT" for line in seen()))
    assert [
        (line["kind"], line["method"], line["path"], line["status"], line["error"]) for line in seen()
    ] == [
        ("WEBSOCKET", "CONNECT", "$connect", 200, ""),
        ("WEBSOCKET", "MESSAGE", "$default", 200, ""),
        ("WEBSOCKET", "MESSAGE", "fail", 500, "ExecutionError"),
        ("WEBSOCKET", "DISCONNECT", "$disconnect", 200, ""),
    ]
    metrics = scrape(gateway, api.id, "live")
    assert metrics["apigateway_ConnectCount"] == 1 and metrics["apigateway_MessageCount"] == 2
    assert metrics["apigateway_ExecutionError"] == 1 and metrics["apigateway_ClientError"] == 0
    assert metrics["apigateway_IntegrationError"] == 0
    assert metrics["apigateway_IntegrationLatency_count"] == 2
    assert "apigateway_Count" not in metrics  # WebSocket stages have their own families, as on AWS
