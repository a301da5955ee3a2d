"""GET /_apigate/metrics: AWS's API Gateway metric names per API and stage, in Prometheus's text format."""

from __future__ import annotations

import re
from typing import Any

import requests

from helpers import GatewayProcess, RestApi, unique


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
