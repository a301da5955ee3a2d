"""`serve --admin-key`: every management call must be signed with the key; the data plane is unaffected."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from helpers import GatewayProcess, RestApi, create_function, unique

ADMIN = ("AKIAADMINEXAMPLE0001", "admin-secret-for-tests")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("admin-gateway"), ["--admin-key", ":".join(ADMIN)])
    process.start()
    yield process
    process.stop()


def client(gateway: GatewayProcess, service: str, key: str, secret: str, token: str | None = None) -> Any:
    return boto3.client(
        service,
        endpoint_url=gateway.url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
    )


def error_of(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_admin_key_signs_every_management_call(guarded: GatewayProcess) -> None:
    apigw = client(guarded, "apigateway", *ADMIN)
    api = RestApi(apigw, "admin-made")
    api.mock("/ping", "GET", '{"pong": true}')
    api.deploy()
    # The data plane is not the management API: no signature needed.
    assert requests.get(guarded.invoke_url(api.id, "test", "/ping"), timeout=5).json() == {"pong": True}

    wrong = client(guarded, "apigateway", ADMIN[0], "wrong-secret")
    code, status, message = error_of(wrong.get_rest_apis)
    assert (code, status) == ("InvalidSignatureException", 403)
    assert message.startswith(
        "The request signature we calculated does not match the signature you provided."
    )
    unknown = client(guarded, "lambda", "AKIASOMEONEELSE00000", "x")
    assert error_of(unknown.list_functions)[:2] == ("UnrecognizedClientException", 403)
    assert error_of(client(guarded, "apigatewayv2", "AKIASOMEONEELSE00000", "x").get_apis)[:2] == (
        "UnrecognizedClientException",
        403,
    )

    unsigned = requests.get(f"{guarded.url}/restapis", timeout=5)
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    broken = requests.get(
        f"{guarded.url}/restapis", headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x"}, timeout=5
    )
    assert broken.status_code == 403
    assert broken.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"


def test_iam_and_sts_under_the_admin_key(guarded: GatewayProcess) -> None:
    iam = client(guarded, "iam", *ADMIN)
    name = unique("ops")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    user = (key["AccessKeyId"], key["SecretAccessKey"])
    code, status, _ = error_of(client(guarded, "iam", ADMIN[0], "nope").list_users)
    assert (code, status) == ("InvalidSignatureException", 403)
    # An IAM user may use STS (how role sessions are obtained), not the rest of the management API.
    assert client(guarded, "sts", *user).get_caller_identity()["Arn"] == arn
    assert error_of(client(guarded, "apigateway", *user).get_rest_apis)[:2] == ("AccessDeniedException", 403)
    assert client(guarded, "sts", *ADMIN).get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:root"


FUNCTION = """
import boto3
def lambda_handler(event, context):
    return [a["name"] for a in boto3.client("apigateway").get_rest_apis()["items"]]
"""


def test_functions_call_the_management_api_with_their_roles_credentials(guarded: GatewayProcess) -> None:
    apigw = client(guarded, "apigateway", *ADMIN)
    apigw.create_rest_api(name="visible-inside")
    # Not with the admin key (functions never see it): with their execution role's, as far as its policies allow.
    iam = client(guarded, "iam", *ADMIN)
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "*"}]}
    iam.create_role(RoleName="lambda-role", AssumeRolePolicyDocument=json.dumps(trust))
    allow = {"Statement": [{"Effect": "Allow", "Action": "apigateway:GET", "Resource": "*"}]}
    iam.put_role_policy(RoleName="lambda-role", PolicyName="read", PolicyDocument=json.dumps(allow))
    lam = client(guarded, "lambda", *ADMIN)
    name = create_function(lam, FUNCTION, Timeout=30)
    answer = lam.invoke(FunctionName=name)
    assert "FunctionError" not in answer, answer["Payload"].read()
    assert "visible-inside" in json.loads(answer["Payload"].read())


def test_other_addresses_need_an_admin_key(tmp_path: Path) -> None:
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "apigate.cli",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "without --admin-key" in refused.stderr
    malformed = subprocess.run(
        [
            sys.executable,
            "-m",
            "apigate.cli",
            "serve",
            "--admin-key",
            "no-colon",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert malformed.returncode != 0 and "--admin-key expects" in malformed.stderr


def test_client_commands_sign_with_the_admin_key(guarded: GatewayProcess) -> None:
    client(guarded, "apigateway", *ADMIN).create_rest_api(name="listed-by-cli")
    command = [sys.executable, "-m", "apigate.cli", "apis", "--endpoint", guarded.url, "--json"]
    listed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "APIGATE_ADMIN_KEY": ":".join(ADMIN)},
    )
    assert listed.returncode == 0, listed.stderr
    assert "listed-by-cli" in [api["name"] for api in json.loads(listed.stdout)]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1 and "UnrecognizedClientException" in refused.stderr


def test_cloudwatch_logs_calls_are_checked_per_log_group(guarded: GatewayProcess) -> None:
    admin_logs = client(guarded, "logs", *ADMIN)
    mine, theirs = unique("/app/mine"), unique("/app/theirs")
    admin_logs.create_log_group(logGroupName=mine)
    admin_logs.create_log_group(logGroupName=theirs)
    assert error_of(client(guarded, "logs", ADMIN[0], "nope").describe_log_groups)[:2] == (
        "InvalidSignatureException",
        403,
    )
    iam = client(guarded, "iam", *ADMIN)
    name = unique("reader")
    iam.create_user(UserName=name)
    allow = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "logs:FilterLogEvents",
                "Resource": f"arn:aws:logs:us-east-1:000000000000:log-group:{mine}:*",
            }
        ]
    }
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=json.dumps(allow))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    reader = client(guarded, "logs", key["AccessKeyId"], key["SecretAccessKey"])
    assert reader.filter_log_events(logGroupName=mine)["events"] == []
    code, status, message = error_of(lambda: reader.filter_log_events(logGroupName=theirs))
    assert (code, status) == ("AccessDeniedException", 403)
    assert "logs:FilterLogEvents" in message and theirs in message
    assert error_of(lambda: reader.delete_log_group(logGroupName=mine))[:2] == ("AccessDeniedException", 403)
    # By ARN (logGroupIdentifier, StartLiveTail's logGroupIdentifiers): the group it names is checked.
    arn = "arn:aws:logs:us-east-1:000000000000:log-group:"
    assert reader.filter_log_events(logGroupIdentifier=arn + mine)["events"] == []
    code, _, message = error_of(lambda: reader.filter_log_events(logGroupIdentifier=arn + theirs))
    assert code == "AccessDeniedException" and theirs in message
    allow["Statement"][0]["Action"] = ["logs:FilterLogEvents", "logs:StartLiveTail"]
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=json.dumps(allow))
    tail = boto3.client(
        "logs",
        endpoint_url=guarded.url,
        region_name="us-east-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(inject_host_prefix=False),
    )
    stream = tail.start_live_tail(logGroupIdentifiers=[arn + mine])["responseStream"]
    try:
        assert next(iter(stream))["sessionStart"]["logGroupIdentifiers"] == [arn + mine]
    finally:
        stream.close()
    code, _, message = error_of(lambda: tail.start_live_tail(logGroupIdentifiers=[arn + theirs]))
    assert code == "AccessDeniedException" and "logs:StartLiveTail" in message
    both = [arn + mine, arn + theirs]  # several groups: allowed only where every one is
    assert error_of(lambda: tail.start_live_tail(logGroupIdentifiers=both))[0] == "AccessDeniedException"
