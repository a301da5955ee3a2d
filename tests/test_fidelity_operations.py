"""Operations that answered NotImplementedException (issue 23, class 6): VPC links with their local mapping,
client certificates, apigatewayv2 models and DeleteRouteRequestParameter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest
import requests
from cryptography import x509

from helpers import GatewayProcess, RestApi, wait_for

NLB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/orders/50dc6c495c0c9188"


@pytest.fixture(scope="module")
def linked_gateway(tmp_path_factory: pytest.TempPathFactory, upstream: str) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("vpc-data"), ["--vpc-link-target", f"{NLB}={upstream}"])
    process.start()
    yield process
    process.stop()


def test_rest_vpc_link_reaches_the_mapped_load_balancer(linked_gateway: GatewayProcess) -> None:
    apigw = linked_gateway.client("apigateway")
    link = apigw.create_vpc_link(name="orders", targetArns=[NLB], description="to the orders service")
    assert link["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert (link["status"], link["targetArns"]) == ("AVAILABLE", [NLB])
    assert apigw.get_vpc_link(vpcLinkId=link["id"])["name"] == "orders"
    assert [item["id"] for item in apigw.get_vpc_links()["items"]] == [link["id"]]
    renamed = apigw.update_vpc_link(
        vpcLinkId=link["id"], patchOperations=[{"op": "replace", "path": "/name", "value": "orders-2"}]
    )
    assert renamed["name"] == "orders-2"

    api = RestApi(apigw, "through-a-link")
    rid = api.resource("/orders")
    apigw.put_method(restApiId=api.id, resourceId=rid, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api.id, resourceId=rid, httpMethod="GET", type="HTTP_PROXY", integrationHttpMethod="GET",
        uri="http://orders-nlb.internal:8080/v1/orders", connectionType="VPC_LINK",
        connectionId="${stageVariables.link}",
    )
    api.deploy("prod", variables={"link": link["id"]})
    answer = requests.get(linked_gateway.invoke_url(api.id, "prod", "/orders") + "?page=2", timeout=5)
    assert answer.status_code == 200 and answer.headers["X-Upstream"] == "echo"
    assert answer.json()["path"] == "/v1/orders?page=2"

    apigw.delete_vpc_link(vpcLinkId=link["id"])
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        apigw.get_vpc_link(vpcLinkId=link["id"])
    assert caught.value.response["Error"]["Code"] == "NotFoundException"


def test_http_api_vpc_links(linked_gateway: GatewayProcess) -> None:
    v2 = linked_gateway.client("apigatewayv2")
    link = v2.create_vpc_link(Name="private", SubnetIds=["subnet-1", "subnet-2"], SecurityGroupIds=["sg-1"])
    assert (link["VpcLinkStatus"], link["VpcLinkVersion"]) == ("AVAILABLE", "V2")
    assert v2.update_vpc_link(VpcLinkId=link["VpcLinkId"], Name="private-2")["Name"] == "private-2"
    assert [item["Name"] for item in v2.get_vpc_links()["Items"]] == ["private-2"]
    v2.delete_vpc_link(VpcLinkId=link["VpcLinkId"])
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        v2.get_vpc_link(VpcLinkId=link["VpcLinkId"])
    assert caught.value.response["Error"]["Code"] == "NotFoundException"


def test_client_certificates(apigw: Any) -> None:
    made = apigw.generate_client_certificate(description="for the backend")
    certificate = x509.load_pem_x509_certificate(made["pemEncodedCertificate"].encode())
    assert certificate.not_valid_after_utc > certificate.not_valid_before_utc
    assert made["expirationDate"] > made["createdDate"]
    found = apigw.get_client_certificate(clientCertificateId=made["clientCertificateId"])
    assert found["pemEncodedCertificate"] == made["pemEncodedCertificate"] and "privateKey" not in found
    assert made["clientCertificateId"] in [c["clientCertificateId"] for c in apigw.get_client_certificates()["items"]]
    updated = apigw.update_client_certificate(
        clientCertificateId=made["clientCertificateId"],
        patchOperations=[{"op": "replace", "path": "/description", "value": "rotated"}],
    )
    assert updated["description"] == "rotated"
    apigw.delete_client_certificate(clientCertificateId=made["clientCertificateId"])
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        apigw.get_client_certificate(clientCertificateId=made["clientCertificateId"])
    assert caught.value.response["Error"] == {
        "Code": "NotFoundException", "Message": "Invalid Client Certificate identifier specified"
    }


def test_websocket_models_and_route_request_parameters(gateway: GatewayProcess) -> None:
    v2 = gateway.client("apigatewayv2")
    api = v2.create_api(Name="ws-models", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")
    schema = '{"type": "object", "properties": {"action": {"type": "string"}, "text": {"type": "string"}}}'
    model = v2.create_model(ApiId=api["ApiId"], Name="Message", Schema=schema, ContentType="application/json")
    assert model["Name"] == "Message" and model["ModelId"]
    assert v2.get_model(ApiId=api["ApiId"], ModelId=model["ModelId"])["Schema"] == schema
    assert [m["Name"] for m in v2.get_models(ApiId=api["ApiId"])["Items"]] == ["Message"]
    template = v2.get_model_template(ApiId=api["ApiId"], ModelId=model["ModelId"])["Value"]
    assert '"text" : "$inputRoot.text"' in template
    assert v2.update_model(ApiId=api["ApiId"], ModelId=model["ModelId"], Description="chat")["Description"] == "chat"
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        v2.create_model(ApiId=api["ApiId"], Name="Message", Schema=schema)
    assert caught.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        v2.create_model(ApiId=api["ApiId"], Name="Broken", Schema="{not json")
    assert caught.value.response["Error"]["Code"] == "BadRequestException"

    route = v2.create_route(
        ApiId=api["ApiId"], RouteKey="$connect",
        RequestParameters={"route.request.header.Auth": {"Required": True},
                           "route.request.querystring.room": {"Required": False}},
    )
    v2.delete_route_request_parameter(
        ApiId=api["ApiId"], RouteId=route["RouteId"], RequestParameterKey="route.request.header.Auth"
    )
    kept = v2.get_route(ApiId=api["ApiId"], RouteId=route["RouteId"])["RequestParameters"]
    assert kept == {"route.request.querystring.room": {"Required": False}}
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        v2.delete_route_request_parameter(
            ApiId=api["ApiId"], RouteId=route["RouteId"], RequestParameterKey="route.request.header.Auth"
        )
    assert caught.value.response["Error"]["Code"] == "NotFoundException"
    v2.delete_model(ApiId=api["ApiId"], ModelId=model["ModelId"])
    assert v2.get_models(ApiId=api["ApiId"])["Items"] == []


def test_the_vpc_link_target_option_is_checked(tmp_path: Path) -> None:
    from apigate.cli import parse_vpc_link_targets

    assert parse_vpc_link_targets([f"{NLB}=http://127.0.0.1:81/"]) == {NLB: "http://127.0.0.1:81"}
    with pytest.raises(SystemExit):
        parse_vpc_link_targets(["orders=http://127.0.0.1:81"])


def test_http_api_stage_and_deployment_operations(gateway: GatewayProcess, upstream: str) -> None:
    v2 = gateway.client("apigatewayv2")
    api = v2.create_api(Name="v2-ops", ProtocolType="HTTP")
    integration = v2.create_integration(
        ApiId=api["ApiId"], IntegrationType="HTTP_PROXY", IntegrationMethod="GET", IntegrationUri=upstream,
        PayloadFormatVersion="1.0",
    )
    v2.create_route(ApiId=api["ApiId"], RouteKey="GET /a", Target=f"integrations/{integration['IntegrationId']}")
    deployment = v2.create_deployment(ApiId=api["ApiId"], Description="first")
    updated = v2.update_deployment(ApiId=api["ApiId"], DeploymentId=deployment["DeploymentId"], Description="1st")
    assert updated["Description"] == "1st"
    v2.create_stage(
        ApiId=api["ApiId"], StageName="s", DeploymentId=deployment["DeploymentId"],
        RouteSettings={"GET /a": {"ThrottlingBurstLimit": 0, "ThrottlingRateLimit": 0.0}},
    )
    url = f"{gateway.url}/_aws/execute-api/{api['ApiId']}/s/a"
    assert requests.get(url, timeout=5).status_code == 429
    v2.delete_route_settings(ApiId=api["ApiId"], StageName="s", RouteKey="GET /a")
    assert v2.get_stage(ApiId=api["ApiId"], StageName="s")["RouteSettings"] == {}
    assert requests.get(url, timeout=5).status_code == 200
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        v2.delete_route_settings(ApiId=api["ApiId"], StageName="s", RouteKey="GET /a")
    assert caught.value.response["Error"]["Code"] == "NotFoundException"
    reset = v2.reset_authorizers_cache(ApiId=api["ApiId"], StageName="s")
    assert reset["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_websocket_integration_responses_update(gateway: GatewayProcess) -> None:
    v2 = gateway.client("apigatewayv2")
    api = v2.create_api(Name="ws-ir", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.a")
    mock = v2.create_integration(ApiId=api["ApiId"], IntegrationType="MOCK")
    made = v2.create_integration_response(
        ApiId=api["ApiId"], IntegrationId=mock["IntegrationId"], IntegrationResponseKey="$default",
        ResponseTemplates={"$default": "{}"},
    )
    changed = v2.update_integration_response(
        ApiId=api["ApiId"], IntegrationId=mock["IntegrationId"], IntegrationResponseId=made["IntegrationResponseId"],
        ResponseTemplates={"$default": '{"v": 2}'}, TemplateSelectionExpression="\\$default",
    )
    assert changed["ResponseTemplates"] == {"$default": '{"v": 2}'}
    assert changed["TemplateSelectionExpression"] == "\\$default"


LISTENER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/orders/50dc6c495c0c9188/f2f7dc8efc522ab2"


@pytest.fixture(scope="module")
def private_gateway(tmp_path_factory: pytest.TempPathFactory, upstream: str) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("private-data"), ["--vpc-link-target", f"{LISTENER}={upstream}"])
    process.start()
    yield process
    process.stop()


def test_http_api_private_integration_reaches_the_mapped_listener(private_gateway: GatewayProcess) -> None:
    v2 = private_gateway.client("apigatewayv2")
    link = v2.create_vpc_link(Name="orders", SubnetIds=["subnet-1"])
    api = v2.create_api(Name="private", ProtocolType="HTTP")
    integration = v2.create_integration(
        ApiId=api["ApiId"], IntegrationType="HTTP_PROXY", IntegrationMethod="ANY", IntegrationUri=LISTENER,
        ConnectionType="VPC_LINK", ConnectionId=link["VpcLinkId"], PayloadFormatVersion="1.0",
    )
    v2.create_route(ApiId=api["ApiId"], RouteKey="GET /orders/{id}",
                    Target=f"integrations/{integration['IntegrationId']}")
    v2.create_stage(ApiId=api["ApiId"], StageName="prod", AutoDeploy=True)
    answer = requests.get(f"{private_gateway.url}/_aws/execute-api/{api['ApiId']}/prod/orders/7?x=1", timeout=5)
    assert answer.status_code == 200 and answer.json()["path"] == "/prod/orders/7?x=1"
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        v2.create_integration(
            ApiId=api["ApiId"], IntegrationType="HTTP_PROXY", IntegrationMethod="ANY", IntegrationUri=LISTENER,
            ConnectionType="VPC_LINK", PayloadFormatVersion="1.0",
        )
    assert caught.value.response["Error"]["Code"] == "BadRequestException"


def test_a_stage_naming_a_client_certificate_is_reported(gateway: GatewayProcess, apigw: Any) -> None:
    api = RestApi(apigw, "with-client-cert")
    api.mock("/m", "GET", "{}")
    api.deploy("prod")
    certificate = apigw.generate_client_certificate()["clientCertificateId"]
    apigw.update_stage(
        restApiId=api.id, stageName="prod",
        patchOperations=[{"op": "replace", "path": "/clientCertificateId", "value": certificate}],
    )
    wanted = f"warning: stage prod of {api.id} names client certificate {certificate}"
    wait_for(lambda: any(wanted in line and "does not present" in line for line in gateway.output))
