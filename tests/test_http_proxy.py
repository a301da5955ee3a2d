"""HTTP_PROXY integrations: what reaches the upstream, what comes back, and a dead upstream."""

from __future__ import annotations

import socket
from typing import Any

import requests

from helpers import GatewayProcess, RestApi


def _http_proxy(api: RestApi, path: str, verb: str, uri: str, **extra: Any) -> None:
    rid = api.resource(path)
    api.apigw.put_method(restApiId=api.id, resourceId=rid, httpMethod=verb, authorizationType="NONE")
    api.apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod=verb,
        type="HTTP_PROXY",
        integrationHttpMethod="ANY" if verb == "ANY" else verb,
        uri=uri,
        **extra,
    )


def test_forwards_method_path_query_headers_and_body(
    gateway: GatewayProcess, apigw: Any, upstream: str
) -> None:
    api = RestApi(apigw, "proxy")
    _http_proxy(
        api,
        "/api/{proxy+}",
        "ANY",
        f"{upstream}/backend/{{proxy}}",
        requestParameters={"integration.request.path.proxy": "method.request.path.proxy"},
    )
    api.deploy()
    url = gateway.invoke_url(api.id, "test", "/api/items/9") + "?q=1&q=2"
    answer = requests.put(
        url, data=b'{"name": "x"}', headers={"X-Custom": "yes", "Content-Type": "application/json"}, timeout=5
    )
    assert answer.status_code == 200
    assert answer.headers["X-Upstream"] == "echo"
    seen = answer.json()
    assert seen["method"] == "PUT"
    assert seen["path"] == "/backend/items/9?q=1&q=2"
    assert seen["body"] == '{"name": "x"}'
    headers = {k.lower(): v for k, v in seen["headers"]}
    assert headers["x-custom"] == "yes"
    assert headers["host"] == upstream.split("//")[1]  # the upstream's own host, as API Gateway sends
    # upstream status codes pass through unchanged
    assert requests.get(gateway.invoke_url(api.id, "test", "/api/status/418"), timeout=5).status_code == 418


def test_stage_variables_in_the_uri(gateway: GatewayProcess, apigw: Any, upstream: str) -> None:
    api = RestApi(apigw, "proxy-vars")
    _http_proxy(api, "/v", "GET", "http://${stageVariables.backend}/from-${stageVariables.name}")
    api.deploy("one", variables={"backend": upstream.split("//")[1], "name": "one"})
    api.apigw.create_stage(
        restApiId=api.id,
        stageName="two",
        deploymentId=api.apigw.get_stage(restApiId=api.id, stageName="one")["deploymentId"],
        variables={"backend": upstream.split("//")[1], "name": "two"},
    )
    assert requests.get(gateway.invoke_url(api.id, "one", "/v"), timeout=5).json()["path"] == "/from-one"
    assert requests.get(gateway.invoke_url(api.id, "two", "/v"), timeout=5).json()["path"] == "/from-two"


def test_dead_upstream_gives_500_and_the_gateway_keeps_serving(gateway: GatewayProcess, apigw: Any) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    api = RestApi(apigw, "dead")
    _http_proxy(api, "/x", "GET", f"http://127.0.0.1:{dead}/x")
    api.deploy()
    answer = requests.get(gateway.invoke_url(api.id, "test", "/x"), timeout=5)
    assert answer.status_code == 500
    assert answer.json() == {"message": "Internal server error"}
    assert answer.headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    assert requests.get(f"{gateway.url}/_apigate/health", timeout=5).status_code == 200
