"""WebSocket APIs: management through apigatewayv2, the data plane with real clients, @connections via boto3."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import websockets
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed, InvalidStatus

from helpers import GatewayProcess, function_writable_dir, lambda_uri
from websocket_helpers import ECHO, RECORDER, SocketApi, events, run, wait_for_events


@pytest.fixture(scope="module")
def echo_api(gateway: GatewayProcess) -> SocketApi:
    """$connect, $default (two-way), "echo" (two-way) and "quiet" (one-way), all to the echo function."""
    api = SocketApi(gateway)
    echo = api.integration(api.function(ECHO))
    api.route("$connect", echo)
    api.route("$default", echo, two_way=True)
    api.route("echo", echo, two_way=True)
    api.route("quiet", echo)
    api.deploy()
    return api


@pytest.fixture(scope="module")
def recorded(gateway: GatewayProcess) -> Iterator[tuple[SocketApi, Path]]:
    """Every route to a function that writes its events to a folder."""
    with function_writable_dir("ws-events") as out:
        api = SocketApi(gateway)
        recorder = api.integration(api.function(RECORDER, Environment={"Variables": {"OUT_DIR": str(out)}}))
        for key in ("$connect", "$disconnect"):
            api.route(key, recorder)
        api.route("$default", recorder, two_way=True)
        api.deploy()
        yield api, out


# --- management ---------------------------------------------------------------------------------------------


def test_a_websocket_api_is_created_and_listed_with_its_protocol(gateway: GatewayProcess) -> None:
    v2 = gateway.client("apigatewayv2")
    api = SocketApi(gateway, "${request.body.service}/${request.body.action}")
    doc = v2.get_api(ApiId=api.id)
    assert doc["ProtocolType"] == "WEBSOCKET"
    assert doc["RouteSelectionExpression"] == "${request.body.service}/${request.body.action}"
    assert doc["ApiKeySelectionExpression"] == "$request.header.x-api-key"
    assert doc["ApiEndpoint"].startswith(f"wss://{api.id}.execute-api.")
    assert api.id in {a["ApiId"] for a in v2.get_apis()["Items"]}


def test_management_applies_websocket_rules(gateway: GatewayProcess) -> None:
    v2 = gateway.client("apigatewayv2")
    with pytest.raises(ClientError) as missing:
        v2.create_api(Name="x", ProtocolType="WEBSOCKET")
    assert missing.value.response["Error"]["Code"] == "BadRequestException"
    api = SocketApi(gateway)
    fn = api.function(ECHO)
    integration = api.integration(fn)
    with pytest.raises(ClientError) as reserved:
        api.route("$other", integration)
    assert "reserved" in reserved.value.response["Error"]["Message"]
    api.route("sendmessage", integration)
    with pytest.raises(ClientError) as duplicate:
        api.route("sendmessage", integration)
    assert duplicate.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as jwt:
        v2.create_authorizer(
            ApiId=api.id,
            Name="jwt",
            AuthorizerType="JWT",
            IdentitySource=["route.request.header.Authorization"],
            JwtConfiguration={"Issuer": "https://issuer.example"},
        )
    assert "REQUEST" in jwt.value.response["Error"]["Message"]
    route = api.route("$default", integration)
    with pytest.raises(ClientError) as key:
        v2.create_route_response(ApiId=api.id, RouteId=route, RouteResponseKey="200")
    assert key.value.response["Error"]["Code"] == "BadRequestException"
    created = v2.create_route_response(ApiId=api.id, RouteId=route, RouteResponseKey="$default")
    listed = v2.get_route_responses(ApiId=api.id, RouteId=route)["Items"]
    assert [r["RouteResponseId"] for r in listed] == [created["RouteResponseId"]]
    assert (
        v2.get_route_response(ApiId=api.id, RouteId=route, RouteResponseId=created["RouteResponseId"])[
            "RouteResponseKey"
        ]
        == "$default"
    )
    mock = v2.create_integration(ApiId=api.id, IntegrationType="MOCK")
    assert mock["IntegrationType"] == "MOCK"
    keys = sorted(r["RouteKey"] for r in v2.get_routes(ApiId=api.id)["Items"])
    assert keys == ["$default", "sendmessage"]


# --- connecting and routing -------------------------------------------------------------------------------------


def test_messages_are_routed_by_the_selection_expression(echo_api: SocketApi) -> None:
    async def conversation() -> list[dict[str, Any]]:
        async with websockets.connect(echo_api.url()) as ws:
            answers = []
            for message in (
                json.dumps({"action": "echo", "n": 1}),
                json.dumps({"action": "unknown"}),
                "not json at all",
                json.dumps(["a", "list"]),
            ):
                await ws.send(message)
                answers.append(json.loads(await ws.recv()))
            return answers

    echo, unknown, text, array = run(conversation())
    assert echo["requestContext"]["routeKey"] == "echo"
    assert json.loads(echo["body"]) == {"action": "echo", "n": 1}
    assert unknown["requestContext"]["routeKey"] == "$default"
    assert text["requestContext"]["routeKey"] == "$default"
    assert text["body"] == "not json at all"
    assert array["requestContext"]["routeKey"] == "$default"


def test_a_message_event_carries_awss_request_context(echo_api: SocketApi) -> None:
    async def one() -> tuple[dict[str, Any], dict[str, Any]]:
        async with websockets.connect(echo_api.url(), user_agent_header="tests/1.0") as ws:
            await ws.send(json.dumps({"action": "echo"}))
            first = json.loads(await ws.recv())
            await ws.send(json.dumps({"action": "echo"}))
            return first, json.loads(await ws.recv())

    first, second = run(one())
    context = first["requestContext"]
    assert context["eventType"] == "MESSAGE"
    assert context["messageDirection"] == "IN"
    assert context["stage"] == "dev"
    assert context["apiId"] == echo_api.id
    assert context["domainName"] == f"{echo_api.id}.execute-api.localhost"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "tests/1.0"
    assert isinstance(context["connectedAt"], int) and context["connectedAt"] <= context["requestTimeEpoch"]
    assert context["connectionId"].endswith("=") and len(context["connectionId"]) == 16
    assert second["requestContext"]["connectionId"] == context["connectionId"]
    assert second["requestContext"]["messageId"] != context["messageId"]
    assert second["requestContext"]["requestId"] != context["requestId"]
    assert first["isBase64Encoded"] is False


def test_binary_messages_reach_the_function_base64_encoded(echo_api: SocketApi) -> None:
    async def one() -> dict[str, Any]:
        async with websockets.connect(echo_api.url()) as ws:
            await ws.send(b"\x00\x01\xff")
            return json.loads(await ws.recv())

    event = run(one())
    assert event["isBase64Encoded"] is True
    assert event["body"] == "AAH/"


def test_a_one_way_route_sends_nothing_back(echo_api: SocketApi) -> None:
    async def one() -> dict[str, Any]:
        async with websockets.connect(echo_api.url()) as ws:
            await ws.send(json.dumps({"action": "quiet"}))
            await ws.send(json.dumps({"action": "echo", "after": "quiet"}))
            return json.loads(await ws.recv())

    answer = run(one())
    assert json.loads(answer["body"]) == {"action": "echo", "after": "quiet"}


def test_composite_selection_expressions_pick_the_route(gateway: GatewayProcess) -> None:
    api = SocketApi(gateway, "${request.body.service}/${request.body.action}")
    echo = api.integration(api.function(ECHO))
    api.route("chat/join", echo, two_way=True)
    api.route("$default", echo, two_way=True)
    api.deploy()

    async def two() -> list[str]:
        async with websockets.connect(api.url()) as ws:
            keys = []
            for body in ({"service": "chat", "action": "join"}, {"service": "chat"}):
                await ws.send(json.dumps(body))
                keys.append(json.loads(await ws.recv())["requestContext"]["routeKey"])
            return keys

    assert run(two()) == ["chat/join", "$default"]


def test_a_message_without_a_route_gets_awss_forbidden_frame(gateway: GatewayProcess) -> None:
    api = SocketApi(gateway)
    api.route("only", api.integration(api.function(ECHO)), two_way=True)
    api.deploy()

    async def one() -> dict[str, Any]:
        async with websockets.connect(api.url()) as ws:
            await ws.send(json.dumps({"action": "other"}))
            return json.loads(await ws.recv())

    answer = run(one())
    assert answer["message"] == "Forbidden"
    assert answer["connectionId"] and answer["requestId"]


def test_a_failing_function_gets_the_internal_server_error_frame(gateway: GatewayProcess) -> None:
    api = SocketApi(gateway)
    failing = api.function("def lambda_handler(event, context):\n    raise ValueError('no')\n")
    api.route("$default", api.integration(failing), two_way=True)
    api.deploy()

    async def one() -> dict[str, Any]:
        async with websockets.connect(api.url()) as ws:
            await ws.send("hello")
            return json.loads(await ws.recv())

    assert run(one())["message"] == "Internal server error"


def test_a_mock_route_answers_its_integration_response(gateway: GatewayProcess) -> None:
    api = SocketApi(gateway)
    mock = api.integration(IntegrationType="MOCK", RequestTemplates={"$default": '{"statusCode": 200}'})
    api.v2.create_integration_response(
        ApiId=api.id,
        IntegrationId=mock,
        IntegrationResponseKey="$default",
        ResponseTemplates={"$default": '{"pong": true}'},
    )
    api.route("$default", mock, two_way=True)
    api.deploy()

    async def one() -> str:
        async with websockets.connect(api.url()) as ws:
            await ws.send("ping")
            return str(await ws.recv())

    assert json.loads(run(one())) == {"pong": True}


def test_connect_sees_query_string_and_headers(recorded: tuple[SocketApi, Path]) -> None:
    api, out = recorded

    async def connect() -> None:
        async with websockets.connect(
            api.url(query="room=blue&room=red&name=ada"), additional_headers={"X-Team": "core"}
        ) as ws:
            await ws.send("hello")

    run(connect())
    event = next(
        e for e in wait_for_events(out, "CONNECT") if (e.get("queryStringParameters") or {}).get("name")
    )
    assert event["requestContext"]["routeKey"] == "$connect"
    assert event["requestContext"]["eventType"] == "CONNECT"
    assert event["queryStringParameters"] == {"room": "red", "name": "ada"}
    assert event["multiValueQueryStringParameters"]["room"] == ["blue", "red"]
    assert event["headers"]["X-Team"] == "core"
    assert event["headers"]["Sec-WebSocket-Version"] == "13"
    assert event["multiValueHeaders"]["X-Team"] == ["core"]


def test_connect_refusing_refuses_the_upgrade_with_its_status(recorded: tuple[SocketApi, Path]) -> None:
    api, out = recorded

    async def refused() -> int:
        try:
            async with websockets.connect(api.url(query="status=403")):
                pass
        except InvalidStatus as exc:
            return exc.response.status_code
        return 101

    assert run(refused()) == 403
    refused_connect = next(
        e for e in wait_for_events(out, "CONNECT") if (e.get("queryStringParameters") or {}).get("status")
    )
    # the connection never existed: no $disconnect for it
    assert not events(out, "DISCONNECT", refused_connect["requestContext"]["connectionId"])


def test_disconnect_runs_once_with_the_clients_close_code(recorded: tuple[SocketApi, Path]) -> None:
    api, out = recorded

    async def session() -> str:
        async with websockets.connect(api.url()) as ws:
            await ws.send("who am i")
            connection_id = str(await ws.recv())
            await ws.close(4001, "bye now")
            return connection_id

    connection_id = run(session())
    (event,) = wait_for_events(out, "DISCONNECT", connection_id)
    context = event["requestContext"]
    assert context["routeKey"] == "$disconnect"
    assert context["disconnectStatusCode"] == 4001
    assert context["disconnectReason"] == "bye now"
    assert context["connectionId"] == connection_id
    run(asyncio.sleep(0.3))
    assert len(events(out, "DISCONNECT", connection_id)) == 1


def test_disconnect_runs_when_the_client_just_drops(recorded: tuple[SocketApi, Path]) -> None:
    api, out = recorded

    async def session() -> str:
        ws = await websockets.connect(api.url())
        await ws.send("drop me")
        connection_id = str(await ws.recv())
        ws.transport.abort()  # no close frame
        return connection_id

    connection_id = run(session())
    (event,) = wait_for_events(out, "DISCONNECT", connection_id)
    assert event["requestContext"]["disconnectStatusCode"] == 1006


def test_an_api_without_a_deployed_stage_refuses_the_handshake(gateway: GatewayProcess) -> None:
    api = SocketApi(gateway)

    async def refused() -> int:
        try:
            async with websockets.connect(api.url("nostage")):
                pass
        except InvalidStatus as exc:
            return exc.response.status_code
        return 101

    assert run(refused()) == 403


def test_plain_http_to_a_stage_asks_for_an_upgrade(echo_api: SocketApi) -> None:
    answer = requests.get(echo_api.stage_url(), timeout=10)
    assert answer.status_code == 426
    missing = requests.get(echo_api.stage_url("nostage"), timeout=10)  # as the handshake: AWS's 403
    assert (missing.status_code, missing.json()) == (403, {"message": "Forbidden"})


def test_an_upgrade_request_to_a_rest_api_is_answered_as_a_request(gateway: GatewayProcess) -> None:
    answer = requests.get(
        f"{gateway.url}/_apigate/health",
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": "x",
            "Sec-WebSocket-Version": "13",
        },
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["status"] == "ok"


# --- $connect authorizers -----------------------------------------------------------------------------------

AUTHORIZER = """
def lambda_handler(event, context):
    token = (event.get("queryStringParameters") or {}).get("token")
    if token == "boom":
        raise Exception("Unauthorized")
    assert event["type"] == "REQUEST" and event["methodArn"].endswith("/dev/$connect"), event
    effect = "Allow" if token == "good" else "Deny"
    return {
        "principalId": "user-7",
        "policyDocument": {"Version": "2012-10-17",
                           "Statement": [{"Action": "execute-api:Invoke", "Effect": effect,
                                          "Resource": event["methodArn"]}]},
        "context": {"role": "admin", "level": 3},
    }
"""


def test_a_request_authorizer_guards_connect(gateway: GatewayProcess) -> None:
    api = SocketApi(gateway)
    authorizer = api.v2.create_authorizer(
        ApiId=api.id,
        Name="tokens",
        AuthorizerType="REQUEST",
        AuthorizerUri=lambda_uri(api.function(AUTHORIZER)),
        IdentitySource=["route.request.querystring.token"],
    )["AuthorizerId"]
    echo = api.integration(api.function(ECHO))
    api.route("$connect", echo, AuthorizationType="CUSTOM", AuthorizerId=authorizer)
    api.route("$default", echo, two_way=True)
    api.deploy()

    async def status(query: str) -> int:
        try:
            async with websockets.connect(api.url(query=query)):
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code

    async def allowed() -> dict[str, Any]:
        async with websockets.connect(api.url(query="token=good")) as ws:
            await ws.send("hi")
            return json.loads(await ws.recv())

    assert run(status("")) == 401  # no identity source: refused without calling the authorizer
    assert run(status("token=bad")) == 403
    assert run(status("token=boom")) == 401
    event = run(allowed())
    assert event["requestContext"]["authorizer"] == {"principalId": "user-7", "role": "admin", "level": 3}


# --- @connections -----------------------------------------------------------------------------------------------


def test_connections_post_get_and_delete(echo_api: SocketApi) -> None:
    client = echo_api.connections()

    async def session() -> dict[str, Any]:
        async with websockets.connect(echo_api.url(), user_agent_header="agent/2") as ws:
            await ws.send(json.dumps({"action": "echo"}))
            connection_id = json.loads(await ws.recv())["requestContext"]["connectionId"]
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(
                None, lambda: client.post_to_connection(ConnectionId=connection_id, Data=b"hey")
            )
            pushed = await ws.recv()
            info = await loop.run_in_executor(None, lambda: client.get_connection(ConnectionId=connection_id))
            deleted = await loop.run_in_executor(
                None, lambda: client.delete_connection(ConnectionId=connection_id)
            )
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return {"id": connection_id, "pushed": pushed, "info": info, "deleted": deleted}

    result = run(session())
    assert result["pushed"] == "hey"
    info = result["info"]
    assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "agent/2"}
    assert info["ConnectedAt"] <= info["LastActiveAt"]
    assert result["deleted"]["ResponseMetadata"]["HTTPStatusCode"] == 204
    for call in (
        lambda: client.post_to_connection(ConnectionId=result["id"], Data=b"late"),
        lambda: client.get_connection(ConnectionId=result["id"]),
        lambda: client.delete_connection(ConnectionId=result["id"]),
    ):
        with pytest.raises(ClientError) as gone:
            call()
        assert gone.value.response["Error"]["Code"] == "GoneException"
        assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


def test_connections_at_the_gateway_root_and_the_host_form(
    echo_api: SocketApi, gateway: GatewayProcess
) -> None:
    """What boto3 in a function reaches through AWS_ENDPOINT_URL, and the stage's host-form URL."""
    import boto3

    root = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=gateway.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )

    async def session() -> list[Any]:
        async with websockets.connect(echo_api.url()) as ws:
            await ws.send(json.dumps({"action": "echo"}))
            connection_id = json.loads(await ws.recv())["requestContext"]["connectionId"]
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(
                None, lambda: root.post_to_connection(ConnectionId=connection_id, Data=b"1")
            )
            first = await ws.recv()
            answer = await loop.run_in_executor(
                None,
                lambda: requests.post(
                    f"{gateway.url}/dev/@connections/{connection_id}",
                    data=b"2",
                    headers={"Host": f"{echo_api.id}.execute-api.localhost:{gateway.port}"},
                    timeout=10,
                ),
            )
            second = await ws.recv()
            return [first, answer.status_code, second]

    assert run(session()) == ["1", 200, "2"]


def test_a_post_larger_than_128_kb_is_refused(echo_api: SocketApi) -> None:
    client = echo_api.connections()

    async def session() -> str:
        async with websockets.connect(echo_api.url()) as ws:
            await ws.send(json.dumps({"action": "echo"}))
            connection_id = json.loads(await ws.recv())["requestContext"]["connectionId"]
            loop = asyncio.get_running_loop()
            with pytest.raises(ClientError) as large:
                await loop.run_in_executor(
                    None,
                    lambda: client.post_to_connection(
                        ConnectionId=connection_id, Data=b"x" * (128 * 1024 + 1)
                    ),
                )
            await loop.run_in_executor(
                None, lambda: client.post_to_connection(ConnectionId=connection_id, Data=b"y" * (128 * 1024))
            )
            assert len(await ws.recv()) == 128 * 1024
            return str(large.value.response["Error"]["Code"])

    assert run(session()) == "PayloadTooLargeException"


def test_a_function_posts_to_connections_with_plain_boto3(gateway: GatewayProcess) -> None:
    api = SocketApi(gateway)
    source = """
import boto3
def lambda_handler(event, context):
    client = boto3.client("apigatewaymanagementapi")  # AWS_ENDPOINT_URL and the region come from apigate
    client.post_to_connection(ConnectionId=event["requestContext"]["connectionId"], Data=b"from the function")
    return {"statusCode": 200}
"""
    api.route("$default", api.integration(api.function(source, Timeout=30)))
    api.deploy()

    async def one() -> str:
        async with websockets.connect(api.url()) as ws:
            await ws.send("hello")
            return str(await ws.recv())

    assert run(one()) == "from the function"


def test_the_host_form_url_connects_too(echo_api: SocketApi, gateway: GatewayProcess) -> None:
    async def one() -> dict[str, Any]:
        # ws://{apiId}.execute-api.localhost:{port}/dev, resolved to loopback as a browser would
        url = f"ws://{echo_api.id}.execute-api.localhost:{gateway.port}/dev"
        async with websockets.connect(url, host="127.0.0.1", port=gateway.port) as ws:
            await ws.send(json.dumps({"action": "echo"}))
            return json.loads(await ws.recv())

    context = run(one())["requestContext"]
    assert context["routeKey"] == "echo"
    assert context["domainName"] == f"{echo_api.id}.execute-api.localhost"


def test_connect_can_choose_the_subprotocol(gateway: GatewayProcess) -> None:
    api = SocketApi(gateway)
    chooser = """
def lambda_handler(event, context):
    offered = event["headers"].get("Sec-WebSocket-Protocol", "")
    return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": offered.split(",")[-1].strip()}}
"""
    api.route("$connect", api.integration(api.function(chooser)))
    api.route("$default", api.integration(api.function(ECHO)), two_way=True)
    api.deploy()

    async def one() -> str | None:
        async with websockets.connect(api.url(), subprotocols=["v1.chat", "v2.chat"]) as ws:
            return ws.subprotocol

    assert run(one()) == "v2.chat"


def test_delete_from_the_backend_runs_disconnect_with_our_close(recorded: tuple[SocketApi, Path]) -> None:
    api, out = recorded
    client = api.connections()

    async def session() -> tuple[str, int | None]:
        async with websockets.connect(api.url()) as ws:
            await ws.send("hello")
            connection_id = str(await ws.recv())
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, lambda: client.delete_connection(ConnectionId=connection_id))
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            return connection_id, closed.value.rcvd.code if closed.value.rcvd else None

    connection_id, code = run(session())
    assert code == 1000
    (event,) = wait_for_events(out, "DISCONNECT", connection_id)
    assert event["requestContext"]["disconnectStatusCode"] == 1000


def test_shutdown_closes_connections_with_1001_and_runs_disconnect(tmp_path: Path) -> None:
    with function_writable_dir("ws-shutdown") as out:
        _shutdown_closes_connections_with_1001_and_runs_disconnect(tmp_path, out)


def _shutdown_closes_connections_with_1001_and_runs_disconnect(tmp_path: Path, out: Path) -> None:
    process = GatewayProcess(tmp_path / "data")
    process.start()
    try:
        api = SocketApi(process)
        recorder = api.integration(api.function(RECORDER, Environment={"Variables": {"OUT_DIR": str(out)}}))
        api.route("$disconnect", recorder)
        api.route("$default", recorder, two_way=True)
        api.deploy()

        async def session() -> tuple[str, int | None]:
            async with websockets.connect(api.url()) as ws:
                await ws.send("hello")
                connection_id = str(await ws.recv())
                loop = asyncio.get_running_loop()
                stopping = loop.run_in_executor(None, process.stop)
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.recv()
                await stopping
                return connection_id, closed.value.rcvd.code if closed.value.rcvd else None

        connection_id, code = run(session())
    finally:
        if process.proc is not None:
            process.stop()
    assert code == 1001
    (event,) = wait_for_events(out, "DISCONNECT", connection_id)
    assert event["requestContext"]["disconnectStatusCode"] == 1001


def test_a_redeployment_applies_to_open_connections_and_deleting_the_api_closes_them(
    gateway: GatewayProcess,
) -> None:
    api = SocketApi(gateway)
    echo = api.integration(api.function(ECHO))
    api.route("$default", echo, two_way=True)
    api.deploy()

    async def session() -> tuple[str, str, int | None]:
        async with websockets.connect(api.url()) as ws:
            await ws.send(json.dumps({"action": "later"}))
            before = json.loads(await ws.recv())["requestContext"]["routeKey"]
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, lambda: (api.route("later", echo, two_way=True), api.deploy()))
            await ws.send(json.dumps({"action": "later"}))
            after = json.loads(await ws.recv())["requestContext"]["routeKey"]
            await loop.run_in_executor(None, lambda: api.v2.delete_api(ApiId=api.id))
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            return before, after, closed.value.rcvd.code if closed.value.rcvd else None

    assert run(session()) == ("$default", "later", 1001)


def test_stage_variables_choose_the_function(gateway: GatewayProcess) -> None:
    api = SocketApi(gateway)
    function = api.function(ECHO)
    uri = lambda_uri("${stageVariables.handler}")
    api.route("$default", api.integration(IntegrationType="AWS_PROXY", IntegrationUri=uri), two_way=True)
    api.deploy(StageVariables={"handler": function})

    async def one() -> dict[str, Any]:
        async with websockets.connect(api.url()) as ws:
            await ws.send("which one")
            return json.loads(await ws.recv())

    assert run(one())["body"] == "which one"
