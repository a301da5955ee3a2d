"""One SAM app, two runtimes behind one REST API (issue #17): a python3.12 function with a requirements.txt
and a Node.js function with a package.json dependency, served by `apigate serve template.yaml`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import requests

from helpers import GatewayProcess

NODE_MAJOR = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout[1:].split(".")[0]

TEMPLATE = f"""
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  PyFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: py/
      Handler: app.handler
      Runtime: python3.12
      Events:
        Get:
          Type: Api
          Properties: {{Path: /py, Method: get}}
  NodeFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: node/
      Handler: index.handler
      Runtime: nodejs{NODE_MAJOR}.x
      Events:
        Get:
          Type: Api
          Properties: {{Path: /node, Method: get}}
"""

PY = """
import json, sys, tabulate
def handler(event, context):
    body = {"python": "%d.%d" % sys.version_info[:2], "table": tabulate.tabulate([[1, 2]], tablefmt="plain")}
    return {"statusCode": 200, "body": json.dumps(body)}
"""

NODE = """
const ms = require("ms");
exports.handler = async () => ({ statusCode: 200, body: JSON.stringify({ node: process.versions.node, ms: ms("1m") }) });
"""


def test_python_and_node_functions_with_dependencies_behind_one_rest_api(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "py").mkdir(parents=True)
    (app / "node").mkdir()
    (app / "template.yaml").write_text(TEMPLATE)
    (app / "py" / "app.py").write_text(PY)
    (app / "py" / "requirements.txt").write_text("tabulate==0.9.0\n")
    (app / "node" / "index.js").write_text(NODE)
    (app / "node" / "package.json").write_text('{"name": "n", "version": "1.0.0", "dependencies": {"ms": "2.1.3"}}')
    gateway = GatewayProcess(tmp_path / "data", [str(app / "template.yaml")])
    gateway.start()
    try:
        (api,) = [a["id"] for a in gateway.client("apigateway").get_rest_apis()["items"]]
        py = requests.get(gateway.invoke_url(api, "Prod", "/py"), timeout=30)
        assert py.status_code == 200, py.text
        assert py.json() == {"python": "3.12", "table": "1  2"}
        node = requests.get(gateway.invoke_url(api, "Prod", "/node"), timeout=30)
        assert node.status_code == 200, node.text
        assert node.json()["ms"] == 60000
        assert node.json()["node"].split(".")[0] == NODE_MAJOR
    finally:
        gateway.stop()
