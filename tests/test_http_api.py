"""HTTP APIs (apigatewayv2): the management API with boto3, routing, payload 2.0/1.0, errors, stages, restart."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from botocore.exceptions import ClientError

from helpers import GatewayProcess, create_function, wait_for

ECHO_V2 = """
import json
def lambda_handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"""

SHAPES = """
import json, time
def lambda_handler(event, context):
    kind = (event.get("queryStringParameters") or {}).get("kind")
    if kind == "plain":
        return {"message": "no status code"}
    if kind == "string":
        return "Hello from Lambda!"
    if kind == "cookies":
        return {"statusCode": 201, "cookies": ["a=1; Path=/", "b=2"], "headers": {"x-one": "1"}, "body": "ok"}
    if kind == "raise":
        raise RuntimeError("boom")
    if kind == "slow":
        time.sleep(3)
    return {"statusCode": 200, "body": "fine"}
"""


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:us-east-1:000000000000:function:{name}"


@pytest.fixture(scope="module")
def v2(gateway: GatewayProcess) -> Any:
    return gateway.client("apigatewayv2")


@pytest.fixture(scope="module")
def echo(lam: Any) -> str:
    return create_function(lam, ECHO_V2)


@pytest.fixture(scope="module")
def shapes(lam: Any) -> str:
    return create_function(lam, SHAPES, Timeout=10)


def base(gateway: GatewayProcess, api_id: str, stage: str = "$default") -> str:
    prefix = f"{gateway.url}/_aws/execute-api/{api_id}"
    return prefix if stage == "$default" else f"{prefix}/{stage}"


def lambda_integration(v2: Any, api_id: str, function: str, version: str = "2.0", **extra: Any) -> str:
    return str(
        v2.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=function_arn(function),
            PayloadFormatVersion=version,
            **extra,
        )["IntegrationId"]
    )


def test_api_crud(v2: Any) -> None:
    created = v2.create_api(Name="crud", ProtocolType="HTTP", Description="first")
    api_id = created["ApiId"]
    assert created["ProtocolType"] == "HTTP"
    assert created["RouteSelectionExpression"] == "$request.method $request.path"
    assert created["ApiEndpoint"].startswith(f"https://{api_id}.execute-api.")
    assert v2.get_api(ApiId=api_id)["Description"] == "first"
    assert api_id in [item["ApiId"] for item in v2.get_apis()["Items"]]
    updated = v2.update_api(ApiId=api_id, Name="renamed")
    assert updated["Name"] == "renamed" and updated["Description"] == "first"
    route = v2.create_route(ApiId=api_id, RouteKey="GET /pets/{id}")
    assert v2.get_route(ApiId=api_id, RouteId=route["RouteId"])["RouteKey"] == "GET /pets/{id}"
    with pytest.raises(ClientError) as conflict:
        v2.create_route(ApiId=api_id, RouteKey="GET /pets/{id}")
    assert conflict.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as invalid:
        v2.create_route(ApiId=api_id, RouteKey="FETCH /pets")
    assert invalid.value.response["Error"]["Code"] == "BadRequestException"
    v2.update_route(ApiId=api_id, RouteId=route["RouteId"], RouteKey="GET /cats/{id}")
    assert [r["RouteKey"] for r in v2.get_routes(ApiId=api_id)["Items"]] == ["GET /cats/{id}"]
    v2.delete_route(ApiId=api_id, RouteId=route["RouteId"])
    assert v2.get_routes(ApiId=api_id)["Items"] == []
    with pytest.raises(ClientError) as too_long:
        v2.create_integration(
            ApiId=api_id,
            IntegrationType="HTTP_PROXY",
            IntegrationUri="http://example.com",
            IntegrationMethod="ANY",
            PayloadFormatVersion="1.0",
            TimeoutInMillis=30001,
        )
    assert too_long.value.response["Error"]["Code"] == "BadRequestException"
    v2.delete_api(ApiId=api_id)
    with pytest.raises(ClientError) as gone:
        v2.get_api(ApiId=api_id)
    assert gone.value.response["Error"]["Code"] == "NotFoundException"


def test_quick_create_serves_default_stage_at_root(gateway: GatewayProcess, v2: Any, echo: str) -> None:
    api = v2.create_api(Name="quick", ProtocolType="HTTP", Target=function_arn(echo))
    api_id = api["ApiId"]
    stages = v2.get_stages(ApiId=api_id)["Items"]
    assert [(s["StageName"], s["AutoDeploy"]) for s in stages] == [("$default", True)]
    assert [r["RouteKey"] for r in v2.get_routes(ApiId=api_id)["Items"]] == ["$default"]
    integration = v2.get_integrations(ApiId=api_id)["Items"][0]
    assert integration["IntegrationType"] == "AWS_PROXY" and integration["PayloadFormatVersion"] == "2.0"
    event = requests.get(f"{base(gateway, api_id)}/any/path?x=1", timeout=10).json()
    assert event["routeKey"] == "$default"
    assert event["rawPath"] == "/any/path"
    assert event["requestContext"]["stage"] == "$default"
    # The host form serves the same stage
    answer = requests.get(
        f"{gateway.url}/hello", headers={"Host": f"{api_id}.execute-api.localhost"}, timeout=10
    )
    assert answer.json()["rawPath"] == "/hello"
    assert answer.headers["apigw-requestid"]


def test_update_api_retargets_quick_create(gateway: GatewayProcess, v2: Any, echo: str, upstream: str) -> None:
    api_id = v2.create_api(Name="retarget", ProtocolType="HTTP", Target=function_arn(echo))["ApiId"]
    # A URL target turns the quick-created integration into an HTTP proxy; RouteKey renames its route.
    v2.update_api(ApiId=api_id, Target=f"{upstream}/backend", RouteKey="GET /things")
    integration = v2.get_integrations(ApiId=api_id)["Items"][0]
    assert (integration["IntegrationType"], integration["IntegrationUri"]) == ("HTTP_PROXY", f"{upstream}/backend")
    assert [r["RouteKey"] for r in v2.get_routes(ApiId=api_id)["Items"]] == ["GET /things"]
    answer = requests.get(f"{base(gateway, api_id)}/things", timeout=10)
    assert answer.headers["X-Upstream"] == "echo" and answer.json()["path"] == "/backend"
    assert requests.get(f"{base(gateway, api_id)}/other", timeout=10).status_code == 404
    # An API made without quick create has no target to update.
    plain = v2.create_api(Name="plain", ProtocolType="HTTP")["ApiId"]
    with pytest.raises(v2.exceptions.BadRequestException):
        v2.update_api(ApiId=plain, Target=f"{upstream}/x")


@pytest.fixture(scope="module")
def routed(v2: Any, echo: str) -> str:
    api_id = v2.create_api(Name="routes", ProtocolType="HTTP")["ApiId"]
    target = f"integrations/{lambda_integration(v2, api_id, echo)}"
    for key in (
        "GET /pets/{id}",
        "GET /pets/dog",
        "ANY /pets/{id}",
        "ANY /{proxy+}",
        "POST /pets/{id}/toys/{toy+}",
    ):
        v2.create_route(ApiId=api_id, RouteKey=key, Target=target)
    v2.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True, StageVariables={"color": "blue"})
    return str(api_id)


def test_route_matching_most_specific_first(gateway: GatewayProcess, routed: str) -> None:
    url = base(gateway, routed, "prod")

    def key(verb: str, path: str) -> str:
        return str(requests.request(verb, f"{url}{path}", timeout=10).json()["routeKey"])

    assert key("GET", "/pets/dog") == "GET /pets/dog"
    assert key("GET", "/pets/7") == "GET /pets/{id}"
    assert key("DELETE", "/pets/7") == "ANY /pets/{id}"
    assert key("GET", "/pets/7/more") == "ANY /{proxy+}"
    assert key("POST", "/pets/7/toys/a/b") == "POST /pets/{id}/toys/{toy+}"
    event = requests.post(f"{url}/pets/7/toys/a/b", timeout=10).json()
    assert event["pathParameters"] == {"id": "7", "toy": "a/b"}
    assert event["stageVariables"] == {"color": "blue"}
    assert event["rawPath"] == "/prod/pets/7/toys/a/b"
    assert event["requestContext"]["http"]["path"] == "/prod/pets/7/toys/a/b"
    # the root matches no route (a greedy variable needs a segment) and there is no $default route
    answer = requests.get(f"{url}/", timeout=10)
    assert answer.status_code == 404 and answer.json() == {"message": "Not Found"}
    # no $default stage: nothing is served at the root of the API
    other = requests.get(f"{base(gateway, routed)}/pets/7", timeout=10)
    assert other.status_code == 404 and other.json() == {"message": "Not Found"}


def test_default_route_catches_the_rest(gateway: GatewayProcess, v2: Any, echo: str) -> None:
    api_id = v2.create_api(Name="default-route", ProtocolType="HTTP")["ApiId"]
    target = f"integrations/{lambda_integration(v2, api_id, echo)}"
    v2.create_route(ApiId=api_id, RouteKey="GET /only", Target=target)
    v2.create_route(ApiId=api_id, RouteKey="$default", Target=target)
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    url = base(gateway, api_id)
    assert requests.get(f"{url}/only", timeout=10).json()["routeKey"] == "GET /only"
    assert requests.post(f"{url}/only", timeout=10).json()["routeKey"] == "$default"
    assert requests.get(f"{url}/", timeout=10).json()["routeKey"] == "$default"


def test_payload_v2_event_fields(gateway: GatewayProcess, routed: str) -> None:
    parts = urlsplit(base(gateway, routed, "prod"))
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    body = b'{"k": "v"}'
    connection.putrequest("POST", f"{parts.path}/pets/42?a=1&a=2&b=x%20y&c", skip_accept_encoding=True)
    connection.putheader("Content-Type", "application/json")
    connection.putheader("X-Multi", "one")
    connection.putheader("X-Multi", "two")
    connection.putheader("Cookie", "s=1; t=2")
    connection.putheader("Cookie", "u=3")
    connection.putheader("User-Agent", "tester")
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    answer = connection.getresponse()
    event = json.loads(answer.read())
    connection.close()
    assert answer.status == 200
    assert event["version"] == "2.0"
    assert event["routeKey"] == "ANY /pets/{id}"
    assert event["rawPath"] == "/prod/pets/42"
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y&c"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y", "c": ""}
    assert event["cookies"] == ["s=1", "t=2", "u=3"]
    assert event["headers"]["x-multi"] == "one,two"
    assert event["headers"]["user-agent"] == "tester"
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-forwarded-port"] == str(parts.port)
    assert "cookie" not in event["headers"] and "X-Multi" not in event["headers"]
    assert event["pathParameters"] == {"id": "42"}
    assert event["body"] == '{"k": "v"}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["apiId"] == routed and context["stage"] == "prod"
    assert context["routeKey"] == "ANY /pets/{id}"
    assert context["http"] == {
        "method": "POST",
        "path": "/prod/pets/42",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "tester",
    }
    assert context["accountId"] == "000000000000"
    assert isinstance(context["timeEpoch"], int) and context["time"].endswith("+0000")
    assert context["requestId"] == answer.getheader("apigw-requestid")
    assert "multiValueHeaders" not in event


def test_binary_body_is_base64(gateway: GatewayProcess, routed: str) -> None:
    raw = bytes(range(256))
    event = requests.post(
        f"{base(gateway, routed, 'prod')}/pets/1",
        data=raw,
        headers={"Content-Type": "application/octet-stream"},
        timeout=10,
    ).json()
    assert event["isBase64Encoded"] is True
    import base64

    assert base64.b64decode(event["body"]) == raw


@pytest.fixture(scope="module")
def shaped(v2: Any, shapes: str) -> str:
    api_id = v2.create_api(Name="shapes", ProtocolType="HTTP")["ApiId"]
    fast = lambda_integration(v2, api_id, shapes, TimeoutInMillis=1000)
    v2.create_route(ApiId=api_id, RouteKey="GET /shape", Target=f"integrations/{fast}")
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    return str(api_id)


def test_response_v2_rules(gateway: GatewayProcess, shaped: str) -> None:
    url = f"{base(gateway, shaped)}/shape"
    plain = requests.get(url, params={"kind": "plain"}, timeout=10)
    assert plain.status_code == 200
    assert plain.headers["content-type"] == "application/json"
    assert plain.json() == {"message": "no status code"}
    text = requests.get(url, params={"kind": "string"}, timeout=10)
    assert text.status_code == 200 and text.text == "Hello from Lambda!"
    cookies = requests.get(url, params={"kind": "cookies"}, timeout=10)
    assert cookies.status_code == 201 and cookies.text == "ok"
    assert cookies.headers["x-one"] == "1"
    assert cookies.raw.headers.getlist("set-cookie") == ["a=1; Path=/", "b=2"]


def test_function_error_and_timeout(gateway: GatewayProcess, shaped: str) -> None:
    url = f"{base(gateway, shaped)}/shape"
    failed = requests.get(url, params={"kind": "raise"}, timeout=10)
    assert failed.status_code == 500 and failed.json() == {"message": "Internal Server Error"}
    slow = requests.get(url, params={"kind": "slow"}, timeout=10)
    assert slow.status_code == 503 and slow.json() == {"message": "Service Unavailable"}


def test_payload_v1_on_http_api(gateway: GatewayProcess, v2: Any, lam: Any) -> None:
    function = create_function(
        lam,
        "import json\ndef lambda_handler(event, context):\n"
        "    return {'statusCode': 200, 'body': json.dumps(event)}\n",
    )
    api_id = v2.create_api(Name="v1", ProtocolType="HTTP")["ApiId"]
    integration = lambda_integration(v2, api_id, function, version="1.0")
    v2.create_route(ApiId=api_id, RouteKey="GET /items/{id}", Target=f"integrations/{integration}")
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    event = requests.get(f"{base(gateway, api_id)}/items/9?q=1&q=2", timeout=10).json()
    assert event["version"] == "1.0"
    assert event["resource"] == "/items/{id}"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "9"}
    assert event["multiValueQueryStringParameters"] == {"q": ["1", "2"]}
    assert event["requestContext"]["stage"] == "$default"


def test_http_proxy_and_manual_deployment(gateway: GatewayProcess, v2: Any, upstream: str) -> None:
    api_id = v2.create_api(Name="proxy", ProtocolType="HTTP")["ApiId"]
    integration = v2.create_integration(
        ApiId=api_id,
        IntegrationType="HTTP_PROXY",
        IntegrationUri=f"{upstream}/backend/{{proxy}}",
        IntegrationMethod="ANY",
        PayloadFormatVersion="1.0",
        TimeoutInMillis=5000,
    )["IntegrationId"]
    v2.create_route(ApiId=api_id, RouteKey="ANY /{proxy+}", Target=f"integrations/{integration}")
    v2.create_stage(ApiId=api_id, StageName="live")
    url = base(gateway, api_id, "live")
    assert requests.get(f"{url}/a/b", timeout=10).status_code == 404  # created, not deployed
    deployment = v2.create_deployment(ApiId=api_id, StageName="live")
    assert deployment["DeploymentStatus"] == "DEPLOYED"
    assert v2.get_stage(ApiId=api_id, StageName="live")["DeploymentId"] == deployment["DeploymentId"]
    answer = requests.put(f"{url}/a/b?z=1", data="payload", timeout=10)
    assert answer.status_code == 200 and answer.headers["X-Upstream"] == "echo"
    seen = answer.json()
    assert seen["method"] == "PUT" and seen["path"] == "/backend/a/b?z=1" and seen["body"] == "payload"
    # a new route is not served on a stage without AutoDeploy until the next deployment
    v2.create_route(ApiId=api_id, RouteKey="GET /status/{code}", Target=f"integrations/{integration}")
    assert [d["DeploymentId"] for d in v2.get_deployments(ApiId=api_id)["Items"]] == [
        deployment["DeploymentId"]
    ]


def test_served_again_after_restart(tmp_path: Path) -> None:
    process = GatewayProcess(tmp_path)
    process.start()
    try:
        client = process.client("apigatewayv2")
        function = create_function(process.client("lambda"), ECHO_V2)
        api_id = client.create_api(Name="persist", ProtocolType="HTTP", Target=function_arn(function))[
            "ApiId"
        ]
        url = f"{process.url}/_aws/execute-api/{api_id}/pets"
        assert requests.get(url, timeout=10).json()["rawPath"] == "/pets"
    finally:
        process.stop()
    process.start()
    try:
        assert (
            requests.get(f"{process.url}/_aws/execute-api/{api_id}/pets", timeout=10).json()["rawPath"]
            == "/pets"
        )
        assert process.client("apigatewayv2").get_api(ApiId=api_id)["Name"] == "persist"
    finally:
        process.stop()


def test_route_throttling(gateway: GatewayProcess, v2: Any, echo: str) -> None:
    api_id = v2.create_api(Name="throttled", ProtocolType="HTTP")["ApiId"]
    target = f"integrations/{lambda_integration(v2, api_id, echo)}"
    v2.create_route(ApiId=api_id, RouteKey="GET /tight", Target=target)
    v2.create_route(ApiId=api_id, RouteKey="GET /loose", Target=target)
    v2.create_route(ApiId=api_id, RouteKey="GET /closed", Target=target)
    v2.create_stage(
        ApiId=api_id,
        StageName="$default",
        AutoDeploy=True,
        # refills so slowly that no token comes back during the test
        DefaultRouteSettings={"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": 0.0001},
        RouteSettings={
            "GET /loose": {"ThrottlingBurstLimit": 100},
            "GET /closed": {"ThrottlingBurstLimit": 0, "ThrottlingRateLimit": 0},
        },
    )
    url = base(gateway, api_id)
    statuses = [requests.get(f"{url}/tight", timeout=10).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = requests.get(f"{url}/tight", timeout=10)
    assert limited.json() == {"message": "Too Many Requests"}
    assert [requests.get(f"{url}/loose", timeout=10).status_code for _ in range(4)] == [200] * 4
    assert requests.get(f"{url}/closed", timeout=10).status_code == 429


def test_parameter_mapping(gateway: GatewayProcess, v2: Any, upstream: str) -> None:
    api_id = v2.create_api(Name="mapping", ProtocolType="HTTP")["ApiId"]
    integration = v2.create_integration(
        ApiId=api_id,
        IntegrationType="HTTP_PROXY",
        IntegrationUri=f"{upstream}/orig",
        IntegrationMethod="GET",
        PayloadFormatVersion="1.0",
        RequestParameters={
            "append:header.x-added": "$request.header.x-in",
            "overwrite:header.x-stage": "$stageVariables.tier",
            "remove:header.x-secret": "''",
            "overwrite:querystring.item": "$request.path.id",
            "remove:querystring.drop": "''",
            "overwrite:path": "/rewritten/${request.path.id}",
        },
        ResponseParameters={"200": {"overwrite:header.x-upstream": "mapped", "overwrite:statuscode": "202"}},
    )["IntegrationId"]
    v2.create_route(ApiId=api_id, RouteKey="GET /things/{id}", Target=f"integrations/{integration}")
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True, StageVariables={"tier": "gold"})
    with pytest.raises(ClientError):
        v2.update_integration(ApiId=api_id, IntegrationId=integration, RequestParameters={"bogus:x": "y"})
    answer = requests.get(
        f"{base(gateway, api_id)}/things/5?drop=1&keep=2",
        headers={"x-in": "hello", "x-secret": "s"},
        timeout=10,
    )
    assert answer.status_code == 202
    assert answer.headers["x-upstream"] == "mapped"
    seen = answer.json()
    headers = {k.lower(): v for k, v in seen["headers"]}
    assert headers["x-added"] == "hello" and headers["x-stage"] == "gold"
    assert "x-secret" not in headers
    path, _, query = seen["path"].partition("?")
    assert sorted(query.split("&")) == ["item=5", "keep=2"]
    assert path == "/rewritten/5"


def test_other_process_on_the_same_data_dir_follows(tmp_path: Path) -> None:
    first, second = GatewayProcess(tmp_path), GatewayProcess(tmp_path)
    first.start()
    second.start()
    try:
        client = first.client("apigatewayv2")
        function = create_function(first.client("lambda"), ECHO_V2)
        api_id = client.create_api(Name="shared", ProtocolType="HTTP", Target=function_arn(function))["ApiId"]

        def status(process: GatewayProcess) -> int:
            return requests.get(f"{process.url}/_aws/execute-api/{api_id}/x", timeout=10).status_code

        wait_for(lambda: status(second) == 200)
        client.delete_api(ApiId=api_id)
        assert status(first) == 403  # an unknown API, as for REST
        wait_for(lambda: status(second) == 403)
    finally:
        second.stop()
        first.stop()
