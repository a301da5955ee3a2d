"""Deployments are snapshots; stage variables reach functions; TestInvokeMethod runs undeployed changes."""

from __future__ import annotations

from typing import Any

import requests

from helpers import ECHO_EVENT, GatewayProcess, RestApi, create_function, wait_for


def test_edits_are_not_served_until_redeployed(gateway: GatewayProcess, apigw: Any) -> None:
    api = RestApi(apigw, "snapshot")
    api.mock("/v", "GET", '{"version": 1}')
    api.deploy("live")
    url = gateway.invoke_url(api.id, "live", "/v")
    assert requests.get(url, timeout=5).json() == {"version": 1}
    rid = api.ids["/v"]
    apigw.put_integration_response(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        statusCode="200",
        responseTemplates={"application/json": '{"version": 2}'},
    )
    assert requests.get(url, timeout=5).json() == {"version": 1}
    first = apigw.get_stage(restApiId=api.id, stageName="live")["deploymentId"]
    api.deploy("live")
    assert requests.get(url, timeout=5).json() == {"version": 2}
    # pointing the stage back at the first deployment serves version 1 again
    apigw.update_stage(
        restApiId=api.id,
        stageName="live",
        patchOperations=[{"op": "replace", "path": "/deploymentId", "value": first}],
    )
    assert requests.get(url, timeout=5).json() == {"version": 1}


def test_stage_variables_reach_the_event(gateway: GatewayProcess, apigw: Any, lam: Any) -> None:
    api = RestApi(apigw, "variables")
    api.lambda_proxy("/e", "GET", create_function(lam, ECHO_EVENT))
    api.deploy("dev", variables={"table": "pets-dev"})
    url = gateway.invoke_url(api.id, "dev", "/e")
    assert requests.get(url, timeout=5).json()["stageVariables"] == {"table": "pets-dev"}
    apigw.update_stage(
        restApiId=api.id,
        stageName="dev",
        patchOperations=[{"op": "replace", "path": "/variables/table", "value": "pets-v2"}],
    )
    assert requests.get(url, timeout=5).json()["stageVariables"] == {"table": "pets-v2"}


def test_stage_variable_selects_the_function(gateway: GatewayProcess, apigw: Any, lam: Any) -> None:
    blue = create_function(lam, "def lambda_handler(e, c):\n    return {'statusCode': 200, 'body': 'blue'}\n")
    green = create_function(
        lam, "def lambda_handler(e, c):\n    return {'statusCode': 200, 'body': 'green'}\n"
    )
    api = RestApi(apigw, "fn-by-variable")
    rid = api.resource("/which")
    apigw.put_method(restApiId=api.id, resourceId=rid, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:us-east-1:000000000000:function:${stageVariables.fn}/invocations",
    )
    api.deploy("blue", variables={"fn": blue})
    api.deploy("green", variables={"fn": green})
    assert requests.get(gateway.invoke_url(api.id, "blue", "/which"), timeout=5).text == "blue"
    assert requests.get(gateway.invoke_url(api.id, "green", "/which"), timeout=5).text == "green"


def test_test_invoke_method_runs_without_a_deployment(apigw: Any, lam: Any) -> None:
    api = RestApi(apigw, "test-invoke")
    api.lambda_proxy("/items/{id}", "POST", create_function(lam, ECHO_EVENT))
    result = apigw.test_invoke_method(
        restApiId=api.id,
        resourceId=api.ids["/items/{id}"],
        httpMethod="POST",
        pathWithQueryString="/items/5?x=1",
        body='{"a": 1}',
        headers={"X-H": "v"},
        stageVariables={"s": "t"},
    )
    assert result["status"] == 200
    import json

    event = json.loads(result["body"])
    assert event["pathParameters"] == {"id": "5"}
    assert event["queryStringParameters"] == {"x": "1"}
    assert event["headers"]["X-H"] == "v"
    assert event["stageVariables"] == {"s": "t"}
    assert event["body"] == '{"a": 1}'
    assert "Method completed with status: 200" in result["log"]
    assert "Execution log for request" in result["log"]
    assert isinstance(result["latency"], int)
    assert result["headers"]["Content-Type"] == "application/json"
    assert apigw.get_stages(restApiId=api.id)["item"] == []


def test_creating_a_stage_prints_both_invoke_urls(gateway: GatewayProcess, apigw: Any) -> None:
    api = RestApi(apigw, "announced")
    api.mock("/", "GET", "{}")
    api.deploy("shown")
    expected = [
        f"{gateway.url}/_aws/execute-api/{api.id}/shown/",
        f"http://{api.id}.execute-api.localhost:{gateway.port}/shown/",
    ]
    wait_for(lambda: any(all(url in line for url in expected) for line in gateway.output))
