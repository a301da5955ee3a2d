"""The management API answers as AWS's recordings show: what AWS accepts (class 1), what it refuses and with which
words (class 2), the shape of its answers (class 3), its patch operations (class 4) and calls meant for services
apigate does not serve (class 9). Facts from AWS's API reference and public recordings of real AWS answers."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest
import requests

from helpers import GatewayProcess, RestApi


def error_of(call: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(**kwargs)
    answer = caught.value.response
    return answer["Error"]["Code"], answer["ResponseMetadata"]["HTTPStatusCode"], answer["Error"]["Message"]


# --- class 1: accepted what AWS accepts -------------------------------------------------------------------


def test_integration_response_without_method_response_is_accepted_and_served(
    gateway: GatewayProcess, apigw: Any
) -> None:
    api = RestApi(apigw, "fidelity-ir-first")
    rid = api.resource("/hello")
    apigw.put_method(restApiId=api.id, resourceId=rid, httpMethod="GET", authorizationType="none")
    apigw.put_integration(
        restApiId=api.id, resourceId=rid, httpMethod="GET", type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    created = apigw.put_integration_response(
        restApiId=api.id, resourceId=rid, httpMethod="GET", statusCode="200",
        responseTemplates={"application/json": '{"hello": "world"}'},
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert apigw.get_method(restApiId=api.id, resourceId=rid, httpMethod="GET")["authorizationType"] == "NONE"
    api.deploy("live")
    answer = requests.get(gateway.invoke_url(api.id, "live", "/hello"), timeout=5)
    assert (answer.status_code, answer.json()) == (200, {"hello": "world"})


def test_usage_plan_keys_of_an_unknown_plan_are_an_empty_list(apigw: Any) -> None:
    assert apigw.get_usage_plan_keys(usagePlanId="nosuchplan")["items"] == []


# --- class 2: refused as AWS refuses ------------------------------------------------------------------------


def test_rest_api_creation_refusals(apigw: Any) -> None:
    assert error_of(apigw.create_rest_api, name="x", minimumCompressionSize=-1) == (
        "BadRequestException", 400, "Invalid minimum compression size, must be between 0 and 10485760"
    )
    code, status, message = error_of(apigw.create_rest_api, name="x", apiKeySource="COOKIE")
    assert (code, status) == ("ValidationException", 400)
    assert "'createRestApiInput.apiKeySource'" in message and "[HEADER, AUTHORIZER]" in message
    code, status, message = error_of(
        apigw.create_rest_api, name="x", endpointConfiguration={"types": ["GLOBAL"]}
    )
    assert (code, status) == ("ValidationException", 400)
    assert "[PRIVATE, EDGE, REGIONAL]" in message
    assert error_of(apigw.create_rest_api, name="x", description="") == (
        "BadRequestException", 400, "Description cannot be an empty string"
    )


def test_integration_refusals(apigw: Any) -> None:
    api = RestApi(apigw, "fidelity-integration-errors")
    rid = api.resource("/r")
    apigw.put_method(restApiId=api.id, resourceId=rid, httpMethod="GET", authorizationType="NONE")
    ids = {"restApiId": api.id, "resourceId": rid, "httpMethod": "GET"}
    assert error_of(apigw.put_integration, **ids, type="FOO") == (
        "ValidationException",
        400,
        "1 validation error detected: Value 'FOO' at 'putIntegrationInput.type' failed to satisfy constraint: "
        "Member must satisfy enum value set: [HTTP, MOCK, AWS_PROXY, HTTP_PROXY, AWS]",
    )
    for kind in ("HTTP", "HTTP_PROXY", "AWS", "AWS_PROXY"):
        assert error_of(apigw.put_integration, **ids, type=kind, uri="https://example.com") == (
            "BadRequestException", 400, "Enumeration value for HttpMethod must be non-empty"
        )
    assert error_of(apigw.put_method, restApiId=api.id, resourceId=rid, httpMethod="POST",
                    authorizationType="BASIC")[:2] == ("BadRequestException", 400)


def test_replace_only_patch_errors_name_the_op_and_the_allowed_paths(apigw: Any) -> None:
    api = RestApi(apigw, "fidelity-patch-words")
    rid = api.resource("/pets")
    update = apigw.update_resource
    assert error_of(
        update, restApiId=api.id, resourceId=rid,
        patchOperations=[{"op": "replace", "path": "/invalid", "value": "x"}],
    ) == (
        "BadRequestException",
        400,
        "Invalid patch path  '/invalid' specified for op 'replace'. Must be one of: [/parentId, /pathPart]",
    )
    assert error_of(
        update, restApiId=api.id, resourceId=rid, patchOperations=[{"op": "remove", "path": "/pathPart"}]
    ) == (
        "BadRequestException",
        400,
        "Invalid patch path  '/pathPart' specified for op 'remove'. Please choose supported operations",
    )
    apigw.create_model(restApiId=api.id, name="Pet", contentType="application/json", schema='{"type": "object"}')
    assert error_of(
        apigw.update_model, restApiId=api.id, modelName="Pet",
        patchOperations=[{"op": "replace", "path": "/name", "value": "Dog"}],
    )[2] == "Invalid patch path  '/name' specified for op 'replace'. Must be one of: [/description, /schema]"


def test_recorded_refusals_of_methods_models_validators_and_authorizers(apigw: Any) -> None:
    api = RestApi(apigw, "fidelity-recorded")
    rid = api.resource("/r")
    assert error_of(
        apigw.put_method, restApiId=api.id, resourceId=rid, httpMethod="GET", authorizationType="NONE",
        requestParameters={"method.request.querystring.a": True, "method.request.header.a": True},
    ) == ("BadRequestException", 400, "Parameter names must be unique across querystring, header and path")
    model = {"restApiId": api.id, "contentType": "application/json"}
    assert error_of(apigw.create_model, **model, name="", schema='{"type": "object"}') == (
        "BadRequestException", 400, "Model name must be non-empty"
    )
    empty = ("BadRequestException", 400, "Model schema must have at least 1 property or array items defined")
    assert error_of(apigw.create_model, **model, name="A", schema="{}") == empty
    assert error_of(apigw.create_model, **model, name="A") == empty
    apigw.create_model(**model, name="C", schema='{"type": "object"}')
    assert error_of(
        apigw.update_model, restApiId=api.id, modelName="C",
        patchOperations=[{"op": "replace", "path": "/schema", "value": "{}"}],
    ) == empty
    assert error_of(
        apigw.update_model, restApiId=api.id, modelName="C",
        patchOperations=[{"op": "add", "path": "/wrong-path", "value": "x"}],
    )[2] == "Invalid patch path  '/wrong-path' specified for op 'add'. Please choose supported operations"
    assert error_of(apigw.create_request_validator, restApiId="test-fake-rest-id", name="v") == (
        "BadRequestException", 400, "Invalid REST API identifier specified"
    )
    assert error_of(apigw.get_request_validator, restApiId="test-fake-rest-id", requestValidatorId="x") == (
        "NotFoundException", 404, "Invalid Request Validator identifier specified"
    )
    assert error_of(
        apigw.create_authorizer, restApiId="test-fake-rest-id", name="x", type="TOKEN",
        identitySource="method.request.header.Authorization",
        authorizerUri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:us-east-1:000000000000:function:f/invocations",
    ) == (
        "ConflictException", 409, "Unable to complete operation due to concurrent modification. Please try again later."
    )


def test_request_validator_patch_refusals(apigw: Any) -> None:
    api = RestApi(apigw, "fidelity-validator-patch")
    validator = apigw.create_request_validator(restApiId=api.id, name="v")["id"]
    ids = {"restApiId": api.id, "requestValidatorId": validator}
    for op in ("add", "remove"):
        assert error_of(
            apigw.update_request_validator, **ids,
            patchOperations=[{"op": op, "path": "/validateRequestBody", "value": "true"}],
        )[2] == f"Invalid patch path  '/validateRequestBody' specified for op '{op}'. Please choose supported operations"
    assert error_of(
        apigw.update_request_validator, **ids, patchOperations=[{"op": "replace", "path": "/invalidPath"}]
    )[2] == (
        "Invalid patch path  '/invalidPath' specified for op 'replace'. "
        "Must be one of: [/name, /validateRequestParameters, /validateRequestBody]"
    )
    assert error_of(
        apigw.update_request_validator, **ids, patchOperations=[{"op": "replace", "path": "/name", "value": ""}]
    ) == ("BadRequestException", 400, "Request Validator name cannot be blank")
    cleared = apigw.update_request_validator(
        **ids, patchOperations=[{"op": "replace", "path": "/validateRequestBody"}]
    )
    assert cleared["validateRequestBody"] is False


def test_recorded_refusals_of_documentation_parts_and_test_invoke(apigw: Any) -> None:
    api = RestApi(apigw, "fidelity-doc-parts")
    made = apigw.create_documentation_part(
        restApiId=api.id, location={"type": "API"}, properties='{"description": "d"}'
    )["id"]
    unknown_part = ("NotFoundException", 404, "Invalid Documentation part identifier specified")
    assert error_of(apigw.get_documentation_part, restApiId="api_id", documentationPartId=made) == unknown_part
    assert error_of(
        apigw.update_documentation_part, restApiId="api_id", documentationPartId=made, patchOperations=[]
    ) == unknown_part
    assert error_of(apigw.delete_documentation_part, restApiId="api_id", documentationPartId=made)[2].startswith(
        "Invalid API identifier specified"
    )
    ids = {"restApiId": api.id, "documentationPartId": made}
    assert error_of(
        apigw.update_documentation_part, **ids, patchOperations=[{"op": "add", "path": "/properties", "value": "{}"}]
    )[2] == "Invalid patch path  '/properties' specified for op 'add'. Please choose supported operations"
    assert error_of(
        apigw.update_documentation_part, **ids, patchOperations=[{"op": "replace", "path": "/invalidPath"}]
    )[2] == "Invalid patch path  '/invalidPath' specified for op 'replace'. Must be one of: [/properties]"
    assert error_of(
        apigw.test_invoke_method, restApiId="nosuchapi", resourceId=api.ids["/"], httpMethod="GET"
    ) == ("NotFoundException", 404, "Invalid Resource identifier specified")


def test_integration_response_status_codes_are_checked_first(apigw: Any) -> None:
    api = RestApi(apigw, "fidelity-status-pattern")
    rid = api.resource("/r")
    apigw.put_method(restApiId=api.id, resourceId=rid, httpMethod="GET", authorizationType="NONE")
    wrong = (
        "ValidationException",
        400,
        "1 validation error detected: Value 'wrong' at 'statusCode' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [1-5]\\d\\d",
    )
    ids = {"restApiId": api.id, "resourceId": rid, "httpMethod": "GET", "statusCode": "wrong"}
    assert error_of(apigw.put_integration_response, **ids) == wrong
    assert error_of(apigw.get_integration_response, **ids) == wrong
    assert error_of(apigw.get_integration_response, **{**ids, "statusCode": "200"}) == (
        "NotFoundException", 404, "Invalid Integration identifier specified"
    )
    made = apigw.put_method_response(
        restApiId=api.id, resourceId=rid, httpMethod="GET", statusCode="200", responseModels={},
        responseParameters={},
    )
    assert (made["responseModels"], made["responseParameters"]) == ({}, {})


# --- class 3: answers shaped as AWS shapes them -------------------------------------------------------------


def test_every_management_answer_carries_a_request_id(gateway: GatewayProcess, apigw: Any) -> None:
    created = apigw.create_rest_api(name="fidelity-request-id")
    assert created["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        apigw.get_rest_api(restApiId="nosuchapi")
    assert caught.value.response["ResponseMetadata"]["RequestId"]
    deleted = apigw.delete_rest_api(restApiId=created["id"])
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202 and deleted["ResponseMetadata"]["RequestId"]
    unknown = requests.get(f"{gateway.url}/no/such/operation", timeout=5)
    assert unknown.status_code == 404 and unknown.headers["x-amzn-RequestId"]


def test_authorizer_is_dropped_when_authorization_becomes_none(apigw: Any, lam: Any) -> None:
    api = RestApi(apigw, "fidelity-auth-none")
    authorizer = apigw.create_authorizer(
        restApiId=api.id, name="tokens", type="TOKEN", identitySource="method.request.header.Authorization",
        authorizerUri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:us-east-1:000000000000:function:nope/invocations",
    )["id"]
    rid = api.resource("/p")
    apigw.put_method(restApiId=api.id, resourceId=rid, httpMethod="GET", authorizationType="custom",
                     authorizerId=authorizer)
    method = apigw.update_method(
        restApiId=api.id, resourceId=rid, httpMethod="GET",
        patchOperations=[{"op": "replace", "path": "/authorizationType", "value": "NONE"}],
    )
    assert method["authorizationType"] == "NONE" and "authorizerId" not in method


def test_deployments_show_api_summary_only_when_asked(apigw: Any) -> None:
    api = RestApi(apigw, "fidelity-summary")
    api.mock("/s", "GET", "{}")
    created = apigw.create_deployment(restApiId=api.id, stageName="s")
    assert "apiSummary" not in created
    assert "apiSummary" not in apigw.get_deployment(restApiId=api.id, deploymentId=created["id"])
    assert all("apiSummary" not in item for item in apigw.get_deployments(restApiId=api.id)["items"])
    embedded = apigw.get_deployment(restApiId=api.id, deploymentId=created["id"], embed=["apisummary"])
    assert embedded["apiSummary"] == {"/s": {"GET": {"authorizationType": "NONE", "apiKeyRequired": False}}}


def test_shapes_of_imports_and_responses(apigw: Any, gateway: GatewayProcess) -> None:
    spec = (
        "openapi: 3.0.1\ninfo: {title: shapes, version: 1.0}\npaths:\n  /x:\n    get:\n"
        "      x-amazon-apigateway-integration:\n        type: mock\n"
        "        requestTemplates: {application/json: '{\"statusCode\": 200}'}\n"
        "        responses:\n          default: {statusCode: '200'}\n"
    )
    api = apigw.import_rest_api(body=spec.encode())
    rid = next(r["id"] for r in apigw.get_resources(restApiId=api["id"])["items"] if r["path"] == "/x")
    answer = apigw.get_integration_response(restApiId=api["id"], resourceId=rid, httpMethod="GET", statusCode="200")
    assert "selectionPattern" not in answer
    response = apigw.put_method_response(
        restApiId=api["id"], resourceId=rid, httpMethod="GET", statusCode="201", responseModels={}
    )
    assert response["responseModels"] == {}
    v2 = gateway.client("apigatewayv2")
    http_api = v2.import_api(Body='{"openapi": "3.0.1", "info": {"title": "v", "version": 1.0}, "paths": {}}')
    assert http_api["Version"] == "1.0"
    authorizer = v2.create_authorizer(
        ApiId=http_api["ApiId"], Name="fn", AuthorizerType="REQUEST", AuthorizerPayloadFormatVersion="2.0",
        AuthorizerUri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:us-east-1:000000000000:function:auth/invocations",
        AuthorizerCredentialsArn="arn:aws:iam::000000000000:role/invoker", IdentitySource=["$request.header.a"],
    )
    assert authorizer["AuthorizerCredentialsArn"] == "arn:aws:iam::000000000000:role/invoker"


def test_boolean_mapping_values_in_imports_are_refused_not_a_crash(apigw: Any) -> None:
    spec = (
        "openapi: 3.0.1\ninfo: {title: bools, version: '1'}\npaths:\n  /x:\n    get:\n"
        "      x-amazon-apigateway-integration:\n        type: http\n        httpMethod: GET\n"
        "        uri: https://example.com\n        requestParameters:\n"
        "          integration.request.header.x: true\n"
        "        responses:\n          default: {statusCode: '200'}\n"
    )
    code, status, message = error_of(apigw.import_rest_api, body=spec.encode())
    assert (code, status) == ("BadRequestException", 400)
    assert message.startswith("Errors found during import:") and "true" in message


# --- class 4: UpdateRestApi as Terraform drives it ----------------------------------------------------------


def test_update_rest_api_paths_terraform_sends(apigw: Any) -> None:
    api = apigw.create_rest_api(name="tf-api", description="first", binaryMediaTypes=["image/png"])
    ops = [
        {"op": "replace", "path": "/name", "value": "tf-api-2"},
        {"op": "replace", "path": "/apiKeySource", "value": "AUTHORIZER"},
        {"op": "replace", "path": "/minimumCompressionSize", "value": "1024"},
        {"op": "replace", "path": "/disableExecuteApiEndpoint", "value": "true"},
        {"op": "remove", "path": "/binaryMediaTypes/image~1png"},
        {"op": "add", "path": "/binaryMediaTypes/application~1octet-stream"},
        {"op": "add", "path": "/binaryMediaTypes/image~1jpeg"},
        {"op": "replace", "path": "/endpointConfiguration/types/0", "value": "REGIONAL"},
        {"op": "remove", "path": "/description"},
        {"op": "replace", "path": "/policy", "value": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
         '"Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*"}]}'},
    ]
    updated = apigw.update_rest_api(restApiId=api["id"], patchOperations=ops)
    assert updated["name"] == "tf-api-2" and "description" not in updated
    assert (updated["apiKeySource"], updated["minimumCompressionSize"]) == ("AUTHORIZER", 1024)
    assert updated["disableExecuteApiEndpoint"] is True
    assert updated["binaryMediaTypes"] == ["application/octet-stream", "image/jpeg"]
    assert updated["endpointConfiguration"]["types"] == ["REGIONAL"]
    assert "execute-api:Invoke" in updated["policy"]
    assert updated["tags"] == {}
    assert apigw.get_rest_api(restApiId=api["id"])["name"] == "tf-api-2"
    # the recorded replace of a list entry drops the old one and appends the new
    replaced = apigw.update_rest_api(
        restApiId=api["id"],
        patchOperations=[{"op": "replace", "path": "/binaryMediaTypes/application~1octet-stream",
                          "value": "image/gif"}],
    )
    assert replaced["binaryMediaTypes"] == ["image/jpeg", "image/gif"]
    cleared = apigw.update_rest_api(
        restApiId=api["id"], patchOperations=[{"op": "replace", "path": "/minimumCompressionSize", "value": ""}]
    )
    assert "minimumCompressionSize" not in cleared
    for op in ("add", "replace", "remove"):
        assert error_of(
            apigw.update_rest_api, restApiId=api["id"],
            patchOperations=[{"op": op, "path": "/binaryMediaTypes", "value": "image/png"}],
        ) == ("BadRequestException", 400, "Invalid patch path /binaryMediaTypes")
    assert error_of(
        apigw.update_rest_api, restApiId=api["id"],
        patchOperations=[{"op": "add", "path": "/minimumCompressionSize", "value": "1"}],
    ) == ("BadRequestException", 400, "Invalid patch operation specified. Must be one of: [replace]")
    assert error_of(
        apigw.update_rest_api, restApiId=api["id"],
        patchOperations=[{"op": "replace", "path": "/minimumCompressionSize", "value": "-1"}],
    )[2] == "Invalid minimum compression size, must be between 0 and 10485760"
    assert error_of(
        apigw.update_rest_api, restApiId=api["id"],
        patchOperations=[{"op": "replace", "path": "/apiKeySource", "value": "COOKIE"}],
    )[:2] == ("BadRequestException", 400)


def test_private_api_vpc_endpoint_ids_as_terraform_edits_them(apigw: Any) -> None:
    api = apigw.create_rest_api(
        name="tf-private", endpointConfiguration={"types": ["PRIVATE"], "vpcEndpointIds": ["vpce-1"]}
    )
    path = "/endpointConfiguration/vpcEndpointIds"
    updated = apigw.update_rest_api(
        restApiId=api["id"],
        patchOperations=[{"op": "add", "path": path, "value": "vpce-2"}, {"op": "remove", "path": path,
                                                                          "value": "vpce-1"}],
    )
    assert updated["endpointConfiguration"]["vpcEndpointIds"] == ["vpce-2"]
    back = apigw.update_rest_api(
        restApiId=api["id"],
        patchOperations=[{"op": "replace", "path": "/endpointConfiguration/types/PRIVATE", "value": "REGIONAL"}],
    )
    assert back["endpointConfiguration"]["types"] == ["REGIONAL"]
    assert "vpcEndpointIds" not in back["endpointConfiguration"]


# --- class 4: UpdateStage as Terraform drives it ------------------------------------------------------------


def test_update_stage_paths_terraform_sends(apigw: Any) -> None:
    api = RestApi(apigw, "tf-stage")
    api.mock("/pets", "GET", '{"ok": true}')
    api.deploy("prod", variables={"old": "1", "keep": "k"})
    second = apigw.create_deployment(restApiId=api.id)["id"]
    log_arn = "arn:aws:logs:us-east-1:000000000000:log-group:access"
    ops = [
        {"op": "replace", "path": "/variables/new", "value": "2"},
        {"op": "remove", "path": "/variables/old"},
        {"op": "replace", "path": "/deploymentId", "value": second},
        {"op": "replace", "path": "/tracingEnabled", "value": "true"},
        {"op": "replace", "path": "/cacheClusterEnabled", "value": "true"},
        {"op": "replace", "path": "/cacheClusterSize", "value": "1.6"},
        {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": log_arn},
        {"op": "replace", "path": "/accessLogSettings/format", "value": "$context.requestId"},
        {"op": "replace", "path": "/*/*/metrics/enabled", "value": "true"},
        {"op": "replace", "path": "/*/*/logging/loglevel", "value": "INFO"},
        {"op": "replace", "path": "/~1pets/GET/throttling/rateLimit", "value": "10"},
        {"op": "replace", "path": "/~1pets/GET/throttling/burstLimit", "value": "5"},
        {"op": "replace", "path": "/~1pets/GET/caching/enabled", "value": "true"},
        {"op": "replace", "path": "/~1pets/GET/caching/ttlInSeconds", "value": "60"},
        {"op": "replace", "path": "/canarySettings/percentTraffic", "value": "10.500000"},
        {"op": "replace", "path": "/canarySettings/useStageCache", "value": "false"},
        {"op": "replace", "path": "/canarySettings/stageVariableOverrides/keep", "value": "canary"},
    ]
    stage = apigw.update_stage(restApiId=api.id, stageName="prod", patchOperations=ops)
    assert stage["variables"] == {"keep": "k", "new": "2"}
    assert stage["deploymentId"] == second and stage["tracingEnabled"] is True
    assert (stage["cacheClusterEnabled"], stage["cacheClusterSize"], stage["cacheClusterStatus"]) == (
        True, "1.6", "AVAILABLE"
    )
    assert stage["accessLogSettings"] == {"destinationArn": log_arn, "format": "$context.requestId"}
    assert stage["methodSettings"]["*/*"]["metricsEnabled"] is True
    assert stage["methodSettings"]["*/*"]["loggingLevel"] == "INFO"
    pets = stage["methodSettings"]["~1pets/GET"]
    assert (pets["throttlingRateLimit"], pets["throttlingBurstLimit"], pets["cachingEnabled"]) == (10.0, 5, True)
    assert pets["cacheTtlInSeconds"] == 60
    assert stage["canarySettings"] == {
        "percentTraffic": 10.5, "useStageCache": False, "stageVariableOverrides": {"keep": "canary"},
        "deploymentId": second,
    }
    # promoting the canary as AWS documents it: copy its variables and deployment onto the stage
    promoted = apigw.update_stage(
        restApiId=api.id, stageName="prod",
        patchOperations=[
            {"op": "copy", "from": "/canarySettings/stageVariableOverrides", "path": "/variables"},
            {"op": "copy", "from": "/canarySettings/deploymentId", "path": "/deploymentId"},
            {"op": "replace", "path": "/canarySettings/percentTraffic", "value": "0.0"},
        ],
    )
    assert promoted["variables"]["keep"] == "canary" and promoted["canarySettings"]["percentTraffic"] == 0.0
    removed = apigw.update_stage(
        restApiId=api.id, stageName="prod",
        patchOperations=[
            {"op": "remove", "path": "/accessLogSettings"},
            {"op": "remove", "path": "/canarySettings"},
            {"op": "remove", "path": "/~1pets/GET"},
            {"op": "remove", "path": "/description"},
        ],
    )
    assert "accessLogSettings" not in removed and "canarySettings" not in removed
    assert "~1pets/GET" not in removed["methodSettings"]
    assert apigw.get_stage(restApiId=api.id, stageName="prod")["variables"]["new"] == "2"
    assert error_of(
        apigw.update_stage, restApiId=api.id, stageName="prod",
        patchOperations=[{"op": "replace", "path": "/canarySettings/percentTraffic", "value": "101"}],
    )[:2] == ("BadRequestException", 400)
    assert error_of(
        apigw.update_stage, restApiId=api.id, stageName="prod",
        patchOperations=[{"op": "replace", "path": "/canarySettings/deploymentId", "value": "nosuch"}],
    ) == ("NotFoundException", 404, "Invalid Deployment identifier specified")


# --- class 9: services apigate does not serve ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "call", "kwargs"),
    [
        ("dynamodb", "list_tables", {}),  # JSON 1.0 with X-Amz-Target
        ("cloudformation", "list_stacks", {}),  # query (XML errors)
        ("ec2", "describe_vpcs", {}),  # EC2's own XML error shape
        ("s3", "list_buckets", {}),  # rest-xml
    ],
)
def test_unserved_services_answer_a_named_error(
    gateway: GatewayProcess, service: str, call: str, kwargs: dict[str, Any]
) -> None:
    client = gateway.client(service)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        getattr(client, call)(**kwargs)
    error = caught.value.response["Error"]
    assert error["Code"] == "UnknownServiceException"
    assert "apigate does not serve the" in error["Message"] and "--aws-endpoint" in error["Message"]
