"""Regions are partitions (issue 23, class 5): what a management call creates lives in the region its signature
names; calls signed for another region neither list nor reach it; its ARNs and endpoints carry that region, as
on AWS, where each region is an endpoint of its own. The data plane serves every region's stages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
import requests

from helpers import GatewayProcess, RestApi, create_function

ACCOUNT = "000000000000"
WEST = "eu-west-1"

AUTHORIZER = """
import os
def lambda_handler(event, context):
    arn = event["methodArn"]
    return {"principalId": "me",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": arn}]},
            "context": {"arn": arn, "region": os.environ["AWS_REGION"]}}
"""


@pytest.fixture(scope="module")
def regions_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("regions"))  # --region us-east-1, the default
    process.start()
    yield process
    process.stop()


def error_of(call: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(**kwargs)
    answer = caught.value.response
    return answer["Error"]["Code"], answer["ResponseMetadata"]["HTTPStatusCode"], answer["Error"]["Message"]


def test_rest_apis_and_their_parts_are_seen_only_in_their_region(regions_gateway: GatewayProcess) -> None:
    east, west = regions_gateway.client("apigateway"), regions_gateway.client("apigateway", WEST)
    api = RestApi(east, "east-only")
    api.mock("/hello", "GET", '{"from": "east"}')
    api.deploy("prod")

    assert api.id in [item["id"] for item in east.get_rest_apis()["items"]]
    assert api.id not in [item["id"] for item in west.get_rest_apis().get("items", [])]
    missing = ("NotFoundException", 404, f"Invalid API identifier specified {ACCOUNT}:{api.id}")
    assert error_of(west.get_rest_api, restApiId=api.id) == missing
    assert error_of(west.delete_rest_api, restApiId=api.id) == missing
    assert error_of(west.get_stage, restApiId=api.id, stageName="prod")[:2] == ("NotFoundException", 404)
    assert error_of(west.get_resources, restApiId=api.id)[:2] == ("NotFoundException", 404)
    assert error_of(west.get_deployments, restApiId=api.id)[:2] == ("NotFoundException", 404)
    patch = [{"op": "replace", "path": "/name", "value": "taken"}]
    assert error_of(west.update_rest_api, restApiId=api.id, patchOperations=patch) == missing

    # Nothing another region tried changed it, and the data plane serves it as before.
    assert east.get_rest_api(restApiId=api.id)["name"] == "east-only"
    answer = requests.get(regions_gateway.invoke_url(api.id, "prod", "/hello"), timeout=5)
    assert answer.status_code == 200 and answer.json() == {"from": "east"}


def test_http_apis_carry_their_region(regions_gateway: GatewayProcess) -> None:
    east, west = regions_gateway.client("apigatewayv2"), regions_gateway.client("apigatewayv2", WEST)
    created = west.create_api(Name="west-http", ProtocolType="HTTP")
    api_id = created["ApiId"]
    assert created["ApiEndpoint"] == f"https://{api_id}.execute-api.{WEST}.amazonaws.com"
    assert [item["ApiId"] for item in west.get_apis()["Items"]] == [api_id]
    assert api_id not in [item["ApiId"] for item in east.get_apis()["Items"]]
    assert error_of(east.get_api, ApiId=api_id) == (
        "NotFoundException",
        404,
        f"Invalid API identifier specified {ACCOUNT}:{api_id}",
    )
    assert error_of(east.get_routes, ApiId=api_id)[:2] == ("NotFoundException", 404)
    socket_api = west.create_api(
        Name="west-ws", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )
    assert socket_api["ApiEndpoint"] == f"wss://{socket_api['ApiId']}.execute-api.{WEST}.amazonaws.com"


def test_keys_plans_certificates_and_links_are_regional(regions_gateway: GatewayProcess) -> None:
    east, west = regions_gateway.client("apigateway"), regions_gateway.client("apigateway", WEST)
    key = west.create_api_key(name="west-key", enabled=True)
    plan = west.create_usage_plan(name="west-plan")
    certificate = west.generate_client_certificate(description="west")
    link = west.create_vpc_link(
        name="west-link",
        targetArns=[
            "arn:aws:elasticloadbalancing:eu-west-1:000000000000:loadbalancer/net/a/50dc6c495c0c9188"
        ],
    )
    assert [k["id"] for k in west.get_api_keys()["items"]] == [key["id"]]
    assert key["id"] not in [k["id"] for k in east.get_api_keys().get("items", [])]
    assert plan["id"] not in [p["id"] for p in east.get_usage_plans().get("items", [])]
    assert certificate["clientCertificateId"] not in [
        c["clientCertificateId"] for c in east.get_client_certificates().get("items", [])
    ]
    assert link["id"] not in [v["id"] for v in east.get_vpc_links().get("items", [])]
    assert error_of(east.get_api_key, apiKey=key["id"])[:2] == ("NotFoundException", 404)
    assert error_of(east.get_usage_plan, usagePlanId=plan["id"])[:2] == ("NotFoundException", 404)
    assert error_of(east.get_client_certificate, clientCertificateId=certificate["clientCertificateId"])[
        :2
    ] == ("NotFoundException", 404)
    assert error_of(east.get_vpc_link, vpcLinkId=link["id"])[:2] == ("NotFoundException", 404)
    # A plan in one region cannot take a key from another, as there the key does not exist.
    assert error_of(
        west.create_usage_plan_key,
        usagePlanId=plan["id"],
        keyId=east.create_api_key(name="k")["id"],
        keyType="API_KEY",
    )[:2] == ("NotFoundException", 404)
    assert west.get_usage_plan(usagePlanId=plan["id"])["name"] == "west-plan"


def test_functions_are_regional_and_run_in_their_region(regions_gateway: GatewayProcess) -> None:
    east, west = regions_gateway.client("lambda"), regions_gateway.client("lambda", WEST)
    name = create_function(
        west, "import os\ndef lambda_handler(e, c):\n    return os.environ['AWS_REGION']\n"
    )
    arn = west.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    assert arn == f"arn:aws:lambda:{WEST}:{ACCOUNT}:function:{name}"
    assert name not in [f["FunctionName"] for f in east.list_functions()["Functions"]]
    code, status, message = error_of(east.get_function, FunctionName=name)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert message == f"Function not found: arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    answer = west.invoke(FunctionName=name)
    assert json.loads(answer["Payload"].read()) == WEST


def _authorized_mock(apigw: Any, region: str, function: str) -> RestApi:
    api = RestApi(apigw, "arns")
    rid = api.resource("/who")
    function_arn = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{function}"
    authorizer = apigw.create_authorizer(
        restApiId=api.id,
        name="token",
        type="TOKEN",
        identitySource="method.request.header.Authorization",
        authorizerUri=f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations",
        authorizerResultTtlInSeconds=0,
    )["id"]
    apigw.put_method(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        authorizationType="CUSTOM",
        authorizerId=authorizer,
    )
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    apigw.put_method_response(restApiId=api.id, resourceId=rid, httpMethod="GET", statusCode="200")
    apigw.put_integration_response(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        statusCode="200",
        responseTemplates={
            "application/json": '{"arn": "$context.authorizer.arn", "region": "$context.authorizer.region"}'
        },
    )
    api.deploy("prod")
    return api


def test_a_deployed_api_names_its_region_in_arns_also_after_a_restart(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    gateway = GatewayProcess(tmp_path_factory.mktemp("regions-restart"))
    gateway.start()
    try:
        name = create_function(gateway.client("lambda", WEST), AUTHORIZER)
        api = _authorized_mock(gateway.client("apigateway", WEST), WEST, name)
        expected = {"arn": f"arn:aws:execute-api:{WEST}:{ACCOUNT}:{api.id}/prod/GET/who", "region": WEST}

        def call() -> Any:
            answer = requests.get(
                gateway.invoke_url(api.id, "prod", "/who"), headers={"Authorization": "t"}, timeout=30
            )
            assert answer.status_code == 200, answer.text
            return answer.json()

        assert call() == expected
        assert gateway.stop() == 0
        gateway.start()  # stages are compiled again from the store: the region comes from it too
        assert call() == expected
    finally:
        gateway.stop()


def test_a_call_in_one_region_keeps_every_region_served(regions_gateway: GatewayProcess) -> None:
    """What the data plane serves is built from every region's documents, whichever region's call changed
    them: a key made in us-east-1 keeps working after eu-west-1 calls rebuild the usage plans."""
    east, west = regions_gateway.client("apigateway"), regions_gateway.client("apigateway", WEST)
    api = RestApi(east, "keyed")
    api.mock("/paid", "GET", '{"paid": true}')
    rid = api.resource("/paid")
    east.update_method(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        patchOperations=[{"op": "replace", "path": "/apiKeyRequired", "value": "true"}],
    )
    api.deploy("prod")
    key = east.create_api_key(name="east-key", enabled=True, value="east-key-value-0123456789")
    plan = east.create_usage_plan(name="east-plan", apiStages=[{"apiId": api.id, "stage": "prod"}])
    east.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    url = regions_gateway.invoke_url(api.id, "prod", "/paid")

    def status() -> int:
        return requests.get(url, headers={"x-api-key": "east-key-value-0123456789"}, timeout=5).status_code

    assert status() == 200
    west_key = west.create_api_key(name="west-key-2", enabled=True)  # rebuilds the plans the data plane reads
    west.create_usage_plan(name="west-plan-2")
    west.delete_api_key(apiKey=west_key["id"])
    assert status() == 200


def test_certificates_domains_and_account_settings_are_regional(regions_gateway: GatewayProcess) -> None:
    east_acm, west_acm = regions_gateway.client("acm"), regions_gateway.client("acm", WEST)
    east, west = regions_gateway.client("apigateway"), regions_gateway.client("apigateway", WEST)
    edge_certificate = east_acm.request_certificate(DomainName="edge.example.test")["CertificateArn"]
    west_certificate = west_acm.request_certificate(DomainName="west.example.test")["CertificateArn"]
    assert west_certificate.startswith(f"arn:aws:acm:{WEST}:")
    listed = [c["CertificateArn"] for c in east_acm.list_certificates()["CertificateSummaryList"]]
    assert edge_certificate in listed and west_certificate not in listed
    code, _, _ = error_of(east_acm.describe_certificate, CertificateArn=west_certificate)
    assert code == "ResourceNotFoundException"

    # A regional domain takes a certificate of its own region; an edge domain, one of us-east-1 (CloudFront's).
    regional = west.create_domain_name(
        domainName="west.example.test",
        regionalCertificateArn=west_certificate,
        endpointConfiguration={"types": ["REGIONAL"]},
    )
    assert regional["regionalDomainName"].endswith(f".execute-api.{WEST}.amazonaws.com")
    assert error_of(
        west.create_domain_name,
        domainName="wrong.example.test",
        regionalCertificateArn=edge_certificate,
        endpointConfiguration={"types": ["REGIONAL"]},
    )[:2] == ("BadRequestException", 400)
    west.create_domain_name(domainName="edge.example.test", certificateArn=edge_certificate)
    assert "west.example.test" not in [d["domainName"] for d in east.get_domain_names().get("items", [])]
    assert error_of(east.get_domain_name, domainName="west.example.test")[:2] == ("NotFoundException", 404)
    # The edge domain in eu-west-1 uses the us-east-1 certificate: it is in use there.
    in_use = east_acm.describe_certificate(CertificateArn=edge_certificate)["Certificate"]["InUseBy"]
    assert in_use == [f"arn:aws:apigateway:{WEST}::/domainnames/edge.example.test"]

    role = f"arn:aws:iam::{ACCOUNT}:role/west-logs"
    west.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
    assert west.get_account()["cloudwatchRoleArn"] == role
    assert "cloudwatchRoleArn" not in east.get_account()
