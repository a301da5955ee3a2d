"""``@connections`` is a management call: only the exact ``/{stage}/@connections/{id}`` form, for a deployed stage
of the connection's own API; under --admin-key signed by an identity allowed ``execute-api:ManageConnections``
on the connection's ARN (the gateway-root form included). Real websockets clients, boto3 and raw requests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import requests
import websockets
from botocore.exceptions import ClientError

from helpers import REDIS_URL, GatewayProcess, require_redis, unique, wait_for
from websocket_helpers import ECHO, SocketApi, run

ADMIN = ("AKIAADMINEXAMPLE0003", "admin-secret-for-connection-tests")
ACCOUNT = "000000000000"


def management(endpoint: str, key: tuple[str, ...], region: str = "us-east-1") -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
        aws_session_token=key[2] if len(key) > 2 else None,
    )


def failure(call: Callable[[], Any]) -> tuple[str, int]:
    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("the call was allowed")


def echo_api(
    gateway: GatewayProcess, function: str | None = None, stages: tuple[str, ...] = ("dev",)
) -> SocketApi:
    api = SocketApi(gateway)
    api.route("$default", api.integration(function or api.function(ECHO)), two_way=True)
    for stage in stages:
        api.deploy(stage)
    return api


async def blocking(call: Callable[[], Any]) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, call)


async def connection_id(ws: Any) -> str:
    await ws.send("who am i")
    return str(json.loads(await ws.recv())["requestContext"]["connectionId"])


# --- without --admin-key: open, but scoped to the connection's own API and stage ------------------------------


@pytest.fixture(scope="module")
def apis(gateway: GatewayProcess) -> tuple[SocketApi, SocketApi]:
    first = echo_api(gateway, stages=("dev", "prod"))
    function = first.v2.get_integrations(ApiId=first.id)["Items"][0]["IntegrationUri"]
    second = SocketApi(gateway)
    second.route(
        "$default",
        second.v2.create_integration(ApiId=second.id, IntegrationType="AWS_PROXY", IntegrationUri=function)[
            "IntegrationId"
        ],
        two_way=True,
    )
    second.deploy("dev")
    return first, second


def test_a_connection_is_reached_only_through_its_own_api_and_stage(
    apis: tuple[SocketApi, SocketApi], gateway: GatewayProcess
) -> None:
    first, second = apis
    key = ("test", "test")

    async def session() -> dict[str, Any]:
        async with websockets.connect(first.url("dev")) as ws:
            cid = await connection_id(ws)
            found: dict[str, Any] = {}
            for label, endpoint in (
                ("other api", second.stage_url("dev")),
                ("other stage", first.stage_url("prod")),
                ("missing stage", first.stage_url("nope")),
            ):
                client = management(endpoint, key)
                found[label] = [
                    await blocking(
                        lambda c=client: failure(lambda: c.post_to_connection(ConnectionId=cid, Data=b"x"))
                    ),
                    await blocking(lambda c=client: failure(lambda: c.get_connection(ConnectionId=cid))),
                    await blocking(lambda c=client: failure(lambda: c.delete_connection(ConnectionId=cid))),
                ]
            base = f"{gateway.url}/_aws/execute-api/{first.id}"
            found["inexact"] = [
                (await blocking(lambda u=url: requests.post(u, data=b"x", timeout=5))).status_code
                for url in (
                    f"{base}/dev/x/@connections/{cid}",
                    f"{base}/@connections/{cid}",
                    f"{base}/dev//@connections/{cid}",
                    f"{base}/dev/@connections/{cid}/more",
                    f"{base}/dev/@connections/{cid}/",
                    f"{gateway.url}/dev/@connections/{cid}",  # the stage form at the gateway root
                )
            ]
            # Nothing above reached the client: the next thing it receives is what its own stage posts.
            await blocking(
                lambda: management(first.stage_url("dev"), key).post_to_connection(
                    ConnectionId=cid, Data=b"marker"
                )
            )
            found["first message"] = await ws.recv()
            await blocking(
                lambda: management(gateway.url, key).post_to_connection(ConnectionId=cid, Data=b"root")
            )
            found["root"] = await ws.recv()
            return found

    found = run(session())
    gone = [("GoneException", 410)] * 3
    assert found["other api"] == gone
    assert found["other stage"] == gone
    assert found["missing stage"] == [("ForbiddenException", 403)] * 3
    assert found["inexact"][:5] == [403] * 5
    assert found["inexact"][5] != 200
    assert found["first message"] == "marker"
    assert found["root"] == "root"  # the gateway-root form: the connection's own API and stage


# --- under --admin-key: SigV4 and execute-api:ManageConnections -----------------------------------------------


class AdminGateway(GatewayProcess):
    """Management calls signed with the admin key (SocketApi builds through ``client``)."""

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=ADMIN[0],
            aws_secret_access_key=ADMIN[1],
        )


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminGateway]:
    process = AdminGateway(tmp_path_factory.mktemp("connections-admin"), ["--admin-key", ":".join(ADMIN)])
    process.start()
    yield process
    process.stop()


def user_with_policy(gateway: AdminGateway, statements: list[dict[str, Any]]) -> tuple[str, str]:
    iam = gateway.client("iam")
    name = unique("conn-user")
    iam.create_user(UserName=name)
    if statements:
        iam.put_user_policy(
            UserName=name,
            PolicyName="connections",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def allow(resource: str, effect: str = "Allow") -> dict[str, Any]:
    return {"Effect": effect, "Action": "execute-api:ManageConnections", "Resource": resource}


def test_connections_need_manage_connections_under_the_admin_key(guarded: AdminGateway) -> None:
    first = echo_api(guarded)
    second = echo_api(guarded)
    arn = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{first.id}/dev"
    poster = user_with_policy(guarded, [allow(f"{arn}/POST/@connections/*")])
    nobody = user_with_policy(guarded, [])
    denied = user_with_policy(guarded, [allow("*"), allow(f"{arn}/*", "Deny")])
    # A role session (how functions get credentials): its role's policies decide.
    iam = guarded.client("iam")
    role = unique("conn-role")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role,
        PolicyName="connections",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow(f"{arn}/*")]}),
    )
    creds = guarded.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="fn")["Credentials"]
    session = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])

    async def attack() -> dict[str, Any]:
        async with websockets.connect(first.url()) as ws, websockets.connect(second.url()) as other:
            cid, other_cid = await connection_id(ws), await connection_id(other)
            stage = first.stage_url()
            found: dict[str, Any] = {}
            unsigned = await blocking(
                lambda: requests.post(f"{stage}/@connections/{cid}", data=b"x", timeout=5)
            )
            found["unsigned"] = (unsigned.status_code, unsigned.headers.get("x-amzn-ErrorType"))
            unsigned_root = await blocking(
                lambda: requests.post(f"{guarded.url}/@connections/{cid}", data=b"x", timeout=5)
            )
            found["unsigned root"] = (
                unsigned_root.status_code,
                unsigned_root.headers.get("x-amzn-ErrorType"),
            )
            for label, key in (("nobody", nobody), ("denied", denied)):
                found[label] = await blocking(
                    lambda k=key: failure(
                        lambda: management(stage, k).post_to_connection(ConnectionId=cid, Data=b"x")
                    )
                )
            found["poster get"] = await blocking(
                lambda: failure(lambda: management(stage, poster).get_connection(ConnectionId=cid))
            )
            found["poster other api"] = await blocking(
                lambda: failure(
                    lambda: management(second.stage_url(), poster).post_to_connection(
                        ConnectionId=cid, Data=b"x"
                    )
                )
            )
            found["poster root, other api's connection"] = await blocking(
                lambda: failure(
                    lambda: management(guarded.url, poster).post_to_connection(
                        ConnectionId=other_cid, Data=b"x"
                    )
                )
            )
            found["wrong region"] = await blocking(
                lambda: failure(
                    lambda: management(stage, ADMIN, "eu-west-1").post_to_connection(
                        ConnectionId=cid, Data=b"x"
                    )
                )
            )
            found["admin at the other api"] = await blocking(
                lambda: failure(
                    lambda: management(second.stage_url(), ADMIN).get_connection(ConnectionId=cid)
                )
            )
            # None of that reached either client; what is allowed does.
            await blocking(lambda: management(stage, poster).post_to_connection(ConnectionId=cid, Data=b"1"))
            await blocking(
                lambda: management(guarded.url, poster).post_to_connection(ConnectionId=cid, Data=b"2")
            )
            await blocking(
                lambda: management(guarded.url, session).post_to_connection(ConnectionId=cid, Data=b"3")
            )
            await blocking(
                lambda: management(guarded.url, ADMIN).post_to_connection(ConnectionId=other_cid, Data=b"4")
            )
            found["received"] = [await ws.recv() for _ in range(3)]
            found["other received"] = await other.recv()
            return found

    found = run(attack())
    assert found["unsigned"] == (403, "MissingAuthenticationTokenException")
    assert found["unsigned root"] == (403, "MissingAuthenticationTokenException")
    assert found["nobody"] == ("AccessDeniedException", 403)
    assert found["denied"] == ("AccessDeniedException", 403)
    assert found["poster get"] == ("AccessDeniedException", 403)  # allowed POST only, as its policy says
    assert found["poster other api"] == ("AccessDeniedException", 403)
    assert found["poster root, other api's connection"] == ("AccessDeniedException", 403)
    assert found["wrong region"] == ("InvalidSignatureException", 403)
    assert found["admin at the other api"] == ("GoneException", 410)
    assert found["received"] == ["1", "2", "3"]
    assert found["other received"] == "4"


# --- two processes sharing Redis: the relayed call is scoped the same way ---------------------------------------


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, GatewayProcess]]:
    require_redis()
    data = tmp_path_factory.mktemp("connections-shared")
    first = GatewayProcess(data, ["--redis", REDIS_URL])
    second = GatewayProcess(data, ["--redis", REDIS_URL])
    first.start()
    second.start()
    yield first, second
    second.stop()
    first.stop()


def test_a_relayed_call_reaches_only_the_connections_own_api(
    pair: tuple[GatewayProcess, GatewayProcess],
) -> None:
    first, second = pair
    mine = echo_api(first)
    other = echo_api(first)
    for api in (mine, other):  # the second process serves them once it has seen the change
        wait_for(
            lambda a=api: (
                requests.get(f"{second.url}/_aws/execute-api/{a.id}/dev", timeout=5).status_code == 426
            )
        )
    key = ("test", "test")

    async def session() -> list[Any]:
        async with websockets.connect(mine.url()) as ws:  # held by the first process
            cid = await connection_id(ws)
            through_other = management(f"{second.url}/_aws/execute-api/{other.id}/dev", key)
            through_mine = management(f"{second.url}/_aws/execute-api/{mine.id}/dev", key)
            refused = [
                await blocking(
                    lambda: failure(lambda: through_other.post_to_connection(ConnectionId=cid, Data=b"x"))
                ),
                await blocking(lambda: failure(lambda: through_other.delete_connection(ConnectionId=cid))),
            ]
            await blocking(lambda: through_mine.post_to_connection(ConnectionId=cid, Data=b"relayed"))
            return [*refused, await ws.recv()]

    assert run(session()) == [("GoneException", 410), ("GoneException", 410), "relayed"]
