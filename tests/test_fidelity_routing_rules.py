"""Routing rules of custom domain names (apigatewayv2 CreateRoutingRule & co; issue 23, class 6): header and
base path conditions that send a request to a REST API's stage, by priority, before the base path mappings or
instead of them as the domain's routing mode says (AWS's developer guide, "Routing rules ... for REST APIs")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
import requests

from helpers import GatewayProcess

DOMAIN = "rules.example.test"


@pytest.fixture(scope="module")
def rules_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("routing-rules"))
    process.start()
    yield process
    process.stop()


def error_of(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(**kwargs)
    answer = caught.value.response
    return answer["Error"]["Code"], answer["ResponseMetadata"]["HTTPStatusCode"]


def mock_api(apigw: Any, name: str) -> str:
    """A REST API whose GET /pets and GET /orders/pets answer with its name and the resource they reached."""
    api = apigw.create_rest_api(name=name, endpointConfiguration={"types": ["REGIONAL"]})
    api_id = api["id"]
    pets = apigw.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="pets")["id"]
    orders = apigw.create_resource(restApiId=api_id, parentId=api["rootResourceId"], pathPart="orders")["id"]
    order_pets = apigw.create_resource(restApiId=api_id, parentId=orders, pathPart="pets")["id"]
    template = json.dumps({"api": name, "resource": "$context.resourcePath"})
    for resource in (pets, order_pets):
        apigw.put_method(restApiId=api_id, resourceId=resource, httpMethod="GET", authorizationType="NONE")
        apigw.put_integration(
            restApiId=api_id,
            resourceId=resource,
            httpMethod="GET",
            type="MOCK",
            requestTemplates={"application/json": '{"statusCode": 200}'},
        )
        apigw.put_method_response(restApiId=api_id, resourceId=resource, httpMethod="GET", statusCode="200")
        apigw.put_integration_response(
            restApiId=api_id,
            resourceId=resource,
            httpMethod="GET",
            statusCode="200",
            responseTemplates={"application/json": template},
        )
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    return str(api_id)


@pytest.fixture(scope="module")
def apis(rules_gateway: GatewayProcess) -> dict[str, str]:
    apigw = rules_gateway.client("apigateway")
    return {name: mock_api(apigw, name) for name in ("mapped", "beta", "orders", "whole")}


@pytest.fixture(scope="module")
def certificate(rules_gateway: GatewayProcess) -> str:
    acm = rules_gateway.client("acm")
    return str(acm.request_certificate(DomainName="*.example.test")["CertificateArn"])


def _domain(gateway: GatewayProcess, certificate: str, name: str, mode: str | None) -> None:
    v2 = gateway.client("apigatewayv2")
    extra = {} if mode is None else {"RoutingMode": mode}
    v2.create_domain_name(
        DomainName=name,
        DomainNameConfigurations=[{"CertificateArn": certificate, "EndpointType": "REGIONAL"}],
        **extra,
    )


def _rule(
    v2: Any, domain: str, priority: int, api_id: str, conditions: list[Any], strip: bool = False
) -> Any:
    return v2.create_routing_rule(
        DomainName=domain,
        Priority=priority,
        Conditions=conditions,
        Actions=[{"InvokeApi": {"ApiId": api_id, "Stage": "prod", "StripBasePath": strip}}],
    )


def get(gateway: GatewayProcess, host: str, path: str, **headers: str) -> requests.Response:
    return requests.get(f"{gateway.url}{path}", headers={"Host": host, **headers}, timeout=5)


def test_rules_go_before_mappings_by_priority(
    rules_gateway: GatewayProcess, apis: dict[str, str], certificate: str
) -> None:
    apigw, v2 = rules_gateway.client("apigateway"), rules_gateway.client("apigatewayv2")
    _domain(rules_gateway, certificate, DOMAIN, "ROUTING_RULE_THEN_API_MAPPING")
    assert v2.get_domain_name(DomainName=DOMAIN)["RoutingMode"] == "ROUTING_RULE_THEN_API_MAPPING"
    assert apigw.get_domain_name(domainName=DOMAIN)["routingMode"] == "ROUTING_RULE_THEN_BASE_PATH_MAPPING"
    apigw.create_base_path_mapping(domainName=DOMAIN, restApiId=apis["mapped"], stage="prod")
    beta = _rule(
        v2,
        DOMAIN,
        10,
        apis["beta"],
        [{"MatchHeaders": {"AnyOf": [{"Header": "X-Version", "ValueGlob": "beta*"}]}}],
    )
    orders = _rule(v2, DOMAIN, 20, apis["orders"], [{"MatchBasePaths": {"AnyOf": ["orders"]}}], strip=True)
    whole = _rule(v2, DOMAIN, 30, apis["whole"], [{"MatchBasePaths": {"AnyOf": ["orders"]}}])
    assert beta["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert beta["RoutingRuleArn"].endswith(f":/domainnames/{DOMAIN}/routingrules/{beta['RoutingRuleId']}")

    # A header glob: names any case, values exact case; the first rule by priority wins.
    assert get(rules_gateway, DOMAIN, "/pets", **{"x-version": "beta-2"}).json() == {
        "api": "beta",
        "resource": "/pets",
    }
    assert get(rules_gateway, DOMAIN, "/orders/pets", **{"X-VERSION": "beta"}).json()["api"] == "beta"
    # No header match: the base path rule, which strips its base path; then the mapping at the root.
    assert get(rules_gateway, DOMAIN, "/orders/pets", **{"x-version": "Beta"}).json() == {
        "api": "orders",
        "resource": "/pets",
    }
    assert get(rules_gateway, DOMAIN, "/pets").json() == {"api": "mapped", "resource": "/pets"}
    assert get(rules_gateway, DOMAIN, "/orders-2/pets").status_code == 403  # whole segments only

    # Without StripBasePath the API sees the whole path.
    v2.delete_routing_rule(DomainName=DOMAIN, RoutingRuleId=orders["RoutingRuleId"])
    assert get(rules_gateway, DOMAIN, "/orders/pets").json() == {"api": "whole", "resource": "/orders/pets"}
    listed = v2.list_routing_rules(DomainName=DOMAIN)["RoutingRules"]
    assert [r["Priority"] for r in listed] == [10, 30]
    assert v2.get_routing_rule(DomainName=DOMAIN, RoutingRuleId=whole["RoutingRuleId"])["Conditions"] == [
        {"MatchBasePaths": {"AnyOf": ["orders"]}}
    ]

    # PutRoutingRule replaces a rule whole, keeping its id.
    moved = v2.put_routing_rule(
        DomainName=DOMAIN,
        RoutingRuleId=whole["RoutingRuleId"],
        Priority=5,
        Conditions=[],
        Actions=[{"InvokeApi": {"ApiId": apis["orders"], "Stage": "prod"}}],
    )
    assert (moved["RoutingRuleId"], moved["Priority"]) == (whole["RoutingRuleId"], 5)
    assert (
        get(rules_gateway, DOMAIN, "/pets", **{"x-version": "beta"}).json()["api"] == "orders"
    )  # catch-all first


def test_routing_modes(rules_gateway: GatewayProcess, apis: dict[str, str], certificate: str) -> None:
    apigw, v2 = rules_gateway.client("apigateway"), rules_gateway.client("apigatewayv2")
    only = "only.example.test"
    _domain(rules_gateway, certificate, only, "ROUTING_RULE_ONLY")
    apigw.create_base_path_mapping(domainName=only, restApiId=apis["mapped"], stage="prod")
    _rule(v2, only, 1, apis["orders"], [{"MatchBasePaths": {"AnyOf": ["orders"]}}], strip=True)
    assert get(rules_gateway, only, "/orders/pets").json()["api"] == "orders"
    assert get(rules_gateway, only, "/pets").status_code == 403  # the mapping is not consulted

    mapped = "mapped.example.test"
    _domain(rules_gateway, certificate, mapped, None)  # API_MAPPING_ONLY, the default: rules are kept, unused
    apigw.create_base_path_mapping(domainName=mapped, restApiId=apis["mapped"], stage="prod")
    _rule(v2, mapped, 1, apis["beta"], [])
    assert get(rules_gateway, mapped, "/pets").json()["api"] == "mapped"
    v2.update_domain_name(DomainName=mapped, RoutingMode="ROUTING_RULE_THEN_API_MAPPING")
    assert get(rules_gateway, mapped, "/pets").json()["api"] == "beta"
    apigw.update_domain_name(
        domainName=mapped,
        patchOperations=[{"op": "replace", "path": "/routingMode", "value": "BASE_PATH_MAPPING_ONLY"}],
    )
    assert get(rules_gateway, mapped, "/pets").json()["api"] == "mapped"


def test_routing_rules_refuse_what_aws_refuses(
    rules_gateway: GatewayProcess, apis: dict[str, str], certificate: str
) -> None:
    v2 = rules_gateway.client("apigatewayv2")
    name = "refusals.example.test"
    _domain(rules_gateway, certificate, name, "ROUTING_RULE_ONLY")
    _rule(v2, name, 100, apis["beta"], [])
    header = {"MatchHeaders": {"AnyOf": [{"Header": "x-a", "ValueGlob": "a"}]}}
    cases = [
        (dict(Priority=100), ("ConflictException", 409)),  # priorities are unique in a domain
        (dict(Priority=1_000_001), ("BadRequestException", 400)),
        (
            dict(Actions=[{"InvokeApi": {"ApiId": "nosuchapi0", "Stage": "prod"}}]),
            ("BadRequestException", 400),
        ),
        (
            dict(Actions=[{"InvokeApi": {"ApiId": apis["beta"], "Stage": "nope"}}]),
            ("BadRequestException", 400),
        ),
        (
            dict(Conditions=[header, header, header]),
            ("BadRequestException", 400),
        ),  # two header conditions at most
        (
            dict(Conditions=[{"MatchHeaders": {"AnyOf": [{"Header": "x-a", "ValueGlob": "a*b"}]}}]),
            ("BadRequestException", 400),  # wildcards at the ends only
        ),
        (dict(DomainName="missing.example.test"), ("NotFoundException", 404)),
    ]
    for change, expected in cases:
        request = dict(
            DomainName=name,
            Priority=7,
            Conditions=[],
            Actions=[{"InvokeApi": {"ApiId": apis["beta"], "Stage": "prod"}}],
        )
        request.update(change)
        assert error_of(v2.create_routing_rule, **request) == expected, change
    assert error_of(v2.get_routing_rule, DomainName=name, RoutingRuleId="nosuch") == (
        "NotFoundException",
        404,
    )
    assert error_of(v2.delete_routing_rule, DomainName=name, RoutingRuleId="nosuch") == (
        "NotFoundException",
        404,
    )
    assert [r["Priority"] for r in v2.list_routing_rules(DomainName=name)["RoutingRules"]] == [100]
    v2.delete_domain_name(DomainName=name)  # its rules go with it
    assert error_of(v2.list_routing_rules, DomainName=name) == ("NotFoundException", 404)
