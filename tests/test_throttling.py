"""Throttling at AWS's levels, counted against bursts with tiny refill rates (no timing thresholds)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers import GatewayProcess, RestApi, backend_gateway, unique

TINY = "0.001"  # tokens per second: no refill during a test


@pytest.fixture(scope="module", params=["memory", "redis"])
def served_by(
    request: pytest.FixtureRequest, gateway: GatewayProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """The same behaviours on both state backends: the session's gateway (memory), one with --redis."""
    yield from backend_gateway(request.param, gateway, tmp_path_factory.mktemp("redis-backed"))


def statuses(url: str, count: int, **headers: str) -> list[int]:
    return [requests.get(url, headers=headers, timeout=5).status_code for _ in range(count)]


def throttle_stage(apigw: Any, api: RestApi, stage: str, key: str, burst: int, rate: str = TINY) -> None:
    apigw.update_stage(
        restApiId=api.id,
        stageName=stage,
        patchOperations=[
            {"op": "replace", "path": f"/{key}/throttling/rateLimit", "value": rate},
            {"op": "replace", "path": f"/{key}/throttling/burstLimit", "value": str(burst)},
        ],
    )


def test_stage_default_and_per_method_throttles(served_by: GatewayProcess) -> None:
    gateway, apigw = served_by, served_by.client("apigateway")
    api = RestApi(apigw, unique("throttled"))
    api.mock("/pets", "GET", '{"pets": []}')
    api.mock("/owners", "GET", '{"owners": []}')
    api.deploy("prod")
    throttle_stage(apigw, api, "prod", "*/*", 4)
    throttle_stage(apigw, api, "prod", "~1pets/GET", 2)
    settings = apigw.get_stage(restApiId=api.id, stageName="prod")["methodSettings"]
    assert (
        settings["*/*"]["throttlingBurstLimit"] == 4 and settings["~1pets/GET"]["throttlingBurstLimit"] == 2
    )

    pets, owners = (gateway.invoke_url(api.id, "prod", p) for p in ("/pets", "/owners"))
    assert statuses(pets, 4) == [200, 200, 429, 429]
    assert statuses(owners, 6) == [200] * 4 + [429] * 2
    refused = requests.get(pets, timeout=5)
    assert refused.content == b'{"message":"Too Many Requests"}'
    assert refused.headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert refused.headers["Content-Length"] == "31"

    # Another stage of the same API has buckets of its own, and no throttle until it sets one.
    apigw.create_stage(
        restApiId=api.id,
        stageName="beta",
        deploymentId=apigw.get_stage(restApiId=api.id, stageName="prod")["deploymentId"],
    )
    assert statuses(gateway.invoke_url(api.id, "beta", "/pets"), 5) == [200] * 5


def test_usage_plan_throttles_per_key_and_per_method(served_by: GatewayProcess) -> None:
    gateway, apigw = served_by, served_by.client("apigateway")
    api = RestApi(apigw, unique("planned"))
    for path in ("/a", "/b"):
        api.mock(path, "GET", "{}")
        apigw.update_method(
            restApiId=api.id,
            resourceId=api.resource(path),
            httpMethod="GET",
            patchOperations=[{"op": "replace", "path": "/apiKeyRequired", "value": "true"}],
        )
    api.deploy("prod")
    plan = apigw.create_usage_plan(
        name=unique("throttled-plan"),
        throttle={"rateLimit": float(TINY), "burstLimit": 5},
        apiStages=[
            {
                "apiId": api.id,
                "stage": "prod",
                "throttle": {"/a/GET": {"rateLimit": float(TINY), "burstLimit": 2}},
            }
        ],
    )
    keys = [apigw.create_api_key(name=unique("k"), enabled=True) for _ in range(2)]
    for key in keys:
        apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    a, b = (gateway.invoke_url(api.id, "prod", p) for p in ("/a", "/b"))
    first = keys[0]["value"]
    # /a: the per-method limit of 2; /b then gets what is left of the key's 5 (2 already taken by /a).
    assert statuses(a, 3, **{"x-api-key": first}) == [200, 200, 429]
    assert statuses(b, 4, **{"x-api-key": first}) == [200, 200, 200, 429]
    # Each key has buckets of its own.
    assert statuses(b, 6, **{"x-api-key": keys[1]["value"]}) == [200] * 5 + [429]


def test_quota_with_offset_then_update_usage(served_by: GatewayProcess) -> None:
    gateway, apigw = served_by, served_by.client("apigateway")
    api = RestApi(apigw, unique("quota"))
    api.mock("/q", "GET", "{}")
    apigw.update_method(
        restApiId=api.id,
        resourceId=api.resource("/q"),
        httpMethod="GET",
        patchOperations=[{"op": "replace", "path": "/apiKeyRequired", "value": "true"}],
    )
    api.deploy("prod")
    plan = apigw.create_usage_plan(
        name=unique("weekly"),
        apiStages=[{"apiId": api.id, "stage": "prod"}],
        quota={"limit": 5, "offset": 2, "period": "WEEK"},
    )
    key = apigw.create_api_key(name=unique("k"), enabled=True)
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    url = gateway.invoke_url(api.id, "prod", "/q")
    # The first period has the limit less the offset.
    assert statuses(url, 4, **{"x-api-key": key["value"]}) == [200, 200, 200, 429]
    refused = requests.get(url, headers={"x-api-key": key["value"]}, timeout=5)
    assert refused.content == b'{"message":"Limit Exceeded"}'
    assert refused.headers["x-amzn-ErrorType"] == "LimitExceededException"
    apigw.update_usage(
        usagePlanId=plan["id"],
        keyId=key["id"],
        patchOperations=[{"op": "replace", "path": "/remaining", "value": "1"}],
    )
    assert statuses(url, 2, **{"x-api-key": key["value"]}) == [200, 429]


def test_get_usage_reports_each_days_remaining(served_by: GatewayProcess) -> None:
    """GetUsage gives [used, remaining at the end of that day] per day: yesterday (before the key was used, in an
    earlier DAY period) had the whole limit, today what is left now."""
    gateway, apigw = served_by, served_by.client("apigateway")
    api = RestApi(apigw, unique("usage"))
    api.mock("/u", "GET", "{}")
    apigw.update_method(
        restApiId=api.id,
        resourceId=api.resource("/u"),
        httpMethod="GET",
        patchOperations=[{"op": "replace", "path": "/apiKeyRequired", "value": "true"}],
    )
    api.deploy("prod")
    plan = apigw.create_usage_plan(
        name=unique("daily"),
        apiStages=[{"apiId": api.id, "stage": "prod"}],
        quota={"limit": 5, "period": "DAY"},
    )
    key = apigw.create_api_key(name=unique("k"), enabled=True)
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    assert statuses(gateway.invoke_url(api.id, "prod", "/u"), 2, **{"x-api-key": key["value"]}) == [200, 200]
    today = datetime.now(UTC).date()
    days = {"startDate": (today - timedelta(days=1)).isoformat(), "endDate": today.isoformat()}
    usage = apigw.get_usage(usagePlanId=plan["id"], **days)
    assert usage["items"] == {key["id"]: [[0, 5], [2, 3]]}
    extended = apigw.update_usage(
        usagePlanId=plan["id"],
        keyId=key["id"],
        patchOperations=[{"op": "replace", "path": "/remaining", "value": "9"}],
    )
    assert extended["items"] == {key["id"]: [[2, 9]]}
    assert apigw.get_usage(usagePlanId=plan["id"], **days)["items"] == {key["id"]: [[0, 5], [2, 9]]}


@pytest.fixture(scope="module")
def low_account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(
        tmp_path_factory.mktemp("account"), ["--account-rate", TINY, "--account-burst", "5"]
    )
    process.start()
    yield process
    process.stop()


def test_account_level_throttle_covers_every_api(low_account: GatewayProcess) -> None:
    apigw = low_account.client("apigateway")
    first, second = RestApi(apigw, "one"), RestApi(apigw, "two")
    for api in (first, second):
        api.mock("/x", "GET", "{}")
        api.deploy("prod")
    assert statuses(low_account.invoke_url(first.id, "prod", "/x"), 3) == [200] * 3
    assert statuses(low_account.invoke_url(second.id, "prod", "/x"), 4) == [200, 200, 429, 429]


def test_throttle_survives_restart_config(tmp_path: Path) -> None:
    """Stage throttles are compiled from the stored stage: a restarted gateway enforces them."""
    process = GatewayProcess(tmp_path)
    process.start()
    try:
        apigw = process.client("apigateway")
        api = RestApi(apigw, "restart")
        api.mock("/x", "GET", "{}")
        api.deploy("prod")
        throttle_stage(apigw, api, "prod", "*/*", 1)
    finally:
        process.stop()
    process.start()
    try:
        assert statuses(process.invoke_url(api.id, "prod", "/x"), 2) == [200, 429]
    finally:
        process.stop()
