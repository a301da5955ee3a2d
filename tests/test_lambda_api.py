"""The Lambda management API through boto3: what `aws lambda ...` users do, with Lambda's answers."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from helpers import GatewayProcess, create_function, zip_code

HELLO = """
import os
def lambda_handler(event, context):
    return {"hello": event.get("name"), "greeting": os.environ.get("GREETING"),
            "function": context.function_name, "memory": context.memory_limit_in_mb,
            "request_id": context.aws_request_id, "remaining": context.get_remaining_time_in_millis(),
            "region": os.environ["AWS_REGION"], "endpoint": os.environ["AWS_ENDPOINT_URL"],
            "arn": context.invoked_function_arn}
"""


def test_health_answers_status_and_version(gateway: GatewayProcess) -> None:
    answer = requests.get(f"{gateway.url}/_apigate/health", timeout=5)
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
    assert answer.json()["version"]


def test_create_wait_get_list_invoke(gateway: GatewayProcess, lam: Any) -> None:
    name = create_function(
        lam, HELLO, Environment={"Variables": {"GREETING": "hi"}}, Timeout=5, MemorySize=256
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    got = lam.get_function(FunctionName=name)
    config = got["Configuration"]
    assert config["FunctionName"] == name
    assert config["Runtime"] == "python3.11"
    assert config["Handler"] == "lambda_function.lambda_handler"
    assert config["Timeout"] == 5 and config["MemorySize"] == 256
    assert config["State"] == "Active"
    assert config["Environment"]["Variables"] == {"GREETING": "hi"}
    assert config["FunctionArn"].endswith(f":function:{name}")
    # the code can be downloaded back, byte for byte what was uploaded
    code = requests.get(got["Code"]["Location"], timeout=5)
    assert code.status_code == 200 and b"lambda_handler" in code.content
    assert name in [f["FunctionName"] for f in lam.list_functions()["Functions"]]

    answer = lam.invoke(FunctionName=name, Payload=json.dumps({"name": "ada"}))
    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer
    result = json.loads(answer["Payload"].read())
    assert result["hello"] == "ada"
    assert result["greeting"] == "hi"
    assert result["function"] == name
    assert result["memory"] == "256"  # a string, as in AWS's own Python runtime
    assert 0 < result["remaining"] <= 5000
    assert result["region"] == "us-east-1"
    assert result["endpoint"] == gateway.url
    assert result["arn"] == config["FunctionArn"]
    assert result["request_id"]


def test_function_error_shape(lam: Any) -> None:
    name = create_function(lam, "def lambda_handler(event, context):\n    raise ValueError('boom')\n")
    answer = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorMessage"] == "boom"
    assert error["errorType"] == "ValueError"
    assert isinstance(error["stackTrace"], list) and error["stackTrace"]
    assert "START RequestId" in base64.b64decode(answer["LogResult"]).decode()


def test_update_code_and_configuration(lam: Any) -> None:
    name = create_function(lam, "def lambda_handler(e, c):\n    return 'v1'\n")
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "v1"
    lam.update_function_code(
        FunctionName=name,
        ZipFile=zip_code({"lambda_function.py": "def lambda_handler(e, c):\n    return 'v2'\n"}),
    )
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "v2"
    lam.update_function_code(
        FunctionName=name,
        ZipFile=zip_code(
            {
                "lambda_function.py": "import os\ndef lambda_handler(e, c):\n    return os.environ.get('MODE')\n"
            }
        ),
    )
    updated = lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"MODE": "prod"}}, Timeout=7
    )
    assert updated["Timeout"] == 7
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "prod"


def test_permissions(lam: Any) -> None:
    name = create_function(lam, "def lambda_handler(e, c):\n    return 1\n")
    with pytest.raises(ClientError) as missing:
        lam.get_policy(FunctionName=name)
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    added = lam.add_permission(
        FunctionName=name,
        StatementId="apigw",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn="arn:aws:execute-api:us-east-1:000000000000:abc/*/GET/",
    )
    assert json.loads(added["Statement"])["Sid"] == "apigw"
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["apigw"]
    assert policy["Statement"][0]["Principal"] == {"Service": "apigateway.amazonaws.com"}
    with pytest.raises(ClientError) as duplicate:
        lam.add_permission(
            FunctionName=name,
            StatementId="apigw",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
        )
    assert duplicate.value.response["Error"]["Code"] == "ResourceConflictException"
    lam.remove_permission(FunctionName=name, StatementId="apigw")
    with pytest.raises(ClientError):
        lam.get_policy(FunctionName=name)


def test_errors_for_common_mistakes(lam: Any) -> None:
    name = create_function(lam, "def lambda_handler(e, c):\n    return 1\n")
    with pytest.raises(ClientError) as duplicate:
        create_function(lam, "def lambda_handler(e, c):\n    return 1\n", name=name)
    assert duplicate.value.response["Error"]["Code"] == "ResourceConflictException"
    assert duplicate.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    with pytest.raises(ClientError) as bad_zip:
        lam.create_function(
            FunctionName="broken-zip",
            Runtime="python3.11",
            Role="arn:aws:iam::000000000000:role/r",
            Handler="a.b",
            Code={"ZipFile": b"not a zip"},
        )
    assert bad_zip.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as bad_json:
        lam.invoke(FunctionName=name, Payload=b"{not json")
    assert bad_json.value.response["Error"]["Code"] == "InvalidRequestContentException"
    lam.delete_function(FunctionName=name)
    with pytest.raises(ClientError) as gone:
        lam.get_function(FunctionName=name)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as gone_invoke:
        lam.invoke(FunctionName=name)
    assert gone_invoke.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_crashing_function_does_not_take_the_gateway_down(gateway: GatewayProcess, lam: Any) -> None:
    name = create_function(
        lam,
        "import os, sys\ndef lambda_handler(e, c):\n    if e.get('exit'):\n        os._exit(3)\n    return 'alive'\n",
    )
    answer = lam.invoke(FunctionName=name, Payload=b'{"exit": true}')
    assert answer["FunctionError"] == "Unhandled"
    assert "Runtime.ExitError" in answer["Payload"].read().decode()
    assert json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()) == "alive"
    assert requests.get(f"{gateway.url}/_apigate/health", timeout=5).status_code == 200


BOTO3_INSIDE = """
import boto3
def lambda_handler(event, context):
    # no endpoint_url and no credentials: the worker's environment points boto3 at apigate
    names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    apis = [a["name"] for a in boto3.client("apigateway").get_rest_apis()["items"]]
    return {"functions": names, "apis": apis}
"""


def test_boto3_inside_a_function_reaches_apigate(lam: Any, apigw: Any) -> None:
    apigw.create_rest_api(name="seen-from-inside")
    name = create_function(lam, BOTO3_INSIDE, Timeout=30)
    answer = lam.invoke(FunctionName=name)
    assert "FunctionError" not in answer, answer["Payload"].read()
    result = json.loads(answer["Payload"].read())
    assert name in result["functions"]
    assert "seen-from-inside" in result["apis"]
