"""HTTP APIs' AWS service integrations (IntegrationSubtype) against moto_server: SQS, Kinesis, EventBridge and
Step Functions, from the management API and from OpenAPI. StartSyncExecution and AppConfig's GetConfiguration,
which moto does not implement, are checked against a small recording server speaking those two operations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from moto_server import REGION, MotoServer, Recorder, recorder_server

from helpers import GatewayProcess, RestApi, signed_request, unique

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/http-api-integration"


@pytest.fixture(scope="module")
def v2(aws_gateway: GatewayProcess) -> Any:
    return aws_gateway.client("apigatewayv2")


def _api(v2: Any, routes: dict[str, tuple[str, dict[str, str]]]) -> str:
    """An HTTP API whose routes each call an AWS service through a subtype; its $default stage auto-deploys."""
    api_id = v2.create_api(Name=unique("svc"), ProtocolType="HTTP")["ApiId"]
    for route_key, (subtype, parameters) in routes.items():
        integration = v2.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationSubtype=subtype,
            PayloadFormatVersion="1.0",
            CredentialsArn=ROLE,
            RequestParameters=parameters,
        )
        v2.create_route(
            ApiId=api_id, RouteKey=route_key, Target=f"integrations/{integration['IntegrationId']}"
        )
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    return str(api_id)


def _url(gateway: GatewayProcess, api_id: str, path: str) -> str:
    return f"{gateway.url}/_aws/execute-api/{api_id}{path}"


def test_sqs_send_receive_delete_purge(aws_gateway: GatewayProcess, v2: Any, moto: MotoServer) -> None:
    sqs = moto.client("sqs")
    queue_url = sqs.create_queue(QueueName=unique("http-orders"))["QueueUrl"]
    api_id = _api(
        v2,
        {
            "POST /orders": (
                "SQS-SendMessage",
                {"QueueUrl": queue_url, "MessageBody": "$request.body.order", "DelaySeconds": "0"},
            ),
            "GET /orders": ("SQS-ReceiveMessage", {"QueueUrl": queue_url, "MaxNumberOfMessages": "5"}),
            "DELETE /orders": (
                "SQS-DeleteMessage",
                {"QueueUrl": queue_url, "ReceiptHandle": "$request.header.x-receipt"},
            ),
            "POST /purge": ("SQS-PurgeQueue", {"QueueUrl": queue_url}),
        },
    )
    sent = requests.post(_url(aws_gateway, api_id, "/orders"), json={"order": {"id": 7}}, timeout=10)
    assert sent.status_code == 200, sent.text
    assert sent.json()["MessageId"]
    received = requests.get(_url(aws_gateway, api_id, "/orders"), timeout=10)
    assert received.status_code == 200, received.text
    [message] = received.json()["Messages"]
    assert json.loads(message["Body"]) == {"id": 7}  # an object member is sent as its JSON text
    deleted = requests.delete(
        _url(aws_gateway, api_id, "/orders"), headers={"x-receipt": message["ReceiptHandle"]}, timeout=10
    )
    assert deleted.status_code == 200, deleted.text
    requests.post(
        _url(aws_gateway, api_id, "/orders"), json={"order": "again"}, timeout=10
    ).raise_for_status()
    assert requests.post(_url(aws_gateway, api_id, "/purge"), timeout=10).status_code == 200
    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url)
    # A body without the mapped member: the required MessageBody is missing, answered before SQS is called.
    missing = requests.post(_url(aws_gateway, api_id, "/orders"), json={"other": 1}, timeout=10)
    assert missing.status_code == 400
    assert "MessageBody" in missing.json()["message"]


def test_kinesis_put_record(aws_gateway: GatewayProcess, v2: Any, moto: MotoServer) -> None:
    kinesis = moto.client("kinesis")
    stream = unique("http-stream")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    api_id = _api(
        v2,
        {
            "POST /events": (
                "Kinesis-PutRecord",
                {"StreamName": stream, "Data": "$request.body", "PartitionKey": "$request.header.x-device"},
            )
        },
    )
    answer = requests.post(
        _url(aws_gateway, api_id, "/events"), json={"t": 21.5}, headers={"x-device": "d1"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    shard = answer.json()["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    [record] = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert json.loads(record["Data"]) == {"t": 21.5} and record["PartitionKey"] == "d1"


def test_eventbridge_put_events(aws_gateway: GatewayProcess, v2: Any, moto: MotoServer) -> None:
    events, sqs = moto.client("events"), moto.client("sqs")
    bus = unique("http-bus")
    events.create_event_bus(Name=bus)
    queue_url = sqs.create_queue(QueueName=unique("http-bus-target"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="orders", EventBusName=bus, EventPattern=json.dumps({"source": ["shop.http"]}))
    events.put_targets(Rule="orders", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    api_id = _api(
        v2,
        {
            "POST /events": (
                "EventBridge-PutEvents",
                {
                    "Detail": "$request.body",
                    "DetailType": "order",
                    "Source": "shop.http",
                    "EventBusName": bus,
                },
            )
        },
    )
    answer = requests.post(_url(aws_gateway, api_id, "/events"), json={"order": 3}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["FailedEntryCount"] == 0
    [message] = sqs.receive_message(QueueUrl=queue_url)["Messages"]
    assert json.loads(message["Body"])["detail"] == {"order": 3}


def test_step_functions_start_and_stop(aws_gateway: GatewayProcess, v2: Any, moto: MotoServer) -> None:
    sfn = moto.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=unique("http-flow"),
        definition=json.dumps(
            {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}}}
        ),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
    )["stateMachineArn"]
    api_id = _api(
        v2,
        {
            "POST /runs": (
                "StepFunctions-StartExecution",
                {"StateMachineArn": machine, "Input": "$request.body", "Name": "$request.querystring.name"},
            ),
            "DELETE /runs": (
                "StepFunctions-StopExecution",
                {"ExecutionArn": "$request.querystring.arn", "Cause": "cancelled by the client"},
            ),
        },
    )
    started = requests.post(_url(aws_gateway, api_id, "/runs?name=run-1"), json={"job": 5}, timeout=10)
    assert started.status_code == 200, started.text
    execution = started.json()["executionArn"]
    assert execution.endswith(":run-1")
    assert json.loads(sfn.describe_execution(executionArn=execution)["input"]) == {"job": 5}
    stopped = requests.delete(_url(aws_gateway, api_id, "/runs"), params={"arn": execution}, timeout=10)
    assert stopped.status_code == 200, stopped.text
    assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"


def test_subtypes_are_checked(v2: Any) -> None:
    api_id = v2.create_api(Name=unique("bad"), ProtocolType="HTTP")["ApiId"]
    base = {"ApiId": api_id, "IntegrationType": "AWS_PROXY", "PayloadFormatVersion": "1.0"}
    with pytest.raises(ClientError, match="Invalid integration subtype"):
        v2.create_integration(**base, IntegrationSubtype="SQS-Nope", RequestParameters={"QueueUrl": "q"})
    with pytest.raises(ClientError, match=r"Missing required request parameters.*MessageBody"):
        v2.create_integration(
            **base, IntegrationSubtype="SQS-SendMessage", RequestParameters={"QueueUrl": "q"}
        )
    with pytest.raises(ClientError, match=r"Invalid request parameters.*Bogus"):
        v2.create_integration(
            **base, IntegrationSubtype="SQS-PurgeQueue", RequestParameters={"QueueUrl": "q", "Bogus": "x"}
        )


@pytest.fixture(scope="module")
def recorder() -> Iterator[str]:
    with recorder_server() as url:
        yield url


@pytest.fixture(scope="module")
def recorded_gateway(tmp_path_factory: pytest.TempPathFactory, recorder: str) -> Iterator[GatewayProcess]:
    process = GatewayProcess(
        tmp_path_factory.mktemp("sync-data"),
        ["--aws-endpoint", f"states={recorder}", "--aws-endpoint", f"appconfig={recorder}"],
    )
    with pytest.MonkeyPatch.context() as env:  # no keys of the machine's: integrations sign as their role
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            env.delenv(name, raising=False)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        env.setenv("AWS_CONFIG_FILE", "/nonexistent")
        process.start()
    yield process
    process.stop()


def test_start_sync_execution_and_appconfig(recorded_gateway: GatewayProcess) -> None:
    v2 = recorded_gateway.client("apigatewayv2")
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:express"
    api_id = _api(
        v2,
        {
            "POST /sync": (
                "StepFunctions-StartSyncExecution",
                {"StateMachineArn": machine, "Input": "$request.body"},
            ),
            "GET /config": (
                "AppConfig-GetConfiguration",
                {"Application": "shop", "Environment": "prod", "Configuration": "flags", "ClientId": "web-1"},
            ),
        },
    )
    answer = requests.post(_url(recorded_gateway, api_id, "/sync"), json={"n": 1}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "SUCCEEDED" and json.loads(answer.json()["output"]) == {"n": 1}
    verb, path, headers, body = Recorder.seen[-1]
    assert (verb, path) == ("POST", "/")
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert f"/{REGION}/states/aws4_request" in headers["Authorization"]  # signed for Step Functions
    # signed with a session of the integration's role, issued by apigate's STS
    assert "Credential=ASIA" in headers["Authorization"] and headers["X-Amz-Security-Token"]
    assert json.loads(body) == {"stateMachineArn": machine, "input": '{"n":1}'}
    config = requests.get(_url(recorded_gateway, api_id, "/config"), timeout=10)
    assert config.status_code == 200 and config.json() == {"feature": True}
    verb, path, headers, _ = Recorder.seen[-1]
    assert (verb, path) == (
        "GET",
        "/applications/shop/environments/prod/configurations/flags?client_id=web-1",
    )
    assert "/appconfig/aws4_request" in headers["Authorization"]


def test_rest_pass_through_credentials_sign_as_the_caller(recorded_gateway: GatewayProcess) -> None:
    """A REST AWS integration whose credentials are ``arn:aws:iam::*:user/*`` calls the service as the IAM
    caller who signed the method request (here seen by the recording server as Step Functions)."""
    iam = recorded_gateway.client("iam")
    user = unique("caller")
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="invoke",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    apigw = recorded_gateway.client("apigateway")
    api = RestApi(apigw, unique("pass-through"))
    rid = api.resource("/run")
    apigw.put_method(restApiId=api.id, resourceId=rid, httpMethod="POST", authorizationType="AWS_IAM")
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="POST",
        type="AWS",
        integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:{REGION}:states:action/StartSyncExecution",
        credentials="arn:aws:iam::*:user/*",
        requestTemplates={
            "application/json": '{"stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:m", "input": "{}"}'
        },
    )
    apigw.put_method_response(restApiId=api.id, resourceId=rid, httpMethod="POST", statusCode="200")
    apigw.put_integration_response(restApiId=api.id, resourceId=rid, httpMethod="POST", statusCode="200")
    api.deploy()
    answer = signed_request(
        "POST",
        recorded_gateway.invoke_url(api.id, "test", "/run"),
        (key["AccessKeyId"], key["SecretAccessKey"]),
        body=b"{}",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "SUCCEEDED"
    headers = Recorder.seen[-1][2]
    assert f"Credential={key['AccessKeyId']}/" in headers["Authorization"]
