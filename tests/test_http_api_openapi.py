"""ImportApi / ReimportApi / ExportApi for HTTP APIs: OpenAPI 3.0 with x-amazon-apigateway-* extensions."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import yaml
from botocore.exceptions import ClientError

from helpers import GatewayProcess, create_function

ECHO_V2 = """
import json
def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
"""


def definition(function: str, upstream: str) -> dict[str, Any]:
    lambda_uri = f"arn:aws:lambda:us-east-1:000000000000:function:{function}"
    return {
        "openapi": "3.0.1",
        "info": {"title": "imported", "version": "2024-01-01"},
        "x-amazon-apigateway-cors": {"allowOrigins": ["https://a.example"], "allowMethods": ["GET"]},
        "paths": {
            "/pets/{id}": {
                "get": {
                    "security": [{"oidc": ["read"]}],
                    "x-amazon-apigateway-integration": {
                        "type": "aws_proxy",
                        "uri": lambda_uri,
                        "httpMethod": "POST",
                        "payloadFormatVersion": "2.0",
                    },
                }
            },
            "/up/{proxy+}": {
                "x-amazon-apigateway-any-method": {
                    "x-amazon-apigateway-integration": {
                        "type": "http_proxy",
                        "uri": f"{upstream}/{{proxy}}",
                        "httpMethod": "ANY",
                        "payloadFormatVersion": "1.0",
                    }
                }
            },
            "/$default": {
                "x-amazon-apigateway-any-method": {
                    "x-amazon-apigateway-integration": {
                        "type": "aws_proxy",
                        "uri": lambda_uri,
                        "payloadFormatVersion": "2.0",
                    }
                }
            },
        },
        "components": {
            "securitySchemes": {
                "oidc": {
                    "type": "oauth2",
                    "x-amazon-apigateway-authorizer": {
                        "type": "jwt",
                        "identitySource": "$request.header.Authorization",
                        "jwtConfiguration": {"issuer": "https://issuer.example", "audience": ["aud1"]},
                    },
                }
            }
        },
    }


@pytest.fixture(scope="module")
def v2(gateway: GatewayProcess) -> Any:
    return gateway.client("apigatewayv2")


def test_import_serve_export_reimport(gateway: GatewayProcess, v2: Any, lam: Any, upstream: str) -> None:
    function = create_function(lam, ECHO_V2)
    imported = v2.import_api(Body=json.dumps(definition(function, upstream)))
    api_id = imported["ApiId"]
    assert imported["Name"] == "imported" and imported["Version"] == "2024-01-01"
    assert imported["CorsConfiguration"]["AllowOrigins"] == ["https://a.example"]
    routes = {r["RouteKey"]: r for r in v2.get_routes(ApiId=api_id)["Items"]}
    assert set(routes) == {"GET /pets/{id}", "ANY /up/{proxy+}", "$default"}
    assert routes["GET /pets/{id}"]["AuthorizationType"] == "JWT"
    assert routes["GET /pets/{id}"]["AuthorizationScopes"] == ["read"]
    authorizer = v2.get_authorizers(ApiId=api_id)["Items"][0]
    assert authorizer["JwtConfiguration"] == {"Issuer": "https://issuer.example", "Audience": ["aud1"]}

    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    url = f"{gateway.url}/_aws/execute-api/{api_id}"
    assert requests.get(f"{url}/something", timeout=10).json()["routeKey"] == "$default"
    assert requests.get(f"{url}/up/x/y", timeout=10).json()["path"] == "/x/y"
    assert requests.get(f"{url}/pets/1", timeout=10).status_code == 401

    exported = json.loads(
        v2.export_api(ApiId=api_id, Specification="OAS30", OutputType="JSON")["body"].read()
    )
    assert exported["openapi"].startswith("3.0")
    assert exported["info"]["title"] == "imported"
    assert set(exported["paths"]) == {"/pets/{id}", "/up/{proxy+}", "/$default"}
    get = exported["paths"]["/pets/{id}"]["get"]
    assert get["security"] == [{"oidc": ["read"]}]
    assert get["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
    assert (
        exported["components"]["securitySchemes"]["oidc"]["x-amazon-apigateway-authorizer"]["type"] == "jwt"
    )
    assert exported["x-amazon-apigateway-cors"]["allowOrigins"] == ["https://a.example"]
    bare = yaml.safe_load(
        v2.export_api(ApiId=api_id, Specification="OAS30", OutputType="YAML", IncludeExtensions=False)[
            "body"
        ].read()
    )
    assert "x-amazon-apigateway-integration" not in bare["paths"]["/pets/{id}"]["get"]

    # The export imports again into an equal API; a reimport replaces the routes and redeploys
    again = v2.import_api(Body=json.dumps(exported))
    assert {r["RouteKey"] for r in v2.get_routes(ApiId=again["ApiId"])["Items"]} == set(routes)
    smaller = definition(function, upstream)
    del smaller["paths"]["/$default"]
    v2.reimport_api(ApiId=api_id, Body=yaml.safe_dump(smaller))
    assert {r["RouteKey"] for r in v2.get_routes(ApiId=api_id)["Items"]} == {
        "GET /pets/{id}",
        "ANY /up/{proxy+}",
    }
    assert requests.get(f"{url}/something", timeout=10).status_code == 404


def test_import_rejects_swagger_2(v2: Any) -> None:
    with pytest.raises(ClientError) as error:
        v2.import_api(Body=json.dumps({"swagger": "2.0", "info": {"title": "old"}, "paths": {}}))
    assert error.value.response["Error"]["Code"] == "BadRequestException"
