"""Calling deployed REST APIs: routing, the Lambda proxy event and response rules, MOCK, errors."""

from __future__ import annotations

import base64
import json
import socket
from typing import Any

import pytest
import requests

from helpers import ECHO_EVENT, GatewayProcess, RestApi, create_function


@pytest.fixture(scope="module")
def echo_function(lam: Any) -> str:
    return create_function(lam, ECHO_EVENT)


@pytest.fixture(scope="module")
def routed(apigw: Any, echo_function: str) -> RestApi:
    api = RestApi(apigw, "routing")
    api.mock("/pets", "GET", '{"route": "literal"}')
    api.mock("/pets/{petId}", "GET", '{"route": "param", "id": "$input.params(\'petId\')"}')
    api.mock("/pets/{petId}/toys", "ANY", '{"route": "any"}')
    api.lambda_proxy("/{proxy+}", "ANY", echo_function)
    api.lambda_proxy("/echo/{id}", "POST", echo_function)
    api.deploy("test", variables={"color": "blue"})
    return api


def test_literal_beats_param_beats_greedy(gateway: GatewayProcess, routed: RestApi) -> None:
    url = gateway.invoke_url(routed.id, "test")
    assert requests.get(f"{url}pets", timeout=5).json() == {"route": "literal"}
    assert requests.get(f"{url}pets/7", timeout=5).json() == {"route": "param", "id": "7"}
    for verb in ("GET", "POST", "DELETE", "PATCH"):
        assert requests.request(verb, f"{url}pets/7/toys", timeout=5).json() == {"route": "any"}
    event = requests.get(f"{url}anything/else/here", timeout=5).json()
    assert event["resource"] == "/{proxy+}"
    assert event["pathParameters"] == {"proxy": "anything/else/here"}
    # POST /pets has no method of its own: the greedy ANY catches it
    assert requests.post(f"{url}pets", timeout=5).json()["resource"] == "/{proxy+}"


def test_unknown_path_or_verb_is_missing_authentication_token(gateway: GatewayProcess, apigw: Any) -> None:
    api = RestApi(apigw, "narrow")
    api.mock("/only", "GET", "{}")
    api.deploy()
    url = gateway.invoke_url(api.id, "test")
    for verb, path in (("GET", "nope"), ("POST", "only"), ("GET", "")):
        answer = requests.request(verb, f"{url}{path}", timeout=5)
        assert answer.status_code == 403
        assert answer.json() == {"message": "Missing Authentication Token"}
        assert answer.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    unknown_stage = requests.get(gateway.invoke_url(api.id, "nostage", "/only"), timeout=5)
    assert unknown_stage.status_code == 403 and unknown_stage.json() == {"message": "Forbidden"}


def test_proxy_event_v1_fields(gateway: GatewayProcess, routed: RestApi) -> None:
    url = gateway.invoke_url(routed.id, "test", "/echo/42") + "?a=1&a=2&b=x%20y"
    answer = requests.post(
        url,
        data='{"k": "v"}',
        timeout=5,
        headers={"Content-Type": "application/json", "X-Multi": "one", "User-Agent": "tester"},
    )
    assert answer.status_code == 200
    assert answer.headers["x-amzn-RequestId"]
    event = answer.json()
    assert event["resource"] == "/echo/{id}"
    assert event["path"] == "/echo/42"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"a": "2", "b": "x y"}  # the last value wins
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"]}
    assert event["headers"]["X-Multi"] == "one"
    assert event["multiValueHeaders"]["X-Multi"] == ["one"]
    assert event["stageVariables"] == {"color": "blue"}
    assert event["body"] == '{"k": "v"}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["path"] == "/test/echo/42"
    assert context["stage"] == "test"
    assert context["resourcePath"] == "/echo/{id}"
    assert context["httpMethod"] == "POST"
    assert context["apiId"] == routed.id
    assert context["accountId"] == "000000000000"
    assert context["protocol"] == "HTTP/1.1"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"] == "tester"
    assert context["requestId"] == answer.headers["x-amzn-RequestId"]
    assert isinstance(context["requestTimeEpoch"], int)
    assert context["requestTime"].endswith("+0000")
    assert context["resourceId"] == routed.ids["/echo/{id}"]
    assert context["domainName"] == f"{routed.id}.execute-api.localhost"


def test_repeated_headers_keep_the_last_value(gateway: GatewayProcess, routed: RestApi) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(
            f"GET /_aws/execute-api/{routed.id}/test/x HTTP/1.1\r\nHost: localhost\r\n"
            "X-Rep: first\r\nX-Rep: second\r\nConnection: close\r\n\r\n".encode()
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    event = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    assert event["headers"]["X-Rep"] == "second"
    assert event["multiValueHeaders"]["X-Rep"] == ["first", "second"]
    assert event["queryStringParameters"] is None and event["body"] is None


def test_host_form_url(gateway: GatewayProcess, routed: RestApi) -> None:
    answer = requests.get(
        f"{gateway.url}/test/pets",
        headers={"Host": f"{routed.id}.execute-api.localhost:{gateway.port}"},
        timeout=5,
    )
    assert answer.json() == {"route": "literal"}


RESPONSES = r"""
import base64, json
def lambda_handler(event, context):
    kind = event["pathParameters"]["kind"]
    if kind == "headers":
        return {"statusCode": 201, "headers": {"X-One": "single", "X-Both": "from-headers"},
                "multiValueHeaders": {"X-Both": ["m1", "m2"], "Set-Cookie": ["a=1", "b=2"]}, "body": "made"}
    if kind == "binary":
        return {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "isBase64Encoded": True,
                "body": base64.b64encode(b"\x89PNG\x00\x01").decode()}
    if kind == "raise":
        raise RuntimeError("kaput")
    if kind == "malformed":
        return {"statusCode": 200, "body": {"not": "a string"}}
    if kind == "extra":
        return {"statusCode": 200, "body": "x", "unexpected": 1}
    if kind == "not-a-dict":
        return "just a string"
    if kind == "slow":
        import time; time.sleep(2)
        return {"statusCode": 200, "body": "late"}
    return {"statusCode": 200}
"""


@pytest.fixture(scope="module")
def responses_api(apigw: Any, lam: Any) -> RestApi:
    function = create_function(lam, RESPONSES, Timeout=10)
    api = RestApi(apigw, "responses", binaryMediaTypes=["image/png"])
    api.lambda_proxy("/r/{kind}", "GET", function)
    api.lambda_proxy("/timeout/{kind}", "GET", function, timeoutInMillis=500)
    api.deploy()
    return api


def test_proxy_response_headers_merge(gateway: GatewayProcess, responses_api: RestApi) -> None:
    answer = requests.get(gateway.invoke_url(responses_api.id, "test", "/r/headers"), timeout=5)
    assert answer.status_code == 201
    assert answer.text == "made"
    assert answer.headers["X-One"] == "single"
    assert answer.raw.headers.getlist("X-Both") == ["m1", "m2"]  # multiValueHeaders win for a shared key
    assert answer.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    assert answer.headers["Content-Type"] == "application/json"  # AWS's default


def test_binary_body_depends_on_first_accept(gateway: GatewayProcess, responses_api: RestApi) -> None:
    url = gateway.invoke_url(responses_api.id, "test", "/r/binary")
    decoded = requests.get(url, headers={"Accept": "image/png"}, timeout=5)
    assert decoded.content == b"\x89PNG\x00\x01"
    as_text = requests.get(url, headers={"Accept": "text/html, image/png"}, timeout=5)
    assert as_text.content == base64.b64encode(b"\x89PNG\x00\x01")


@pytest.mark.parametrize("kind", ["raise", "malformed", "extra", "not-a-dict"])
def test_function_failures_are_502(gateway: GatewayProcess, responses_api: RestApi, kind: str) -> None:
    answer = requests.get(gateway.invoke_url(responses_api.id, "test", f"/r/{kind}"), timeout=5)
    assert answer.status_code == 502
    assert answer.json() == {"message": "Internal server error"}
    assert answer.headers["x-amzn-ErrorType"] == "InternalServerErrorException"


def test_integration_timeout_is_504(gateway: GatewayProcess, responses_api: RestApi) -> None:
    answer = requests.get(gateway.invoke_url(responses_api.id, "test", "/timeout/slow"), timeout=10)
    assert answer.status_code == 504
    assert answer.json() == {"message": "Endpoint request timed out"}
    # the gateway keeps serving, and the same function answers the next fast request
    assert requests.get(gateway.invoke_url(responses_api.id, "test", "/r/ok"), timeout=5).status_code == 200


def test_binary_request_body_is_base64_in_the_event(
    gateway: GatewayProcess, apigw: Any, echo_function: str
) -> None:
    api = RestApi(apigw, "binary-in", binaryMediaTypes=["application/octet-stream"])
    api.lambda_proxy("/up", "POST", echo_function)
    api.deploy()
    event = requests.post(
        gateway.invoke_url(api.id, "test", "/up"),
        data=b"\x00\xff\x10",
        headers={"Content-Type": "application/octet-stream"},
        timeout=5,
    ).json()
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\xff\x10"


def test_mock_status_and_template(gateway: GatewayProcess, apigw: Any) -> None:
    api = RestApi(apigw, "mock")
    api.mock(
        "/made",
        "POST",
        '{"id": "$context.requestId", "stage": "$context.stage", "v": "$stageVariables.v"}',
        status="201",
    )
    api.deploy("prod", variables={"v": "7"})
    answer = requests.post(gateway.invoke_url(api.id, "prod", "/made"), timeout=5)
    assert answer.status_code == 201
    body = answer.json()
    assert body["stage"] == "prod" and body["v"] == "7"
    assert body["id"] == answer.headers["x-amzn-RequestId"]


def test_stage_without_trailing_slash_names_nothing(gateway: GatewayProcess, apigw: Any) -> None:
    api = RestApi(apigw, "root-only")
    api.mock("/", "GET", '{"root": true}')
    api.deploy()
    assert requests.get(gateway.invoke_url(api.id, "test", "/"), timeout=5).json() == {"root": True}
    bare = requests.get(gateway.invoke_url(api.id, "test", ""), timeout=5)
    assert bare.status_code == 403 and bare.json() == {"message": "Missing Authentication Token"}


def test_a_result_without_status_code_is_200(gateway: GatewayProcess, apigw: Any, lam: Any) -> None:
    api = RestApi(apigw, "no-status")
    api.lambda_proxy(
        "/", "GET", create_function(lam, "def lambda_handler(e, c):\n    return {'body': 'ok'}\n")
    )
    api.deploy()
    answer = requests.get(gateway.invoke_url(api.id, "test", "/"), timeout=5)
    assert answer.status_code == 200 and answer.text == "ok"
