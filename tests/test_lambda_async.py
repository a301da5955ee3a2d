"""Asynchronous invocation through the Lambda API (issue #17): InvocationType=Event answers 202, the function
runs in the background, a failure is retried (twice by default, as PutFunctionEventInvokeConfig says otherwise),
and the outcome reaches a function named as the destination. The gateway here waits 0.1 s before a retry
(``--event-retry-delay``) instead of Lambda's minute."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from helpers import GatewayProcess, create_function, function_writable_dir, lambda_uri, unique, wait_for

ATTEMPT = """
import json, os
def lambda_handler(event, context):
    with open(os.path.join(event["folder"], "attempts"), "a") as out:
        out.write(context.aws_request_id + "\\n")
    if event.get("fail"):
        raise RuntimeError("failed on purpose")
    return {"done": True}
"""

RECORD = """
import json, os
def lambda_handler(event, context):
    folder = event["requestPayload"]["folder"]
    with open(os.path.join(folder, "record-" + event["requestContext"]["condition"]), "w") as out:
        json.dump(event, out)
"""


@pytest.fixture(scope="module")
def async_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("async-data"), ["--event-retry-delay", "0.1"])
    process.start()
    yield process
    process.stop()


@pytest.fixture()
def lam(async_gateway: GatewayProcess) -> Any:
    return async_gateway.client("lambda")


def _attempts(folder: Path) -> list[str]:
    path = folder / "attempts"
    return path.read_text().split() if path.exists() else []


def _record(folder: Path, condition: str) -> dict[str, Any]:
    wait_for(lambda: (folder / f"record-{condition}").exists(), timeout=60)
    return dict(json.loads((folder / f"record-{condition}").read_text()))


def test_event_runs_in_the_background(lam: Any) -> None:
    name = create_function(lam, ATTEMPT)
    with function_writable_dir("event") as folder:
        answer = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"folder": str(folder)}))
        assert answer["StatusCode"] == 202
        assert answer["Payload"].read() == b""
        wait_for(lambda: len(_attempts(folder)) == 1, timeout=60)


def test_failures_are_retried_twice_then_recorded(lam: Any) -> None:
    destination = create_function(lam, RECORD)
    name = create_function(lam, ATTEMPT)
    arn = lam.get_function(FunctionName=destination)["Configuration"]["FunctionArn"]
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnFailure": {"Destination": arn}})
    with function_writable_dir("retries") as folder:
        payload = json.dumps({"folder": str(folder), "fail": True})
        assert lam.invoke(FunctionName=name, InvocationType="Event", Payload=payload)["StatusCode"] == 202
        record = _record(folder, "RetriesExhausted")
        attempts = _attempts(folder)
    assert len(attempts) == 3 and len(set(attempts)) == 1  # the same request id, as Lambda retries it
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["requestId"] == attempts[0]
    assert record["requestContext"]["functionArn"].endswith(f":function:{name}:$LATEST")
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "failed on purpose"


def test_maximum_retry_attempts_and_on_success(lam: Any) -> None:
    destination = create_function(lam, RECORD)
    name = create_function(lam, ATTEMPT)
    arn = lam.get_function(FunctionName=destination)["Configuration"]["FunctionArn"]
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": arn}, "OnSuccess": {"Destination": arn}},
    )
    with function_writable_dir("no-retry") as folder:
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"folder": str(folder), "fail": True}))
        record = _record(folder, "RetriesExhausted")
        assert len(_attempts(folder)) == 1 and record["requestContext"]["approximateInvokeCount"] == 1
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"folder": str(folder)}))
        success = _record(folder, "Success")
        assert success["responsePayload"] == {"done": True}


def test_event_invoke_config_operations(lam: Any) -> None:
    name = create_function(lam, ATTEMPT)
    with pytest.raises(ClientError) as caught:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    put = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1, MaximumEventAgeInSeconds=120)
    assert put["MaximumRetryAttempts"] == 1 and put["MaximumEventAgeInSeconds"] == 120
    assert put["FunctionArn"].endswith(f":function:{name}:$LATEST")
    updated = lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2)
    assert updated["MaximumRetryAttempts"] == 2 and updated["MaximumEventAgeInSeconds"] == 120  # kept
    replaced = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    assert "MaximumEventAgeInSeconds" not in replaced  # Put replaces the whole configuration
    assert lam.get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 0
    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [put["FunctionArn"]]
    for bad in ({"MaximumRetryAttempts": 3}, {"MaximumEventAgeInSeconds": 21601}):  # (boto3 checks the minimums)
        with pytest.raises(ClientError) as caught:
            lam.put_function_event_invoke_config(FunctionName=name, **bad)
        assert caught.value.response["Error"]["Code"] in ("ValidationException", "InvalidParameterValueException")
    with pytest.raises(ClientError) as caught:
        lam.put_function_event_invoke_config(FunctionName=name, Qualifier="7", MaximumRetryAttempts=1)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    lam.delete_function_event_invoke_config(FunctionName=name)
    with pytest.raises(ClientError) as caught:
        lam.delete_function_event_invoke_config(FunctionName=name)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_rest_api_integration_invokes_asynchronously(async_gateway: GatewayProcess, lam: Any) -> None:
    """AWS's documented pattern: X-Amz-Invocation-Type 'Event' mapped onto a non-proxy Lambda integration; the
    API answers at once, the function runs after."""
    name = create_function(lam, ATTEMPT)
    apigw = async_gateway.client("apigateway")
    api = apigw.create_rest_api(name=unique("async"))["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    ids = {"restApiId": api, "resourceId": root, "httpMethod": "POST"}
    apigw.put_method(**ids, authorizationType="NONE")
    apigw.put_integration(
        **ids, type="AWS", integrationHttpMethod="POST", uri=lambda_uri(name),
        requestParameters={"integration.request.header.X-Amz-Invocation-Type": "'Event'"},
    )  # fmt: skip
    apigw.put_method_response(**ids, statusCode="200")
    apigw.put_integration_response(**ids, statusCode="200")  # passthrough: the function's result, if any
    apigw.create_deployment(restApiId=api, stageName="s")
    with function_writable_dir("rest-event") as folder:
        answer = requests.post(
            async_gateway.invoke_url(api, "s", "/"), json={"folder": str(folder)}, timeout=30
        )
        assert answer.status_code == 200 and answer.content == b""  # Lambda's 202 carries no payload
        wait_for(lambda: len(_attempts(folder)) == 1, timeout=60)
