"""The REST API the SDK and documentation tests share: models, path and query parameters, an API-key-protected
method and an IAM-protected one, all answered by one function."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from helpers import RestApi, create_function, unique

PETS = """
import json
PETS = [{"id": 1, "name": "rex", "tag": "dog"}, {"id": 2, "name": "tom", "tag": "cat"}]
def answer(status, body):
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
def lambda_handler(event, context):
    route = event["httpMethod"] + " " + event["resource"]
    query = event.get("queryStringParameters") or {}
    if route == "GET /pets":
        return answer(200, [p for p in PETS if "type" not in query or p["tag"] == query["type"]])
    if route == "POST /pets":
        body = json.loads(event["body"])
        return answer(200, {"id": 3, "name": body["name"], "tag": body.get("tag")})
    if route == "GET /pets/{id}":
        found = [p for p in PETS if str(p["id"]) == event["pathParameters"]["id"]]
        return answer(200, found[0]) if found else answer(404, {"message": "no such pet"})
    if route == "GET /secret":
        return answer(200, {"message": "key " + event["requestContext"]["identity"]["apiKey"][:4]})
    if route == "GET /admin":
        return answer(200, {"message": "hello " + event["requestContext"]["identity"]["userArn"]})
    return answer(400, {"message": route})
"""

PET = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "Pet",
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "tag": {"type": "string"}},
}
NEW_PET = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string"}, "tag": {"type": "string"}},
}
MESSAGE = {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}


@dataclass
class PetsApi:
    api: RestApi
    stage: str
    api_key: str
    access_key: str
    secret_key: str
    user_arn: str


def build_pets_api(apigw: Any, lam: Any, iam: Any) -> PetsApi:
    function = create_function(lam, PETS)
    api = RestApi(apigw, unique("pets-sdk"), description="Pets, for SDK tests")
    model_uri = f"https://apigateway.amazonaws.com/restapis/{api.id}/models/Pet"
    pets_list = {"type": "array", "items": {"$ref": model_uri}}
    for name, schema in (("Pet", PET), ("NewPet", NEW_PET), ("Pets", pets_list), ("Message", MESSAGE)):
        apigw.create_model(restApiId=api.id, name=name, contentType="application/json", schema=json.dumps(schema))
    methods = [
        ("/pets", "GET", {"method.request.querystring.type": False}, None, "Pets", {}),
        ("/pets", "POST", {}, "NewPet", "Pet", {}),
        ("/pets/{id}", "GET", {"method.request.path.id": True}, None, "Pet", {}),
        ("/secret", "GET", {}, None, "Message", {"apiKeyRequired": True}),
        ("/admin", "GET", {}, None, "Message", {"authorizationType": "AWS_IAM"}),
    ]
    for path, verb, parameters, request_model, response_model, extra in methods:
        rid = api.resource(path)
        apigw.put_method(
            restApiId=api.id,
            resourceId=rid,
            httpMethod=verb,
            authorizationType=extra.get("authorizationType", "NONE"),
            apiKeyRequired=extra.get("apiKeyRequired", False),
            requestParameters=parameters,
            **({"requestModels": {"application/json": request_model}} if request_model else {}),
        )
        apigw.put_integration(
            restApiId=api.id,
            resourceId=rid,
            httpMethod=verb,
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            f"arn:aws:lambda:us-east-1:000000000000:function:{function}/invocations",
        )
        apigw.put_method_response(
            restApiId=api.id,
            resourceId=rid,
            httpMethod=verb,
            statusCode="200",
            responseModels={"application/json": response_model},
        )
    api.deploy("v1")
    key = apigw.create_api_key(name=unique("sdk-key"), enabled=True)
    plan = apigw.create_usage_plan(name=unique("sdk-plan"), apiStages=[{"apiId": api.id, "stage": "v1"}])
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    name = unique("sdk-user")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName="invoke", PolicyDocument=json.dumps(policy))
    access = iam.create_access_key(UserName=name)["AccessKey"]
    return PetsApi(api, "v1", key["value"], access["AccessKeyId"], access["SecretAccessKey"], arn)
