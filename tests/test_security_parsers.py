"""Issue #13 item 8: parsers have limits (YAML alias expansion, nesting depth, definition size).

A "billion laughs" YAML document is a few hundred bytes that expands to 9^9 nodes once anything walks it; a
deeply nested JSON document overflows recursive walkers. Both are refused as AWS-shaped 400s by the management
API and as a clear exit-2 error by ``apigate serve template.yaml``; an ordinary anchor still works.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from apigate.aws import limits

from helpers import GatewayProcess, RestApi

pytestmark = pytest.mark.timeout(300)

LAUGHS = "\n".join(
    ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]" for i in range(8)]
)
BOMB_OPENAPI = 'openapi: "3.0.1"\ninfo: {title: bomb, version: "1"}\npaths: {}\nx-bomb:\n' + "\n".join(
    "  " + line for line in LAUGHS.splitlines()
)
ANCHORED_OPENAPI = """
openapi: "3.0.1"
info: {title: anchored, version: "1"}
x-common: &mock
  type: mock
  requestTemplates: {application/json: '{"statusCode": 200}'}
  responses: {default: {statusCode: "200"}}
paths:
  /a:
    get:
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration: *mock
  /b:
    get:
      responses: {"200": {description: ok}}
      x-amazon-apigateway-integration: *mock
"""


def _deep_openapi(depth: int) -> str:
    nested = '{"x":' * depth + '"leaf"' + "}" * depth  # built as text: json.dumps itself would recurse
    head = '{"openapi": "3.0.1", "info": {"title": "deep", "version": "1"}, "paths": {}, "x-deep": '
    return head + nested + "}"


def _bad_request(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "BadRequestException", error
    return str(error["Message"])


def test_rest_import_refuses_an_alias_bomb(apigw: Any) -> None:
    message = _bad_request(lambda: apigw.import_rest_api(body=BOMB_OPENAPI.encode()))
    assert "alias expansion" in message and str(limits.MAX_YAML_NODES) in message


def test_rest_import_keeps_ordinary_anchors(apigw: Any, gateway: GatewayProcess) -> None:
    api_id = apigw.import_rest_api(body=ANCHORED_OPENAPI.encode())["id"]
    paths = sorted(r["path"] for r in apigw.get_resources(restApiId=api_id)["items"])
    assert paths == ["/", "/a", "/b"]


def test_http_import_refuses_an_alias_bomb(gateway: GatewayProcess) -> None:
    v2 = gateway.client("apigatewayv2")
    message = _bad_request(lambda: v2.import_api(Body=BOMB_OPENAPI))
    assert "alias expansion" in message


@pytest.mark.parametrize("depth", [200, 5000])
def test_import_refuses_deep_nesting(apigw: Any, depth: int) -> None:
    message = _bad_request(lambda: apigw.import_rest_api(body=_deep_openapi(depth).encode()))
    assert f"deeper than {limits.MAX_DEPTH} levels" in message


def test_import_refuses_a_definition_over_6_mb(apigw: Any) -> None:
    body = _deep_openapi(1).replace('"leaf"', json.dumps("x" * (limits.MAX_DEFINITION_BYTES + 1)))
    message = _bad_request(lambda: apigw.import_rest_api(body=body.encode()))
    assert "6 MB" in message


def test_deep_request_body_is_refused_by_validation(apigw: Any, gateway: GatewayProcess) -> None:
    import requests

    api = RestApi(apigw, "deep-bodies")
    api.validated_mock("/in", "Any", '{"type": "object"}')
    api.deploy()
    url = gateway.invoke_url(api.id, "test", "/in")
    deep = requests.post(url, data='{"a":' * 100_000 + "1" + "}" * 100_000, timeout=60)
    assert deep.status_code == 400 and deep.json() == {"message": "Invalid request body"}
    assert requests.post(url, json={"a": {"b": 1}}, timeout=30).status_code == 200


def test_serve_refuses_an_alias_bomb_template(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        'AWSTemplateFormatVersion: "2010-09-09"\nResources:\n  Bomb:\n    Type: AWS::ApiGateway::RestApi\n'
        "    Properties:\n      Name: bomb\n      Tags:\n"
        + "\n".join("        " + line for line in LAUGHS.splitlines())
        + "\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "apigate.cli",
            "serve",
            str(template),
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"apigate: error: {template}") and "alias expansion" in error, error


# ------------------------------------------------------------------------------------------- in process


def test_bounded_loader_counts_expanded_nodes() -> None:
    with pytest.raises(limits.DocumentLimitError):
        limits.load_yaml(LAUGHS)
    with pytest.raises(limits.DocumentLimitError, match="recursive alias"):
        limits.load_yaml("a: &a [*a]")
    assert limits.load_yaml("x: &x {k: 1}\ny: *x") == {"x": {"k": 1}, "y": {"k": 1}}
    assert yaml.safe_load(LAUGHS)["a"][0] == "lol"  # what PyYAML alone accepts (and any walk then expands)
