"""The apigateway management API through boto3: building a REST API, with AWS's validation errors."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


def _error(info: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = info.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def _root(apigw: Any, api_id: str) -> str:
    return next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")


def test_rest_api_lifecycle(apigw: Any) -> None:
    created = apigw.create_rest_api(
        name="pets", description="pet store", endpointConfiguration={"types": ["REGIONAL"]}
    )
    api_id = created["id"]
    assert len(api_id) == 10
    assert created["endpointConfiguration"]["types"] == ["REGIONAL"]
    assert created["apiKeySource"] == "HEADER"
    assert created["createdDate"] is not None
    fetched = apigw.get_rest_api(restApiId=api_id)
    assert fetched["name"] == "pets" and fetched["description"] == "pet store"
    assert api_id in [api["id"] for api in apigw.get_rest_apis()["items"]]
    updated = apigw.update_rest_api(
        restApiId=api_id,
        patchOperations=[
            {"op": "replace", "path": "/description", "value": "v2"},
            {"op": "add", "path": "/binaryMediaTypes/image~1png"},
        ],
    )
    assert updated["description"] == "v2" and updated["binaryMediaTypes"] == ["image/png"]
    apigw.delete_rest_api(restApiId=api_id)
    with pytest.raises(ClientError) as gone:
        apigw.get_rest_api(restApiId=api_id)
    code, message, status = _error(gone)
    assert (code, status) == ("NotFoundException", 404)
    assert message == f"Invalid API identifier specified 000000000000:{api_id}"


def test_resources_methods_integrations(apigw: Any) -> None:
    api_id = apigw.create_rest_api(name="tree")["id"]
    root = _root(apigw, api_id)
    pets = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="pets")
    assert pets["path"] == "/pets" and pets["parentId"] == root
    pet = apigw.create_resource(restApiId=api_id, parentId=pets["id"], pathPart="{petId}")
    assert pet["path"] == "/pets/{petId}"
    proxy = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="{proxy+}")
    assert proxy["path"] == "/{proxy+}"

    method = apigw.put_method(
        restApiId=api_id,
        resourceId=pet["id"],
        httpMethod="GET",
        authorizationType="NONE",
        requestParameters={"method.request.path.petId": True},
    )
    assert method["httpMethod"] == "GET" and method["apiKeyRequired"] is False
    apigw.put_method(restApiId=api_id, resourceId=proxy["id"], httpMethod="ANY", authorizationType="NONE")
    assert (
        apigw.get_method(restApiId=api_id, resourceId=pet["id"], httpMethod="GET")["authorizationType"]
        == "NONE"
    )

    integration = apigw.put_integration(
        restApiId=api_id,
        resourceId=pet["id"],
        httpMethod="GET",
        type="HTTP_PROXY",
        integrationHttpMethod="GET",
        uri="http://example.invalid/pets/{petId}",
    )
    assert integration["type"] == "HTTP_PROXY" and integration["timeoutInMillis"] == 29000
    assert integration["passthroughBehavior"] == "WHEN_NO_MATCH"
    got = apigw.get_integration(restApiId=api_id, resourceId=pet["id"], httpMethod="GET")
    assert got["uri"] == "http://example.invalid/pets/{petId}"

    apigw.put_method(restApiId=api_id, resourceId=pets["id"], httpMethod="POST", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api_id,
        resourceId=pets["id"],
        httpMethod="POST",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 201}'},
    )
    response = apigw.put_method_response(
        restApiId=api_id, resourceId=pets["id"], httpMethod="POST", statusCode="201"
    )
    assert response["statusCode"] == "201"
    ir = apigw.put_integration_response(
        restApiId=api_id,
        resourceId=pets["id"],
        httpMethod="POST",
        statusCode="201",
        responseTemplates={"application/json": '{"created": true}'},
    )
    assert ir["responseTemplates"] == {"application/json": '{"created": true}'}

    listed = {r["path"]: r for r in apigw.get_resources(restApiId=api_id, embed=["methods"])["items"]}
    assert set(listed) == {"/", "/pets", "/pets/{petId}", "/{proxy+}"}
    assert listed["/pets"]["resourceMethods"]["POST"]["methodIntegration"]["type"] == "MOCK"

    apigw.delete_method(restApiId=api_id, resourceId=pets["id"], httpMethod="POST")
    with pytest.raises(ClientError) as no_method:
        apigw.get_method(restApiId=api_id, resourceId=pets["id"], httpMethod="POST")
    assert _error(no_method)[:2] == ("NotFoundException", "Invalid Method identifier specified")

    apigw.delete_resource(restApiId=api_id, resourceId=pets["id"])
    paths = {r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]}
    assert paths == {"/", "/{proxy+}"}  # the child went with its parent


def test_validation_errors(apigw: Any) -> None:
    api_id = apigw.create_rest_api(name="errors")["id"]
    root = _root(apigw, api_id)
    apigw.create_resource(restApiId=api_id, parentId=root, pathPart="pets")
    with pytest.raises(ClientError) as duplicate:
        apigw.create_resource(restApiId=api_id, parentId=root, pathPart="pets")
    assert _error(duplicate) == (
        "ConflictException",
        "Another resource with the same parent already has this name: pets",
        409,
    )

    greedy = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="{proxy+}")
    with pytest.raises(ClientError) as child:
        apigw.create_resource(restApiId=api_id, parentId=greedy["id"], pathPart="x")
    assert _error(child) == (
        "BadRequestException",
        "Cannot create a child of a resource with a greedy path variable: {proxy+}",
        400,
    )

    with pytest.raises(ClientError) as unknown:
        apigw.get_resource(restApiId=api_id, resourceId="nope00")
    assert _error(unknown) == ("NotFoundException", "Invalid Resource identifier specified", 404)
    with pytest.raises(ClientError) as unknown_parent:
        apigw.create_resource(restApiId=api_id, parentId="nope00", pathPart="x")
    assert _error(unknown_parent)[0] == "NotFoundException"
    with pytest.raises(ClientError) as no_integration:
        apigw.get_integration(restApiId=api_id, resourceId=root, httpMethod="GET")
    assert _error(no_integration)[0] == "NotFoundException"
    with pytest.raises(ClientError) as bad_verb:
        apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="FETCH", authorizationType="NONE")
    assert _error(bad_verb)[0] == "BadRequestException"
    with pytest.raises(ClientError) as nothing_to_deploy:
        apigw.create_deployment(restApiId=api_id, stageName="dev")
    assert _error(nothing_to_deploy) == (
        "BadRequestException",
        "The REST API doesn't contain any methods",
        400,
    )

    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    deployment = apigw.create_deployment(restApiId=api_id, stageName="dev")
    with pytest.raises(ClientError) as in_use:
        apigw.delete_deployment(restApiId=api_id, deploymentId=deployment["id"])
    assert _error(in_use) == (
        "BadRequestException",
        "Active stages pointing to this deployment must be moved or deleted",
        400,
    )
    with pytest.raises(ClientError) as exists:
        apigw.create_stage(restApiId=api_id, stageName="dev", deploymentId=deployment["id"])
    assert _error(exists)[:2] == ("ConflictException", "Stage already exists")
    apigw.delete_stage(restApiId=api_id, stageName="dev")
    apigw.delete_deployment(restApiId=api_id, deploymentId=deployment["id"])
    assert apigw.get_deployments(restApiId=api_id)["items"] == []


def test_deployments_and_stages(apigw: Any) -> None:
    api_id = apigw.create_rest_api(name="stages")["id"]
    root = _root(apigw, api_id)
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    bare = apigw.create_deployment(restApiId=api_id, description="no stage")
    assert apigw.get_stages(restApiId=api_id)["item"] == []
    stage = apigw.create_stage(
        restApiId=api_id, stageName="beta", deploymentId=bare["id"], variables={"color": "blue"}
    )
    assert stage["deploymentId"] == bare["id"] and stage["variables"] == {"color": "blue"}
    updated = apigw.update_stage(
        restApiId=api_id,
        stageName="beta",
        patchOperations=[
            {"op": "replace", "path": "/variables/color", "value": "green"},
            {"op": "replace", "path": "/variables/size", "value": "xl"},
            {"op": "replace", "path": "/description", "value": "beta stage"},
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "100"},
        ],
    )
    assert updated["variables"] == {"color": "green", "size": "xl"}
    assert updated["description"] == "beta stage"
    assert updated["methodSettings"]["*/*"]["throttlingRateLimit"] == 100.0
    removed = apigw.update_stage(
        restApiId=api_id, stageName="beta", patchOperations=[{"op": "remove", "path": "/variables/size"}]
    )
    assert removed["variables"] == {"color": "green"}
    assert [s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]] == ["beta"]
    assert apigw.get_stage(restApiId=api_id, stageName="beta")["deploymentId"] == bare["id"]
    assert [d["id"] for d in apigw.get_deployments(restApiId=api_id)["items"]] == [bare["id"]]
    apigw.delete_stage(restApiId=api_id, stageName="beta")
    with pytest.raises(ClientError) as gone:
        apigw.get_stage(restApiId=api_id, stageName="beta")
    assert _error(gone) == ("NotFoundException", "Invalid Stage identifier specified", 404)
