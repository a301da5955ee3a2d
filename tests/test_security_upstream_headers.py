"""What reaches the upstream: mapped headers a client cannot remove (issue #13, item 4), greedy path values that
cannot climb above the integration's base path (item 9), and a stage that never caches a Set-Cookie (item 14).

Requests go out on raw sockets (``test_security_paths.raw_get``) so that ``Connection`` lists and dot segments
reach the gateway as written; the echo upstream (conftest) answers with the request line and headers it got.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest
from test_security_paths import mock_method, raw_get, target

from helpers import GatewayProcess, RestApi, unique


def upstream_saw(body: bytes) -> tuple[str, dict[str, list[str]]]:
    seen = json.loads(body)
    headers: dict[str, list[str]] = {}
    for name, value in seen["headers"]:
        headers.setdefault(name.lower(), []).append(value)
    return seen["path"], headers


def assert_below_base(path: str) -> None:
    """Under /base/, and no segment the upstream could read as a dot segment after decoding once."""
    assert path.startswith("/base/"), path
    for segment in unquote(path.split("?")[0]).split("/"):
        assert segment not in (".", ".."), path


# -- REST: HTTP_PROXY ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rest_api(apigw: Any, upstream: str) -> RestApi:
    api = RestApi(apigw, unique("upstream-rest"))
    api.http_proxy(
        "/files/{proxy+}",
        "GET",
        f"{upstream}/base/{{proxy}}",
        requestParameters={
            "integration.request.path.proxy": "method.request.path.proxy",
            "integration.request.header.X-Shared-Secret": "'sekrit'",
            "integration.request.header.X-Stage": "context.stage",
        },
    )
    # A header mapped into the path: the value is the client's, whole.
    api.http_proxy(
        "/mapped/{proxy+}",
        "GET",
        f"{upstream}/base/{{proxy}}",
        requestParameters={"integration.request.path.proxy": "method.request.header.X-Path"},
    )
    api.deploy()
    return api


def test_client_cannot_name_mapped_headers_away(gateway: GatewayProcess, rest_api: RestApi) -> None:
    status, _, body = raw_get(
        gateway,
        target(rest_api.id, "test", "/files/doc"),
        [
            ("Connection", "X-Shared-Secret, X-Stage, X-Drop"),
            ("Connection", "x-shared-secret"),
            ("X-Shared-Secret", "forged"),
            ("X-Drop", "per hop"),
            ("X-Kept", "end to end"),
        ],
    )
    assert status == 200, body
    path, headers = upstream_saw(body)
    assert path == "/base/doc"
    assert headers["x-shared-secret"] == ["sekrit"]
    assert headers["x-stage"] == ["test"]
    assert "x-drop" not in headers  # what the client named in Connection is still hop-by-hop
    assert headers["x-kept"] == ["end to end"]
    assert "connection" not in headers


@pytest.mark.parametrize(
    "path",
    [
        "/files/a/../../../etc/passwd",
        "/files/%2e%2e/%2e%2e/etc/passwd",
        "/files/..%2F..%2Fetc%2Fpasswd",
        "/files/.%2e/.%2E/etc/passwd",
    ],
)
def test_greedy_value_cannot_climb_rest(gateway: GatewayProcess, rest_api: RestApi, path: str) -> None:
    # Resolved before routing: /etc/passwd has no resource, and the upstream is never called.
    status, headers, body = raw_get(gateway, target(rest_api.id, "test", path))
    assert status == 403 and headers["x-amzn-errortype"] == "MissingAuthenticationTokenException", body


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/files/sub/../doc", "/base/doc"),
        ("/files/a/%252e%252e/%252e%252e/x", "/base/a/%252e%252e/%252e%252e/x"),
        ("/files/a%252F..%252F..%252Fx", "/base/a%252F..%252F..%252Fx"),
        ("/files/a b/c", "/base/a%20b/c"),
    ],
)
def test_greedy_value_stays_below_the_base_rest(
    gateway: GatewayProcess, rest_api: RestApi, path: str, expected: str
) -> None:
    status, _, body = raw_get(gateway, target(rest_api.id, "test", path.replace(" ", "%20")))
    assert status == 200, body
    seen, _ = upstream_saw(body)
    assert seen == expected
    assert_below_base(seen)


@pytest.mark.parametrize("value", ["../../etc/passwd", "a/../../../etc/passwd", "/../etc/passwd", "%2e%2e/x"])
def test_mapped_path_value_cannot_climb_rest(gateway: GatewayProcess, rest_api: RestApi, value: str) -> None:
    status, _, body = raw_get(gateway, target(rest_api.id, "test", "/mapped/ignored"), [("X-Path", value)])
    assert status == 200, body
    seen, _ = upstream_saw(body)
    assert_below_base(seen)


# -- HTTP APIs: HTTP_PROXY --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_api(gateway: GatewayProcess, upstream: str) -> str:
    v2 = gateway.client("apigatewayv2")
    api_id = v2.create_api(Name=unique("upstream-http"), ProtocolType="HTTP")["ApiId"]
    proxied = v2.create_integration(
        ApiId=api_id,
        IntegrationType="HTTP_PROXY",
        IntegrationUri=f"{upstream}/base/{{proxy}}",
        IntegrationMethod="GET",
        PayloadFormatVersion="1.0",
        RequestParameters={"overwrite:header.x-shared-secret": "sekrit"},
    )["IntegrationId"]
    rewritten = v2.create_integration(
        ApiId=api_id,
        IntegrationType="HTTP_PROXY",
        IntegrationUri=f"{upstream}/unused",
        IntegrationMethod="GET",
        PayloadFormatVersion="1.0",
        RequestParameters={"overwrite:path": "/base/${request.header.x-path}"},
    )["IntegrationId"]
    v2.create_route(ApiId=api_id, RouteKey="GET /files/{proxy+}", Target=f"integrations/{proxied}")
    v2.create_route(ApiId=api_id, RouteKey="GET /mapped", Target=f"integrations/{rewritten}")
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    return api_id


def test_client_cannot_name_mapped_headers_away_http_api(gateway: GatewayProcess, http_api: str) -> None:
    status, _, body = raw_get(
        gateway,
        f"/_aws/execute-api/{http_api}/files/doc",
        [("Connection", "x-shared-secret, x-drop"), ("X-Shared-Secret", "forged"), ("X-Drop", "per hop")],
    )
    assert status == 200, body
    path, headers = upstream_saw(body)
    assert path == "/base/doc"
    assert headers["x-shared-secret"] == ["sekrit"]
    assert "x-drop" not in headers


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/files/a/../../../etc/passwd", None),
        ("/files/%2e%2e/%2e%2e/etc/passwd", None),
        ("/files/sub/%2E%2E/doc", "/base/doc"),
        ("/files/a/%252e%252e/%252e%252e/x", "/base/a/%252e%252e/%252e%252e/x"),
    ],
)
def test_greedy_value_cannot_climb_http_api(
    gateway: GatewayProcess, http_api: str, path: str, expected: str | None
) -> None:
    status, _, body = raw_get(gateway, f"/_aws/execute-api/{http_api}{path}")
    if expected is None:  # resolved before routing: no route, the upstream is never called
        assert (status, json.loads(body)) == (404, {"message": "Not Found"})
        return
    assert status == 200, body
    seen, _ = upstream_saw(body)
    assert seen == expected
    assert_below_base(seen)


@pytest.mark.parametrize("value", ["../../etc/passwd", "a/../../../etc/passwd", "%2e%2e/x"])
def test_mapped_path_value_cannot_climb_http_api(gateway: GatewayProcess, http_api: str, value: str) -> None:
    status, _, body = raw_get(gateway, f"/_aws/execute-api/{http_api}/mapped", [("X-Path", value)])
    assert status == 200, body
    seen, _ = upstream_saw(body)
    assert_below_base(seen)


# -- a stage that never caches Set-Cookie ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cookie_api(apigw: Any) -> RestApi:
    api = RestApi(apigw, unique("cookies"))
    body = '{"request": "$context.requestId"}'
    for path in ("/login", "/plain"):
        mock_method(apigw, api, path, body)
    rid = api.resource("/login")
    apigw.update_method_response(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        statusCode="200",
        patchOperations=[{"op": "add", "path": "/responseParameters/method.response.header.Set-Cookie"}],
    )
    apigw.update_integration_response(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        statusCode="200",
        patchOperations=[
            {
                "op": "add",
                "path": "/responseParameters/method.response.header.Set-Cookie",
                "value": "'session=abc; HttpOnly'",
            }
        ],
    )
    for stage, variables in (("shared", {}), ("private", {"apigateCacheSkipSetCookie": "true"})):
        api.deploy(stage, cacheClusterEnabled=True, cacheClusterSize="0.5", variables=variables)
        apigw.update_stage(
            restApiId=api.id,
            stageName=stage,
            patchOperations=[
                {"op": "replace", "path": "/*/*/caching/enabled", "value": "true"},
                {"op": "replace", "path": "/*/*/caching/ttlInSeconds", "value": "300"},
            ],
        )
    return api


def twice(gateway: GatewayProcess, api: RestApi, stage: str, path: str) -> tuple[str, str, dict[str, str]]:
    _, _, first = raw_get(gateway, target(api.id, stage, path))
    _, headers, second = raw_get(gateway, target(api.id, stage, path))
    return json.loads(first)["request"], json.loads(second)["request"], headers


def test_set_cookie_responses_cached_by_default(gateway: GatewayProcess, cookie_api: RestApi) -> None:
    # As on AWS: the cache key has no Authorization, so one caller's cookie is served to the next.
    first, second, headers = twice(gateway, cookie_api, "shared", "/login")
    assert first == second
    assert headers["set-cookie"] == "session=abc; HttpOnly"


def test_stage_setting_never_stores_set_cookie(gateway: GatewayProcess, cookie_api: RestApi) -> None:
    first, second, headers = twice(gateway, cookie_api, "private", "/login")
    assert first != second  # each caller got a response of its own
    assert headers["set-cookie"] == "session=abc; HttpOnly"
    first, second, _ = twice(gateway, cookie_api, "private", "/plain")
    assert first == second  # responses without a cookie are still cached on that stage
