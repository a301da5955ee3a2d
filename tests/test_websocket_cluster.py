"""Two gateway processes sharing a data dir and Redis: @connections reach a connection held by the other one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
import websockets
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed

from helpers import REDIS_URL, GatewayProcess, require_redis, wait_for
from websocket_helpers import ECHO, SocketApi, run

# Tells another connection something: {"action": "tell", "to": connection id, "text": ...}.
TELL = """
import json, boto3
def lambda_handler(event, context):
    body = json.loads(event["body"])
    boto3.client("apigatewaymanagementapi").post_to_connection(ConnectionId=body["to"], Data=body["text"].encode())
    return {"statusCode": 200}
"""


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    require_redis()
    data = tmp_path_factory.mktemp("ws-shared")
    first = GatewayProcess(data, ["--redis", REDIS_URL])
    second = GatewayProcess(data, ["--redis", REDIS_URL])
    first.start()
    second.start()
    yield first, second
    second.stop()
    first.stop()


@pytest.fixture(scope="module")
def api(pair: tuple[GatewayProcess, GatewayProcess]) -> SocketApi:
    first, second = pair
    built = SocketApi(first)
    built.route("$default", built.integration(built.function(ECHO)), two_way=True)
    built.route("tell", built.integration(built.function(TELL, Timeout=30)))
    built.deploy()
    # the second process serves what the first one deployed once it has seen the change: its @connections
    # answers Gone for an unknown connection (426 alone may come once the API is known, before its stage)
    wait_for(lambda: requests.get(_stage_url(second, built.id), timeout=5).status_code == 426)
    connections = f"{_stage_url(second, built.id)}/@connections/unknown"
    wait_for(lambda: requests.post(connections, data=b"x", timeout=5).status_code == 410)
    return built


def _stage_url(gateway: GatewayProcess, api_id: str) -> str:
    return f"{gateway.url}/_aws/execute-api/{api_id}/dev"


def _connections(gateway: GatewayProcess, api_id: str) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=_stage_url(gateway, api_id),
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _ws_url(gateway: GatewayProcess, api_id: str) -> str:
    return _stage_url(gateway, api_id).replace("http://", "ws://", 1)


async def _connection_id(ws: Any) -> str:
    await ws.send("who")
    return str(json.loads(await ws.recv())["requestContext"]["connectionId"])


def test_connections_calls_on_one_process_reach_a_client_of_the_other(
    pair: tuple[GatewayProcess, GatewayProcess], api: SocketApi
) -> None:
    first, second = pair
    other = _connections(second, api.id)

    async def session() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        async with websockets.connect(_ws_url(first, api.id), user_agent_header="far/1") as ws:
            connection_id = await _connection_id(ws)
            await loop.run_in_executor(
                None, lambda: other.post_to_connection(ConnectionId=connection_id, Data=b"x")
            )
            relayed = await asyncio.wait_for(ws.recv(), 10)
            info = await loop.run_in_executor(None, lambda: other.get_connection(ConnectionId=connection_id))
            await loop.run_in_executor(None, lambda: other.delete_connection(ConnectionId=connection_id))
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            return {"id": connection_id, "relayed": relayed, "info": info}

    result = run(session())
    assert result["relayed"] == "x"
    assert result["info"]["Identity"]["UserAgent"] == "far/1"

    def gone() -> bool:
        try:
            other.post_to_connection(ConnectionId=result["id"], Data=b"late")
        except ClientError as exc:
            return bool(exc.response["Error"]["Code"] == "GoneException")
        return False

    wait_for(gone)


def test_clients_of_two_processes_talk_through_a_function(
    pair: tuple[GatewayProcess, GatewayProcess], api: SocketApi
) -> None:
    first, second = pair

    async def talk() -> str:
        async with (
            websockets.connect(_ws_url(first, api.id)) as near,
            websockets.connect(_ws_url(second, api.id)) as far,
        ):
            far_id = await _connection_id(far)
            await near.send(json.dumps({"action": "tell", "to": far_id, "text": "across processes"}))
            return str(await asyncio.wait_for(far.recv(), 20))

    assert run(talk()) == "across processes"
