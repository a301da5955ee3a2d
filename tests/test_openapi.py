"""ImportRestApi, PutRestApi and GetExport: real OpenAPI documents in, served, exported, re-imported."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import yaml
from botocore.exceptions import ClientError

from helpers import ECHO_EVENT, GatewayProcess, create_function, lambda_uri

PETS_OAS30 = """
openapi: 3.0.1
info:
  title: pets-oas30
  version: "2024-01-01"
servers:
  - url: https://example.com/{basePath}
    variables:
      basePath:
        default: v1
x-amazon-apigateway-binary-media-types: ["image/png"]
x-amazon-apigateway-request-validators:
  all:
    validateRequestBody: true
    validateRequestParameters: true
  params-only:
    validateRequestBody: false
    validateRequestParameters: true
x-amazon-apigateway-gateway-responses:
  DEFAULT_4XX:
    responseTemplates:
      application/json: '{"message": $context.error.messageString}'
paths:
  /pets:
    get:
      operationId: listPets
      parameters:
        - $ref: '#/components/parameters/Limit'
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Pets'
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"statusCode": 200}'
        responses:
          default:
            statusCode: "200"
            responseTemplates:
              application/json: '[{"id": 1}]'
    post:
      x-amazon-apigateway-request-validator: all
      parameters:
        - name: X-Shop
          in: header
          required: true
          schema: {type: string}
      requestBody:
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/NewPet'
      responses:
        "201": {description: created}
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates:
          application/json: '{"statusCode": 201}'
        responses:
          default:
            statusCode: "201"
            responseTemplates:
              application/json: '{"created": true}'
  /pets/{petId}:
    get:
      parameters:
        - name: petId
          in: path
          required: true
          schema: {type: string}
      responses:
        "200": {description: ok}
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: LAMBDA_URI
  /files/{proxy+}:
    x-amazon-apigateway-any-method:
      responses: {}
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: LAMBDA_URI
components:
  parameters:
    Limit:
      name: limit
      in: query
      required: false
      schema: {type: integer}
  schemas:
    Pet:
      type: object
      properties:
        id: {type: integer}
    Pets:
      type: array
      items:
        $ref: '#/components/schemas/Pet'
    NewPet:
      type: object
      required: [name]
      properties:
        name: {type: string}
        owner:
          $ref: '#/components/schemas/Pet'
"""

SWAGGER = {
    "swagger": "2.0",
    "info": {"title": "swagger-api", "version": "1"},
    "basePath": "/api/v2",
    "paths": {
        "/hello": {
            "get": {
                "produces": ["application/json"],
                "responses": {"200": {"description": "ok", "headers": {"X-Trace": {"type": "string"}}}},
                "x-amazon-apigateway-integration": {
                    "type": "MOCK",
                    "requestTemplates": {"application/json": '{"statusCode": 200}'},
                    "responses": {
                        "default": {
                            "statusCode": "200",
                            "responseParameters": {"method.response.header.X-Trace": "'abc'"},
                            "responseTemplates": {"application/json": '{"hello": "swagger"}'},
                        }
                    },
                },
            }
        }
    },
}


def _pets(echo: str) -> str:
    return PETS_OAS30.replace("LAMBDA_URI", lambda_uri(echo))


@pytest.fixture(scope="module")
def echo(lam: Any) -> str:
    return create_function(lam, ECHO_EVENT)


def test_import_yaml_oas30_serves_every_route(gateway: GatewayProcess, apigw: Any, echo: str) -> None:
    api = apigw.import_rest_api(
        body=_pets(echo).encode(), parameters={"endpointConfigurationTypes": "REGIONAL"}
    )
    assert api["name"] == "pets-oas30"
    assert api["binaryMediaTypes"] == ["image/png"]
    assert api["endpointConfiguration"]["types"] == ["REGIONAL"]
    assert not any("x-amazon-apigateway-gateway-responses" in w for w in api.get("warnings") or [])
    assert apigw.get_gateway_response(restApiId=api["id"], responseType="DEFAULT_4XX")["defaultResponse"] is False
    paths = {r["path"]: r for r in apigw.get_resources(restApiId=api["id"], embed=["methods"])["items"]}
    assert set(paths) == {"/", "/pets", "/pets/{petId}", "/files", "/files/{proxy+}"}
    get_pets = paths["/pets"]["resourceMethods"]["GET"]
    assert get_pets["operationName"] == "listPets"
    assert get_pets["requestParameters"] == {"method.request.querystring.limit": False}
    assert get_pets["methodResponses"]["200"]["responseModels"] == {"application/json": "Pets"}
    assert "ANY" in paths["/files/{proxy+}"]["resourceMethods"]

    apigw.create_deployment(restApiId=api["id"], stageName="v1")
    assert requests.get(gateway.invoke_url(api["id"], "v1", "/pets"), timeout=5).json() == [{"id": 1}]
    # the request validator and the model from the definition are enforced
    post = gateway.invoke_url(api["id"], "v1", "/pets")
    headers = {"X-Shop": "1", "Content-Type": "application/json"}
    assert requests.post(post, json={"name": "Rex"}, headers=headers, timeout=5).json() == {"created": True}
    invalid = requests.post(post, json={"nom": "Rex"}, headers=headers, timeout=5)
    assert (invalid.status_code, invalid.json()["message"]) == (400, "Invalid request body")
    missing = requests.post(post, json={"name": "Rex"}, timeout=5)
    assert missing.status_code == 400 and "X-Shop" in missing.json()["message"]
    validators = apigw.get_request_validators(restApiId=api["id"])["items"]
    assert {v["name"] for v in validators} == {"all", "params-only"}
    model = apigw.get_model(restApiId=api["id"], modelName="NewPet")
    assert json.loads(model["schema"])["properties"]["owner"]["$ref"].endswith(
        f"/restapis/{api['id']}/models/Pet"
    )
    event = requests.get(gateway.invoke_url(api["id"], "v1", "/pets/7"), timeout=10).json()
    assert event["pathParameters"] == {"petId": "7"}
    event = requests.delete(gateway.invoke_url(api["id"], "v1", "/files/a/b.txt"), timeout=10).json()
    assert event["pathParameters"] == {"proxy": "a/b.txt"}
    assert event["httpMethod"] == "DELETE"


def test_import_swagger_json_with_basepath_modes(gateway: GatewayProcess, apigw: Any) -> None:
    body = json.dumps(SWAGGER).encode()
    ignored = apigw.import_rest_api(body=body)
    prepended = apigw.import_rest_api(body=body, parameters={"basepath": "prepend"})
    split = apigw.import_rest_api(body=body, parameters={"basepath": "split"})

    def paths(api_id: str) -> set[str]:
        return {r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]}

    assert paths(ignored["id"]) == {"/", "/hello"}
    assert paths(prepended["id"]) == {"/", "/api", "/api/v2", "/api/v2/hello"}
    assert paths(split["id"]) == {"/", "/v2", "/v2/hello"}
    apigw.create_deployment(restApiId=ignored["id"], stageName="s")
    answer = requests.get(gateway.invoke_url(ignored["id"], "s", "/hello"), timeout=5)
    assert answer.json() == {"hello": "swagger"}
    assert answer.headers["X-Trace"] == "abc"


def test_fail_on_warnings_and_errors_create_nothing(apigw: Any) -> None:
    before = {a["id"] for a in apigw.get_rest_apis()["items"]}
    document = {**SWAGGER, "x-amazon-apigateway-made-up": True}
    with pytest.raises(ClientError) as raised:
        apigw.import_rest_api(body=json.dumps(document).encode(), failOnWarnings=True)
    assert raised.value.response["Error"]["Code"] == "BadRequestException"
    assert "x-amazon-apigateway-made-up" in raised.value.response["Error"]["Message"]
    # without failonwarnings the same document imports, with the warning returned
    imported = apigw.import_rest_api(body=json.dumps(document).encode())
    assert imported["warnings"] == ["Unsupported extension ignored: x-amazon-apigateway-made-up"]
    apigw.delete_rest_api(restApiId=imported["id"])

    # an invalid integration deep in the document: an error naming the method, and no API left behind
    broken = json.loads(json.dumps(SWAGGER))
    broken["paths"]["/second/{id}"] = {
        "get": {"x-amazon-apigateway-integration": {"type": "http_proxy", "httpMethod": "GET", "uri": "nope"}}
    }
    with pytest.raises(ClientError) as raised:
        apigw.import_rest_api(body=json.dumps(broken).encode())
    message = raised.value.response["Error"]["Message"]
    assert "GET /second/{id}" in message and "Invalid HTTP endpoint" in message
    with pytest.raises(ClientError) as raised:
        apigw.import_rest_api(body=b"this: is: not: yaml: [")
    assert raised.value.response["Error"]["Code"] == "BadRequestException"
    with pytest.raises(ClientError):
        apigw.import_rest_api(
            body=b'{"openapi": "3.0.1", "info": {"title": "x"}, "paths": {"/a": {"$ref": "#/nope"}}}'
        )
    assert {a["id"] for a in apigw.get_rest_apis()["items"]} == before


def _export(apigw: Any, api_id: str, stage: str, kind: str, accepts: str, extensions: str) -> bytes:
    out = apigw.get_export(
        restApiId=api_id,
        stageName=stage,
        exportType=kind,
        accepts=accepts,
        parameters={"extensions": extensions},
    )
    assert out["contentType"] == accepts
    body: bytes = out["body"].read() if hasattr(out["body"], "read") else out["body"]
    return body


def _strip_ids(document: dict[str, Any], api_id: str) -> dict[str, Any]:
    text = json.dumps(document).replace(api_id, "API")
    result: dict[str, Any] = json.loads(text)
    result["info"].pop("version", None)
    return result


@pytest.mark.parametrize(
    ("kind", "accepts"),
    [("oas30", "application/json"), ("oas30", "application/yaml"), ("swagger", "application/json")],
)
def test_export_reimport_round_trip(
    gateway: GatewayProcess, apigw: Any, echo: str, kind: str, accepts: str
) -> None:
    first = apigw.import_rest_api(body=_pets(echo).encode())["id"]
    apigw.create_deployment(restApiId=first, stageName="prod")
    exported = _export(apigw, first, "prod", kind, accepts, "apigateway")
    document = yaml.safe_load(exported) if accepts == "application/yaml" else json.loads(exported)
    assert ("swagger" in document) == (kind == "swagger")
    assert document["paths"]["/pets"]["get"]["x-amazon-apigateway-integration"]["type"] == "mock"
    assert "x-amazon-apigateway-any-method" in document["paths"]["/files/{proxy+}"]
    assert document["x-amazon-apigateway-gateway-responses"]["DEFAULT_4XX"]  # kept extensions come back out
    assert document["paths"]["/pets"]["post"]["x-amazon-apigateway-request-validator"] == "all"
    assert set(document["x-amazon-apigateway-request-validators"]) == {"all", "params-only"}
    schemas = document["definitions"] if kind == "swagger" else document["components"]["schemas"]
    local = "#/definitions/Pet" if kind == "swagger" else "#/components/schemas/Pet"
    assert schemas["NewPet"]["properties"]["owner"] == {"$ref": local}

    second = apigw.import_rest_api(body=exported)["id"]
    apigw.create_deployment(restApiId=second, stageName="prod")
    again = json.loads(_export(apigw, second, "prod", kind, "application/json", "apigateway"))
    first_json = json.loads(_export(apigw, first, "prod", kind, "application/json", "apigateway"))
    assert _strip_ids(again, second) == _strip_ids(first_json, first)
    # and the re-imported API answers like the original
    assert requests.get(gateway.invoke_url(second, "prod", "/pets"), timeout=5).json() == [{"id": 1}]

    # without extensions, no integrations are exported
    plain = json.loads(_export(apigw, first, "prod", kind, "application/json", ""))
    assert "x-amazon-apigateway-integration" not in plain["paths"]["/pets"]["get"]


def test_put_rest_api_merge_and_overwrite(gateway: GatewayProcess, apigw: Any) -> None:
    api_id = apigw.import_rest_api(body=json.dumps(SWAGGER).encode())["id"]
    extra = {
        "swagger": "2.0",
        "info": {"title": "swagger-api", "version": "2"},
        "paths": {
            "/other": {
                "post": {
                    "responses": {"200": {"description": "ok"}},
                    "x-amazon-apigateway-integration": {
                        "type": "mock",
                        "requestTemplates": {"application/json": '{"statusCode": 200}'},
                        "responses": {"default": {"statusCode": "200"}},
                    },
                }
            }
        },
    }
    merged = apigw.put_rest_api(restApiId=api_id, mode="merge", body=json.dumps(extra).encode())
    assert merged["version"] == "2"
    paths = {r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]}
    assert paths == {"/", "/hello", "/other"}
    apigw.put_rest_api(restApiId=api_id, mode="overwrite", body=json.dumps(extra).encode())
    paths = {r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]}
    assert paths == {"/", "/other"}
    with pytest.raises(ClientError) as raised:
        apigw.put_rest_api(restApiId="nope", body=json.dumps(extra).encode())
    assert raised.value.response["Error"]["Code"] == "NotFoundException"


def test_export_errors(apigw: Any) -> None:
    api_id = apigw.import_rest_api(body=json.dumps(SWAGGER).encode())["id"]
    with pytest.raises(ClientError) as raised:
        apigw.get_export(restApiId=api_id, stageName="missing", exportType="oas30")
    assert raised.value.response["Error"]["Code"] == "NotFoundException"
