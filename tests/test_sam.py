"""`apigate serve TEMPLATE`: real SAM and CloudFormation templates, deployed, served, reloaded, rolled back."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers import GatewayProcess, wait_for

SAM_APP = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Greeting:
    Type: String
    Default: hello
  Env:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Colours:
    Type: CommaDelimitedList
    Default: red,green,blue
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
Globals:
  Function:
    Runtime: python3.12
    Timeout: 7
    Environment:
      Variables:
        GREETING: !Ref Greeting
        SHARED: from-globals
  Api:
    BinaryMediaTypes: ["image~1png"]
Resources:
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      MemorySize: 256
      Environment:
        Variables:
          MODE: !If [IsProd, production, development]
          COLOUR: !Select [1, !Ref Colours]
          STACK: !Sub "${AWS::StackName}-${AWS::Region}-${AWS::AccountId}"
      Events:
        Root:
          Type: Api
          Properties: {Path: /, Method: get}
        Item:
          Type: Api
          Properties: {Path: "/items/{id}", Method: get}
        Proxy:
          Type: Api
          Properties: {Path: "/any/{proxy+}", Method: any}
        OnMyApi:
          Type: Api
          Properties: {Path: /mine, Method: post, RestApiId: !Ref MyApi}
        Http:
          Type: HttpApi
          Properties: {Path: /http, Method: get}
  InlineFunction:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      InlineCode: |
        def handler(event, context):
            return {"statusCode": 200, "body": "inline"}
      Events:
        Inline:
          Type: Api
          Properties: {Path: /inline, Method: get, RestApiId: !Ref MyApi}
  ProdOnlyFunction:
    Type: AWS::Serverless::Function
    Condition: IsProd
    Properties:
      InlineCode: "def handler(e, c): return {'statusCode': 200, 'body': 'prod'}"
      Handler: index.handler
      Events:
        Prod:
          Type: Api
          Properties: {Path: /prod-only, Method: get}
  MyApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v1
      EndpointConfiguration: REGIONAL
      Variables:
        table: !Join ["-", [pets, !Ref Env]]
      MethodSettings:
        - ResourcePath: "/*"
          HttpMethod: "*"
          ThrottlingBurstLimit: 20
          ThrottlingRateLimit: 10
      Cors: "'*'"
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: pets
  Queue:
    Type: AWS::SQS::Queue
Outputs:
  ApiUrl:
    Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/"
  FunctionArn:
    Value: !GetAtt EchoFunction.Arn
  Parts:
    Value: !Join [",", !Split ["/", "a/b/c"]]
  TableName:
    Value: !Ref Table
"""

ECHO_APP = """
import json, os

def handler(event, context):
    body = {
        "env": {k: os.environ.get(k) for k in ("GREETING", "SHARED", "MODE", "COLOUR", "STACK")},
        # REST APIs send payload 1.0, HTTP APIs 2.0
        "path": event["path"] if "path" in event else event["rawPath"],
        "method": event["httpMethod"] if "httpMethod" in event else event["requestContext"]["http"]["method"],
        "pathParameters": event.get("pathParameters"),
        "stageVariables": event.get("stageVariables"),
        "stage": event["requestContext"]["stage"],
        "body": event.get("body"),
        "version2": event.get("version") == "2.0",
        "version": VERSION,
    }
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}

VERSION = 1
"""


def write_app(folder: Path, template: str = SAM_APP, code: str = ECHO_APP) -> Path:
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "app.py").write_text(code)
    path = folder / "template.yaml"
    path.write_text(template)
    return path


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[GatewayProcess]]:
    processes: list[GatewayProcess] = []
    yield processes
    for process in processes:
        if process.proc is not None:
            process.stop()


def serve(started: list[GatewayProcess], data: Path, *args: str) -> GatewayProcess:
    process = GatewayProcess(data, list(args))
    process.start()
    started.append(process)
    return process


def api_ids(gateway: GatewayProcess) -> dict[str, str]:
    """Each REST API's id by its logical id, from the tag CloudFormation gives what it creates (SAM names its
    APIs after the stack, so names repeat)."""
    return {
        api["tags"]["aws:cloudformation:logical-id"]: api["id"]
        for api in gateway.client("apigateway").get_rest_apis()["items"]
    }


def wait_line(gateway: GatewayProcess, text: str) -> str:
    wait_for(lambda: any(text in line for line in gateway.output), timeout=20)
    return next(line for line in gateway.output if text in line)


def test_sam_app_serves_its_routes(tmp_path: Path, started: list[GatewayProcess]) -> None:
    template = write_app(tmp_path / "app")
    gateway = serve(started, tmp_path / "data", str(template), "--parameter-overrides", "Greeting=bonjour")
    apis = api_ids(gateway)
    assert set(apis) == {"ServerlessRestApi", "MyApi"}
    implicit, mine = apis["ServerlessRestApi"], apis["MyApi"]
    # as on AWS, SAM names both after the stack (the folder)
    names = {api["name"] for api in gateway.client("apigateway").get_rest_apis()["items"]}
    assert names == {"app"}

    answer = requests.get(gateway.invoke_url(implicit, "Prod", "/items/42"), timeout=10).json()
    assert answer["pathParameters"] == {"id": "42"}
    assert answer["stage"] == "Prod"
    assert answer["env"] == {
        "GREETING": "bonjour",
        "SHARED": "from-globals",
        "MODE": "development",
        "COLOUR": "green",
        "STACK": "app-us-east-1-000000000000",
    }
    assert requests.get(gateway.invoke_url(implicit, "Prod", "/"), timeout=10).json()["path"] == "/"
    proxied = requests.put(gateway.invoke_url(implicit, "Prod", "/any/x/y"), timeout=10).json()
    assert (proxied["method"], proxied["pathParameters"]) == ("PUT", {"proxy": "x/y"})
    # the condition is false: neither the function nor its route exists
    assert requests.get(gateway.invoke_url(implicit, "Prod", "/prod-only"), timeout=10).status_code == 403
    mine_answer = requests.post(gateway.invoke_url(mine, "v1", "/mine"), data="hi", timeout=10).json()
    assert mine_answer["stageVariables"] == {"table": "pets-dev"}
    assert mine_answer["body"] == "hi"
    assert requests.get(gateway.invoke_url(mine, "v1", "/inline"), timeout=10).text == "inline"

    apigw, lam = gateway.client("apigateway"), gateway.client("lambda")
    api = apigw.get_rest_api(restApiId=mine)
    assert api["endpointConfiguration"]["types"] == ["REGIONAL"]
    assert api["binaryMediaTypes"] == ["image/png"]  # from Globals.Api, ~1 decoded
    stage = apigw.get_stage(restApiId=mine, stageName="v1")
    assert stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 20
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 10.0
    config = lam.get_function_configuration(FunctionName="EchoFunction")
    assert (config["Timeout"], config["MemorySize"], config["Runtime"]) == (7, 256, "python3.12")
    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert names == {"EchoFunction", "InlineFunction"}

    output = "\n".join(gateway.output)
    assert f"/_aws/execute-api/{implicit}/Prod/items/{{id}}" in output
    # an Output spelling AWS's host name is rewritten to the gateway's own address
    assert f"ApiUrl: {gateway.url}/_aws/execute-api/{implicit}/Prod/" in output
    assert "FunctionArn: arn:aws:lambda:us-east-1:000000000000:function:EchoFunction" in output
    assert "Parts: a,b,c" in output
    # a reference to a resource apigate does not create says so, and each such resource has its own line
    assert "TableName: skipped:AWS::DynamoDB::Table:Table" in output
    skipped = [line for line in gateway.output if line.startswith("Warning: skipped ")]
    assert [line.split()[2:4] for line in skipped] == [
        ["Queue", "(AWS::SQS::Queue):"],
        ["Table", "(AWS::DynamoDB::Table):"],
    ]
    # the HttpApi event: SAM's implicit HTTP API, payload 2.0, its $default stage at the root
    v2 = gateway.client("apigatewayv2")
    http_api = next(api for api in v2.get_apis()["Items"] if api["Name"] == "app")
    assert [r["RouteKey"] for r in v2.get_routes(ApiId=http_api["ApiId"])["Items"]] == ["GET /http"]
    http_answer = requests.get(f"{gateway.url}/_aws/execute-api/{http_api['ApiId']}/http", timeout=10).json()
    assert (http_answer["path"], http_answer["stage"], http_answer["version2"]) == ("/http", "$default", True)
    # Cors: SAM's OPTIONS methods answer the preflight
    preflight = requests.options(gateway.invoke_url(mine, "v1", "/mine"), timeout=10)
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight.headers["Access-Control-Allow-Methods"] == "OPTIONS,POST"


def test_parameters_switch_conditions(tmp_path: Path, started: list[GatewayProcess]) -> None:
    template = write_app(tmp_path / "app")
    gateway = serve(
        started,
        tmp_path / "data",
        str(template),
        "--parameter-overrides",
        "ParameterKey=Env,ParameterValue=prod",
    )
    implicit = api_ids(gateway)["ServerlessRestApi"]
    assert requests.get(gateway.invoke_url(implicit, "Prod", "/prod-only"), timeout=10).text == "prod"
    env = requests.get(gateway.invoke_url(implicit, "Prod", "/items/1"), timeout=10).json()["env"]
    assert env["MODE"] == "production"


def test_rerun_updates_in_place(tmp_path: Path, started: list[GatewayProcess]) -> None:
    template = write_app(tmp_path / "app")
    first = serve(started, tmp_path / "data", str(template), "--no-watch")
    before = api_ids(first)
    first.stop()
    # the same template on the same data: the same APIs and functions, not copies
    template.write_text(
        SAM_APP.replace(
            "          Properties: {Path: /inline, Method: get, RestApiId: !Ref MyApi}\n",
            "          Properties: {Path: /inline2, Method: get, RestApiId: !Ref MyApi}\n",
        )
    )
    second = serve(started, tmp_path / "data", str(template), "--no-watch")
    assert api_ids(second) == before
    mine = before["MyApi"]
    assert requests.get(second.invoke_url(mine, "v1", "/inline2"), timeout=10).text == "inline"
    assert requests.get(second.invoke_url(mine, "v1", "/inline"), timeout=10).status_code == 403
    second.stop()
    # a resource removed from the template is removed from the gateway
    template.write_text(_without_inline(SAM_APP))
    third = serve(started, tmp_path / "data", str(template), "--no-watch")
    names = {f["FunctionName"] for f in third.client("lambda").list_functions()["Functions"]}
    assert names == {"EchoFunction"}
    assert api_ids(third) == before


def _without_inline(template: str) -> str:
    start = template.index("  InlineFunction:")
    end = template.index("  ProdOnlyFunction:")
    return template[:start] + template[end:]


def _serve_broken(template: Path, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "apigate.cli", "serve", str(template), "--port", "0", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("mutation", "resource", "message"),
    [
        (lambda t: t.replace("!GetAtt EchoFunction.Arn", "!GetAtt Missing.Arn"), None, "Missing"),
        (lambda t: t.replace("CodeUri: src/", "CodeUri: nowhere/"), "EchoFunction", "nowhere"),
        (lambda t: t.replace("Runtime: python3.12", "Runtime: java21"), "EchoFunction", "runtime"),
        (
            lambda t: t.replace("      StageName: v1\n", "      StageName: v1!\n"),
            "MyApiStage",  # the translator's name for a stage whose name is not an identifier
            "Stage name",
        ),
        (lambda t: t.replace("    Default: dev\n", ""), None, "parameter Env has no Default"),
        (lambda t: t.replace("    Type: AWS::Serverless::Api", "    Properties: {}"), "MyApi", "Type"),
        (lambda t: t + "  Oops: [unclosed\n", None, "invalid YAML"),
    ],
)
def test_broken_template_fails_cleanly(
    tmp_path: Path, mutation: Any, resource: str | None, message: str
) -> None:
    template = write_app(tmp_path / "app", mutation(SAM_APP))
    data = tmp_path / "data"
    result = _serve_broken(template, data)
    assert result.returncode == 2, result.stderr
    assert "ready on" not in result.stdout
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"apigate: error: {template}"), error
    if resource is not None:
        assert f"resource {resource}" in error
    assert message in error
    # nothing half-deployed: the data dir holds no API, no function, no stack
    if data.exists():
        gateway = GatewayProcess(data)
        gateway.start()
        try:
            assert gateway.client("apigateway").get_rest_apis()["items"] == []
            assert gateway.client("lambda").list_functions()["Functions"] == []
        finally:
            gateway.stop()


def test_plain_cloudformation(tmp_path: Path, started: list[GatewayProcess]) -> None:
    template = tmp_path / "cfn" / "stack.json"
    (tmp_path / "cfn" / "code").mkdir(parents=True)
    (tmp_path / "cfn" / "code" / "main.py").write_text(
        "import json\ndef handler(event, context):\n"
        "    return {'statusCode': 200, 'body': json.dumps({'who': event['pathParameters']['who'],"
        " 'vars': event['stageVariables']})}\n"
    )
    document = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Inline": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": "cfn-inline",
                    "Handler": "index.handler",
                    "Runtime": "python3.11",
                    "Role": "arn:aws:iam::000000000000:role/x",
                    "Code": {
                        "ZipFile": "def handler(e, c):\n    return {'statusCode': 200, 'body': 'zipfile'}\n"
                    },
                },
            },
            "Local": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Handler": "main.handler", "Runtime": "python3.12", "Code": "code"},
            },
            "Permission": {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "FunctionName": {"Fn::GetAtt": ["Local", "Arn"]},
                    "Action": "lambda:InvokeFunction",
                    "Principal": "apigateway.amazonaws.com",
                    "SourceArn": {"Fn::Sub": "arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*"},
                },
            },
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "cfn-api"}},
            "Hello": {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
                    "PathPart": "hello",
                },
            },
            "Who": {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "ParentId": {"Ref": "Hello"},
                    "PathPart": "{who}",
                },
            },
            "WhoGet": {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "ResourceId": {"Ref": "Who"},
                    "HttpMethod": "GET",
                    "AuthorizationType": "NONE",
                    "Integration": {
                        "Type": "AWS_PROXY",
                        "IntegrationHttpMethod": "POST",
                        "Uri": {
                            "Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                            "${Local.Arn}/invocations"
                        },
                    },
                },
            },
            "HelloGet": {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "ResourceId": {"Ref": "Hello"},
                    "HttpMethod": "GET",
                    "AuthorizationType": "NONE",
                    "MethodResponses": [{"StatusCode": "200"}],
                    "Integration": {
                        "Type": "MOCK",
                        "RequestTemplates": {"application/json": '{"statusCode": 200}'},
                        "IntegrationResponses": [
                            {"StatusCode": "200", "ResponseTemplates": {"application/json": '{"mock": true}'}}
                        ],
                    },
                },
            },
            "Deployment": {
                "Type": "AWS::ApiGateway::Deployment",
                "Properties": {"RestApiId": {"Ref": "Api"}},
            },
            "Stage": {
                "Type": "AWS::ApiGateway::Stage",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "DeploymentId": {"Ref": "Deployment"},
                    "StageName": "live",
                    "Variables": {"color": "blue"},
                },
            },
            "BodyApi": {
                "Type": "AWS::ApiGateway::RestApi",
                "Properties": {
                    "Body": {
                        "openapi": "3.0.1",
                        "info": {"title": "from-body", "version": "1"},
                        "paths": {
                            "/inline": {
                                "get": {
                                    "x-amazon-apigateway-integration": {
                                        "type": "aws_proxy",
                                        "httpMethod": "POST",
                                        "uri": {
                                            "Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/"
                                            "2015-03-31/functions/${Inline.Arn}/invocations"
                                        },
                                    }
                                }
                            }
                        },
                    }
                },
            },
            "BodyDeployment": {
                "Type": "AWS::ApiGateway::Deployment",
                "Properties": {"RestApiId": {"Ref": "BodyApi"}, "StageName": "main"},
            },
        },
        "Outputs": {"Url": {"Value": {"Fn::Sub": "${Api}/${Stage}"}}},
    }
    template.write_text(json.dumps(document))
    gateway = serve(started, tmp_path / "data", str(template))
    apis = api_ids(gateway)
    api = apis["Api"]
    answer = requests.get(gateway.invoke_url(api, "live", "/hello/ada"), timeout=10).json()
    assert answer == {"who": "ada", "vars": {"color": "blue"}}
    assert requests.get(gateway.invoke_url(api, "live", "/hello"), timeout=10).json() == {"mock": True}
    assert requests.get(gateway.invoke_url(apis["BodyApi"], "main", "/inline"), timeout=10).text == "zipfile"
    policy = json.loads(gateway.client("lambda").get_policy(FunctionName="Local")["Policy"])
    assert policy["Statement"][0]["Sid"] == "Permission"
    assert f"Url: {api}/live" in "\n".join(gateway.output)


def test_definition_body_and_uri(tmp_path: Path, started: list[GatewayProcess]) -> None:
    folder = tmp_path / "defs"
    folder.mkdir()
    (folder / "api.yaml").write_text(
        textwrap.dedent(
            """
            openapi: 3.0.1
            info: {title: from-uri, version: "1"}
            paths:
              /ping:
                get:
                  x-amazon-apigateway-integration:
                    type: mock
                    requestTemplates: {application/json: '{"statusCode": 200}'}
                    responses:
                      default: {statusCode: "200", responseTemplates: {application/json: '{"pong": true}'}}
            """
        )
    )
    template = write_app(
        folder,
        textwrap.dedent(
            """
            Transform: AWS::Serverless-2016-10-31
            Resources:
              UriApi:
                Type: AWS::Serverless::Api
                Properties:
                  StageName: s
                  DefinitionUri: api.yaml
              BodyApi:
                Type: AWS::Serverless::Api
                Properties:
                  StageName: s
                  MergeDefinitions: true  # without it AWS's transform leaves an inline body as written
                  DefinitionBody:
                    swagger: "2.0"
                    info: {title: from-body}
                    paths:
                      /fn:
                        get:
                          x-amazon-apigateway-integration:
                            type: aws_proxy
                            httpMethod: POST
                            uri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations"
              Fn:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: src
                  Handler: app.handler
                  Runtime: python3.12
                  Events:
                    Extra:
                      Type: Api
                      Properties: {Path: /extra, Method: get, RestApiId: !Ref BodyApi}
            """
        ),
    )
    gateway = serve(started, tmp_path / "data", str(template))
    apis = api_ids(gateway)
    assert requests.get(gateway.invoke_url(apis["UriApi"], "s", "/ping"), timeout=10).json() == {"pong": True}
    assert requests.get(gateway.invoke_url(apis["BodyApi"], "s", "/fn"), timeout=10).json()["path"] == "/fn"
    # an Api event adds its path to an explicit DefinitionBody when MergeDefinitions says so, as SAM does
    assert (
        requests.get(gateway.invoke_url(apis["BodyApi"], "s", "/extra"), timeout=10).json()["path"]
        == "/extra"
    )


def test_hot_reload(tmp_path: Path, started: list[GatewayProcess]) -> None:
    template = write_app(tmp_path / "app")
    gateway = serve(started, tmp_path / "data", str(template))
    implicit = api_ids(gateway)["ServerlessRestApi"]
    url = gateway.invoke_url(implicit, "Prod", "/items/1")
    assert requests.get(url, timeout=10).json()["version"] == 1

    # a code edit: the next request sees it
    (tmp_path / "app" / "src" / "app.py").write_text(ECHO_APP.replace("VERSION = 1", "VERSION = 2"))
    wait_for(lambda: requests.get(url, timeout=10).json()["version"] == 2, timeout=20)
    assert "EchoFunction (code in" in wait_line(gateway, "Reloaded EchoFunction")

    # a template edit: redeployed
    template.write_text(SAM_APP.replace('Path: "/items/{id}"', 'Path: "/things/{id}"'))
    new_url = gateway.invoke_url(implicit, "Prod", "/things/5")
    wait_for(lambda: requests.get(new_url, timeout=10).status_code == 200, timeout=20)
    wait_line(gateway, "Reloaded template.yaml")
    assert requests.get(url, timeout=10).status_code == 403

    # a broken edit: the error is printed, the last good deployment keeps serving
    template.write_text(SAM_APP.replace("!GetAtt EchoFunction.Arn", "!GetAtt Nope.Arn"))
    assert "Nope" in wait_line(gateway, "Reload failed")
    assert requests.get(new_url, timeout=10).json()["pathParameters"] == {"id": "5"}
    assert api_ids(gateway) == {"ServerlessRestApi": implicit, "MyApi": api_ids(gateway)["MyApi"]}


def _mock_openapi(path: str, answer: str) -> str:
    """An OpenAPI file with one MOCK GET route answering ``answer``."""
    return textwrap.dedent(
        f"""\
        swagger: '2.0'
        info: {{title: parts}}
        paths:
          {path}:
            get:
              responses: {{'200': {{description: ok}}}}
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates: {{application/json: '{{"statusCode": 200}}'}}
                responses: {{default: {{statusCode: '200', responseTemplates: {{application/json: '{answer}'}}}}}}
        """
    )


def test_hot_reload_of_files_the_template_reads(tmp_path: Path, started: list[GatewayProcess]) -> None:
    """An AWS::Include part and a DefinitionUri file are watched as the template is: an edit redeploys, a broken
    edit keeps the last good deployment serving, and the fix is picked up."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "included.yaml").write_text(_mock_openapi("/first", '{"from": "include"}'))
    (app / "definition.yaml").write_text(_mock_openapi("/one", '{"from": "definition"}'))
    template = app / "template.yaml"
    template.write_text(
        textwrap.dedent(
            """\
            AWSTemplateFormatVersion: '2010-09-09'
            Transform: AWS::Serverless-2016-10-31
            Resources:
              IncludedApi:
                Type: AWS::Serverless::Api
                Properties:
                  StageName: s
                  DefinitionBody:
                    Fn::Transform: {Name: AWS::Include, Parameters: {Location: ./included.yaml}}
              UriApi:
                Type: AWS::Serverless::Api
                Properties: {StageName: s, DefinitionUri: ./definition.yaml}
            """
        )
    )
    gateway = serve(started, tmp_path / "data", str(template))
    apis = api_ids(gateway)

    def status(api: str, path: str) -> int:
        return requests.get(gateway.invoke_url(apis[api], "s", path), timeout=10).status_code

    assert (status("IncludedApi", "/first"), status("UriApi", "/one")) == (200, 200)
    (app / "included.yaml").write_text(_mock_openapi("/second", '{"from": "include"}'))
    wait_for(lambda: status("IncludedApi", "/second") == 200, timeout=20)
    assert status("IncludedApi", "/first") == 403
    (app / "definition.yaml").write_text(_mock_openapi("/two", '{"from": "definition"}'))
    wait_for(lambda: status("UriApi", "/two") == 200, timeout=20)
    assert status("UriApi", "/one") == 403
    # The line comes once the reload has finished (routes serve a moment before it is printed).
    wait_for(lambda: sum("Reloaded template.yaml" in line for line in gateway.output) == 2, timeout=20)
    # A broken part: the error names the file; the last good deployment serves until the part is fixed.
    (app / "included.yaml").write_text("swagger: '2.0'\npaths: [unclosed\n")
    assert "included.yaml" in wait_line(gateway, "Reload failed")
    assert status("IncludedApi", "/second") == 200
    (app / "included.yaml").write_text(_mock_openapi("/third", '{"from": "include"}'))
    wait_for(lambda: status("IncludedApi", "/third") == 200, timeout=20)
    assert api_ids(gateway) == apis  # the same APIs throughout
