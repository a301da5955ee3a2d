"""Several gateway processes: one data dir (configuration) and one Redis (buckets, quotas, usage, cache)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers import REDIS_URL as REDIS
from helpers import GatewayProcess, RestApi, create_function, require_redis, unique, wait_for, zip_code


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    require_redis()
    data = tmp_path_factory.mktemp("shared")
    first = GatewayProcess(data, ["--redis", REDIS])
    second = GatewayProcess(data, ["--redis", REDIS])
    first.start()
    second.start()
    yield first, second
    second.stop()
    first.stop()


def config(gateway: GatewayProcess) -> str:
    return str(requests.get(f"{gateway.url}/_apigate/health", timeout=5).json()["config"])


def in_step(pair: tuple[GatewayProcess, GatewayProcess]) -> None:
    """Wait until the second process serves the configuration the first one (which changed it) serves."""
    wait_for(lambda: config(pair[0]) == config(pair[1]), timeout=5)


def served(gateway: GatewayProcess, api_id: str, stage: str, path: str, **headers: str) -> bool:
    answer = requests.get(gateway.invoke_url(api_id, stage, path), headers=headers, timeout=5)
    return answer.status_code != 403


def alternate(
    pair: tuple[GatewayProcess, ...], api_id: str, path: str, count: int, **headers: str
) -> list[int]:
    return [
        requests.get(pair[i % 2].invoke_url(api_id, "prod", path), headers=headers, timeout=5).status_code
        for i in range(count)
    ]


def test_a_change_on_one_process_is_served_by_the_other(pair: tuple[GatewayProcess, GatewayProcess]) -> None:
    first, second = pair
    apigw = first.client("apigateway")
    api = RestApi(apigw, unique("shared"))
    api.mock("/v", "GET", '{"color": "$stageVariables.color"}')
    api.deploy("prod", variables={"color": "red"})
    wait_for(lambda: served(second, api.id, "prod", "/v"), timeout=5)
    assert requests.get(second.invoke_url(api.id, "prod", "/v"), timeout=5).json() == {"color": "red"}
    # A change through the second process's management API reaches the first.
    second.client("apigateway").update_stage(
        restApiId=api.id,
        stageName="prod",
        patchOperations=[{"op": "replace", "path": "/variables/color", "value": "blue"}],
    )
    wait_for(
        lambda: requests.get(first.invoke_url(api.id, "prod", "/v"), timeout=5).json() == {"color": "blue"},
        timeout=5,
    )
    second.client("apigateway").delete_stage(restApiId=api.id, stageName="prod")
    wait_for(lambda: not served(first, api.id, "prod", "/v"), timeout=5)


def test_function_code_changed_on_one_process_runs_on_the_other(
    pair: tuple[GatewayProcess, GatewayProcess],
) -> None:
    first, second = pair
    source = "def lambda_handler(event, context):\n    return {'statusCode': 200, 'body': '%s'}\n"
    name = create_function(first.client("lambda"), source % "v1")
    api = RestApi(first.client("apigateway"), unique("fn"))
    api.lambda_proxy("/f", "GET", name)
    api.deploy("prod")
    assert requests.get(first.invoke_url(api.id, "prod", "/f"), timeout=10).text == "v1"  # a warm worker
    second.client("lambda").update_function_code(
        FunctionName=name, ZipFile=zip_code({"lambda_function.py": source % "v2"})
    )
    wait_for(
        lambda: requests.get(first.invoke_url(api.id, "prod", "/f"), timeout=10).text == "v2", timeout=10
    )


def test_an_alias_moved_on_one_process_moves_on_the_other(pair: tuple[GatewayProcess, GatewayProcess]) -> None:
    first, second = pair
    source = "def lambda_handler(event, context):\n    return {'statusCode': 200, 'body': '%s'}\n"
    lam = first.client("lambda")
    name = create_function(lam, source % "v1")
    lam.publish_version(FunctionName=name)
    lam.update_function_code(FunctionName=name, ZipFile=zip_code({"lambda_function.py": source % "v2"}))
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    api = RestApi(first.client("apigateway"), unique("alias"))
    api.lambda_proxy("/f", "GET", f"{name}:live")
    api.deploy("prod")
    assert requests.get(first.invoke_url(api.id, "prod", "/f"), timeout=10).text == "v1"  # resolved, cached
    second.client("lambda").update_alias(FunctionName=name, Name="live", FunctionVersion="2")
    wait_for(
        lambda: requests.get(first.invoke_url(api.id, "prod", "/f"), timeout=10).text == "v2", timeout=10
    )


def test_two_processes_enforce_one_limit_and_one_quota(pair: tuple[GatewayProcess, GatewayProcess]) -> None:
    first, second = pair
    apigw = first.client("apigateway")
    api = RestApi(apigw, unique("limited"))
    api.mock("/t", "GET", "{}")
    api.mock("/q", "GET", "{}")
    apigw.update_method(
        restApiId=api.id,
        resourceId=api.resource("/q"),
        httpMethod="GET",
        patchOperations=[{"op": "replace", "path": "/apiKeyRequired", "value": "true"}],
    )
    api.deploy("prod")
    apigw.update_stage(
        restApiId=api.id,
        stageName="prod",
        patchOperations=[
            {"op": "replace", "path": "/~1t/GET/throttling/rateLimit", "value": "0.001"},
            {"op": "replace", "path": "/~1t/GET/throttling/burstLimit", "value": "6"},
        ],
    )
    plan = apigw.create_usage_plan(
        name=unique("shared-plan"),
        apiStages=[{"apiId": api.id, "stage": "prod"}],
        quota={"limit": 5, "period": "DAY"},
    )
    key = apigw.create_api_key(name=unique("k"), enabled=True)
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    in_step(pair)
    assert alternate(pair, api.id, "/t", 9) == [200] * 6 + [429] * 3
    assert alternate(pair, api.id, "/q", 8, **{"x-api-key": key["value"]}) == [200] * 5 + [429] * 3
    usage = apigw.get_usage(usagePlanId=plan["id"], startDate="2020-01-01", endDate="2020-01-02")
    assert usage["items"] == {key["id"]: [[0, 5], [0, 5]]}  # past DAY periods: nothing used, all remained
    today = datetime.now(UTC).date().isoformat()
    usage = second.client("apigateway").get_usage(usagePlanId=plan["id"], startDate=today, endDate=today)
    assert usage["items"] == {key["id"]: [[5, 0]]}


@pytest.fixture(scope="module")
def backend() -> Iterator[tuple[str, list[str]]]:
    calls: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            calls.append(self.path)
            payload = json.dumps({"call": len(calls)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", calls
    server.shutdown()
    server.server_close()


def test_a_cache_entry_made_on_one_process_is_a_hit_on_the_other(
    pair: tuple[GatewayProcess, GatewayProcess], backend: tuple[str, list[str]]
) -> None:
    first, second = pair
    base, calls = backend
    apigw = first.client("apigateway")
    api = RestApi(apigw, unique("shared-cache"))
    api.http_proxy("/c", "GET", f"{base}/c")
    api.deploy("prod", cacheClusterEnabled=True)
    apigw.update_stage(
        restApiId=api.id,
        stageName="prod",
        patchOperations=[{"op": "replace", "path": "/*/*/caching/enabled", "value": "true"}],
    )
    in_step(pair)
    made = requests.get(first.invoke_url(api.id, "prod", "/c"), timeout=5).json()
    assert len(calls) == 1
    assert requests.get(second.invoke_url(api.id, "prod", "/c"), timeout=5).json() == made
    assert len(calls) == 1
    apigw.flush_stage_cache(restApiId=api.id, stageName="prod")
    requests.get(second.invoke_url(api.id, "prod", "/c"), timeout=5)
    assert len(calls) == 2


@pytest.mark.parametrize(("mode", "expected"), [("allow", 200), ("deny", 429)])
def test_redis_unreachable(tmp_path: Path, mode: str, expected: int) -> None:
    process = GatewayProcess(tmp_path, ["--redis", "redis://127.0.0.1:1/0", "--on-state-error", mode])
    process.start()
    try:
        api = RestApi(process.client("apigateway"), "down")
        api.mock("/x", "GET", "{}")
        api.deploy("prod")
        for _ in range(3):
            assert requests.get(process.invoke_url(api.id, "prod", "/x"), timeout=5).status_code == expected
    finally:
        process.stop()
