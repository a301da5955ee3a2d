"""Native CORS on HTTP APIs: the gateway answers preflight itself and sets the headers on every response."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from helpers import GatewayProcess, create_function

# A function that sets its own CORS header: the API's configuration must override it.
OWN_CORS = """
def lambda_handler(event, context):
    return {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "https://wrong.example",
            "x-custom": "1"}, "body": "hello"}
"""


@pytest.fixture(scope="module")
def cors_api(gateway: GatewayProcess, lam: Any) -> tuple[Any, str]:
    v2 = gateway.client("apigatewayv2")
    function = create_function(lam, OWN_CORS)
    api_id = v2.create_api(
        Name="cors",
        ProtocolType="HTTP",
        Target=f"arn:aws:lambda:us-east-1:000000000000:function:{function}",
        RouteKey="GET /items",
        CorsConfiguration={
            "AllowOrigins": ["https://app.example.com"],
            "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["content-type", "authorization"],
            "ExposeHeaders": ["x-custom"],
            "MaxAge": 600,
            "AllowCredentials": True,
        },
    )["ApiId"]
    return v2, str(api_id)


def test_preflight_answered_by_the_gateway(gateway: GatewayProcess, cors_api: tuple[Any, str]) -> None:
    _, api_id = cors_api
    # OPTIONS /items has no route: the gateway answers the preflight itself
    answer = requests.options(
        f"{gateway.url}/_aws/execute-api/{api_id}/items",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=10,
    )
    assert answer.status_code == 204 and answer.content == b""
    assert answer.headers["access-control-allow-origin"] == "https://app.example.com"
    assert answer.headers["access-control-allow-methods"] == "GET,POST"
    assert answer.headers["access-control-allow-headers"] == "content-type,authorization"
    assert answer.headers["access-control-max-age"] == "600"
    assert answer.headers["access-control-allow-credentials"] == "true"
    denied = requests.options(
        f"{gateway.url}/_aws/execute-api/{api_id}/items",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        timeout=10,
    )
    assert denied.status_code == 204
    assert "access-control-allow-origin" not in denied.headers


def test_headers_on_responses_override_the_integrations(
    gateway: GatewayProcess, cors_api: tuple[Any, str]
) -> None:
    _, api_id = cors_api
    url = f"{gateway.url}/_aws/execute-api/{api_id}/items"
    answer = requests.get(url, headers={"Origin": "https://app.example.com"}, timeout=10)
    assert answer.status_code == 200 and answer.text == "hello"
    assert answer.headers["access-control-allow-origin"] == "https://app.example.com"
    assert answer.headers["access-control-expose-headers"] == "x-custom"
    assert answer.headers["access-control-allow-credentials"] == "true"
    other = requests.get(url, headers={"Origin": "https://evil.example"}, timeout=10)
    assert "access-control-allow-origin" not in other.headers
    # gateway answers carry them too
    missing = requests.get(f"{url}/nope", headers={"Origin": "https://app.example.com"}, timeout=10)
    assert missing.status_code == 404
    assert missing.headers["access-control-allow-origin"] == "https://app.example.com"


def test_cors_follows_update_and_delete(gateway: GatewayProcess, cors_api: tuple[Any, str]) -> None:
    v2, api_id = cors_api
    url = f"{gateway.url}/_aws/execute-api/{api_id}/items"
    v2.update_api(ApiId=api_id, CorsConfiguration={"AllowOrigins": ["*"], "AllowMethods": ["*"]})
    answer = requests.options(
        url, headers={"Origin": "https://any.example", "Access-Control-Request-Method": "DELETE"}, timeout=10
    )
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["access-control-allow-methods"] == "DELETE"
    v2.delete_cors_configuration(ApiId=api_id)
    assert "CorsConfiguration" not in v2.get_api(ApiId=api_id)
    plain = requests.get(url, headers={"Origin": "https://app.example.com"}, timeout=10)
    # without a configuration the integration's own headers pass through
    assert plain.headers["access-control-allow-origin"] == "https://wrong.example"
