"""Portals and portal products (apigatewayv2 CreatePortal, CreatePortalProduct & co; issue 23, class 6): the
management calls with AWS's shapes, and the page apigate serves for what was published or previewed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
import requests

from helpers import GatewayProcess, RestApi

COLORS = {
    "AccentColor": "#ff9900",
    "BackgroundColor": "#ffffff",
    "ErrorValidationColor": "#d13212",
    "HeaderColor": "#232f3e",
    "NavigationColor": "#eaeded",
    "TextColor": "#16191f",
}


@pytest.fixture(scope="module")
def portal_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("portals"))
    process.start()
    yield process
    process.stop()


def error_of(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(**kwargs)
    answer = caught.value.response
    return answer["Error"]["Code"], answer["ResponseMetadata"]["HTTPStatusCode"]


def _pets_api(gateway: GatewayProcess) -> str:
    apigw = gateway.client("apigateway")
    api = RestApi(apigw, "pets-for-portal")
    api.mock("/pets", "GET", '{"pets": []}')
    apigw.update_method(
        restApiId=api.id,
        resourceId=api.resource("/pets"),
        httpMethod="GET",
        patchOperations=[{"op": "replace", "path": "/operationName", "value": "ListPets"}],
    )
    api.deploy("prod")
    return api.id


def test_a_published_portal_shows_its_products(portal_gateway: GatewayProcess) -> None:
    v2 = portal_gateway.client("apigatewayv2")
    api_id = _pets_api(portal_gateway)
    product = v2.create_portal_product(DisplayName="Pets", Description="All about pets", Tags={"team": "a"})
    assert product["ResponseMetadata"]["HTTPStatusCode"] == 201
    product_id = product["PortalProductId"]
    assert (
        product["PortalProductArn"]
        == f"arn:aws:apigateway:us-east-1:000000000000:/portalproducts/{product_id}"
    )

    guide = v2.create_product_page(
        PortalProductId=product_id,
        DisplayContent={
            "Title": "Getting started",
            "Body": "Use **GET /pets**.\n\n<script>alert(1)</script>",
        },
    )
    endpoint = v2.create_product_rest_endpoint_page(
        PortalProductId=product_id,
        RestEndpointIdentifier={
            "IdentifierParts": {"RestApiId": api_id, "Stage": "prod", "Method": "GET", "Path": "/pets"}
        },
        TryItState="ENABLED",
    )
    assert endpoint["Status"] == "AVAILABLE"
    assert endpoint["DisplayContent"]["OperationName"] == "ListPets"
    assert endpoint["DisplayContent"]["Endpoint"] == portal_gateway.invoke_url(api_id, "prod", "/pets")
    assert requests.get(endpoint["DisplayContent"]["Endpoint"], timeout=5).json() == {"pets": []}
    assert [p["PageTitle"] for p in v2.list_product_pages(PortalProductId=product_id)["Items"]] == [
        "Getting started"
    ]
    assert [
        p["Endpoint"] for p in v2.list_product_rest_endpoint_pages(PortalProductId=product_id)["Items"]
    ] == [endpoint["DisplayContent"]["Endpoint"]]
    ordered = v2.update_portal_product(
        PortalProductId=product_id,
        DisplayOrder={
            "OverviewPageArn": guide["ProductPageArn"],
            "Contents": [
                {
                    "SectionName": "Pets",
                    "ProductRestEndpointPageArns": [endpoint["ProductRestEndpointPageArn"]],
                }
            ],
        },
    )
    assert ordered["DisplayOrder"]["Contents"][0]["SectionName"] == "Pets"

    portal = v2.create_portal(
        Authorization={"None": {}},
        EndpointConfiguration={"None": {}},
        IncludedPortalProductArns=[product["PortalProductArn"]],
        PortalContent={
            "DisplayName": "Pet developers",
            "Description": "APIs for pets",
            "Theme": {"CustomColors": COLORS},
        },
    )
    portal_id = portal["PortalId"]
    assert portal["PublishStatus"] == "DISABLED"
    assert portal["EndpointConfiguration"]["PortalDefaultDomainName"]
    page_url = f"{portal_gateway.url}/_apigate/portals/{portal_id}/"
    assert requests.get(page_url, timeout=5).status_code == 404  # nothing published yet

    assert (
        v2.publish_portal(PortalId=portal_id, Description="first")["ResponseMetadata"]["HTTPStatusCode"]
        == 202
    )
    published = v2.get_portal(PortalId=portal_id)
    assert (published["PublishStatus"], published["LastPublishedDescription"]) == ("PUBLISHED", "first")
    page = requests.get(page_url, timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    text = page.text
    assert "Pet developers" in text and "<strong>GET /pets</strong>" in text and "ListPets" in text
    assert "<script>" not in text  # raw HTML in Markdown stays text
    assert f"/_apigate/docs/{api_id}/prod" in text  # try it: the stage's reference page
    assert "#232f3e" in text

    # What was published stays until published again; the preview shows the current content.
    v2.update_product_page(
        PortalProductId=product_id,
        ProductPageId=guide["ProductPageId"],
        DisplayContent={"Title": "Getting started", "Body": "Changed since."},
    )
    assert "Changed since." not in requests.get(page_url, timeout=5).text
    v2.preview_portal(PortalId=portal_id)
    preview = v2.get_portal(PortalId=portal_id)["Preview"]
    assert preview["PreviewStatus"] == "PREVIEW_READY"
    assert "Changed since." in requests.get(preview["PreviewUrl"], timeout=5).text

    # A product a portal includes cannot go; disabling the portal takes its page down.
    assert error_of(v2.delete_portal_product, PortalProductId=product_id) == ("ConflictException", 409)
    v2.disable_portal(PortalId=portal_id)
    assert requests.get(page_url, timeout=5).status_code == 404
    assert [p["PortalId"] for p in v2.list_portals()["Items"]] == [portal_id]
    v2.delete_portal(PortalId=portal_id)
    v2.delete_portal_product(PortalProductId=product_id)
    assert error_of(v2.get_portal_product, PortalProductId=product_id) == ("NotFoundException", 404)


def test_portal_products_refuse_what_aws_refuses(portal_gateway: GatewayProcess) -> None:
    v2 = portal_gateway.client("apigatewayv2")
    product_id = v2.create_portal_product(DisplayName="Refusals")["PortalProductId"]
    identifier = {
        "IdentifierParts": {"RestApiId": "nosuchapi0", "Stage": "prod", "Method": "GET", "Path": "/"}
    }
    assert error_of(
        v2.create_product_rest_endpoint_page, PortalProductId=product_id, RestEndpointIdentifier=identifier
    ) == ("BadRequestException", 400)
    assert error_of(
        v2.update_portal_product,
        PortalProductId=product_id,
        DisplayOrder={"ProductPageArns": ["arn:aws:apigateway:us-east-1:000000000000:/nothing"]},
    ) == ("BadRequestException", 400)
    assert error_of(
        v2.put_portal_product_sharing_policy, PortalProductId=product_id, PolicyDocument="not json"
    ) == ("BadRequestException", 400)
    assert error_of(v2.get_portal_product_sharing_policy, PortalProductId=product_id) == (
        "NotFoundException",
        404,
    )
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "apigateway:*", "Resource": "*"}],
        }
    )
    v2.put_portal_product_sharing_policy(PortalProductId=product_id, PolicyDocument=policy)
    assert v2.get_portal_product_sharing_policy(PortalProductId=product_id)["PolicyDocument"] == policy
    v2.delete_portal_product_sharing_policy(PortalProductId=product_id)
    assert error_of(
        v2.create_portal,
        Authorization={"None": {}},
        EndpointConfiguration={"None": {}},
        IncludedPortalProductArns=["arn:aws:apigateway:us-east-1:000000000000:/portalproducts/nosuch"],
        PortalContent={"DisplayName": "Refused", "Theme": {"CustomColors": COLORS}},
    ) == ("BadRequestException", 400)
    assert error_of(v2.get_portal, PortalId="nosuch") == ("NotFoundException", 404)
    assert v2.list_portal_products(ResourceOwner="OTHER_ACCOUNTS")["Items"] == []


def test_a_portal_behind_cognito_sign_in_is_not_served_open(portal_gateway: GatewayProcess) -> None:
    v2 = portal_gateway.client("apigatewayv2")
    portal = v2.create_portal(
        Authorization={
            "CognitoConfig": {
                "AppClientId": "client",
                "UserPoolArn": "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_pool",
                "UserPoolDomain": "https://auth.example.test",
            }
        },
        EndpointConfiguration={"None": {}},
        PortalContent={"DisplayName": "Members only", "Theme": {"CustomColors": COLORS}},
    )
    v2.publish_portal(PortalId=portal["PortalId"])
    answer = requests.get(f"{portal_gateway.url}/_apigate/portals/{portal['PortalId']}/", timeout=5)
    assert answer.status_code == 401 and "Cognito" in answer.json()["message"]
