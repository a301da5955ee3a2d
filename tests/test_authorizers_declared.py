"""REST API authorizers declared rather than created call by call: OpenAPI security schemes (import and export),
SAM's ``Auth`` on ``AWS::Serverless::Api`` and CloudFormation's ``AWS::ApiGateway::Authorizer``.

Every test ends at a running gateway: the authorizers it made are listed by boto3 and requests are refused or
let through. Lambda authorizers are real functions; Cognito tokens are signed with an RSA key whose JWKS is served
on loopback, the gateway pointed at it with ``--user-pool POOL=ISSUER``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
import yaml
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from helpers import ECHO_EVENT, GatewayProcess, create_function, lambda_uri, unique

POOL = "us-east-1_Declared"
POOL_ARN = f"arn:aws:cognito-idp:us-east-1:000000000000:userpool/{POOL}"

# Lets "good" through for the whole API; any other token is refused the way AWS's blueprints do it.
TOKEN_AUTHORIZER = """
def lambda_handler(event, context):
    token = event["authorizationToken"]
    if token != "good":
        raise Exception("Unauthorized")
    api = event["methodArn"].split("/", 1)[0]
    return {
        "principalId": "tester",
        "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": api + "/*"}
        ]},
        "context": {"via": "token"},
    }
"""


class UserPool:
    """A user pool's JWKS at ``{issuer}/.well-known/jwks.json`` and tokens signed with its key."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = {
            **json.loads(RSAAlgorithm.to_jwk(self.key.public_key())),
            "kid": "k1",
            "use": "sig",
            "alg": "RS256",
        }
        body = json.dumps({"keys": [jwk]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = self.path == f"/{POOL}/.well-known/jwks.json"
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body) if found else 0))
                self.end_headers()
                if found:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}/{POOL}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def access_token(self, scope: str) -> str:
        now = int(time.time())
        claims = {
            "sub": "user-1",
            "iss": self.issuer,
            "client_id": "client-1",
            "token_use": "access",
            "scope": scope,
            "iat": now,
            "exp": now + 600,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def pool() -> Iterator[UserPool]:
    found = UserPool()
    yield found
    found.close()


@pytest.fixture(scope="module")
def pool_gateway(tmp_path_factory: pytest.TempPathFactory, pool: UserPool) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("declared"), ["--user-pool", f"{POOL}={pool.issuer}"])
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def functions(pool_gateway: GatewayProcess) -> dict[str, str]:
    lam = pool_gateway.client("lambda")
    return {"authorizer": create_function(lam, TOKEN_AUTHORIZER), "echo": create_function(lam, ECHO_EVENT)}


def _proxy(function: str) -> dict[str, Any]:
    return {"type": "aws_proxy", "httpMethod": "POST", "uri": lambda_uri(function)}


def _definition(functions: dict[str, str], *, ttl: int = 0, expression: str = "^[a-z]+$") -> dict[str, Any]:
    """An OpenAPI 3 definition: a TOKEN authorizer, a Cognito user pool and IAM, each guarding one path."""
    echo = _proxy(functions["echo"])
    return {
        "openapi": "3.0.1",
        "info": {"title": unique("declared"), "version": "1"},
        "paths": {
            "/pets": {"get": {"security": [{"tokens": []}], "x-amazon-apigateway-integration": echo}},
            "/users": {
                "get": {"security": [{"pool": ["users/read"]}], "x-amazon-apigateway-integration": echo}
            },
            "/iam": {"get": {"security": [{"sigv4": []}], "x-amazon-apigateway-integration": echo}},
            "/open": {"get": {"x-amazon-apigateway-integration": echo}},
            # OAuth 2 is not API Gateway's: the scheme documents the API and enforces nothing.
            "/documented": {
                "get": {"security": [{"oauth": ["read"]}], "x-amazon-apigateway-integration": echo}
            },
        },
        "components": {
            "securitySchemes": {
                "tokens": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "x-amazon-apigateway-authtype": "custom",
                    "x-amazon-apigateway-authorizer": {
                        "type": "token",
                        "authorizerUri": lambda_uri(functions["authorizer"]),
                        "authorizerResultTtlInSeconds": ttl,
                        "identityValidationExpression": expression,
                    },
                },
                "pool": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "x-amazon-apigateway-authtype": "cognito_user_pools",
                    "x-amazon-apigateway-authorizer": {
                        "type": "cognito_user_pools",
                        "providerARNs": [POOL_ARN],
                    },
                },
                "oauth": {
                    "type": "oauth2",
                    "flows": {
                        "implicit": {"authorizationUrl": "https://example.com/auth", "scopes": {"read": "r"}}
                    },
                },
                "sigv4": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "x-amazon-apigateway-authtype": "awsSigv4",
                },
            }
        },
    }


def _methods(apigw: Any, api_id: str) -> dict[str, dict[str, Any]]:
    """``GET /path`` -> the method as GetMethod returns it."""
    found = {}
    for resource in apigw.get_resources(restApiId=api_id)["items"]:
        for verb in resource.get("resourceMethods") or {}:
            method = apigw.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=verb)
            found[f"{verb} {resource['path']}"] = method
    return found


def _authorizers(apigw: Any, api_id: str) -> dict[str, dict[str, Any]]:
    return {doc["name"]: doc for doc in apigw.get_authorizers(restApiId=api_id)["items"]}


def _get(gateway: GatewayProcess, api_id: str, path: str, token: str | None = None) -> requests.Response:
    headers = {} if token is None else {"Authorization": token}
    return requests.get(gateway.invoke_url(api_id, "test", path), headers=headers, timeout=30)


def test_openapi_import_creates_authorizers_and_protects_methods(
    pool_gateway: GatewayProcess, functions: dict[str, str], pool: UserPool
) -> None:
    apigw = pool_gateway.client("apigateway")
    api = apigw.import_rest_api(body=json.dumps(_definition(functions)).encode())
    assert not any("authorizer" in warning.lower() for warning in api.get("warnings") or [])
    authorizers = _authorizers(apigw, api["id"])
    assert set(authorizers) == {"tokens", "pool"}
    tokens, user_pool = authorizers["tokens"], authorizers["pool"]
    assert tokens["type"] == "TOKEN"
    assert tokens["authType"] == "custom"
    assert tokens["authorizerUri"] == lambda_uri(functions["authorizer"])
    assert tokens["identitySource"] == "method.request.header.Authorization"  # from the scheme's header
    assert tokens["identityValidationExpression"] == "^[a-z]+$"
    assert tokens["authorizerResultTtlInSeconds"] == 0
    assert user_pool["type"] == "COGNITO_USER_POOLS"
    assert user_pool["providerARNs"] == [POOL_ARN]
    assert user_pool["identitySource"] == "method.request.header.Authorization"

    methods = _methods(apigw, api["id"])
    assert methods["GET /pets"]["authorizationType"] == "CUSTOM"
    assert methods["GET /pets"]["authorizerId"] == tokens["id"]
    assert methods["GET /users"]["authorizationType"] == "COGNITO_USER_POOLS"
    assert methods["GET /users"]["authorizerId"] == user_pool["id"]
    assert methods["GET /users"]["authorizationScopes"] == ["users/read"]
    assert methods["GET /iam"]["authorizationType"] == "AWS_IAM"
    assert methods["GET /open"]["authorizationType"] == "NONE"
    assert methods["GET /documented"]["authorizationType"] == "NONE"

    apigw.create_deployment(restApiId=api["id"], stageName="test")
    assert _get(pool_gateway, api["id"], "/pets").status_code == 401
    assert _get(pool_gateway, api["id"], "/pets", "wrong").status_code == 401
    assert _get(pool_gateway, api["id"], "/pets", "NOT-VALID!").status_code == 401  # fails the expression
    allowed = _get(pool_gateway, api["id"], "/pets", "good")
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["requestContext"]["authorizer"]["principalId"] == "tester"
    assert _get(pool_gateway, api["id"], "/users").status_code == 401
    assert _get(pool_gateway, api["id"], "/users", pool.access_token("pets/read")).status_code == 401
    scoped = _get(pool_gateway, api["id"], "/users", pool.access_token("users/read"))
    assert scoped.status_code == 200, scoped.text
    assert scoped.json()["requestContext"]["authorizer"]["claims"]["sub"] == "user-1"
    assert _get(pool_gateway, api["id"], "/iam").status_code == 403  # no signature
    assert _get(pool_gateway, api["id"], "/open").status_code == 200


def test_swagger_put_merges_in_place_and_overwrite_removes(
    pool_gateway: GatewayProcess, functions: dict[str, str]
) -> None:
    apigw = pool_gateway.client("apigateway")
    uri = lambda_uri(functions["authorizer"])

    def swagger(expression: str, *, secured: bool = True) -> bytes:
        document: dict[str, Any] = {
            "swagger": "2.0",
            "info": {"title": "swagger-auth", "version": "1"},
            "paths": {
                "/pets": {
                    "get": {
                        "x-amazon-apigateway-integration": _proxy(functions["echo"]),
                    }
                }
            },
        }
        if secured:
            document["security"] = [{"gate": []}]  # the document's default for every operation
            document["securityDefinitions"] = {
                "gate": {
                    "type": "apiKey",
                    "name": "X-Gate",
                    "in": "header",
                    "x-amazon-apigateway-authtype": "custom",
                    "x-amazon-apigateway-authorizer": {
                        "type": "token",
                        "authorizerUri": uri,
                        "identityValidationExpression": expression,
                        "authorizerResultTtlInSeconds": 0,
                    },
                }
            }
        return yaml.safe_dump(document).encode()

    api = apigw.import_rest_api(body=swagger("^[a-z]+$"))
    before = _authorizers(apigw, api["id"])["gate"]
    assert before["identitySource"] == "method.request.header.X-Gate"
    # A manually made authorizer is not the definition's to remove.
    manual = apigw.create_authorizer(
        restApiId=api["id"],
        name="manual",
        type="TOKEN",
        authorizerUri=uri,
        identitySource="method.request.header.Authorization",
    )

    apigw.put_rest_api(restApiId=api["id"], mode="merge", body=swagger("^good$"))
    after = _authorizers(apigw, api["id"])
    assert after["gate"]["id"] == before["id"]  # updated in place: methods keep naming it
    assert after["gate"]["identityValidationExpression"] == "^good$"
    apigw.create_deployment(restApiId=api["id"], stageName="test")
    url = pool_gateway.invoke_url(api["id"], "test", "/pets")
    assert requests.get(url, headers={"X-Gate": "good"}, timeout=30).status_code == 200
    assert requests.get(url, headers={"Authorization": "good"}, timeout=30).status_code == 401

    apigw.put_rest_api(restApiId=api["id"], mode="overwrite", body=swagger("", secured=False))
    assert set(_authorizers(apigw, api["id"])) == {"manual"}
    assert manual["id"] == _authorizers(apigw, api["id"])["manual"]["id"]
    assert _methods(apigw, api["id"])["GET /pets"]["authorizationType"] == "NONE"
    apigw.create_deployment(restApiId=api["id"], stageName="test")
    assert requests.get(url, timeout=30).status_code == 200


def test_import_refuses_an_authorizer_apigate_cannot_build(pool_gateway: GatewayProcess) -> None:
    apigw = pool_gateway.client("apigateway")
    document: dict[str, Any] = {
        "openapi": "3.0.1",
        "info": {"title": unique("broken"), "version": "1"},
        "paths": {"/x": {"get": {"security": [{"gate": []}]}}},
        "components": {
            "securitySchemes": {
                "gate": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "x-amazon-apigateway-authorizer": {"type": "token", "authorizerUri": "not-a-lambda"},
                }
            }
        },
    }
    with pytest.raises(ClientError) as error:
        apigw.import_rest_api(body=json.dumps(document).encode())
    assert error.value.response["Error"]["Code"] == "BadRequestException"
    assert "authorizer gate" in error.value.response["Error"]["Message"]
    names = {api["name"] for api in apigw.get_rest_apis()["items"]}
    assert document["info"]["title"] not in names  # nothing half-imported


def test_export_round_trip(pool_gateway: GatewayProcess, functions: dict[str, str]) -> None:
    apigw = pool_gateway.client("apigateway")
    original = apigw.import_rest_api(body=json.dumps(_definition(functions, ttl=60)).encode())
    resource = next(r for r in apigw.get_resources(restApiId=original["id"])["items"] if r["path"] == "/open")
    apigw.update_method(
        restApiId=original["id"],
        resourceId=resource["id"],
        httpMethod="GET",
        patchOperations=[{"op": "replace", "path": "/apiKeyRequired", "value": "true"}],
    )
    apigw.create_deployment(restApiId=original["id"], stageName="test")

    for kind in ("oas30", "swagger"):
        exported = json.loads(
            apigw.get_export(
                restApiId=original["id"],
                stageName="test",
                exportType=kind,
                parameters={"extensions": "authorizers,integrations"},
            )["body"].read()
        )
        schemes = (
            exported["securityDefinitions"]
            if kind == "swagger"
            else exported["components"]["securitySchemes"]
        )
        assert schemes["tokens"] == {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "x-amazon-apigateway-authtype": "custom",
            "x-amazon-apigateway-authorizer": {
                "type": "token",
                "authorizerUri": lambda_uri(functions["authorizer"]),
                "authorizerResultTtlInSeconds": 60,
                "identitySource": "method.request.header.Authorization",
                "identityValidationExpression": "^[a-z]+$",
            },
        }
        assert schemes["pool"]["x-amazon-apigateway-authorizer"]["providerARNs"] == [POOL_ARN]
        assert schemes["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
        assert schemes["api_key"] == {"type": "apiKey", "name": "x-api-key", "in": "header"}
        paths = exported["paths"]
        assert paths["/pets"]["get"]["security"] == [{"tokens": []}]
        assert paths["/users"]["get"]["security"] == [{"pool": ["users/read"]}]
        assert paths["/iam"]["get"]["security"] == [{"sigv4": []}]
        assert paths["/open"]["get"]["security"] == [{"api_key": []}]
        if kind == "oas30":
            assert paths["/documented"]["get"]["security"] == [{"oauth": ["read"]}]
            assert schemes["oauth"]["type"] == "oauth2"

        # The export imported again builds the same authorizers and the same protected methods.
        exported["info"]["title"] = unique(f"copy-{kind}")
        copy = apigw.import_rest_api(body=json.dumps(exported).encode())
        strip = ("id",)
        assert {
            name: {k: v for k, v in doc.items() if k not in strip}
            for name, doc in _authorizers(apigw, copy["id"]).items()
        } == {
            name: {k: v for k, v in doc.items() if k not in strip}
            for name, doc in _authorizers(apigw, original["id"]).items()
        }
        names = {doc["id"]: name for name, doc in _authorizers(apigw, original["id"]).items()}
        copy_names = {doc["id"]: name for name, doc in _authorizers(apigw, copy["id"]).items()}

        def auth(methods: dict[str, dict[str, Any]], by_id: dict[str, str]) -> dict[str, tuple[Any, ...]]:
            return {
                key: (
                    m["authorizationType"],
                    by_id.get(m.get("authorizerId", "")),
                    m.get("authorizationScopes"),
                    m.get("apiKeyRequired"),
                )
                for key, m in methods.items()
            }

        assert auth(_methods(apigw, copy["id"]), copy_names) == auth(_methods(apigw, original["id"]), names)

    # Without the authorizers extension the schemes are there, the authorizer details are not.
    plain = json.loads(
        apigw.get_export(restApiId=original["id"], stageName="test", exportType="oas30")["body"].read()
    )
    assert "x-amazon-apigateway-authorizer" not in plain["components"]["securitySchemes"]["tokens"]


SAM_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
Resources:
  AuthFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      InlineCode: |
        def handler(event, context):
            if event["type"] == "TOKEN":
                token = event["authorizationToken"]
            else:
                headers = {k.lower(): v for k, v in event["headers"].items()}
                token = event["queryStringParameters"]["key"] + headers["x-part"]
            if token != "letmein":
                raise Exception("Unauthorized")
            return {"principalId": "sam-user", "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}]}}
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      InlineCode: |
        import json
        def handler(event, context):
            return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}
      Events:
        Private:
          Type: Api
          Properties: {Path: /private, Method: get, RestApiId: !Ref SiteApi}
        Public:
          Type: Api
          Properties:
            Path: /public
            Method: get
            RestApiId: !Ref SiteApi
            Auth: {Authorizer: NONE}
        Scoped:
          Type: Api
          Properties:
            Path: /scoped
            Method: get
            RestApiId: !Ref SiteApi
            Auth: {Authorizer: PoolAuth, AuthorizationScopes: [pets/read]}
        Signed:
          Type: Api
          Properties:
            Path: /signed
            Method: get
            RestApiId: !Ref SiteApi
            Auth: {Authorizer: AWS_IAM}
        ByRequest:
          Type: Api
          Properties:
            Path: /by-request
            Method: get
            RestApiId: !Ref SiteApi
            Auth: {Authorizer: RequestAuth}
        Keyed:
          Type: Api
          Properties:
            Path: /keyed
            Method: get
            RestApiId: !Ref SiteApi
            Auth: {Authorizer: NONE, ApiKeyRequired: true}
  SiteApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      Cors: "'*'"
      Auth:
        DefaultAuthorizer: TokenAuth
        AddDefaultAuthorizerToCorsPreflight: false
        Authorizers:
          TokenAuth:
            FunctionArn: !GetAtt AuthFunction.Arn
            Identity:
              Header: X-Token
              ValidationExpression: "^[a-z]+$"
              ReauthorizeEvery: 0
          PoolAuth:
            UserPoolArn: !GetAtt Users.Arn
          RequestAuth:
            FunctionArn: !GetAtt AuthFunction.Arn
            FunctionPayloadType: REQUEST
            Identity:
              QueryStrings: [key]
              Headers: [X-Part]
  Users:
    Type: AWS::Cognito::UserPool
"""


@pytest.fixture
def started() -> Iterator[list[GatewayProcess]]:
    processes: list[GatewayProcess] = []
    yield processes
    for process in processes:
        if process.proc is not None:
            process.stop()


def _serve(started: list[GatewayProcess], data: Path, *args: str) -> GatewayProcess:
    process = GatewayProcess(data, list(args))
    process.start()
    started.append(process)
    return process


def test_sam_auth(tmp_path: Path, started: list[GatewayProcess], pool: UserPool) -> None:
    template = tmp_path / "app" / "template.yaml"
    template.parent.mkdir()
    template.write_text(SAM_TEMPLATE)
    # The template's user pool is not created by apigate: its id is {region}_{LogicalId}, pointed at our issuer.
    gateway = _serve(
        started,
        tmp_path / "data",
        str(template),
        "--no-watch",
        "--user-pool",
        f"us-east-1_Users={pool.issuer}",
    )
    output = "\n".join(gateway.output)
    assert "Auth is stored but not enforced" not in output
    assert "(AWS::Cognito::UserPool): not created" in output  # its own line, saying how it is verified
    apigw = gateway.client("apigateway")
    api_id = next(
        api["id"]
        for api in apigw.get_rest_apis()["items"]
        if api["tags"]["aws:cloudformation:logical-id"] == "SiteApi"
    )
    authorizers = _authorizers(apigw, api_id)
    assert set(authorizers) == {"TokenAuth", "PoolAuth", "RequestAuth"}
    assert authorizers["RequestAuth"]["type"] == "REQUEST"
    assert authorizers["RequestAuth"]["identitySource"] == (
        "method.request.header.X-Part, method.request.querystring.key"
    )
    assert authorizers["TokenAuth"]["identitySource"] == "method.request.header.X-Token"
    assert authorizers["TokenAuth"]["authorizerUri"].endswith(":function:AuthFunction/invocations")
    assert authorizers["PoolAuth"]["providerARNs"] == [
        "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_Users"
    ]

    def get(path: str, **headers: str) -> requests.Response:
        return requests.get(gateway.invoke_url(api_id, "dev", path), headers=headers, timeout=30)

    assert get("/private").status_code == 401
    assert get("/private", **{"X-Token": "nope"}).status_code == 401
    allowed = get("/private", **{"X-Token": "letmein"})
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["principalId"] == "sam-user"
    assert get("/public").status_code == 200  # Authorizer: NONE
    assert get("/scoped").status_code == 401
    assert get("/scoped", Authorization=pool.access_token("openid")).status_code == 401
    scoped = get("/scoped", Authorization=pool.access_token("pets/read"))
    assert scoped.status_code == 200, scoped.text
    assert scoped.json()["claims"]["scope"] == "pets/read"
    assert get("/signed", **{"X-Token": "letmein"}).status_code == 403  # IAM wants a signature
    assert get("/keyed").status_code == 403  # no API key
    by_request = gateway.invoke_url(api_id, "dev", "/by-request")
    assert requests.get(by_request + "?key=let", timeout=30).status_code == 401  # an identity source missing
    refused = requests.get(by_request + "?key=let", headers={"X-Part": "out"}, timeout=30)
    assert refused.status_code == 401
    allowed = requests.get(by_request + "?key=let", headers={"X-Part": "mein"}, timeout=30)
    assert allowed.status_code == 200, allowed.text
    keyed = _methods(apigw, api_id)["GET /keyed"]
    assert (keyed["authorizationType"], keyed["apiKeyRequired"]) == ("NONE", True)
    # The CORS preflight is left out of the default authorizer, as the template asks.
    preflight = requests.options(gateway.invoke_url(api_id, "dev", "/private"), timeout=30)
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"


def _cfn(uri: Any, expression: str, *, with_authorizer: bool = True) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "Gate": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "FunctionName": "cfn-gate",
                "Handler": "index.handler",
                "Runtime": "python3.12",
                "Code": {"ZipFile": TOKEN_AUTHORIZER.replace("def lambda_handler", "def handler")},
            },
        },
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "cfn-auth"}},
        "Secret": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
                "PathPart": "secret",
            },
        },
        "SecretGet": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "ResourceId": {"Ref": "Secret"},
                "HttpMethod": "GET",
                "AuthorizationType": "CUSTOM" if with_authorizer else "NONE",
                **({"AuthorizerId": {"Ref": "TokenAuth"}} if with_authorizer else {}),
                "Integration": {
                    "Type": "MOCK",
                    "RequestTemplates": {"application/json": '{"statusCode": 200}'},
                    "IntegrationResponses": [
                        {"StatusCode": 200, "ResponseTemplates": {"application/json": '{"secret": 42}'}}
                    ],
                },
            },
        },
        "Denied": {
            "Type": "AWS::ApiGateway::GatewayResponse",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "ResponseType": "UNAUTHORIZED",
                "StatusCode": "401",
                "ResponseTemplates": {"application/json": '{"denied": $context.error.messageString}'},
            },
        },
        "Deployment": {
            "Type": "AWS::ApiGateway::Deployment",
            "Properties": {"RestApiId": {"Ref": "Api"}, "StageName": "live"},
        },
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
    }
    if with_authorizer:
        resources["TokenAuth"] = {
            "Type": "AWS::ApiGateway::Authorizer",
            "Properties": {
                "RestApiId": {"Ref": "Api"},
                "Name": "cfn-token",
                "Type": "TOKEN",
                "AuthorizerUri": uri,
                "IdentitySource": "method.request.header.Authorization",
                "IdentityValidationExpression": expression,
                "AuthorizerResultTtlInSeconds": 0,
            },
        }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": resources,
        "Outputs": {"AuthorizerId": {"Value": {"Ref": "TokenAuth"}}} if with_authorizer else {},
    }


def test_cloudformation_authorizer(tmp_path: Path, started: list[GatewayProcess]) -> None:
    uri = {
        "Fn::Sub": [
            "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Arn}/invocations",
            {"Arn": {"Fn::GetAtt": ["Gate", "Arn"]}},
        ]
    }
    template = tmp_path / "cfn" / "stack.json"
    template.parent.mkdir()
    template.write_text(json.dumps(_cfn(uri, "^[a-z]+$")))
    first = _serve(started, tmp_path / "data", str(template), "--no-watch")
    apigw = first.client("apigateway")
    api_id = next(api["id"] for api in apigw.get_rest_apis()["items"] if api["name"] == "cfn-auth")
    created = _authorizers(apigw, api_id)["cfn-token"]
    assert created["type"] == "TOKEN"
    assert f"AuthorizerId: {created['id']}" in "\n".join(first.output)
    skipped = [line for line in first.output if line.startswith("Warning: skipped ")]
    assert len(skipped) == 1 and "(AWS::DynamoDB::Table)" in skipped[0]
    url = first.invoke_url(api_id, "live", "/secret")
    denied = requests.get(url, timeout=30)
    assert denied.status_code == 401
    assert denied.json() == {"denied": "Unauthorized"}  # the template's gateway response
    assert requests.get(url, headers={"Authorization": "good"}, timeout=30).json() == {"secret": 42}
    first.stop()

    # Redeployed with a stricter expression: the same authorizer, changed in place.
    template.write_text(json.dumps(_cfn(uri, "^never$")))
    second = _serve(started, tmp_path / "data", str(template), "--no-watch")
    apigw = second.client("apigateway")
    updated = _authorizers(apigw, api_id)
    assert set(updated) == {"cfn-token"}
    assert updated["cfn-token"]["id"] == created["id"]
    assert updated["cfn-token"]["identityValidationExpression"] == "^never$"
    url = second.invoke_url(api_id, "live", "/secret")
    assert requests.get(url, headers={"Authorization": "good"}, timeout=30).status_code == 401
    second.stop()

    # The authorizer removed from the template: removed from the API, the method open.
    template.write_text(json.dumps(_cfn(uri, "", with_authorizer=False)))
    third = _serve(started, tmp_path / "data", str(template), "--no-watch")
    assert _authorizers(third.client("apigateway"), api_id) == {}
    assert requests.get(third.invoke_url(api_id, "live", "/secret"), timeout=30).json() == {"secret": 42}
