"""AWS::ApiGateway::DocumentationPart and AWS::ApiGateway::DocumentationVersion in a CloudFormation template, with
the stage's DocumentationVersion: served by `apigate serve TEMPLATE`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import GatewayProcess

TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Resources": {
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "documented-cfn"}},
        "Ping": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
                "PathPart": "ping",
            },
        },
        "PingGet": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "ResourceId": {"Ref": "Ping"},
                "HttpMethod": "GET",
                "AuthorizationType": "NONE",
                "MethodResponses": [{"StatusCode": "200"}],
                "Integration": {
                    "Type": "MOCK",
                    "RequestTemplates": {"application/json": '{"statusCode": 200}'},
                    "IntegrationResponses": [{"StatusCode": "200"}],
                },
            },
        },
        "ApiDoc": {
            "Type": "AWS::ApiGateway::DocumentationPart",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "Location": {"Type": "API"},
                "Properties": json.dumps({"info": {"description": "From a template"}}),
            },
        },
        "PingDoc": {
            "Type": "AWS::ApiGateway::DocumentationPart",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "Location": {"Type": "METHOD", "Path": "/ping", "Method": "GET"},
                "Properties": json.dumps({"summary": "Ping the service"}),
            },
        },
        "Docs": {
            "Type": "AWS::ApiGateway::DocumentationVersion",
            "Properties": {"RestApiId": {"Ref": "Api"}, "DocumentationVersion": "v1", "Description": "first"},
        },
        "Deployment": {"Type": "AWS::ApiGateway::Deployment", "Properties": {"RestApiId": {"Ref": "Api"}}},
        "Stage": {
            "Type": "AWS::ApiGateway::Stage",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "DeploymentId": {"Ref": "Deployment"},
                "StageName": "live",
                "DocumentationVersion": {"Ref": "Docs"},
            },
        },
    },
}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[GatewayProcess]:
    template = tmp_path / "stack" / "stack.json"
    template.parent.mkdir()
    template.write_text(json.dumps(TEMPLATE))
    process = GatewayProcess(tmp_path / "data", [str(template), "--no-watch"])
    process.start()
    yield process
    process.stop()


def test_template_documentation(served: GatewayProcess) -> None:
    apigw = served.client("apigateway")
    api = next(a["id"] for a in apigw.get_rest_apis()["items"] if a["name"] == "documented-cfn")
    parts = apigw.get_documentation_parts(restApiId=api)["items"]
    assert sorted(p["location"]["type"] for p in parts) == ["API", "METHOD"]
    assert apigw.get_stage(restApiId=api, stageName="live")["documentationVersion"] == "v1"
    assert apigw.get_documentation_version(restApiId=api, documentationVersion="v1")["description"] == "first"
    exported = json.loads(
        apigw.get_export(
            restApiId=api, stageName="live", exportType="oas30", parameters={"extensions": "documentation"}
        )["body"].read()
    )
    assert exported["info"]["description"] == "From a template"
    assert exported["paths"]["/ping"]["get"]["summary"] == "Ping the service"
