"""WebSocket settings that were stored and not applied now take effect (issue 23, class 8): ApiKeyRequired on
$connect, RouteSettings throttles, request models, request and response templates on non-proxy integrations."""

from __future__ import annotations

import json
from typing import Any

import websockets
from websockets.exceptions import InvalidStatus

from helpers import GatewayProcess, lambda_uri
from websocket_helpers import ECHO, SocketApi, run

# A non-proxy (AWS) function: what it received is what a two-way route sends back.
RAW_ECHO = """
def lambda_handler(event, context):
    return event
"""


async def _status(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        async with websockets.connect(url, additional_headers=headers or {}):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def _refusal(url: str) -> tuple[int, str]:
    try:
        async with websockets.connect(url):
            return 101, ""
    except InvalidStatus as exc:
        return exc.response.status_code, json.loads(exc.response.body or b"{}").get("message", "")


def test_api_key_required_on_connect(gateway: GatewayProcess, apigw: Any) -> None:
    api = SocketApi(gateway)
    api.route("$connect", None, ApiKeyRequired=True)
    api.route("$default", api.integration(api.function(ECHO)), two_way=True)
    api.deploy("live")
    key = apigw.create_api_key(name="ws-key", enabled=True)
    plan = apigw.create_usage_plan(name="ws-plan", apiStages=[{"apiId": api.id, "stage": "live"}])
    assert run(_status(api.url("live"))) == 403
    assert (
        run(_status(api.url("live"), {"x-api-key": key["value"]})) == 403
    )  # not in a plan of this stage yet
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    assert run(_status(api.url("live"), {"x-api-key": key["value"]})) == 101
    assert run(_status(api.url("live"), {"x-api-key": "not-a-key-at-all-0123456789"})) == 403


def test_route_settings_throttle_messages_and_connects(gateway: GatewayProcess) -> None:
    api = SocketApi(gateway)
    api.route("$default", api.integration(api.function(ECHO)), two_way=True)
    api.deploy("slow", RouteSettings={"$default": {"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 0.001}})

    async def two() -> list[Any]:
        async with websockets.connect(api.url("slow")) as ws:
            await ws.send("one")
            first = json.loads(await ws.recv())
            await ws.send("two")
            second = json.loads(await ws.recv())
            return [first, second]

    first, second = run(two())
    assert first["requestContext"]["routeKey"] == "$default"
    assert second["message"] == "Too Many Requests" and second["connectionId"]

    limited = SocketApi(gateway)
    limited.route("$connect", None)
    limited.deploy("c", DefaultRouteSettings={"ThrottlingBurstLimit": 1, "ThrottlingRateLimit": 0.001})
    assert run(_status(limited.url("c"))) == 101
    assert run(_status(limited.url("c"))) == 429


def test_request_models_check_messages(gateway: GatewayProcess) -> None:
    api = SocketApi(gateway)
    schema = json.dumps({"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}})
    api.v2.create_model(ApiId=api.id, Name="Say", Schema=schema)
    api.route(
        "say",
        api.integration(api.function(ECHO)),
        two_way=True,
        RequestModels={"$default": "Say"},
        ModelSelectionExpression="$default",
    )
    api.deploy()

    async def both() -> list[Any]:
        async with websockets.connect(api.url()) as ws:
            await ws.send(json.dumps({"action": "say", "text": "hi"}))
            good = json.loads(await ws.recv())
            await ws.send(json.dumps({"action": "say", "text": 7}))
            bad = json.loads(await ws.recv())
            return [good, bad]

    good, bad = run(both())
    assert json.loads(good["body"]) == {"action": "say", "text": "hi"}
    assert bad["message"] == "Invalid request body" and bad["requestId"]


def test_request_templates_shape_non_proxy_function_calls(gateway: GatewayProcess) -> None:
    api = SocketApi(gateway)
    function = api.function(RAW_ECHO)
    integration = api.integration(
        IntegrationType="AWS",
        IntegrationUri=lambda_uri(function),
        IntegrationMethod="POST",
        TemplateSelectionExpression="\\$default",
        RequestTemplates={"$default": '{"said": $input.json(\'$.text\'), "who": "$context.connectionId"}'},
    )
    api.route("$default", integration, two_way=True)
    api.deploy()

    async def one() -> Any:
        async with websockets.connect(api.url()) as ws:
            await ws.send(json.dumps({"text": "hello"}))
            return json.loads(await ws.recv())

    received = run(one())
    assert received["said"] == "hello" and received["who"]


def test_response_templates_shape_what_two_way_routes_send_back(gateway: GatewayProcess) -> None:
    api = SocketApi(gateway)
    function = api.function(RAW_ECHO)
    integration = api.integration(
        IntegrationType="AWS",
        IntegrationUri=lambda_uri(function),
        IntegrationMethod="POST",
        TemplateSelectionExpression="\\$default",
        RequestTemplates={"$default": "$input.body"},
    )
    # The status selects the integration response: a /5\d\d/ key does not take a 200, $default does.
    api.v2.create_integration_response(
        ApiId=api.id,
        IntegrationId=integration,
        IntegrationResponseKey="/5\\d\\d/",
        ResponseTemplates={"$default": '{"failed": true}'},
        TemplateSelectionExpression="\\$default",
    )
    api.v2.create_integration_response(
        ApiId=api.id,
        IntegrationId=integration,
        IntegrationResponseKey="$default",
        ResponseTemplates={"$default": '{"reply": $input.json(\'$.text\'), "route": "$context.routeKey"}'},
        TemplateSelectionExpression="\\$default",
    )
    api.route("$default", integration, two_way=True)
    api.deploy()

    async def one() -> Any:
        async with websockets.connect(api.url()) as ws:
            await ws.send(json.dumps({"text": "hello"}))
            return json.loads(await ws.recv())

    assert run(one()) == {"reply": "hello", "route": "$default"}


def test_required_connect_parameters(gateway: GatewayProcess) -> None:
    api = SocketApi(gateway)
    api.route(
        "$connect",
        None,
        RequestParameters={
            "route.request.header.X-Tenant": {"Required": True},
            "route.request.querystring.room": {"Required": True},
            "route.request.querystring.optional": {"Required": False},
        },
    )
    api.route("$default", api.integration(api.function(ECHO)), two_way=True)
    api.deploy("params")
    assert run(_refusal(api.url("params"))) == (400, "Missing required request parameters: [X-Tenant, room]")
    assert run(_refusal(api.url("params", "room=a"))) == (
        400,
        "Missing required request parameters: [X-Tenant]",
    )
    assert run(_status(api.url("params", "room=a"), {"x-tenant": "t1"})) == 101


def _presigned(url: str, key: str, secret: str) -> str:
    """A wss-style URL presigned for execute-api, as SigV4 WebSocket clients connect."""
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url=url.replace("ws://", "http://", 1))
    SigV4QueryAuth(Credentials(key, secret), "execute-api", "us-east-1", expires=300).add_auth(request)
    return str(request.prepare().url).replace("http://", "ws://", 1)


def test_aws_iam_on_connect(gateway: GatewayProcess) -> None:
    iam = gateway.client("iam")
    api = SocketApi(gateway)
    api.route("$connect", None, AuthorizationType="AWS_IAM")
    api.route("$default", api.integration(api.function(ECHO)), two_way=True)
    api.deploy("iam")
    allowed = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "execute-api:Invoke",
                    "Resource": f"arn:aws:execute-api:us-east-1:*:{api.id}/iam/$connect",
                }
            ],
        }
    )
    keys = []
    for name, policies in (("ws-allowed", [allowed]), ("ws-nothing", [])):
        user = f"{name}-{api.id}"
        iam.create_user(UserName=user)
        for index, document in enumerate(policies):
            iam.put_user_policy(UserName=user, PolicyName=f"p{index}", PolicyDocument=document)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        keys.append((key["AccessKeyId"], key["SecretAccessKey"]))
    assert run(_refusal(api.url("iam"))) == (403, "Missing Authentication Token")
    assert run(_status(_presigned(api.url("iam"), *keys[0]))) == 101
    status, message = run(_refusal(_presigned(api.url("iam"), *keys[1])))
    assert status == 403 and message.startswith("User: arn:aws:iam::") and "is not authorized" in message
    status, message = run(_refusal(_presigned(api.url("iam"), keys[0][0], "wrong-secret")))
    assert status == 403 and "signature" in message.lower()
