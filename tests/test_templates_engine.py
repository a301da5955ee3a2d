"""The CloudFormation engine's own behaviour: `--api-at-root`, the route table, IAM roles from templates, SSM
parameters across stacks, AWS::Include, and the errors a broken template gets."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers import GatewayProcess, wait_for

CORPUS = Path(__file__).parent / "templates"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[GatewayProcess] = []

    def start(data: Path, *args: str) -> GatewayProcess:
        process = GatewayProcess(data, [*args, "--no-watch"])
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        if process.proc is not None:
            process.stop()


def _lines(gateway: GatewayProcess, after: str) -> list[str]:
    wait_for(lambda: any(line.startswith(after) for line in gateway.output), timeout=20)
    start = next(i for i, line in enumerate(gateway.output) if line.startswith(after))
    wait_for(lambda: any(line.startswith("Outputs:") for line in gateway.output), timeout=20)
    lines = []
    for line in gateway.output[start + 1 :]:
        if not line.startswith("  "):
            break
        lines.append(line)
    return lines


def test_sam_init_hello_world_at_the_root(tmp_path: Path, serve: Any) -> None:
    """`sam init`'s app as written: served, local URLs printed, every route listed, and with --api-at-root
    its API answers at / as `sam local start-api` does, while signed SDK calls still reach the management API."""
    app = tmp_path / "sam-app"
    shutil.copytree(CORPUS / "sam-init-hello-world", app)
    gateway = serve(tmp_path / "data", str(app / "template.yaml"), "--api-at-root")

    table = _lines(gateway, "Stack sam-app ")
    # SAM's deployment makes a "Stage" stage besides "Prod", as on AWS: both are listed
    assert [line.split()[0] for line in table] == ["GET", "GET"]
    assert {line.split()[1].rsplit("/", 2)[-2] for line in table} == {"Stage", "Prod"}
    assert all(line.split()[1].startswith(f"{gateway.url}/_aws/execute-api/") for line in table)
    at_root = _lines(gateway, "At the root")
    assert at_root == [f"  GET     {gateway.url}/hello  -> HelloWorldFunction"]
    outputs = "\n".join(_lines(gateway, "Outputs:"))
    assert "amazonaws.com" not in outputs
    assert f"HelloWorldApi: {gateway.url}/_aws/execute-api/" in outputs
    assert (
        "HelloWorldFunctionIamRole: arn:aws:iam::000000000000:role/sam-app-HelloWorldFunctionRole-" in outputs
    )

    assert requests.get(f"{gateway.url}/hello", timeout=30).json() == {"message": "hello world"}
    assert requests.get(f"{gateway.url}/nothing", timeout=30).status_code == 403  # the API's own answer
    apis = gateway.client("apigateway").get_rest_apis()["items"]  # signed: the management API
    assert [api["name"] for api in apis] == ["sam-app"]
    # the generated role is a real role of apigate's IAM
    role = gateway.client("iam").get_role(RoleName=outputs.split("role/", 1)[1].split()[0])["Role"]
    assert role["Arn"].endswith(role["RoleName"])


def test_api_at_root_needs_a_single_api(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "apigate.cli", "serve", str(CORPUS / "sam-multiple-apis" / "template.yaml"),
         "--api-at-root", "--port", "0", "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--api-at-root serves a template with a single API; this one has 3" in result.stderr


def test_function_policies_become_its_role_policies(tmp_path: Path, serve: Any) -> None:
    gateway = serve(tmp_path / "data", str(CORPUS / "sam-iam-policies" / "template.yaml"))
    wait_for(lambda: any(line.startswith("  Role: ") for line in gateway.output), timeout=20)
    role_arn = next(line for line in gateway.output if line.startswith("  Role: ")).split(": ", 1)[1]
    iam = gateway.client("iam")
    name = role_arn.rsplit("/", 1)[1]
    inline = iam.get_role_policy(RoleName=name, PolicyName="FnRolePolicy0")["PolicyDocument"]
    assert inline["Statement"][0]["Action"] == "execute-api:Invoke"
    s3 = iam.get_role_policy(RoleName=name, PolicyName="FnRolePolicy1")[
        "PolicyDocument"
    ]  # SAM's S3ReadPolicy
    assert any("s3:GetObject" in statement["Action"] for statement in s3["Statement"])
    lam = gateway.client("lambda")
    assert lam.get_function_configuration(FunctionName="Fn")["Role"] == role_arn


def test_ssm_parameters_across_stacks(tmp_path: Path, serve: Any) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "template.yaml").write_text(
        textwrap.dedent(
            """
            Resources:
              Greeting:
                Type: AWS::SSM::Parameter
                Properties: {Name: /app/greeting, Type: String, Value: hola}
            """
        )
    )
    app = tmp_path / "app"
    shutil.copytree(CORPUS / "_code", tmp_path / "_code")
    app.mkdir()
    (app / "template.yaml").write_text(
        textwrap.dedent(
            """
            Transform: AWS::Serverless-2016-10-31
            Parameters:
              Greeting:
                Type: AWS::SSM::Parameter::Value<String>
                Default: /app/greeting
            Resources:
              Fn:
                Type: AWS::Serverless::Function
                Properties:
                  Runtime: python3.12
                  CodeUri: ../_code/
                  Handler: app.echo
                  Environment: {Variables: {APP_GREETING: !Ref Greeting}}
                  Events:
                    Get: {Type: Api, Properties: {Path: /g, Method: get}}
            Outputs:
              Url:
                Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/g"
            """
        )
    )
    data = tmp_path / "data"
    # before the parameter exists: a clear error naming it
    missing = subprocess.run(
        [sys.executable, "-m", "apigate.cli", "serve", str(app / "template.yaml"), "--port", "0", "--data-dir",
         str(data)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 2
    assert "parameter Greeting reads SSM parameter /app/greeting" in missing.stderr
    serve(data, str(tmp_path / "config" / "template.yaml")).stop()
    gateway = serve(data, str(app / "template.yaml"))
    wait_for(lambda: any(line.startswith("  Url: ") for line in gateway.output), timeout=20)
    url = next(line for line in gateway.output if line.startswith("  Url: ")).split(": ", 1)[1]
    assert requests.get(url, timeout=30).json()["env"] == {"APP_GREETING": "hola"}


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (
            {
                "A": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": {"Ref": "B"}}},
                "B": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": {"Ref": "A"}}},
            },
            "circular dependency among A, B",
        ),
        (
            {
                "A": {
                    "Type": "AWS::ApiGateway::RestApi",
                    "Properties": {
                        "Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": "loop.json"}}
                    },
                }
            },
            "AWS::Include loop: template.json -> loop.json -> loop.json",
        ),
        (
            {"A": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Fn::Transform": {"Name": "MyMacro"}}}},
            "Fn::Transform 'MyMacro' is not run by apigate",
        ),
    ],
)
def test_broken_templates_say_what_is_wrong(tmp_path: Path, resources: dict[str, Any], message: str) -> None:
    (tmp_path / "template.json").write_text(json.dumps({"Resources": resources}))
    (tmp_path / "loop.json").write_text(
        json.dumps({"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": "loop.json"}}})
    )
    result = subprocess.run(
        [sys.executable, "-m", "apigate.cli", "serve", str(tmp_path / "template.json"), "--port", "0",
         "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert message in result.stderr, result.stderr
