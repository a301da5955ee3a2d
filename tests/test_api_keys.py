"""API keys and usage plans: the management calls with boto3, and the key check on a running stage."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from helpers import ECHO_EVENT, GatewayProcess, RestApi, create_function, unique


def error_of(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


def keyed_api(apigw: Any, lam: Any) -> RestApi:
    api = RestApi(apigw, unique("keyed"))
    function = create_function(lam, ECHO_EVENT)
    api.lambda_proxy("/echo", "GET", function)
    apigw.update_method(
        restApiId=api.id,
        resourceId=api.resource("/echo"),
        httpMethod="GET",
        patchOperations=[{"op": "replace", "path": "/apiKeyRequired", "value": "true"}],
    )
    api.mock("/open", "GET", '{"key": "$context.identity.apiKey", "id": "$context.identity.apiKeyId"}')
    api.deploy("prod")
    return api


def test_api_key_lifecycle(apigw: Any) -> None:
    given = unique("given-value-0123456789")
    key = apigw.create_api_key(name=unique("partner"), value=given, enabled=True, description="d")
    assert key["value"] == given and key["enabled"] is True and key["description"] == "d"
    generated = apigw.create_api_key(name=unique("other"))
    assert 20 <= len(generated["value"]) <= 128 and generated["enabled"] is False

    assert "value" not in apigw.get_api_key(apiKey=key["id"])
    assert apigw.get_api_key(apiKey=key["id"], includeValue=True)["value"] == given
    listed = apigw.get_api_keys(nameQuery=key["name"], includeValues=True)["items"]
    assert [(k["id"], k["value"]) for k in listed] == [(key["id"], given)]
    assert all("value" not in k for k in apigw.get_api_keys()["items"])

    updated = apigw.update_api_key(
        apiKey=key["id"],
        patchOperations=[
            {"op": "replace", "path": "/enabled", "value": "false"},
            {"op": "replace", "path": "/name", "value": "renamed"},
        ],
    )
    assert updated["enabled"] is False and updated["name"] == "renamed"

    assert error_of(apigw.create_api_key, name="short", value="x" * 19) == (
        "BadRequestException",
        "API Key value should be at least 20 characters",
    )
    assert error_of(apigw.create_api_key, name="long", value="x" * 129)[0] == "BadRequestException"
    assert error_of(apigw.create_api_key, name="dup", value=given) == (
        "ConflictException",
        "API Key already exists",
    )
    apigw.delete_api_key(apiKey=key["id"])
    assert error_of(apigw.get_api_key, apiKey=key["id"]) == (
        "NotFoundException",
        "Invalid API Key identifier specified",
    )


def test_import_api_keys_csv(apigw: Any) -> None:
    plan = apigw.create_usage_plan(name=unique("import-plan"))
    first, second = unique("imported-one-0123456789"), unique("imported-two-0123456789")
    csv = (
        "Name,Key,Description,Enabled,UsagePlanIds\n"
        f"one,{first},first key,true,{plan['id']}\n"
        f"two,{second},,false,\n"
        "three,tooshort,,true,\n"
    )
    result = apigw.import_api_keys(body=csv.encode(), format="csv")
    assert len(result["ids"]) == 2
    assert len(result["warnings"]) == 1 and "20 characters" in result["warnings"][0]
    imported = {k["name"]: k for k in (apigw.get_api_key(apiKey=i, includeValue=True) for i in result["ids"])}
    assert imported["one"]["value"] == first and imported["one"]["enabled"] is True
    assert imported["two"]["enabled"] is False
    plan_keys = apigw.get_usage_plan_keys(usagePlanId=plan["id"])["items"]
    assert [(k["id"], k["value"], k["type"]) for k in plan_keys] == [(result["ids"][0], first, "API_KEY")]
    code, _ = error_of(apigw.import_api_keys, body=csv.encode(), format="csv", failOnWarnings=True)
    assert code == "BadRequestException"


def test_usage_plan_shapes_and_errors(apigw: Any, lam: Any) -> None:
    api = keyed_api(apigw, lam)
    plan = apigw.create_usage_plan(
        name=unique("gold"),
        description="gold tier",
        throttle={"rateLimit": 100.0, "burstLimit": 200},
        quota={"limit": 5000, "offset": 10, "period": "MONTH"},
        apiStages=[
            {
                "apiId": api.id,
                "stage": "prod",
                "throttle": {"/echo/GET": {"rateLimit": 5.0, "burstLimit": 10}},
            }
        ],
    )
    assert plan["throttle"] == {"rateLimit": 100.0, "burstLimit": 200}
    assert plan["quota"] == {"limit": 5000, "offset": 10, "period": "MONTH"}
    assert plan["apiStages"] == [
        {"apiId": api.id, "stage": "prod", "throttle": {"/echo/GET": {"rateLimit": 5.0, "burstLimit": 10}}}
    ]
    fetched = apigw.get_usage_plan(usagePlanId=plan["id"])
    assert fetched["name"] == plan["name"] and fetched["description"] == "gold tier"

    updated = apigw.update_usage_plan(
        usagePlanId=plan["id"],
        patchOperations=[
            {"op": "replace", "path": "/throttle/rateLimit", "value": "50"},
            {"op": "replace", "path": "/quota/limit", "value": "100"},
            {"op": "replace", "path": "/quota/period", "value": "WEEK"},
            {
                "op": "replace",
                "path": f"/apiStages/{api.id}:prod/throttle/~1echo~1GET/burstLimit",
                "value": "3",
            },
        ],
    )
    assert updated["throttle"]["rateLimit"] == 50.0
    assert updated["quota"] == {"limit": 100, "offset": 10, "period": "WEEK"}
    assert updated["apiStages"][0]["throttle"]["/echo/GET"] == {"rateLimit": 5.0, "burstLimit": 3}

    key = apigw.create_api_key(name=unique("k"), enabled=True)
    plan_key = apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    assert plan_key == {
        **plan_key,
        "id": key["id"],
        "type": "API_KEY",
        "value": key["value"],
        "name": key["name"],
    }
    assert apigw.get_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"])["id"] == key["id"]
    assert [p["id"] for p in apigw.get_usage_plans(keyId=key["id"])["items"]] == [plan["id"]]
    # One plan per API stage for a key.
    other = apigw.create_usage_plan(name=unique("silver"), apiStages=[{"apiId": api.id, "stage": "prod"}])
    code, message = error_of(
        apigw.create_usage_plan_key, usagePlanId=other["id"], keyId=key["id"], keyType="API_KEY"
    )
    assert code == "ConflictException" and "multiple Usage Plans with the same API Stage" in message
    assert error_of(apigw.create_usage_plan_key, usagePlanId=plan["id"], keyId="nope", keyType="API_KEY") == (
        "NotFoundException",
        "Invalid API Key identifier specified",
    )
    assert error_of(apigw.get_usage_plan, usagePlanId="nope") == (
        "NotFoundException",
        "Invalid Usage Plan ID specified",
    )
    code, _ = error_of(apigw.create_usage_plan, name="bad", quota={"limit": 10, "period": "YEAR"})
    assert code == "BadRequestException"
    code, _ = error_of(apigw.create_usage_plan, name="bad", apiStages=[{"apiId": api.id, "stage": "nostage"}])
    assert code == "NotFoundException"
    apigw.delete_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"])
    assert apigw.get_usage_plan_keys(usagePlanId=plan["id"])["items"] == []
    apigw.delete_usage_plan(usagePlanId=other["id"])
    assert error_of(apigw.get_usage_plan, usagePlanId=other["id"])[0] == "NotFoundException"


def test_api_key_required(gateway: GatewayProcess, apigw: Any, lam: Any) -> None:
    api = keyed_api(apigw, lam)
    url = gateway.invoke_url(api.id, "prod", "/echo")
    plan = apigw.create_usage_plan(name=unique("plan"), apiStages=[{"apiId": api.id, "stage": "prod"}])
    key = apigw.create_api_key(name=unique("caller"), enabled=True)
    unplanned = apigw.create_api_key(name=unique("unplanned"), enabled=True)
    disabled = apigw.create_api_key(name=unique("disabled"), enabled=False)
    for other in (key, disabled):
        apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=other["id"], keyType="API_KEY")

    for headers in (
        {},
        {"x-api-key": "unknown-key-value-0123456789"},
        {"x-api-key": unplanned["value"]},
        {"x-api-key": disabled["value"]},
    ):
        answer = requests.get(url, headers=headers, timeout=5)
        assert answer.status_code == 403, headers
        assert answer.json() == {"message": "Forbidden"}
        assert answer.headers["x-amzn-ErrorType"] == "ForbiddenException"

    answer = requests.get(url, headers={"x-api-key": key["value"]}, timeout=5)
    assert answer.status_code == 200
    identity = answer.json()["requestContext"]["identity"]
    assert identity["apiKey"] == key["value"] and identity["apiKeyId"] == key["id"]

    # A method without apiKeyRequired needs no key.
    assert requests.get(gateway.invoke_url(api.id, "prod", "/open"), timeout=5).status_code == 200

    # Disabling the key takes effect at once, without a deployment; so does removing it from the plan.
    apigw.update_api_key(
        apiKey=key["id"], patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
    )
    assert requests.get(url, headers={"x-api-key": key["value"]}, timeout=5).status_code == 403
    apigw.update_api_key(
        apiKey=key["id"], patchOperations=[{"op": "replace", "path": "/enabled", "value": "true"}]
    )
    assert requests.get(url, headers={"x-api-key": key["value"]}, timeout=5).status_code == 200
    apigw.delete_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"])
    assert requests.get(url, headers={"x-api-key": key["value"]}, timeout=5).status_code == 403


def test_context_identity_in_templates(gateway: GatewayProcess, apigw: Any) -> None:
    api = RestApi(apigw, unique("ctx"))
    api.mock("/who", "GET", '{"key": "$context.identity.apiKey", "id": "$context.identity.apiKeyId"}')
    apigw.update_method(
        restApiId=api.id,
        resourceId=api.resource("/who"),
        httpMethod="GET",
        patchOperations=[{"op": "replace", "path": "/apiKeyRequired", "value": "true"}],
    )
    api.deploy("v1")
    plan = apigw.create_usage_plan(name=unique("p"), apiStages=[{"apiId": api.id, "stage": "v1"}])
    key = apigw.create_api_key(name=unique("k"), enabled=True, value=unique("template-key-value-000000"))
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    answer = requests.get(
        gateway.invoke_url(api.id, "v1", "/who"), headers={"x-api-key": key["value"]}, timeout=5
    )
    assert answer.json() == {"key": key["value"], "id": key["id"]}


def test_get_usage_counts_and_update_usage(gateway: GatewayProcess, apigw: Any, lam: Any) -> None:
    api = keyed_api(apigw, lam)
    url = gateway.invoke_url(api.id, "prod", "/echo")
    plan = apigw.create_usage_plan(
        name=unique("metered"),
        apiStages=[{"apiId": api.id, "stage": "prod"}],
        quota={"limit": 5, "period": "DAY"},
    )
    key = apigw.create_api_key(name=unique("m"), enabled=True)
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    statuses = [
        requests.get(url, headers={"x-api-key": key["value"]}, timeout=5).status_code for _ in range(7)
    ]
    assert statuses == [200] * 5 + [429] * 2
    refused = requests.get(url, headers={"x-api-key": key["value"]}, timeout=5)
    assert refused.json() == {"message": "Limit Exceeded"}
    assert refused.headers["x-amzn-ErrorType"] == "LimitExceededException"

    today = datetime.datetime.now(datetime.UTC).date()
    yesterday = today - datetime.timedelta(days=1)
    usage = apigw.get_usage(
        usagePlanId=plan["id"], startDate=yesterday.isoformat(), endDate=today.isoformat()
    )
    assert usage["usagePlanId"] == plan["id"]
    # [used, remaining at the end of that day]: yesterday was a DAY period of its own with nothing used.
    assert usage["items"] == {key["id"]: [[0, 5], [5, 0]]}

    extended = apigw.update_usage(
        usagePlanId=plan["id"],
        keyId=key["id"],
        patchOperations=[{"op": "replace", "path": "/remaining", "value": "2"}],
    )
    assert extended["items"][key["id"]][-1] == [5, 2]
    statuses = [
        requests.get(url, headers={"x-api-key": key["value"]}, timeout=5).status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    usage = apigw.get_usage(
        usagePlanId=plan["id"], keyId=key["id"], startDate=today.isoformat(), endDate=today.isoformat()
    )
    assert usage["items"] == {key["id"]: [[7, 0]]}
