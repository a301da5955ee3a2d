"""The management calls Terraform's AWS provider and CDK make, replayed through boto3 in their order (from the
provider's resource code: create, then the follow-up calls, then the read that fills the state)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from helpers import GatewayProcess

REGION = "us-east-1"
MOCK_BODY = {
    "openapi": "3.0.1",
    "info": {"title": "from-body", "version": "1"},
    "paths": {
        "/pets": {
            "get": {
                "x-amazon-apigateway-integration": {
                    "type": "mock",
                    "requestTemplates": {"application/json": '{"statusCode": 200}'},
                    "responses": {"default": {"statusCode": "200"}},
                }
            }
        }
    },
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(Path(tmp_path_factory.mktemp("calls")) / "data")
    process.start()
    yield process
    process.stop()


def test_terraform_rest_api_with_body_and_tags(gateway: GatewayProcess) -> None:
    """aws_api_gateway_rest_api: CreateRestApi (tags, endpoint configuration), PutRestApi mode=overwrite with
    the body, GetRestApi; a tag change is TagResource/UntagResource on /restapis/{id}, read back with GetTags."""
    apigw = gateway.client("apigateway")
    created = apigw.create_rest_api(
        name="tf-api", endpointConfiguration={"types": ["REGIONAL"]}, tags={"team": "blue", "env": "dev"}
    )
    assert created["tags"] == {"team": "blue", "env": "dev"}
    api_id = created["id"]
    apigw.put_rest_api(restApiId=api_id, mode="overwrite", body=json.dumps(MOCK_BODY).encode())
    read = apigw.get_rest_api(restApiId=api_id)
    assert read["endpointConfiguration"]["types"] == ["REGIONAL"]  # kept through the overwrite
    assert read["tags"] == {"team": "blue", "env": "dev"}
    paths = {r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]}
    assert paths == {"/", "/pets"}

    arn = f"arn:aws:apigateway:{REGION}::/restapis/{api_id}"
    apigw.tag_resource(resourceArn=arn, tags={"env": "prod", "owner": "ann"})
    apigw.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert apigw.get_tags(resourceArn=arn)["tags"] == {"env": "prod", "owner": "ann"}
    assert apigw.get_rest_api(restApiId=api_id)["tags"] == {"env": "prod", "owner": "ann"}

    # a second overwrite (the body changed in the configuration) replaces the paths, keeps the id and tags
    changed = {**MOCK_BODY, "paths": {"/cats": MOCK_BODY["paths"]["/pets"]}}
    apigw.put_rest_api(restApiId=api_id, mode="overwrite", body=json.dumps(changed).encode())
    assert {r["path"] for r in apigw.get_resources(restApiId=api_id)["items"]} == {"/", "/cats"}
    assert apigw.get_tags(resourceArn=arn)["tags"] == {"env": "prod", "owner": "ann"}

    with pytest.raises(ClientError) as missing:
        apigw.get_tags(resourceArn=f"arn:aws:apigateway:{REGION}::/restapis/nosuchapi")
    assert missing.value.response["Error"]["Code"] == "NotFoundException"


def test_get_rest_api_always_has_an_endpoint_configuration(gateway: GatewayProcess) -> None:
    apigw = gateway.client("apigateway")
    api_id = apigw.create_rest_api(name="plain")["id"]
    assert apigw.get_rest_api(restApiId=api_id)["endpointConfiguration"]["types"] == ["EDGE"]
    imported = apigw.import_rest_api(body=json.dumps(MOCK_BODY).encode())
    assert apigw.get_rest_api(restApiId=imported["id"])["endpointConfiguration"]["types"]


def test_terraform_deployment_and_stage_with_cache(gateway: GatewayProcess) -> None:
    """aws_api_gateway_deployment with stage_name creates the stage; aws_api_gateway_stage: CreateStage with
    a cache cluster and tags, then GetStage polled until cacheClusterStatus is AVAILABLE; stage tags by ARN."""
    apigw = gateway.client("apigateway")
    api_id = apigw.import_rest_api(body=json.dumps(MOCK_BODY).encode())["id"]
    deployment = apigw.create_deployment(restApiId=api_id, stageName="dev", description="tf")
    assert apigw.get_deployment(restApiId=api_id, deploymentId=deployment["id"])["description"] == "tf"
    assert apigw.get_stage(restApiId=api_id, stageName="dev")["deploymentId"] == deployment["id"]

    second = apigw.create_deployment(restApiId=api_id)
    apigw.create_stage(
        restApiId=api_id,
        stageName="cached",
        deploymentId=second["id"],
        cacheClusterEnabled=True,
        cacheClusterSize="0.5",
        tags={"tier": "gold"},
    )
    statuses = [apigw.get_stage(restApiId=api_id, stageName="cached")["cacheClusterStatus"] for _ in range(3)]
    assert "AVAILABLE" in statuses  # what Terraform's waiter polls for
    stage_arn = f"arn:aws:apigateway:{REGION}::/restapis/{api_id}/stages/cached"
    assert apigw.get_tags(resourceArn=stage_arn)["tags"] == {"tier": "gold"}
    apigw.tag_resource(resourceArn=stage_arn, tags={"more": "yes"})
    assert apigw.get_stage(restApiId=api_id, stageName="cached")["tags"] == {"tier": "gold", "more": "yes"}


def test_api_keys_and_usage_plans_are_taggable(gateway: GatewayProcess) -> None:
    apigw = gateway.client("apigateway")
    key = apigw.create_api_key(name="tf-key", enabled=True, tags={"a": "1"})
    plan = apigw.create_usage_plan(name="tf-plan", tags={"b": "2"})
    key_arn = f"arn:aws:apigateway:{REGION}::/apikeys/{key['id']}"
    plan_arn = f"arn:aws:apigateway:{REGION}::/usageplans/{plan['id']}"
    apigw.tag_resource(resourceArn=key_arn, tags={"c": "3"})
    assert apigw.get_tags(resourceArn=key_arn)["tags"] == {"a": "1", "c": "3"}
    assert apigw.get_tags(resourceArn=plan_arn)["tags"] == {"b": "2"}
    assert apigw.get_api_key(apiKey=key["id"])["tags"] == {"a": "1", "c": "3"}


def test_account_as_cdk_and_terraform_set_it(gateway: GatewayProcess) -> None:
    """CDK's AWS::ApiGateway::Account and Terraform's aws_api_gateway_account: UpdateAccount patching the
    CloudWatch role, GetAccount reading it back with the account throttle."""
    apigw = gateway.client("apigateway")
    before = apigw.get_account()
    assert before["throttleSettings"] == {"burstLimit": 5000, "rateLimit": 10000.0}
    assert "cloudwatchRoleArn" not in before
    role = "arn:aws:iam::000000000000:role/api-gateway-cloudwatch"
    updated = apigw.update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}]
    )
    assert updated["cloudwatchRoleArn"] == role
    assert apigw.get_account()["cloudwatchRoleArn"] == role
    with pytest.raises(ClientError) as refused:
        apigw.update_account(patchOperations=[{"op": "replace", "path": "/throttle/rateLimit", "value": "1"}])
    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ""}])
    assert "cloudwatchRoleArn" not in apigw.get_account()


def test_terraform_http_api_with_body(gateway: GatewayProcess) -> None:
    """aws_apigatewayv2_api with a body: CreateApi (with CORS and tags), ReimportApi, GetApi, then UpdateApi
    restoring the configured name, description and version; removing cors_configuration is
    DeleteCorsConfiguration; tags through TagResource/GetTags on /apis/{id}."""
    v2 = gateway.client("apigatewayv2")
    created = v2.create_api(
        Name="tf-http",
        ProtocolType="HTTP",
        Description="configured",
        CorsConfiguration={"AllowOrigins": ["https://a.example"]},
        Tags={"team": "blue"},
    )
    api_id = created["ApiId"]
    body = {
        "openapi": "3.0.1",
        "info": {"title": "title-in-body", "version": "7"},
        "paths": {
            "/ping": {
                "get": {
                    "x-amazon-apigateway-integration": {
                        "type": "HTTP_PROXY",
                        "httpMethod": "GET",
                        "uri": "http://127.0.0.1:9/ping",
                        "payloadFormatVersion": "1.0",
                    }
                }
            }
        },
    }
    v2.reimport_api(ApiId=api_id, Body=json.dumps(body))
    read = v2.get_api(ApiId=api_id)
    assert read["Name"] == "title-in-body"  # the body's title, until the follow-up UpdateApi
    v2.update_api(ApiId=api_id, Name="tf-http", Description="configured", Version="1")
    read = v2.get_api(ApiId=api_id)
    assert (read["Name"], read["Description"], read["Version"]) == ("tf-http", "configured", "1")
    assert [r["RouteKey"] for r in v2.get_routes(ApiId=api_id)["Items"]] == ["GET /ping"]
    assert read["Tags"] == {"team": "blue"}

    v2.update_api(ApiId=api_id, CorsConfiguration={"AllowOrigins": ["https://b.example"], "MaxAge": 60})
    assert v2.get_api(ApiId=api_id)["CorsConfiguration"]["AllowOrigins"] == ["https://b.example"]
    v2.delete_cors_configuration(ApiId=api_id)
    assert "CorsConfiguration" not in v2.get_api(ApiId=api_id)

    arn = f"arn:aws:apigateway:{REGION}::/apis/{api_id}"
    v2.tag_resource(ResourceArn=arn, Tags={"env": "dev"})
    v2.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert v2.get_tags(ResourceArn=arn)["Tags"] == {"env": "dev"}
    assert v2.get_api(ApiId=api_id)["Tags"] == {"env": "dev"}


def test_http_api_stage_tags(gateway: GatewayProcess) -> None:
    v2 = gateway.client("apigatewayv2")
    api_id = v2.create_api(Name="staged", ProtocolType="HTTP")["ApiId"]
    v2.create_stage(ApiId=api_id, StageName="live", AutoDeploy=True, Tags={"a": "b"})
    arn = f"arn:aws:apigateway:{REGION}::/apis/{api_id}/stages/live"
    assert v2.get_tags(ResourceArn=arn)["Tags"] == {"a": "b"}
    v2.tag_resource(ResourceArn=arn, Tags={"c": "d"})
    assert v2.get_stage(ApiId=api_id, StageName="live")["Tags"] == {"a": "b", "c": "d"}


def test_caller_identity(gateway: GatewayProcess) -> None:
    """Terraform's provider calls sts:GetCallerIdentity first, to learn the account and partition."""
    identity = gateway.client("sts").get_caller_identity()
    assert identity["Account"] == "000000000000"
    assert identity["Arn"] == "arn:aws:iam::000000000000:root"
