"""Reserved concurrency (issue #17): PutFunctionConcurrency caps the calls in flight; beyond it Invoke answers
429 TooManyRequestsException and a REST API's Lambda proxy integration answers 502."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from helpers import GatewayProcess, create_function, function_writable_dir, lambda_uri, wait_for

HOLD = """
import json, os, time
def lambda_handler(event, context):
    folder = event.get("folder")
    if folder:  # hold the call until the test releases it
        open(os.path.join(folder, "started"), "w").close()
        while not os.path.exists(os.path.join(folder, "release")):
            time.sleep(0.01)
    return {"statusCode": 200, "body": "done"}
"""


def _rest_api(gateway: GatewayProcess, apigw: Any, name: str) -> str:
    api = apigw.create_rest_api(name=name)["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api, resourceId=root, httpMethod="GET", type="AWS_PROXY", integrationHttpMethod="POST",
        uri=lambda_uri(name),
    )  # fmt: skip
    apigw.create_deployment(restApiId=api, stageName="s")
    return gateway.invoke_url(api, "s", "/")


def test_reserved_concurrency_throttles_beyond_it(gateway: GatewayProcess, lam: Any, apigw: Any) -> None:
    name = create_function(lam, HOLD, Timeout=30)
    url = _rest_api(gateway, apigw, name)
    assert lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)[
        "ReservedConcurrentExecutions"
    ] == 1
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 1
    with function_writable_dir("hold") as folder:
        held: list[Any] = []
        first = threading.Thread(
            target=lambda: held.append(lam.invoke(FunctionName=name, Payload=json.dumps({"folder": str(folder)})))
        )
        first.start()
        try:
            wait_for(lambda: (Path(folder) / "started").exists(), timeout=30)
            with pytest.raises(ClientError) as caught:
                lam.invoke(FunctionName=name, Payload=b"{}")
            assert caught.value.response["Error"]["Code"] == "TooManyRequestsException"
            assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
            assert requests.get(url, timeout=30).status_code == 502
        finally:
            (Path(folder) / "release").touch()
            first.join(60)
    assert held and "FunctionError" not in held[0]
    assert requests.get(url, timeout=30).text == "done"  # the slot is free again
    lam.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
