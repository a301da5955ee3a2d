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


def test_update_resource_renames_and_moves_subtrees(apigw: Any) -> None:
    api_id = apigw.create_rest_api(name="moves")["id"]
    root = _root(apigw, api_id)
    a = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="a")["id"]
    b = apigw.create_resource(restApiId=api_id, parentId=a, pathPart="b")["id"]
    c = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="c")["id"]
    renamed = apigw.update_resource(
        restApiId=api_id, resourceId=a, patchOperations=[{"op": "replace", "path": "/pathPart", "value": "z"}]
    )
    assert renamed["path"] == "/z"
    assert apigw.get_resource(restApiId=api_id, resourceId=b)["path"] == "/z/b"
    apigw.update_resource(
        restApiId=api_id, resourceId=a, patchOperations=[{"op": "replace", "path": "/parentId", "value": c}]
    )
    assert apigw.get_resource(restApiId=api_id, resourceId=b)["path"] == "/c/z/b"
    with pytest.raises(ClientError) as cycle:
        apigw.update_resource(
            restApiId=api_id,
            resourceId=c,
            patchOperations=[{"op": "replace", "path": "/parentId", "value": b}],
        )
    assert _error(cycle)[:2] == ("BadRequestException", "Resources cannot be cyclical.")
    with pytest.raises(ClientError) as on_root:
        apigw.update_resource(
            restApiId=api_id,
            resourceId=root,
            patchOperations=[{"op": "replace", "path": "/pathPart", "value": "x"}],
        )
    assert _error(on_root)[:2] == ("BadRequestException", "Root resource cannot update its pathPart.")
    with pytest.raises(ClientError) as unknown_api:
        apigw.get_method(restApiId="nope000000", resourceId=root, httpMethod="GET")
    assert _error(unknown_api) == ("NotFoundException", "Invalid Resource identifier specified", 404)


def test_patch_values_keep_their_types_and_bad_values_are_400(apigw: Any) -> None:
    api_id = apigw.create_rest_api(name="patch-types")["id"]
    root = _root(apigw, api_id)
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    method = apigw.update_method(
        restApiId=api_id,
        resourceId=root,
        httpMethod="GET",
        patchOperations=[
            {"op": "add", "path": "/requestParameters/method.request.querystring.q", "value": "true"},
        ],
    )
    assert method["requestParameters"] == {"method.request.querystring.q": True}
    apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    with pytest.raises(ClientError) as bad_timeout:
        apigw.update_integration(
            restApiId=api_id,
            resourceId=root,
            httpMethod="GET",
            patchOperations=[{"op": "replace", "path": "/timeoutInMillis", "value": "abc"}],
        )
    assert _error(bad_timeout)[0] == "BadRequestException"
    with pytest.raises(ClientError) as bad_size:
        apigw.update_rest_api(
            restApiId=api_id,
            patchOperations=[{"op": "replace", "path": "/minimumCompressionSize", "value": "-1"}],
        )
    assert _error(bad_size)[0] == "BadRequestException"
    aws_action = apigw.put_integration(
        restApiId=api_id,
        resourceId=root,
        httpMethod="GET",
        type="AWS",
        integrationHttpMethod="POST",
        uri="arn:aws:apigateway:us-east-1:sqs:action/SendMessage",
    )
    assert aws_action["uri"].endswith("action/SendMessage")


def test_method_settings_keys_as_tools_write_them(apigw: Any) -> None:
    api_id = apigw.create_rest_api(name="settings")["id"]
    root = _root(apigw, api_id)
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    apigw.create_deployment(restApiId=api_id, stageName="s")
    stage = apigw.update_stage(
        restApiId=api_id,
        stageName="s",
        patchOperations=[
            {
                "op": "replace",
                "path": "/~1pets/GET/throttling/burstLimit",
                "value": "7",
            },  # the AWS CLI's form
            {"op": "replace", "path": "/a/b/GET/metrics/enabled", "value": "true"},  # Terraform's form
        ],
    )
    assert stage["methodSettings"]["~1pets/GET"]["throttlingBurstLimit"] == 7
    assert stage["methodSettings"]["a/b/GET"]["metricsEnabled"] is True
    stage = apigw.update_stage(
        restApiId=api_id, stageName="s", patchOperations=[{"op": "remove", "path": "/a/b/GET"}]
    )
    assert set(stage["methodSettings"]) == {"~1pets/GET"}


def test_create_rest_api_endpoint_rules(apigw: Any) -> None:
    private = apigw.create_rest_api(name="private", endpointConfiguration={"types": ["PRIVATE"]})
    assert private["endpointConfiguration"]["ipAddressType"] == "dualstack"
    with pytest.raises(ClientError) as both:
        apigw.create_rest_api(name="two", endpointConfiguration={"types": ["EDGE", "REGIONAL"]})
    assert _error(both)[:2] == ("BadRequestException", "Cannot create an api with multiple Endpoint Types.")
