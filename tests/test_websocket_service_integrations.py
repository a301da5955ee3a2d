"""WebSocket `AWS` integrations to an AWS service: each message, through the integration's request template,
becomes a Kinesis PutRecord on moto_server; a two-way route sends Kinesis's answer back."""

from __future__ import annotations

import json
from typing import Any

import websockets
from moto_server import REGION, MotoServer

from helpers import GatewayProcess, unique, wait_for
from websocket_helpers import SocketApi, run

TEMPLATE = """{
    "StreamName": "$stageVariables.stream",
    "Data": "$util.base64Encode($input.json('$.record'))",
    "PartitionKey": "$context.connectionId"
}"""
TAGGED = TEMPLATE.replace("$context.connectionId", "tagged")


def test_messages_become_kinesis_records(aws_gateway: GatewayProcess, moto: MotoServer) -> None:
    kinesis = moto.client("kinesis")
    stream = unique("ws-stream")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    api = SocketApi(aws_gateway)
    integration = api.integration(
        IntegrationType="AWS",
        IntegrationMethod="POST",
        IntegrationUri=f"arn:aws:apigateway:{REGION}:kinesis:action/PutRecord",
        CredentialsArn="arn:aws:iam::123456789012:role/ws-kinesis",
        RequestTemplates={"$default": TEMPLATE, "tagged": TAGGED},
        TemplateSelectionExpression="$request.body.kind",  # picks a template by the message's "kind"
    )
    api.route("record", integration, two_way=True)
    api.route("fire", integration)  # one-way: nothing comes back
    api.deploy(StageVariables={"stream": stream})

    async def session() -> dict[str, Any]:
        async with websockets.connect(api.url()) as socket:
            await socket.send(json.dumps({"action": "fire", "record": {"n": 1}}))
            await socket.send(json.dumps({"action": "record", "kind": "tagged", "record": {"n": 2}}))
            answer = json.loads(await socket.recv())
            return answer

    answer = run(session())
    assert answer["ShardId"].startswith("shardId-") and answer["SequenceNumber"]
    iterator = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=answer["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[Any] = []

    def both_written() -> bool:  # the one-way message may still be on its way to Kinesis
        records[:] = kinesis.get_records(ShardIterator=iterator)["Records"]
        return len(records) >= 2

    wait_for(both_written)
    assert sorted(json.loads(r["Data"])["n"] for r in records) == [1, 2]
    keys = {json.loads(r["Data"])["n"]: r["PartitionKey"] for r in records}
    assert keys[2] == "tagged" and keys[1] not in ("tagged", "")  # the connection id, by the $default template
