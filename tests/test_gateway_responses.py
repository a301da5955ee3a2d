"""Gateway responses: the management calls as AWS records them, and customised errors on the data plane."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from botocore.exceptions import ClientError

from helpers import ECHO_EVENT, GatewayProcess, RestApi, create_function, unique

DEFAULT_TEMPLATE = {"application/json": '{"message":$context.error.messageString}'}
CORS = {
    "gatewayresponse.header.Access-Control-Allow-Origin": "'*'",
    "gatewayresponse.header.Access-Control-Allow-Headers": "'Content-Type,X-Api-Key'",
}


def error_of(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=10)


def test_listing_and_crud(apigw: Any) -> None:
    api = RestApi(apigw, unique("gr-crud"))
    listed = apigw.get_gateway_responses(restApiId=api.id)["items"]
    assert len(listed) == 21
    assert all(item["defaultResponse"] and item["responseTemplates"] == DEFAULT_TEMPLATE for item in listed)
    by_type = {item["responseType"]: item for item in listed}
    assert "statusCode" not in by_type["DEFAULT_4XX"] and "statusCode" not in by_type["DEFAULT_5XX"]
    assert by_type["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "403"
    assert by_type["INTEGRATION_FAILURE"]["statusCode"] == "504"  # as AWS lists it
    assert by_type["THROTTLED"]["statusCode"] == "429"

    put = apigw.put_gateway_response(
        restApiId=api.id,
        responseType="MISSING_AUTHENTICATION_TOKEN",
        statusCode="404",
        responseParameters={"gatewayresponse.header.x-request-query": "method.request.querystring.q"},
        responseTemplates={"application/json": '{"type": "$context.error.responseType"}'},
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (put["defaultResponse"], put["statusCode"]) == (False, "404")
    got = apigw.get_gateway_response(restApiId=api.id, responseType="MISSING_AUTHENTICATION_TOKEN")
    assert got["responseParameters"] == {
        "gatewayresponse.header.x-request-query": "method.request.querystring.q"
    }

    # A Put without a status code takes the type's own (not DEFAULT_5XX's); without templates AWS's template.
    apigw.put_gateway_response(restApiId=api.id, responseType="DEFAULT_5XX", statusCode="599")
    own = apigw.put_gateway_response(
        restApiId=api.id,
        responseType="AUTHORIZER_FAILURE",
        responseParameters={"gatewayresponse.header.foo": "'bar'"},
    )
    assert (own["statusCode"], own["responseTemplates"]) == ("500", DEFAULT_TEMPLATE)
    by_type = {i["responseType"]: i for i in apigw.get_gateway_responses(restApiId=api.id)["items"]}
    # uncustomised 5XX types show DEFAULT_5XX's status, still as defaults; 4XX types are untouched
    assert (
        by_type["INTEGRATION_TIMEOUT"]["statusCode"],
        by_type["INTEGRATION_TIMEOUT"]["defaultResponse"],
    ) == (
        "599",
        True,
    )
    assert by_type["AUTHORIZER_FAILURE"]["statusCode"] == "500"
    assert by_type["THROTTLED"]["statusCode"] == "429"

    updated = apigw.update_gateway_response(
        restApiId=api.id,
        responseType="MISSING_AUTHENTICATION_TOKEN",
        patchOperations=[
            {"op": "replace", "path": "/statusCode", "value": "410"},
            {
                "op": "add",
                "path": "/responseTemplates/application~1xml",
                "value": "<type>$context.error.responseType</type>",
            },
            {
                "op": "replace",
                "path": "/responseParameters/gatewayresponse.header.x-request-query",
                "value": "'q'",
            },
        ],
    )
    assert updated["statusCode"] == "410"
    assert updated["responseTemplates"]["application/xml"] == "<type>$context.error.responseType</type>"
    assert updated["responseParameters"] == {"gatewayresponse.header.x-request-query": "'q'"}
    # an Update of a type never customised customises it, from its own defaults
    fresh = apigw.update_gateway_response(
        restApiId=api.id,
        responseType="DEFAULT_4XX",
        patchOperations=[{"op": "replace", "path": "/statusCode", "value": "444"}],
    )
    assert (fresh["defaultResponse"], fresh["statusCode"], fresh["responseTemplates"]) == (
        False,
        "444",
        DEFAULT_TEMPLATE,
    )

    update = apigw.update_gateway_response
    ids = {"restApiId": api.id, "responseType": "DEFAULT_4XX"}
    assert error_of(
        update, **ids, patchOperations=[{"op": "add", "path": "/statusCode", "value": "444"}]
    ) == (
        "BadRequestException",
        "Invalid patch path /statusCode",
    )
    assert error_of(
        update,
        **ids,
        patchOperations=[
            {"op": "replace", "path": "/responseParameters/gatewayresponse.header.x", "value": "'y'"}
        ],
    ) == ("NotFoundException", "Invalid parameter name specified")
    assert error_of(update, **ids, patchOperations=[{"op": "add", "path": "/wrongPath", "value": "x"}]) == (
        "BadRequestException",
        "Invalid patch path /wrongPath",
    )
    code, message = error_of(apigw.get_gateway_response, restApiId=api.id, responseType="FAKE_RESPONSE_TYPE")
    assert (
        code == "ValidationException" and "Member must satisfy enum value set: [REQUEST_TOO_LARGE," in message
    )
    assert error_of(apigw.get_gateway_responses, restApiId="nope123") == (
        "NotFoundException",
        "Invalid API identifier specified 000000000000:nope123",
    )
    assert (
        error_of(apigw.put_gateway_response, restApiId=api.id, responseType="THROTTLED", statusCode="99")[0]
        == "ValidationException"
    )

    deleted = apigw.delete_gateway_response(restApiId=api.id, responseType="MISSING_AUTHENTICATION_TOKEN")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202
    again = apigw.get_gateway_response(restApiId=api.id, responseType="MISSING_AUTHENTICATION_TOKEN")
    assert (again["defaultResponse"], again["statusCode"]) == (True, "444")  # DEFAULT_4XX's, set above
    assert error_of(
        apigw.delete_gateway_response, restApiId=api.id, responseType="MISSING_AUTHENTICATION_TOKEN"
    ) == ("NotFoundException", "Gateway response type not defined on api")


def test_customised_missing_authentication_token(gateway: GatewayProcess, apigw: Any) -> None:
    api = RestApi(apigw, unique("gr-mat"))
    api.mock("/pets", "GET", '{"pets": []}')
    apigw.put_gateway_response(
        restApiId=api.id,
        responseType="MISSING_AUTHENTICATION_TOKEN",
        statusCode="404",
        responseParameters={
            "gatewayresponse.header.X-Docs": "stageVariables.docs",
            "gatewayresponse.header.X-Asked": "method.request.header.X-Asked",
            "gatewayresponse.header.X-Kind": "context.error.responseType",
            "gatewayresponse.header.X-Fixed": "'fixed'",
        },
        responseTemplates={
            "application/json": '{"error": $context.error.messageString, "type": "$context.error.responseType", '
            '"stage": "$context.stage", "id": "$context.requestId", "docs": "$stageVariables.docs"}',
            "application/xml": "<error>$context.error.message</error>",
        },
    )
    api.deploy("v1", variables={"docs": "https://docs.example/errors"})

    answer = get(gateway.invoke_url(api.id, "v1", "/nowhere"), **{"X-Asked": "yes"})
    assert answer.status_code == 404
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert answer.headers["X-Docs"] == "https://docs.example/errors"
    assert (answer.headers["X-Asked"], answer.headers["X-Kind"], answer.headers["X-Fixed"]) == (
        "yes",
        "MISSING_AUTHENTICATION_TOKEN",
        "fixed",
    )
    assert answer.json() == {
        "error": "Missing Authentication Token",
        "type": "MISSING_AUTHENTICATION_TOKEN",
        "stage": "v1",
        "id": answer.headers["x-amzn-RequestId"],
        "docs": "https://docs.example/errors",
    }
    xml = get(gateway.invoke_url(api.id, "v1", "/pets"), Accept="application/xml")
    assert xml.status_code == 200  # the route exists: no gateway response
    xml = requests.delete(
        gateway.invoke_url(api.id, "v1", "/pets"), headers={"Accept": "application/xml"}, timeout=10
    )
    assert (xml.status_code, xml.headers["Content-Type"], xml.text) == (
        404,
        "application/xml",
        "<error>Missing Authentication Token</error>",
    )
    # the stage without a trailing slash names no resource either: the same customised answer
    assert get(f"{gateway.url}/_aws/execute-api/{api.id}/v1").status_code == 404


def test_default_4xx_covers_uncustomised_client_errors(gateway: GatewayProcess, apigw: Any) -> None:
    api = RestApi(apigw, unique("gr-4xx"))
    api.mock("/open", "GET", '{"ok": true}')
    api.mock("/keyed", "GET", '{"ok": true}')
    apigw.update_method(
        restApiId=api.id,
        resourceId=api.resource("/keyed"),
        httpMethod="GET",
        patchOperations=[{"op": "replace", "path": "/apiKeyRequired", "value": "true"}],
    )
    api.validated_mock(
        "/pets", "Pet", {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    )
    apigw.put_gateway_response(
        restApiId=api.id,
        responseType="DEFAULT_4XX",
        responseParameters={"gatewayresponse.header.X-Error": "context.error.responseType"},
        responseTemplates={
            "application/json": '{"kind": "$context.error.responseType", "message": $context.error.messageString, '
            '"detail": "$util.escapeJavaScript($context.error.validationErrorString)"}'
        },
    )
    api.deploy("v1")
    apigw.update_stage(
        restApiId=api.id,
        stageName="v1",
        patchOperations=[
            {"op": "replace", "path": "/~1open/GET/throttling/rateLimit", "value": "0.001"},
            {"op": "replace", "path": "/~1open/GET/throttling/burstLimit", "value": "1"},
        ],
    )

    bad = requests.post(gateway.invoke_url(api.id, "v1", "/pets"), json={"age": 3}, timeout=10)
    assert (bad.status_code, bad.headers["X-Error"], bad.headers["x-amzn-ErrorType"]) == (
        400,
        "BAD_REQUEST_BODY",
        "BadRequestException",
    )
    assert bad.json() == {
        "kind": "BAD_REQUEST_BODY",
        "message": "Invalid request body",
        "detail": '[object has missing required properties (["name"])]',
    }
    wrong_type = requests.post(gateway.invoke_url(api.id, "v1", "/pets"), json={"name": 5}, timeout=10)
    assert wrong_type.json()["detail"] == (
        '[instance type (integer) does not match any allowed primitive type (allowed: ["string"])]'
    )
    assert requests.post(gateway.invoke_url(api.id, "v1", "/pets"), json={"name": "rex"}, timeout=10).ok

    keyless = get(gateway.invoke_url(api.id, "v1", "/keyed"))
    assert (keyless.status_code, keyless.headers["x-amzn-ErrorType"]) == (403, "ForbiddenException")
    assert keyless.json() == {"kind": "INVALID_API_KEY", "message": "Forbidden", "detail": ""}

    assert get(gateway.invoke_url(api.id, "v1", "/open")).status_code == 200  # the burst of one
    throttled = get(gateway.invoke_url(api.id, "v1", "/open"))
    assert (throttled.status_code, throttled.headers["x-amzn-ErrorType"]) == (429, "TooManyRequestsException")
    assert throttled.json()["kind"] == "THROTTLED"


def test_default_5xx_on_a_failing_function(gateway: GatewayProcess, apigw: Any, lam: Any) -> None:
    failing = create_function(lam, "def lambda_handler(event, context):\n    raise ValueError('boom')\n")
    api = RestApi(apigw, unique("gr-5xx"))
    api.lambda_proxy("/fail", "GET", failing)
    apigw.put_gateway_response(
        restApiId=api.id,
        responseType="DEFAULT_5XX",
        statusCode="503",
        responseTemplates={"application/json": '{"oops": "$context.error.responseType"}'},
    )
    api.deploy("v1")
    answer = get(gateway.invoke_url(api.id, "v1", "/fail"))
    assert (answer.status_code, answer.headers["x-amzn-ErrorType"]) == (503, "InternalServerErrorException")
    assert answer.json() == {"oops": "INTEGRATION_FAILURE"}
    # 4XX types are not DEFAULT_5XX's business
    missing = get(gateway.invoke_url(api.id, "v1", "/none"))
    assert (missing.status_code, missing.json()) == (403, {"message": "Missing Authentication Token"})


def test_cors_headers_on_gateway_errors(gateway: GatewayProcess, apigw: Any, lam: Any) -> None:
    """The common use: a browser can read the gateway's own 4XX/5XX only with CORS headers on them."""
    echo = create_function(lam, ECHO_EVENT)
    api = RestApi(apigw, unique("gr-cors"))
    api.lambda_proxy("/items", "GET", echo)
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        apigw.put_gateway_response(restApiId=api.id, responseType=kind, responseParameters=CORS)
    api.deploy("v1")
    answer = get(gateway.invoke_url(api.id, "v1", "/missing"), Origin="https://app.example")
    assert answer.status_code == 403
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Access-Control-Allow-Headers"] == "Content-Type,X-Api-Key"
    assert answer.json() == {"message": "Missing Authentication Token"}  # the default template, unchanged
    assert get(gateway.invoke_url(api.id, "v1", "/items")).status_code == 200


def test_changes_take_effect_on_redeploy(gateway: GatewayProcess, apigw: Any) -> None:
    api = RestApi(apigw, unique("gr-deploy"))
    api.mock("/a", "GET", "{}")
    api.deploy("v1")
    url = gateway.invoke_url(api.id, "v1", "/b")
    apigw.put_gateway_response(
        restApiId=api.id,
        responseType="MISSING_AUTHENTICATION_TOKEN",
        statusCode="404",
        responseTemplates={"application/json": '{"custom": true}'},
    )
    assert get(url).status_code == 403  # the deployed snapshot knows nothing of it yet
    api.deploy("v1")
    assert (get(url).status_code, get(url).json()) == (404, {"custom": True})
    apigw.delete_gateway_response(restApiId=api.id, responseType="MISSING_AUTHENTICATION_TOKEN")
    assert get(url).status_code == 404  # still the deployed customisation
    api.deploy("v1")
    assert (get(url).status_code, get(url).json()) == (403, {"message": "Missing Authentication Token"})


OPENAPI = {
    "openapi": "3.0.1",
    "info": {"title": "with-gateway-responses", "version": "1"},
    "paths": {
        "/ping": {
            "get": {
                "responses": {"200": {"description": "ok"}},
                "x-amazon-apigateway-integration": {
                    "type": "mock",
                    "requestTemplates": {"application/json": '{"statusCode": 200}'},
                    "responses": {
                        "default": {"statusCode": "200", "responseTemplates": {"application/json": "{}"}}
                    },
                },
            }
        }
    },
    "x-amazon-apigateway-gateway-responses": {
        "DEFAULT_4XX": {"responseParameters": {"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"}},
        "MISSING_AUTHENTICATION_TOKEN": {
            "statusCode": 404,
            "responseTemplates": {"application/json": '{"missing": "$context.path"}'},
        },
    },
}


def test_openapi_import_export_round_trip(gateway: GatewayProcess, apigw: Any) -> None:
    imported = apigw.import_rest_api(body=json.dumps(OPENAPI).encode())
    api_id = imported["id"]
    assert not any("gateway-responses" in warning for warning in imported.get("warnings") or [])
    by_type = {i["responseType"]: i for i in apigw.get_gateway_responses(restApiId=api_id)["items"]}
    assert by_type["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "404"
    assert by_type["DEFAULT_4XX"]["defaultResponse"] is False
    apigw.create_deployment(restApiId=api_id, stageName="v1")
    answer = get(gateway.invoke_url(api_id, "v1", "/pong"))
    assert (answer.status_code, answer.json(), answer.headers.get("Access-Control-Allow-Origin")) == (
        404,
        {"missing": "/v1/pong"},
        None,  # the type's own customisation wins over DEFAULT_4XX, headers and all
    )

    exported = apigw.get_export(
        restApiId=api_id, stageName="v1", exportType="oas30", parameters={"extensions": "apigateway"}
    )
    document = json.loads(exported["body"].read())
    assert document["x-amazon-apigateway-gateway-responses"] == {
        "DEFAULT_4XX": {
            "responseParameters": {"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"},
            "responseTemplates": DEFAULT_TEMPLATE,
        },
        "MISSING_AUTHENTICATION_TOKEN": {
            "statusCode": "404",
            "responseTemplates": {"application/json": '{"missing": "$context.path"}'},
        },
    }
    again = apigw.import_rest_api(body=json.dumps(document).encode())
    assert {i["responseType"]: i for i in apigw.get_gateway_responses(restApiId=again["id"])["items"]} == {
        i["responseType"]: i for i in apigw.get_gateway_responses(restApiId=api_id)["items"]
    }

    # an overwrite without the extension removes the customisations
    plain = {k: v for k, v in OPENAPI.items() if k != "x-amazon-apigateway-gateway-responses"}
    apigw.put_rest_api(restApiId=api_id, mode="overwrite", body=json.dumps(plain).encode())
    listed = apigw.get_gateway_responses(restApiId=api_id)["items"]
    assert all(item["defaultResponse"] for item in listed)


def test_sam_gateway_responses(tmp_path: Path) -> None:
    template = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Api": {
                "Type": "AWS::Serverless::Api",
                "Properties": {
                    "Name": "sam-gr",
                    "StageName": "Prod",
                    "DefinitionBody": {
                        k: v for k, v in OPENAPI.items() if k != "x-amazon-apigateway-gateway-responses"
                    },
                    "GatewayResponses": {
                        "DEFAULT_4XX": {
                            "StatusCode": 418,
                            "ResponseParameters": {"Headers": {"Access-Control-Allow-Origin": "'*'"}},
                            "ResponseTemplates": {
                                "application/json": '{"teapot": $context.error.messageString}'
                            },
                        }
                    },
                },
            }
        },
    }
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template))
    process = GatewayProcess(tmp_path / "data", [str(path)])
    process.start()
    try:
        assert not any("GatewayResponses is stored" in line for line in process.output)
        api_id = next(
            a["id"] for a in process.client("apigateway").get_rest_apis()["items"] if a["name"] == "sam-gr"
        )
        answer = get(process.invoke_url(api_id, "Prod", "/nothing"))
        assert (answer.status_code, answer.headers["Access-Control-Allow-Origin"]) == (418, "*")
        assert answer.json() == {"teapot": "Missing Authentication Token"}
    finally:
        process.stop()
