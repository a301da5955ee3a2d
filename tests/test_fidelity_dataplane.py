"""Data-plane edges as AWS serves them (issue 23, class 7): overrides in mapping templates, `#set` on map
entries, `$input.path` of lists and maps, the trace header, TestInvokeMethod's ANY fallback."""

from __future__ import annotations

import json
from typing import Any

import requests

from helpers import GatewayProcess, RestApi


def _mock(apigw: Any, api: RestApi, path: str, request_template: str, response_template: str,
          verb: str = "POST") -> None:
    rid = api.resource(path)
    apigw.put_method(restApiId=api.id, resourceId=rid, httpMethod=verb, authorizationType="NONE")
    apigw.put_integration(
        restApiId=api.id, resourceId=rid, httpMethod=verb, type="MOCK",
        requestTemplates={"application/json": request_template},
    )
    apigw.put_method_response(restApiId=api.id, resourceId=rid, httpMethod=verb, statusCode="200")
    apigw.put_integration_response(
        restApiId=api.id, resourceId=rid, httpMethod=verb, statusCode="200",
        responseTemplates={"application/json": response_template},
    )


def test_mapping_template_edges(gateway: GatewayProcess, apigw: Any, upstream: str) -> None:
    api = RestApi(apigw, "fidelity-vtl")
    _mock(
        apigw, api, "/override", '{"statusCode": 200}',
        '#set($context.responseOverride.status = 418)'
        '#set($context.responseOverride.header.X-Teapot = "short and stout")'
        '{"brewed": false}',
    )
    _mock(
        apigw, api, "/request-override",
        '#set($context.requestOverride.header.X-Seen = "from the request")'
        '{"statusCode": 200}',
        '{"seen": "$context.requestOverride.header.X-Seen"}',
    )
    _mock(
        apigw, api, "/map-entry", '{"statusCode": 200}',
        '#set($m = {})#set($m.name = "rex")#set($m["kind"] = "dog"){"name": "$m.name", "kind": "$m.kind"}',
    )
    rid = api.resource("/paths")
    apigw.put_method(restApiId=api.id, resourceId=rid, httpMethod="POST", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api.id, resourceId=rid, httpMethod="POST", type="HTTP", integrationHttpMethod="POST",
        uri=upstream + "/paths",
        requestTemplates={"application/json": '{"list": "$input.path(\'$.list\')", '
                                              '"map": "$input.path(\'$.map\')"}'},
    )
    apigw.put_integration_response(restApiId=api.id, resourceId=rid, httpMethod="POST", statusCode="200")
    api.deploy("t")
    url = gateway.invoke_url(api.id, "t", "")
    teapot = requests.post(url + "/override", json={}, timeout=5)
    assert (teapot.status_code, teapot.headers["X-Teapot"], teapot.json()) == (
        418, "short and stout", {"brewed": False}
    )
    assert requests.post(url + "/request-override", json={}, timeout=5).json() == {"seen": "from the request"}
    assert requests.post(url + "/map-entry", json={}, timeout=5).json() == {"name": "rex", "kind": "dog"}
    # lists and maps render as Java's List/Map toString, as AWS renders them
    rendered = requests.post(url + "/paths", json={"list": [1, "a"], "map": {"k": "v", "n": 2}}, timeout=5)
    assert json.loads(rendered.json()["body"]) == {"list": "[1, a]", "map": "{k=v, n=2}"}


def test_trace_header_reaches_http_integrations(gateway: GatewayProcess, apigw: Any, upstream: str) -> None:
    api = RestApi(apigw, "fidelity-trace")
    api.http_proxy("/echo", "GET", upstream + "/echo")
    api.deploy("t")
    given = "Root=1-5f84c7a9-1234567890abcdef01234567;Sampled=1"
    seen = requests.get(gateway.invoke_url(api.id, "t", "/echo"), headers={"X-Amzn-Trace-Id": given}, timeout=5)
    headers = {k.lower(): v for k, v in seen.json()["headers"]}
    assert headers["x-amzn-trace-id"].startswith("Root=1-5f84c7a9-1234567890abcdef01234567")
    fresh = requests.get(gateway.invoke_url(api.id, "t", "/echo"), timeout=5)
    created = {k.lower(): v for k, v in fresh.json()["headers"]}["x-amzn-trace-id"]
    assert created.startswith("Root=1-")


def test_test_invoke_method_falls_back_to_any(apigw: Any) -> None:
    api = RestApi(apigw, "fidelity-test-invoke")
    api.mock("/any", "ANY", '{"any": true}')
    answer = apigw.test_invoke_method(restApiId=api.id, resourceId=api.ids["/any"], httpMethod="GET")
    assert answer["status"] == 200 and json.loads(answer["body"]) == {"any": True}
    assert "Method request path:" in answer["log"]
    assert "Method completed with status: 200" in answer["log"]


def test_test_invoke_log_of_a_mock_is_awss(apigw: Any) -> None:
    """The lines and their order as AWS records them for a MOCK method (dates and ids aside)."""
    api = RestApi(apigw, "fidelity-test-invoke-log")
    api.mock("/pets", "GET", '{"pets": "all the pets"}')
    answer = apigw.test_invoke_method(
        restApiId=api.id, resourceId=api.ids["/pets"], httpMethod="GET", pathWithQueryString="/pets"
    )
    first, *rest = answer["log"].split("\n")
    assert first.startswith("Execution log for request ")
    assert rest[-1] == ""
    lines = [line.split(" : ", 1)[1] for line in rest[:-1]]
    assert lines[1:] == [
        "HTTP Method: GET, Resource Path: /pets",
        "Method request path: {}",
        "Method request query string: {}",
        "Method request headers: {}",
        "Method request body before transformations: ",
        'Method response body after transformations: {"pets": "all the pets"}',
        "Method response headers: {Content-Type=application/json}",
        "Successfully completed execution",
        "Method completed with status: 200",
    ]
    assert lines[0].startswith("Starting execution for request: ")
    assert answer["multiValueHeaders"] == {"Content-Type": ["application/json"]}
