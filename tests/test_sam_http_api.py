"""`AWS::Serverless::HttpApi`: a named HTTP API with its own stage, CORS and authorizers, from a SAM template."""

from __future__ import annotations

from pathlib import Path

import requests

from helpers import GatewayProcess

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    CodeUri: src/
Resources:
  Shop:
    Type: AWS::Serverless::HttpApi
    Properties:
      Name: shop
      StageName: v1
      StageVariables:
        colour: teal
      CorsConfiguration:
        AllowOrigins: ["https://shop.example"]
        AllowMethods: [GET, POST]
      Auth:
        DefaultAuthorizer: Gatekeeper
        Authorizers:
          Gatekeeper:
            FunctionArn: !GetAtt Gatekeeper.Arn
            AuthorizerPayloadFormatVersion: "2.0"  # AWS's transform requires it
            EnableSimpleResponses: true
            Identity:
              Headers: [X-Pass]
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.orders
      Events:
        List:
          Type: HttpApi
          Properties: {ApiId: !Ref Shop, Path: /orders, Method: get}
        Health:
          Type: HttpApi
          Properties: {ApiId: !Ref Shop, Path: /health, Method: get, Auth: {Authorizer: NONE}}
  Gatekeeper:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.gatekeeper
"""

CODE = """
import json

def orders(event, context):
    return {"route": event["routeKey"], "stage": event["requestContext"]["stage"],
            "colour": event["stageVariables"]["colour"],
            "who": (event["requestContext"].get("authorizer") or {}).get("lambda", {}).get("who")}

def gatekeeper(event, context):
    allowed = event["headers"].get("x-pass") == "open sesame"
    return {"isAuthorized": allowed, "context": {"who": "ann"}}
"""


def test_an_explicit_http_api_is_served_with_its_stage_cors_and_authorizer(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "src" / "app.py").write_text(CODE)
    (app / "template.yaml").write_text(TEMPLATE)
    gateway = GatewayProcess(tmp_path / "data", [str(app / "template.yaml"), "--no-watch"])
    gateway.start()
    try:
        v2 = gateway.client("apigatewayv2")
        api = next(api for api in v2.get_apis()["Items"] if api["Name"] == "shop")
        assert sorted(r["RouteKey"] for r in v2.get_routes(ApiId=api["ApiId"])["Items"]) == [
            "GET /health",
            "GET /orders",
        ]
        assert [s["StageName"] for s in v2.get_stages(ApiId=api["ApiId"])["Items"]] == ["v1"]
        base = gateway.invoke_url(api["ApiId"], "v1")
        # The route table printed at startup lists the HTTP API's routes with their URLs and functions.
        table = [line.split() for line in gateway.output if f"{base}orders" in line or f"{base}health" in line]
        assert sorted(table) == [["GET", f"{base}health", "->", "Orders"], ["GET", f"{base}orders", "->", "Orders"]]

        # The default authorizer guards /orders; its context reaches the function.
        assert requests.get(f"{base}orders", timeout=10).status_code == 401  # no identity: not even invoked
        denied = requests.get(f"{base}orders", headers={"X-Pass": "wrong"}, timeout=10)
        assert denied.status_code == 403 and denied.json() == {"message": "Forbidden"}
        allowed = requests.get(f"{base}orders", headers={"X-Pass": "open sesame"}, timeout=10)
        assert allowed.status_code == 200
        assert allowed.json() == {"route": "GET /orders", "stage": "v1", "colour": "teal", "who": "ann"}

        # Authorizer: NONE on the event opens /health.
        assert requests.get(f"{base}health", timeout=10).json()["who"] is None

        # CorsConfiguration: the API answers preflights for the allowed origin itself.
        preflight = requests.options(
            f"{base}orders",
            headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"},
            timeout=10,
        )
        assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    finally:
        gateway.stop()
