"""Models (JSON Schema draft 4, $ref between models), request validators, and validation on the data plane."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from helpers import GatewayProcess, RestApi

PET = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "required": ["name", "owner"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "age": {"type": "integer", "minimum": 0},
        "owner": {"$ref": "https://apigateway.amazonaws.com/restapis/{api}/models/Owner"},
    },
}
OWNER = {"type": "object", "required": ["email"], "properties": {"email": {"type": "string"}}}


def _models(apigw: Any, api: RestApi) -> None:
    apigw.create_model(
        restApiId=api.id, name="Owner", contentType="application/json", schema=json.dumps(OWNER)
    )
    pet = json.dumps(PET).replace("{api}", api.id)
    apigw.create_model(restApiId=api.id, name="Pet", contentType="application/json", schema=pet)


def _method(apigw: Any, api: RestApi, path: str, validator: str | None, **method: Any) -> None:
    rid = api.resource(path)
    extra = {"requestValidatorId": validator} if validator else {}
    apigw.put_method(
        restApiId=api.id, resourceId=rid, httpMethod="POST", authorizationType="NONE", **extra, **method
    )
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="POST",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    apigw.put_method_response(restApiId=api.id, resourceId=rid, httpMethod="POST", statusCode="200")
    apigw.put_integration_response(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="POST",
        statusCode="200",
        responseTemplates={"application/json": '{"ok": true}'},
    )


PARAMS = {
    "method.request.querystring.q": True,
    "method.request.header.X-Token": True,
    "method.request.querystring.optional": False,
}


@pytest.fixture(scope="module")
def validated(apigw: Any) -> RestApi:
    api = RestApi(apigw, "validated")
    _models(apigw, api)
    both = apigw.create_request_validator(
        restApiId=api.id, name="both", validateRequestBody=True, validateRequestParameters=True
    )["id"]
    body = apigw.create_request_validator(restApiId=api.id, name="body", validateRequestBody=True)["id"]
    params = apigw.create_request_validator(restApiId=api.id, name="params", validateRequestParameters=True)[
        "id"
    ]
    models = {"application/json": "Pet"}
    _method(apigw, api, "/both", both, requestParameters=PARAMS, requestModels=models)
    _method(apigw, api, "/body", body, requestParameters=PARAMS, requestModels=models)
    _method(apigw, api, "/params", params, requestParameters=PARAMS, requestModels=models)
    _method(apigw, api, "/none", None, requestParameters=PARAMS, requestModels=models)
    _method(apigw, api, "/empty", body)  # no model: AWS validates against the Empty model (an object)
    api.deploy()
    return api


GOOD = {"name": "Rex", "age": 3, "owner": {"email": "a@b.c"}}


def _post(gateway: GatewayProcess, api: RestApi, path: str, body: Any, **kwargs: Any) -> requests.Response:
    data = body if isinstance(body, str) else json.dumps(body)
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
    return requests.post(
        gateway.invoke_url(api.id, "test", path), data=data, headers=headers, timeout=5, **kwargs
    )


def test_missing_parameters_listed_in_aws_order(gateway: GatewayProcess, validated: RestApi) -> None:
    answer = _post(gateway, validated, "/both", GOOD)
    assert answer.status_code == 400
    # sorted by expression: method.request.header.X-Token before method.request.querystring.q
    assert answer.json() == {"message": "Missing required request parameters: [X-Token, q]"}
    assert answer.headers["x-amzn-ErrorType"] == "BadRequestException"
    one = _post(gateway, validated, "/both", GOOD, headers={"x-token": "t"})  # header names fold case
    assert one.json() == {"message": "Missing required request parameters: [q]"}


def test_body_checked_against_model_with_ref(gateway: GatewayProcess, validated: RestApi) -> None:
    ok = {"headers": {"X-Token": "t"}, "params": {"q": ""}}
    assert _post(gateway, validated, "/both", GOOD, **ok).json() == {"ok": True}
    for bad in (
        {"name": "Rex"},  # owner missing
        {**GOOD, "owner": {}},  # the referenced model's required field
        {**GOOD, "age": -1},
        "not json",
        [],
    ):
        answer = _post(gateway, validated, "/both", bad, **ok)
        assert answer.status_code == 400, bad
        assert answer.json() == {"message": "Invalid request body"}
    # parameters are checked first
    assert _post(gateway, validated, "/both", {}).json()["message"].startswith("Missing required")


def test_validator_kinds(gateway: GatewayProcess, validated: RestApi) -> None:
    assert _post(gateway, validated, "/body", GOOD).status_code == 200  # parameters not checked
    assert _post(gateway, validated, "/body", {"name": 1}).status_code == 400
    assert _post(gateway, validated, "/params", {"name": 1}, headers={"X-Token": "t"}, params={"q": "1"}).ok
    assert _post(gateway, validated, "/params", GOOD).status_code == 400
    assert _post(gateway, validated, "/none", "not json").status_code == 200  # no validator, nothing checked
    assert _post(gateway, validated, "/empty", {"any": "object"}).status_code == 200
    assert _post(gateway, validated, "/empty", "[1]").status_code == 400


def test_validation_in_test_invoke(apigw: Any, validated: RestApi) -> None:
    answer = apigw.test_invoke_method(
        restApiId=validated.id,
        resourceId=validated.ids["/body"],
        httpMethod="POST",
        body=json.dumps({"name": "Rex"}),
        headers={"Content-Type": "application/json"},
    )
    assert answer["status"] == 400
    assert json.loads(answer["body"]) == {"message": "Invalid request body"}
    assert "Request body does not match model schema for content type application/json: [" in answer["log"]
    assert "Method completed with status: 400" in answer["log"]


def test_model_crud(apigw: Any) -> None:
    api = RestApi(apigw, "models")
    names = [m["name"] for m in apigw.get_models(restApiId=api.id)["items"]]
    assert names == ["Empty", "Error"]  # AWS creates both with every REST API
    created = apigw.create_model(
        restApiId=api.id,
        name="Thing",
        contentType="application/json",
        schema='{"type": "object"}',
        description="a thing",
    )
    assert created["name"] == "Thing" and created["id"]
    fetched = apigw.get_model(restApiId=api.id, modelName="Thing")
    assert fetched["schema"] == '{"type": "object"}' and fetched["description"] == "a thing"
    updated = apigw.update_model(
        restApiId=api.id,
        modelName="Thing",
        patchOperations=[{"op": "replace", "path": "/schema", "value": '{"type": "array"}'}],
    )
    assert updated["schema"] == '{"type": "array"}'
    with pytest.raises(ClientError) as exc:
        apigw.create_model(restApiId=api.id, name="Thing", contentType="application/json", schema='{"type": "object"}')
    assert exc.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as exc:
        apigw.create_model(restApiId=api.id, name="bad-name", contentType="application/json", schema='{"type": "object"}')
    assert exc.value.response["Error"]["Code"] == "BadRequestException"
    with pytest.raises(ClientError) as exc:
        apigw.create_model(restApiId=api.id, name="Broken", contentType="application/json", schema="{nope")
    assert exc.value.response["Error"]["Code"] == "BadRequestException"
    rid = api.resource("/t")
    apigw.put_method(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="POST",
        authorizationType="NONE",
        requestModels={"application/json": "Thing"},
    )
    with pytest.raises(ClientError) as exc:
        apigw.delete_model(restApiId=api.id, modelName="Thing")
    assert "is referenced in method request: /t/POST" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        apigw.put_method(
            restApiId=api.id,
            resourceId=rid,
            httpMethod="PUT",
            authorizationType="NONE",
            requestModels={"application/json": "Nope"},
        )
    assert exc.value.response["Error"]["Message"] == "Invalid model identifier specified: Nope"
    apigw.delete_method(restApiId=api.id, resourceId=rid, httpMethod="POST")
    apigw.delete_model(restApiId=api.id, modelName="Thing")
    with pytest.raises(ClientError) as exc:
        apigw.get_model(restApiId=api.id, modelName="Thing")
    assert exc.value.response["Error"]["Code"] == "NotFoundException"


def test_request_validator_crud(apigw: Any) -> None:
    api = RestApi(apigw, "validators")
    created = apigw.create_request_validator(restApiId=api.id, name="v", validateRequestBody=True)
    assert created["validateRequestBody"] is True and created["validateRequestParameters"] is False
    vid = created["id"]
    assert apigw.get_request_validator(restApiId=api.id, requestValidatorId=vid)["name"] == "v"
    updated = apigw.update_request_validator(
        restApiId=api.id,
        requestValidatorId=vid,
        patchOperations=[
            {"op": "replace", "path": "/validateRequestParameters", "value": "true"},
            {"op": "replace", "path": "/name", "value": "w"},
        ],
    )
    assert updated["validateRequestParameters"] is True and updated["name"] == "w"
    assert [v["id"] for v in apigw.get_request_validators(restApiId=api.id)["items"]] == [vid]
    with pytest.raises(ClientError) as exc:
        apigw.put_method(
            restApiId=api.id,
            resourceId=api.ids["/"],
            httpMethod="GET",
            authorizationType="NONE",
            requestValidatorId="nope12",
        )
    assert exc.value.response["Error"]["Message"] == "Invalid Request Validator identifier specified"
    apigw.delete_request_validator(restApiId=api.id, requestValidatorId=vid)
    with pytest.raises(ClientError) as exc:
        apigw.get_request_validator(restApiId=api.id, requestValidatorId=vid)
    assert exc.value.response["Error"]["Code"] == "NotFoundException"
