"""Our own templates of the public AWS-service-integration patterns (tests/templates/): each served by
`apigate serve TEMPLATE` with its services on moto_server (Step Functions' sync API, which moto lacks, on a
recording server), and each answering its routes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from moto_server import REGION, MotoServer, Recorder, recorder_server

from helpers import GatewayProcess, wait_for

TEMPLATES = Path(__file__).resolve().parent / "templates"
ACCOUNT = "123456789012"


@pytest.fixture
def serve(tmp_path: Path, moto: MotoServer) -> Iterator[Callable[..., GatewayProcess]]:
    started: list[GatewayProcess] = []

    def start(name: str, *overrides: str, endpoints: list[str] | None = None) -> GatewayProcess:
        args = [str(TEMPLATES / name), *(endpoints if endpoints is not None else moto.gateway_args())]
        if overrides:
            args += ["--parameter-overrides", *overrides]
        process = GatewayProcess(tmp_path / f"data-{len(started)}", args)
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def _rest(gateway: GatewayProcess, name: str, path: str) -> str:
    apis = gateway.client("apigateway").get_rest_apis()["items"]
    api_id = next(api["id"] for api in apis if api["name"] == name)
    return gateway.invoke_url(api_id, "prod", path)


def _http(gateway: GatewayProcess, name: str, path: str) -> str:
    apis = gateway.client("apigatewayv2").get_apis()["Items"]
    api_id = next(api["ApiId"] for api in apis if api["Name"] == name)
    return f"{gateway.url}/_aws/execute-api/{api_id}{path}"


def _queue(moto: MotoServer, name: str) -> tuple[Any, str]:
    sqs = moto.client("sqs")
    return sqs, sqs.create_queue(QueueName=name)["QueueUrl"]


def test_rest_sqs(serve: Callable[..., GatewayProcess], moto: MotoServer) -> None:
    sqs, queue_url = _queue(moto, "tpl-orders")
    gateway = serve("rest-sqs.yaml", "QueueName=tpl-orders")
    answer = requests.post(_rest(gateway, "rest-sqs", "/orders"), json={"item": "book"}, timeout=10)
    assert answer.status_code == 200 and answer.json() == {"queued": True}
    [message] = sqs.receive_message(QueueUrl=queue_url)["Messages"]
    assert json.loads(message["Body"]) == {"item": "book"}


def test_rest_dynamodb_crud(serve: Callable[..., GatewayProcess], moto: MotoServer) -> None:
    moto.client("dynamodb").create_table(
        TableName="tpl-items",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    gateway = serve("rest-dynamodb-crud.yaml", "TableName=tpl-items")
    base = _rest(gateway, "rest-dynamodb-crud", "")
    assert requests.post(f"{base}/items", json={"id": "1", "name": "one"}, timeout=10).status_code == 200
    assert requests.post(f"{base}/items", json={"id": "2", "name": "two"}, timeout=10).status_code == 200
    assert requests.get(f"{base}/items", timeout=10).json() == {"count": 2}
    assert requests.get(f"{base}/items/1", timeout=10).json() == {"id": "1", "name": "one"}
    updated = requests.put(f"{base}/items/1", json={"name": "uno"}, timeout=10)
    assert updated.status_code == 200 and updated.json() == {"id": "1", "name": "uno"}
    assert requests.delete(f"{base}/items/1", timeout=10).json() == {"deleted": True}
    gone = requests.get(f"{base}/items/1", timeout=10)
    assert gone.status_code == 404 and gone.json() == {"message": "not found"}


def test_rest_kinesis(serve: Callable[..., GatewayProcess], moto: MotoServer) -> None:
    kinesis = moto.client("kinesis")
    kinesis.create_stream(StreamName="tpl-stream", ShardCount=1)
    gateway = serve("rest-kinesis.yaml")
    url = _rest(gateway, "rest-kinesis", "/streams/tpl-stream/record")
    answer = requests.put(url, json={"Data": {"click": 1}, "PartitionKey": "k"}, timeout=10)
    assert answer.status_code == 200, answer.text
    iterator = kinesis.get_shard_iterator(
        StreamName="tpl-stream", ShardId=answer.json()["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    assert [json.loads(r["Data"]) for r in kinesis.get_records(ShardIterator=iterator)["Records"]] == [
        {"click": 1}
    ]


def test_rest_eventbridge(serve: Callable[..., GatewayProcess], moto: MotoServer) -> None:
    events = moto.client("events")
    events.create_event_bus(Name="tpl-shop")
    sqs, queue_url = _queue(moto, "tpl-events")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="placed", EventBusName="tpl-shop", EventPattern=json.dumps({"source": ["shop.orders"]})
    )
    events.put_targets(Rule="placed", EventBusName="tpl-shop", Targets=[{"Id": "q", "Arn": arn}])
    gateway = serve("rest-eventbridge.yaml", "BusName=tpl-shop")
    answer = requests.post(_rest(gateway, "rest-eventbridge", "/events"), json={"order": 9}, timeout=10)
    assert answer.status_code == 200 and answer.json()["failed"] == 0 and answer.json()["eventId"]
    [message] = sqs.receive_message(QueueUrl=queue_url)["Messages"]
    assert json.loads(message["Body"])["detail-type"] == "OrderPlaced"


def test_rest_stepfunctions(serve: Callable[..., GatewayProcess], moto: MotoServer) -> None:
    sfn = moto.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="tpl-flow",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
    )["stateMachineArn"]
    gateway = serve("rest-stepfunctions.yaml", f"StateMachineArn={machine}")
    answer = requests.post(_rest(gateway, "rest-stepfunctions", "/workflow"), json={"job": 1}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert json.loads(sfn.describe_execution(executionArn=answer.json()["executionArn"])["input"]) == {
        "job": 1
    }


def test_http_sqs(serve: Callable[..., GatewayProcess], moto: MotoServer) -> None:
    sqs, queue_url = _queue(moto, "tpl-http")
    gateway = serve("http-sqs.yaml", f"QueueUrl={queue_url}")
    answer = requests.post(_http(gateway, "http-sqs", "/submit"), json={"form": "contact"}, timeout=10)
    assert answer.status_code == 200 and answer.json()["MessageId"]
    [message] = sqs.receive_message(QueueUrl=queue_url)["Messages"]
    assert json.loads(message["Body"]) == {"form": "contact"}
    # the start-up table names what the route calls
    wait_for(lambda: any("/submit" in line and "SQS-SendMessage" in line for line in gateway.output))


def test_http_stepfunctions_sync(serve: Callable[..., GatewayProcess]) -> None:
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:tpl-express"
    with recorder_server() as url:
        gateway = serve(
            "http-stepfunctions-sync.yaml",
            f"StateMachineArn={machine}",
            endpoints=["--aws-endpoint", f"states={url}"],
        )
        answer = requests.post(_http(gateway, "http-stepfunctions-sync", "/run"), json={"a": 1}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "SUCCEEDED" and json.loads(answer.json()["output"]) == {"a": 1}
    assert json.loads(Recorder.seen[-1][3])["stateMachineArn"] == machine
