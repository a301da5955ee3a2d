"""Non-proxy integrations (MOCK, HTTP, AWS) with VTL templates, parameter mappings, passthrough behaviours,
selection patterns and overrides: through a deployed stage and through TestInvokeMethod."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from helpers import GatewayProcess, RestApi, create_function, lambda_uri

FUNCTION = """
def lambda_handler(event, context):
    if not event.get("who"):
        raise Exception("[BadRequest] who is required")
    if event["who"] == "boom":
        raise ValueError("something else broke")
    return {"greeting": "hello " + event["who"], "tags": event.get("tags", [])}
"""

REQUEST_TEMPLATE = """#set($body = $input.path('$'))
{
  "who": "$util.escapeJavaScript($body.name)",
  "tags": [#foreach($t in $body.tags)"$t.toUpperCase()"#if($foreach.hasNext),#end#end],
  "stage": "$context.stage"
}"""


def _method(apigw: Any, api: RestApi, path: str, verb: str, **method: Any) -> str:
    rid = api.resource(path)
    apigw.put_method(restApiId=api.id, resourceId=rid, httpMethod=verb, authorizationType="NONE", **method)
    return rid


def _response(apigw: Any, api: RestApi, rid: str, verb: str, status: str, **integration: Any) -> None:
    apigw.put_method_response(restApiId=api.id, resourceId=rid, httpMethod=verb, statusCode=status)
    apigw.put_integration_response(
        restApiId=api.id, resourceId=rid, httpMethod=verb, statusCode=status, **integration
    )


@pytest.fixture(scope="module")
def greeter(lam: Any) -> str:
    return create_function(lam, FUNCTION)


@pytest.fixture(scope="module")
def mapped(apigw: Any, upstream: str, greeter: str) -> RestApi:
    api = RestApi(apigw, "mapped", binaryMediaTypes=["application/octet-stream"])
    # AWS: a function, payload by template, errors mapped by selectionPattern on errorMessage.
    rid = _method(apigw, api, "/greet", "POST")
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="POST",
        type="AWS",
        integrationHttpMethod="POST",
        uri=lambda_uri(greeter),
        requestTemplates={"application/json": REQUEST_TEMPLATE},
        passthroughBehavior="NEVER",
    )
    _response(
        apigw,
        api,
        rid,
        "POST",
        "200",
        responseTemplates={
            "application/json": "{\"message\": $input.json('$.greeting'), \"n\": $input.path('$.tags').size()}"
        },
    )
    _response(
        apigw,
        api,
        rid,
        "POST",
        "400",
        selectionPattern=r"\[BadRequest\].*",
        responseTemplates={"application/json": '{"error": "$input.path(\'$.errorMessage\')"}'},
    )
    # HTTP: non-proxy to the echo upstream, with parameter mappings and a response template.
    rid = _method(
        apigw, api, "/items/{id}", "POST", requestParameters={"method.request.querystring.search": False}
    )
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="POST",
        type="HTTP",
        integrationHttpMethod="PUT",
        uri=f"{upstream}/things/{{thing}}",
        requestParameters={
            "integration.request.path.thing": "method.request.path.id",
            "integration.request.querystring.q": "method.request.querystring.search",
            "integration.request.header.X-From": "'apigate'",
            "integration.request.header.X-Name": "method.request.body.name",
            "integration.request.header.X-Stage": "stageVariables.env",
            "integration.request.header.X-Verb": "context.httpMethod",
        },
        requestTemplates={
            "application/json": '{"renamed": $input.json(\'$.name\'), "id": "$input.params(\'id\')"}'
        },
    )
    _response(
        apigw,
        api,
        rid,
        "POST",
        "200",
        responseParameters={
            "method.response.header.X-Upstream": "integration.response.header.X-Upstream",
            "method.response.header.X-Method": "integration.response.body.method",
            "method.response.header.X-Fixed": "'fixed'",
        },
        responseTemplates={
            "application/json": "#set($b = $input.path('$'))\n"
            '{"path": "$b.path", "sent": $b.body, "headers": $input.json(\'$.headers\')}'
        },
    )
    # HTTP: the upstream status picks the response.
    rid = _method(apigw, api, "/status/{code}", "GET")
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        type="HTTP",
        integrationHttpMethod="GET",
        uri=f"{upstream}/status/{{code}}",
        requestParameters={"integration.request.path.code": "method.request.path.code"},
    )
    _response(apigw, api, rid, "GET", "200")
    _response(
        apigw,
        api,
        rid,
        "GET",
        "400",
        selectionPattern=r"4\d{2}",
        responseTemplates={"application/json": '{"upstreamSaid": "$input.path(\'$.path\')"}'},
    )
    # Passthrough behaviours, to the echo upstream so the passed body is visible.
    for behaviour in ("WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER"):
        for templated in (True, False):
            path = f"/pass/{behaviour.lower()}/{'t' if templated else 'none'}"
            rid = _method(apigw, api, path, "POST")
            apigw.put_integration(
                restApiId=api.id,
                resourceId=rid,
                httpMethod="POST",
                type="HTTP",
                integrationHttpMethod="POST",
                uri=f"{upstream}/echo",
                passthroughBehavior=behaviour,
                **({"requestTemplates": {"application/json": '{"templated": true}'}} if templated else {}),
            )
            _response(apigw, api, rid, "POST", "200")
    # Overrides set by templates.
    rid = _method(apigw, api, "/override", "POST")
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="POST",
        type="HTTP",
        integrationHttpMethod="POST",
        uri=f"{upstream}/over",
        requestTemplates={
            "application/json": '#set($context.requestOverride.header.X-Over = "over")'
            '#set($context.requestOverride.querystring.added = "yes"){}'
        },
    )
    _response(
        apigw,
        api,
        rid,
        "POST",
        "200",
        responseTemplates={
            "application/json": "#set($context.responseOverride.status = 201)"
            '#set($context.responseOverride.header.X-Resp = "r"){"overridden": true}'
        },
    )
    # MOCK: the template's statusCode picks the response.
    rid = _method(apigw, api, "/mock", "GET")
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        type="MOCK",
        requestTemplates={
            "application/json": "#if($input.params('code') != '')"
            '{"statusCode": $input.params(\'code\')}#else{"statusCode": 200}#end'
        },
    )
    _response(
        apigw,
        api,
        rid,
        "GET",
        "200",
        responseTemplates={"application/json": '{"ok": true, "stage": "$stageVariables.env"}'},
    )
    _response(
        apigw,
        api,
        rid,
        "GET",
        "404",
        selectionPattern="404",
        responseParameters={"method.response.header.X-Missing": "'yes'"},
        responseTemplates={"application/json": '{"missing": "$input.params(\'code\')"}'},
    )
    # Binary payloads: CONVERT_TO_TEXT hands a binary body over as base64.
    rid = _method(apigw, api, "/binary", "POST")
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="POST",
        type="HTTP",
        integrationHttpMethod="POST",
        uri=f"{upstream}/bin",
        contentHandling="CONVERT_TO_TEXT",
    )
    _response(apigw, api, rid, "POST", "200")
    api.deploy("test", variables={"env": "testing"})
    return api


def _url(gateway: GatewayProcess, api: RestApi, path: str) -> str:
    return gateway.invoke_url(api.id, "test", path)


def test_aws_integration_template_and_error_mapping(gateway: GatewayProcess, mapped: RestApi) -> None:
    url = _url(gateway, mapped, "/greet")
    ok = requests.post(url, json={"name": "Ada", "tags": ["a", "b"]}, timeout=10)
    assert ok.status_code == 200
    assert ok.headers["Content-Type"] == "application/json"
    assert ok.json() == {"message": "hello Ada", "n": 2}
    bad = requests.post(url, json={"name": ""}, timeout=10)
    assert bad.status_code == 400
    assert bad.json() == {"error": "[BadRequest] who is required"}
    # An error no pattern matches takes the default response, as on AWS: a 200 with the template applied.
    other = requests.post(url, json={"name": "boom"}, timeout=10)
    assert other.status_code == 200
    # NEVER: a content type without a template is refused.
    refused = requests.post(url, data="name=Ada", headers={"Content-Type": "text/plain"}, timeout=10)
    assert refused.status_code == 415
    assert refused.json() == {"message": "Unsupported Media Type"}


def test_http_integration_mappings(gateway: GatewayProcess, mapped: RestApi) -> None:
    answer = requests.post(
        _url(gateway, mapped, "/items/42") + "?search=cats&ignored=1", json={"name": "Ada"}, timeout=10
    )
    assert answer.status_code == 200
    assert answer.headers["X-Upstream"] == "echo"
    assert answer.headers["X-Method"] == "PUT"
    assert answer.headers["X-Fixed"] == "fixed"
    echoed = answer.json()
    assert echoed["path"] == "/things/42?q=cats"  # only mapped query parameters reach the endpoint
    assert echoed["sent"] == {"renamed": "Ada", "id": "42"}
    headers = {k.lower(): v for k, v in echoed["headers"]}
    assert headers["x-from"] == "apigate"
    assert headers["x-name"] == "Ada"
    assert headers["x-stage"] == "testing"
    assert headers["x-verb"] == "POST"


def test_http_selection_by_status(gateway: GatewayProcess, mapped: RestApi) -> None:
    ok = requests.get(_url(gateway, mapped, "/status/200"), timeout=10)
    assert ok.status_code == 200 and ok.json()["path"] == "/status/200"  # no template: passed through
    assert ok.headers["Content-Type"] == "application/json"
    mapped_error = requests.get(_url(gateway, mapped, "/status/418"), timeout=10)
    assert mapped_error.status_code == 400
    assert mapped_error.json() == {"upstreamSaid": "/status/418"}
    # 500 matches no pattern: the default response (200), as AWS does
    assert requests.get(_url(gateway, mapped, "/status/500"), timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("behaviour", "templated", "json_body", "text_status", "text_body"),
    [
        ("when_no_match", "t", {"templated": True}, 200, "raw text"),
        ("when_no_match", "none", {"a": 1}, 200, "raw text"),
        ("when_no_templates", "t", {"templated": True}, 415, None),
        ("when_no_templates", "none", {"a": 1}, 200, "raw text"),
        ("never", "t", {"templated": True}, 415, None),
        ("never", "none", None, 415, None),
    ],
)
def test_passthrough_behaviours(
    gateway: GatewayProcess,
    mapped: RestApi,
    behaviour: str,
    templated: str,
    json_body: Any,
    text_status: int,
    text_body: str | None,
) -> None:
    url = _url(gateway, mapped, f"/pass/{behaviour}/{templated}")
    as_json = requests.post(url, json={"a": 1}, timeout=10)
    if json_body is None:
        assert as_json.status_code == 415
    else:
        assert as_json.status_code == 200
        assert json.loads(as_json.json()["body"]) == json_body
    as_text = requests.post(url, data="raw text", headers={"Content-Type": "text/plain"}, timeout=10)
    assert as_text.status_code == text_status
    if text_body is None:
        assert as_text.json() == {"message": "Unsupported Media Type"}
        assert as_text.headers["x-amzn-ErrorType"] == "BadRequestException"
    else:
        assert as_text.json()["body"] == text_body


def test_request_and_response_overrides(gateway: GatewayProcess, mapped: RestApi) -> None:
    answer = requests.post(_url(gateway, mapped, "/override"), json={}, timeout=10)
    assert answer.status_code == 201
    assert answer.headers["X-Resp"] == "r"
    assert answer.json() == {"overridden": True}


def test_request_override_reaches_endpoint(apigw: Any, mapped: RestApi) -> None:
    # The response template hides the upstream's echo; TestInvokeMethod's log shows what was sent.
    result = apigw.test_invoke_method(
        restApiId=mapped.id,
        resourceId=mapped.ids["/override"],
        httpMethod="POST",
        body="{}",
        headers={"Content-Type": "application/json"},
    )
    assert result["status"] == 201
    log = result["log"]
    assert "/over?added=yes" in log
    assert "X-Over=over" in log


def test_mock_status_selection_and_response_parameters(gateway: GatewayProcess, mapped: RestApi) -> None:
    ok = requests.get(_url(gateway, mapped, "/mock"), timeout=10)
    assert ok.status_code == 200 and ok.json() == {"ok": True, "stage": "testing"}
    missing = requests.get(_url(gateway, mapped, "/mock") + "?code=404", timeout=10)
    assert missing.status_code == 404
    assert missing.headers["X-Missing"] == "yes"
    assert missing.json() == {"missing": "404"}


def test_convert_to_text(gateway: GatewayProcess, mapped: RestApi) -> None:
    payload = bytes(range(256))
    answer = requests.post(
        _url(gateway, mapped, "/binary"),
        data=payload,
        headers={"Content-Type": "application/octet-stream"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert base64.b64decode(answer.json()["body"]) == payload


def test_test_invoke_aws(apigw: Any, mapped: RestApi) -> None:
    result = apigw.test_invoke_method(
        restApiId=mapped.id,
        resourceId=mapped.ids["/greet"],
        httpMethod="POST",
        body=json.dumps({"name": "Ada", "tags": ["x"]}),
        headers={"Content-Type": "application/json"},
    )
    assert result["status"] == 200
    assert json.loads(result["body"]) == {"message": "hello Ada", "n": 1}
    log = result["log"]
    for line in (
        'Method request body before transformations: {"name": "Ada", "tags": ["x"]}',
        "Endpoint request URI: https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/",
        "Endpoint request body after transformations: ",
        '"tags": ["X"]',
        '"stage": "test-invoke-stage"',
        "Endpoint response body before transformations: {",
        'Method response body after transformations: {"message": "hello Ada", "n": 1}',
        "Method completed with status: 200",
    ):
        assert line in log, line
    error = apigw.test_invoke_method(
        restApiId=mapped.id,
        resourceId=mapped.ids["/greet"],
        httpMethod="POST",
        body='{"name": ""}',
        headers={"Content-Type": "application/json"},
    )
    assert error["status"] == 400
    assert json.loads(error["body"]) == {"error": "[BadRequest] who is required"}


def test_test_invoke_http(apigw: Any, mapped: RestApi, upstream: str) -> None:
    result = apigw.test_invoke_method(
        restApiId=mapped.id,
        resourceId=mapped.ids["/items/{id}"],
        httpMethod="POST",
        pathWithQueryString="/items/7?search=dogs",
        body='{"name": "Bo"}',
        headers={"Content-Type": "application/json"},
        stageVariables={"env": "tst"},
    )
    assert result["status"] == 200
    body = json.loads(result["body"])
    assert body["path"] == "/things/7?q=dogs"
    assert result["headers"]["X-Fixed"] == "fixed"
    log = result["log"]
    assert f"Endpoint request URI: {upstream}/things/7?q=dogs" in log
    assert "X-Stage=tst" in log
    assert 'Endpoint request body after transformations: {"renamed": "Bo", "id": "7"}' in log
    assert "Received response. Status: 200" in log
    assert "Method completed with status: 200" in log


def test_test_invoke_mock(apigw: Any, mapped: RestApi) -> None:
    result = apigw.test_invoke_method(
        restApiId=mapped.id,
        resourceId=mapped.ids["/mock"],
        httpMethod="GET",
        pathWithQueryString="/mock?code=404",
    )
    assert result["status"] == 404
    assert json.loads(result["body"]) == {"missing": "404"}
    assert result["headers"]["X-Missing"] == "yes"
    assert "Endpoint " not in result["log"]  # AWS logs no endpoint lines for a MOCK
    assert 'Method response body after transformations: {"missing": "404"}' in result["log"]


def test_invalid_mapping_expressions_refused(apigw: Any, mapped: RestApi) -> None:
    with pytest.raises(ClientError) as exc:
        apigw.update_integration(
            restApiId=mapped.id,
            resourceId=mapped.ids["/mock"],
            httpMethod="GET",
            patchOperations=[
                {
                    "op": "add",
                    "path": "/requestParameters/integration.request.header.X",
                    "value": "method.request.nowhere.y",
                }
            ],
        )
    assert exc.value.response["Error"]["Code"] == "BadRequestException"
    with pytest.raises(ClientError) as exc:
        apigw.put_integration(
            restApiId=mapped.id,
            resourceId=mapped.ids["/mock"],
            httpMethod="GET",
            type="MOCK",
            passthroughBehavior="SOMETIMES",
        )
    assert exc.value.response["Error"]["Code"] == "BadRequestException"


def test_multi_value_sources(gateway: GatewayProcess, apigw: Any, upstream: str) -> None:
    api = RestApi(apigw, "multi")
    rid = _method(apigw, api, "/m", "GET")
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        type="HTTP",
        integrationHttpMethod="GET",
        uri=f"{upstream}/m",
        requestParameters={
            "integration.request.querystring.all": "method.request.multivaluequerystring.v",
            "integration.request.querystring.last": "method.request.querystring.v",
            "integration.request.header.X-All": "method.request.multivalueheader.X-M",
        },
    )
    _response(
        apigw,
        api,
        rid,
        "GET",
        "200",
        responseParameters={
            "method.response.header.X-Type": "integration.response.multivalueheader.X-Upstream"
        },
    )
    api.deploy()
    answer = requests.get(
        gateway.invoke_url(api.id, "test", "/m") + "?v=1&v=2",
        headers={"X-M": "a"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.headers["X-Type"] == "echo"
    echoed = answer.json()
    assert echoed["path"] == "/m?all=1&all=2&last=2"
    assert ["X-All", "a"] in echoed["headers"]
