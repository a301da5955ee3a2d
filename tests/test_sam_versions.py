"""Versions, aliases and layers from a SAM template (issue #17): ``AutoPublishAlias`` publishes a version and
points the alias at it, the API calls the function through the alias, and ``AWS::Serverless::LayerVersion``
gives the function a module it imports. New code (the watcher redeploys) publishes version 2 and moves the alias."""

from __future__ import annotations

from pathlib import Path

import requests

from helpers import GatewayProcess, wait_for

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: shared
      ContentUri: layer/
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: hello
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.11
      AutoPublishAlias: live
      Layers: [!Ref Shared]
      Events:
        Get:
          Type: Api
          Properties: {Path: /hello, Method: get}
  Pinned:
    Type: AWS::Lambda::Alias
    Properties:
      FunctionName: !Ref Hello
      Name: canary
      FunctionVersion: !GetAtt HelloVersion{suffix}.Version
"""

APP = """
import os, shared
def handler(event, context):
    return {"statusCode": 200, "body": f"{shared.WORD} %s " + os.environ["AWS_LAMBDA_FUNCTION_VERSION"]}
"""


def test_auto_publish_alias_and_a_layer(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "fn").mkdir(parents=True)
    (app / "layer" / "python").mkdir(parents=True)
    (app / "layer" / "python" / "shared.py").write_text("WORD = 'layered'\n")
    (app / "fn" / "app.py").write_text(APP % "first")
    # The version's logical id carries a hash SAM computes from the code's (placeholder) location: find it.
    from apigate.declarative.template import load_document
    from apigate.declarative.translator import translate

    (app / "template.yaml").write_text(TEMPLATE.replace("HelloVersion{suffix}.Version", "Hello.Arn"))
    translated = translate(load_document(app / "template.yaml"), {}, app / "template.yaml", "us-east-1")
    (version_id,) = [k for k, v in translated["Resources"].items() if v["Type"] == "AWS::Lambda::Version"]
    (app / "template.yaml").write_text(TEMPLATE.replace("HelloVersion{suffix}", version_id))

    gateway = GatewayProcess(tmp_path / "data", [str(app / "template.yaml")])
    gateway.start()
    try:
        lam = gateway.client("lambda")
        (api,) = [a["id"] for a in gateway.client("apigateway").get_rest_apis()["items"]]
        url = gateway.invoke_url(api, "Prod", "/hello")
        answer = requests.get(url, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.text == "layered first 1"  # through the alias: version 1 runs
        assert lam.get_alias(FunctionName="hello", Name="live")["FunctionVersion"] == "1"
        assert lam.get_alias(FunctionName="hello", Name="canary")["FunctionVersion"] == "1"
        (layer,) = lam.get_function_configuration(FunctionName="hello", Qualifier="live")["Layers"]
        assert ":layer:shared:1" in layer["Arn"]

        # new code, picked up by the watcher: version 2 published, the alias moved, the layer not published again
        (app / "fn" / "app.py").write_text(APP % "second")
        wait_for(lambda: requests.get(url, timeout=30).text == "layered second 2", timeout=60)
        assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="hello")["Versions"]] == [
            "$LATEST",
            "1",
            "2",
        ]
        assert lam.get_alias(FunctionName="hello", Name="live")["FunctionVersion"] == "2"
        assert [v["Version"] for v in lam.list_layer_versions(LayerName="shared")["LayerVersions"]] == [1]
        # new layer content: layer version 2, and with it version 3 of the function behind the alias
        (app / "layer" / "python" / "shared.py").write_text("WORD = 'relayered'\n")
        wait_for(lambda: requests.get(url, timeout=30).text == "relayered second 3", timeout=60)
        assert [v["Version"] for v in lam.list_layer_versions(LayerName="shared")["LayerVersions"]] == [2, 1]
        # the version itself still answers with the first code
        payload = lam.invoke(FunctionName="hello", Qualifier="1", Payload=b"{}")["Payload"].read()
        assert b"layered first 1" in payload
        lam.close()
    finally:
        gateway.stop()
