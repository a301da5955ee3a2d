"""Other tools' build output served as it lies: `sam build`'s .aws-sam/build, a CDK cloud assembly (cdk.out) and
a Serverless Framework package (.serverless). Each fixture is written here in the shape the tool writes it."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers import GatewayProcess, wait_for

HELLO_WORLD = Path(__file__).parent / "templates" / "sam-init-hello-world"
HANDLER = """
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"path": event["path"], "from": context.function_name})}
"""


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[GatewayProcess] = []

    def start(*args: str) -> GatewayProcess:
        process = GatewayProcess(tmp_path / f"data-{len(started)}", [*args, "--no-watch"])
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def output(gateway: GatewayProcess, name: str) -> str:
    wait_for(lambda: any(line.startswith(f"  {name}: ") for line in gateway.output), timeout=20)
    return next(line for line in gateway.output if line.startswith(f"  {name}: ")).split(": ", 1)[1]


def test_sam_build_output(tmp_path: Path, serve: Any) -> None:
    """As `sam build` leaves it: the template rewritten with CodeUri naming a folder under .aws-sam/build that
    holds the code and its installed requirements."""
    project = tmp_path / "sam-app"
    shutil.copytree(HELLO_WORLD, project)
    build = project / ".aws-sam" / "build"
    (build / "HelloWorldFunction").mkdir(parents=True)
    shutil.copy(project / "hello_world" / "app.py", build / "HelloWorldFunction" / "app.py")
    vendored = build / "HelloWorldFunction" / "vendored_dependency"  # what pip put beside the code
    vendored.mkdir()
    (vendored / "__init__.py").write_text("VALUE = 1\n")
    template = (project / "template.yaml").read_text()
    built = template.replace("CodeUri: hello_world/", "CodeUri: HelloWorldFunction").replace(
        "      Architectures:", "      Architectures:", 1
    )
    built = built.replace(
        "    Type: AWS::Serverless::Function # More info",
        "    Metadata:\n      SamResourceId: HelloWorldFunction\n    Type: AWS::Serverless::Function # More info",
    )
    (build / "template.yaml").write_text(built)

    gateway = serve(str(build / "template.yaml"))
    url = output(gateway, "HelloWorldApi")
    assert url.startswith(f"{gateway.url}/_aws/execute-api/") and url.endswith("/Prod/hello/")
    assert requests.get(url, timeout=30).json() == {"message": "hello world"}
    assert any("Stack sam-app " in line for line in gateway.output)  # named after the project, not "build"

    # the project folder itself: the built template is the one served, as `sam local` does after `sam build`
    again = serve(str(project))
    assert requests.get(output(again, "HelloWorldApi"), timeout=30).json() == {"message": "hello world"}


def _cdk_assembly(folder: Path) -> None:
    """What `cdk synth` writes for a LambdaRestApi over one Python function (trimmed to what a stack holds)."""
    asset = "asset.4f8d2c0e6b0a9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d"
    (folder / asset).mkdir(parents=True)
    (folder / asset / "index.py").write_text(HANDLER)
    join = "Fn::Join"
    template = {
        "Resources": {
            "HandlerServiceRoleFCDC14AE": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [
                            {
                                "Action": "sts:AssumeRole",
                                "Effect": "Allow",
                                "Principal": {"Service": "lambda.amazonaws.com"},
                            }
                        ],
                        "Version": "2012-10-17",
                    },
                    "ManagedPolicyArns": [
                        {
                            join: [
                                "",
                                [
                                    "arn:",
                                    {"Ref": "AWS::Partition"},
                                    ":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                                ],
                            ]
                        }
                    ],
                },
                "Metadata": {"aws:cdk:path": "HelloStack/Handler/ServiceRole/Resource"},
            },
            "Handler886CB40B": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {
                        "S3Bucket": {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"},
                        "S3Key": asset.removeprefix("asset.") + ".zip",
                    },
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["HandlerServiceRoleFCDC14AE", "Arn"]},
                    "Runtime": "python3.12",
                },
                "DependsOn": ["HandlerServiceRoleFCDC14AE"],
                "Metadata": {
                    "aws:cdk:path": "HelloStack/Handler/Resource",
                    "aws:asset:path": asset,
                    "aws:asset:is-bundled": False,
                    "aws:asset:property": "Code",
                },
            },
            "EndpointEEF1FD8F": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "Endpoint"}},
            "EndpointCloudWatchRoleC3C64E0F": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [
                            {
                                "Action": "sts:AssumeRole",
                                "Effect": "Allow",
                                "Principal": {"Service": "apigateway.amazonaws.com"},
                            }
                        ],
                        "Version": "2012-10-17",
                    },
                    "ManagedPolicyArns": [
                        {
                            join: [
                                "",
                                [
                                    "arn:",
                                    {"Ref": "AWS::Partition"},
                                    ":iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
                                ],
                            ]
                        }
                    ],
                },
                "UpdateReplacePolicy": "Retain",
                "DeletionPolicy": "Retain",
            },
            "EndpointAccountB8304247": {
                "Type": "AWS::ApiGateway::Account",
                "Properties": {
                    "CloudWatchRoleArn": {"Fn::GetAtt": ["EndpointCloudWatchRoleC3C64E0F", "Arn"]}
                },
                "DependsOn": ["EndpointEEF1FD8F"],
                "UpdateReplacePolicy": "Retain",
                "DeletionPolicy": "Retain",
            },
            "EndpointDeployment318525DAb8d6e2a6b3d1f0b1c8e4a5d7f9b6c3e2": {
                "Type": "AWS::ApiGateway::Deployment",
                "Properties": {
                    "Description": "Automatically created by the RestApi construct",
                    "RestApiId": {"Ref": "EndpointEEF1FD8F"},
                },
                "DependsOn": ["EndpointproxyANYC09721C5", "Endpointproxy39E2174E", "EndpointANY485C938B"],
            },
            "EndpointDeploymentStageprodB78BEEA0": {
                "Type": "AWS::ApiGateway::Stage",
                "Properties": {
                    "DeploymentId": {"Ref": "EndpointDeployment318525DAb8d6e2a6b3d1f0b1c8e4a5d7f9b6c3e2"},
                    "RestApiId": {"Ref": "EndpointEEF1FD8F"},
                    "StageName": "prod",
                },
                "DependsOn": ["EndpointAccountB8304247"],
            },
            "Endpointproxy39E2174E": {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {
                    "ParentId": {"Fn::GetAtt": ["EndpointEEF1FD8F", "RootResourceId"]},
                    "PathPart": "{proxy+}",
                    "RestApiId": {"Ref": "EndpointEEF1FD8F"},
                },
            },
            "EndpointproxyANYApiPermissionHelloStackEndpoint": {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": {"Fn::GetAtt": ["Handler886CB40B", "Arn"]},
                    "Principal": "apigateway.amazonaws.com",
                    "SourceArn": {
                        join: [
                            "",
                            [
                                "arn:",
                                {"Ref": "AWS::Partition"},
                                ":execute-api:",
                                {"Ref": "AWS::Region"},
                                ":",
                                {"Ref": "AWS::AccountId"},
                                ":",
                                {"Ref": "EndpointEEF1FD8F"},
                                "/",
                                {"Ref": "EndpointDeploymentStageprodB78BEEA0"},
                                "/*/*",
                            ],
                        ]
                    },
                },
            },
            "EndpointproxyANYC09721C5": _cdk_method({"Ref": "Endpointproxy39E2174E"}),
            "EndpointANY485C938B": _cdk_method({"Fn::GetAtt": ["EndpointEEF1FD8F", "RootResourceId"]}),
            "CDKMetadata": {
                "Type": "AWS::CDK::Metadata",
                "Properties": {"Analytics": "v2:deflate64:H4sIAAAAAAAA"},
                "Condition": "CDKMetadataAvailable",
            },
        },
        "Outputs": {
            "Endpoint8024A810": {
                "Value": {
                    join: [
                        "",
                        [
                            "https://",
                            {"Ref": "EndpointEEF1FD8F"},
                            ".execute-api.",
                            {"Ref": "AWS::Region"},
                            ".",
                            {"Ref": "AWS::URLSuffix"},
                            "/",
                            {"Ref": "EndpointDeploymentStageprodB78BEEA0"},
                            "/",
                        ],
                    ]
                }
            }
        },
        "Conditions": {
            "CDKMetadataAvailable": {
                "Fn::Or": [
                    {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
                    {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]},
                ]
            }
        },
        "Parameters": {
            "BootstrapVersion": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/cdk-bootstrap/hnb659fds/version",
                "Description": "Version of the CDK Bootstrap resources in this environment, automatically "
                "retrieved from SSM Parameter Store. [cdk:skip]",
            }
        },
        "Rules": {
            "CheckBootstrapVersion": {
                "Assertions": [
                    {
                        "Assert": {
                            "Fn::Not": [
                                {"Fn::Contains": [["1", "2", "3", "4", "5"], {"Ref": "BootstrapVersion"}]}
                            ]
                        },
                        "AssertDescription": "CDK bootstrap stack version 6 required.",
                    }
                ]
            }
        },
    }
    (folder / "HelloStack.template.json").write_text(json.dumps(template, indent=1))
    manifest = {
        "version": "36.0.0",
        "artifacts": {
            "HelloStack.assets": {
                "type": "cdk:asset-manifest",
                "properties": {"file": "HelloStack.assets.json"},
            },
            "HelloStack": {
                "type": "aws:cloudformation:stack",
                "environment": "aws://unknown-account/unknown-region",
                "properties": {
                    "templateFile": "HelloStack.template.json",
                    "validateOnSynth": False,
                    "stackTemplateAssetObjectUrl": "s3://cdk-hnb659fds-assets/HelloStack.template.json",
                },
                "dependencies": ["HelloStack.assets"],
                "displayName": "HelloStack",
            },
            "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}},
        },
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    (folder / "cdk.out").write_text(json.dumps({"version": "36.0.0"}))
    (folder / "tree.json").write_text(json.dumps({"version": "tree-0.1", "tree": {"id": "App", "path": ""}}))


def _cdk_method(resource_id: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGateway::Method",
        "Properties": {
            "AuthorizationType": "NONE",
            "HttpMethod": "ANY",
            "Integration": {
                "IntegrationHttpMethod": "POST",
                "Type": "AWS_PROXY",
                "Uri": {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":apigateway:",
                            {"Ref": "AWS::Region"},
                            ":lambda:path/2015-03-31/functions/",
                            {"Fn::GetAtt": ["Handler886CB40B", "Arn"]},
                            "/invocations",
                        ],
                    ]
                },
            },
            "ResourceId": resource_id,
            "RestApiId": {"Ref": "EndpointEEF1FD8F"},
        },
    }


def test_cdk_cloud_assembly(tmp_path: Path, serve: Any) -> None:
    assembly = tmp_path / "hello-cdk" / "cdk.out"
    _cdk_assembly(assembly)
    gateway = serve(str(assembly))
    url = output(gateway, "Endpoint8024A810")
    assert url.startswith(f"{gateway.url}/_aws/execute-api/") and url.endswith("/prod/")
    answer = requests.get(url + "any/where", timeout=30).json()
    assert answer["path"] == "/any/where" and answer["from"] == "Handler886CB40B"
    assert requests.post(url, timeout=30).json()["path"] == "/"
    text = "\n".join(gateway.output)
    assert "stored EndpointAccountB8304247 (AWS::ApiGateway::Account)" in text
    assert "CDKMetadata" not in text  # CDK's analytics record is no resource: not worth a line
    assert not [line for line in gateway.output if line.startswith("Warning: skipped")]
    # the function runs with its role's session: the role exists in apigate's IAM
    roles = {r["RoleName"] for r in gateway.client("iam").list_roles()["Roles"]}
    assert any("HandlerServiceRole" in name for name in roles), roles


def test_serverless_framework_package(tmp_path: Path, serve: Any) -> None:
    """`serverless package` output: the stack template and the service's zip in .serverless."""
    service = tmp_path / "svc"
    package = service / ".serverless"
    package.mkdir(parents=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", HANDLER)
    (package / "svc.zip").write_bytes(buffer.getvalue())
    key = "serverless/svc/dev/1700000000000-2023-11-14T22:13:20.000Z/svc.zip"
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "The AWS CloudFormation template for this Serverless application",
        "Resources": {
            "ServerlessDeploymentBucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"BucketEncryption": {"ServerSideEncryptionConfiguration": []}},
            },
            "HelloLogGroup": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": "/aws/lambda/svc-dev-hello"},
            },
            "IamRoleLambdaExecution": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": ["lambda.amazonaws.com"]},
                                "Action": ["sts:AssumeRole"],
                            }
                        ],
                    },
                    "Policies": [
                        {
                            "PolicyName": {"Fn::Join": ["-", ["svc", "dev", "lambda"]]},
                            "PolicyDocument": {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                        "Resource": [
                                            {
                                                "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:"
                                                "${AWS::AccountId}:log-group:/aws/lambda/svc-dev*:*"
                                            }
                                        ],
                                    }
                                ],
                            },
                        }
                    ],
                    "Path": "/",
                    "RoleName": {"Fn::Join": ["-", ["svc", "dev", {"Ref": "AWS::Region"}, "lambdaRole"]]},
                },
            },
            "HelloLambdaFunction": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"S3Bucket": {"Ref": "ServerlessDeploymentBucket"}, "S3Key": key},
                    "Handler": "handler.handler",
                    "Runtime": "python3.12",
                    "FunctionName": "svc-dev-hello",
                    "MemorySize": 1024,
                    "Timeout": 6,
                    "Role": {"Fn::GetAtt": ["IamRoleLambdaExecution", "Arn"]},
                },
                "DependsOn": ["HelloLogGroup"],
            },
            "HelloLambdaVersionAbc123": {
                "Type": "AWS::Lambda::Version",
                "DeletionPolicy": "Retain",
                "Properties": {"FunctionName": {"Ref": "HelloLambdaFunction"}, "CodeSha256": "abc="},
            },
            "ApiGatewayRestApi": {
                "Type": "AWS::ApiGateway::RestApi",
                "Properties": {
                    "Name": "dev-svc",
                    "EndpointConfiguration": {"Types": ["EDGE"]},
                    "Policy": "",
                },
            },
            "ApiGatewayResourceHello": {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {
                    "ParentId": {"Fn::GetAtt": ["ApiGatewayRestApi", "RootResourceId"]},
                    "PathPart": "hello",
                    "RestApiId": {"Ref": "ApiGatewayRestApi"},
                },
            },
            "ApiGatewayMethodHelloGet": {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "HttpMethod": "GET",
                    "RequestParameters": {},
                    "ResourceId": {"Ref": "ApiGatewayResourceHello"},
                    "RestApiId": {"Ref": "ApiGatewayRestApi"},
                    "ApiKeyRequired": False,
                    "AuthorizationType": "NONE",
                    "Integration": {
                        "IntegrationHttpMethod": "POST",
                        "Type": "AWS_PROXY",
                        "Uri": {
                            "Fn::Join": [
                                "",
                                [
                                    "arn:",
                                    {"Ref": "AWS::Partition"},
                                    ":apigateway:",
                                    {"Ref": "AWS::Region"},
                                    ":lambda:path/2015-03-31/functions/",
                                    {"Fn::GetAtt": ["HelloLambdaFunction", "Arn"]},
                                    "/invocations",
                                ],
                            ]
                        },
                    },
                    "MethodResponses": [],
                },
                "DependsOn": ["HelloLambdaPermissionApiGateway"],
            },
            "ApiGatewayDeployment1700000000000": {
                "Type": "AWS::ApiGateway::Deployment",
                "Properties": {"RestApiId": {"Ref": "ApiGatewayRestApi"}, "StageName": "dev"},
                "DependsOn": ["ApiGatewayMethodHelloGet"],
            },
            "HelloLambdaPermissionApiGateway": {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "FunctionName": {"Fn::GetAtt": ["HelloLambdaFunction", "Arn"]},
                    "Action": "lambda:InvokeFunction",
                    "Principal": "apigateway.amazonaws.com",
                    "SourceArn": {
                        "Fn::Join": [
                            "",
                            [
                                "arn:",
                                {"Ref": "AWS::Partition"},
                                ":execute-api:",
                                {"Ref": "AWS::Region"},
                                ":",
                                {"Ref": "AWS::AccountId"},
                                ":",
                                {"Ref": "ApiGatewayRestApi"},
                                "/*/*",
                            ],
                        ]
                    },
                },
            },
        },
        "Outputs": {
            "ServerlessDeploymentBucketName": {"Value": {"Ref": "ServerlessDeploymentBucket"}},
            "ServiceEndpoint": {
                "Description": "URL of the service endpoint",
                "Value": {
                    "Fn::Join": [
                        "",
                        [
                            "https://",
                            {"Ref": "ApiGatewayRestApi"},
                            ".execute-api.",
                            {"Ref": "AWS::Region"},
                            ".",
                            {"Ref": "AWS::URLSuffix"},
                            "/dev",
                        ],
                    ]
                },
            },
        },
    }
    (package / "cloudformation-template-update-stack.json").write_text(json.dumps(template, indent=2))
    gateway = serve(str(service))
    url = output(gateway, "ServiceEndpoint")
    answer = requests.get(url + "/hello", timeout=30).json()
    assert answer == {"path": "/hello", "from": "svc-dev-hello"}
    assert output(gateway, "ServerlessDeploymentBucketName") == (
        "skipped:AWS::S3::Bucket:ServerlessDeploymentBucket"
    )
    assert "svc-dev-us-east-1-lambdaRole" in {
        r["RoleName"] for r in gateway.client("iam").list_roles()["Roles"]
    }
