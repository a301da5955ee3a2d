"""apigatewayv2's view of custom domains: CreateDomainName, GetDomainName(s), UpdateDomainName,
DeleteDomainName, and API mappings (CreateApiMapping with ``ApiMappingKey``, Get/Update/Delete). The documents
are apigateway's (control/domain_names.py); this module translates the v2 shapes to and from them."""

from __future__ import annotations

from functools import partial
from typing import Any

from apigate.aws.errors import bad_request, not_found
from apigate.aws.wire import OperationHandler
from apigate.control import domain_names as v1
from apigate.control.context import ControlContext
from apigate.control.v2.common import Doc, drop_none, page

__all__ = ["handlers"]

_V2_MODES = {  # the domain's routing mode, as each API names it
    "BASE_PATH_MAPPING_ONLY": "API_MAPPING_ONLY",
    "ROUTING_RULE_ONLY": "ROUTING_RULE_ONLY",
    "ROUTING_RULE_THEN_BASE_PATH_MAPPING": "ROUTING_RULE_THEN_API_MAPPING",
}


def _v2_domain(doc: Doc) -> Doc:
    kind = doc["endpointConfiguration"]["types"][0]
    edge = kind == "EDGE"
    config = drop_none(
        {
            "ApiGatewayDomainName": doc.get("distributionDomainName")
            if edge
            else doc.get("regionalDomainName"),
            "CertificateArn": doc.get("certificateArn") if edge else doc.get("regionalCertificateArn"),
            "CertificateName": doc.get("certificateName") if edge else doc.get("regionalCertificateName"),
            "DomainNameStatus": doc.get("domainNameStatus"),
            "EndpointType": kind,
            "HostedZoneId": doc.get("distributionHostedZoneId") if edge else doc.get("regionalHostedZoneId"),
            "SecurityPolicy": doc.get("securityPolicy"),
        }
    )
    mtls = doc.get("mutualTlsAuthentication")
    return drop_none(
        {
            "ApiMappingSelectionExpression": "$request.basepath",
            "DomainName": doc["domainName"],
            "DomainNameConfigurations": [config],
            "MutualTlsAuthentication": drop_none(
                {
                    "TruststoreUri": mtls.get("truststoreUri"),
                    "TruststoreVersion": mtls.get("truststoreVersion"),
                    "TruststoreWarnings": mtls.get("truststoreWarnings") or None,
                }
            )
            if mtls
            else None,
            "RoutingMode": _V2_MODES.get(doc["routingMode"]) if doc.get("routingMode") else None,
            "Tags": doc.get("tags") or {},
        }
    )


def _v1_mode(mode: Any) -> str | None:
    """A v2 routing mode in the domain's (v1) words; unknown ones are left to v1's check."""
    if mode is None:
        return None
    return {v: k for k, v in _V2_MODES.items()}.get(str(mode), str(mode))


def v1_params(params: dict[str, Any]) -> Doc:
    configs = params.get("DomainNameConfigurations") or [{}]
    if len(configs) != 1:
        raise bad_request("Only one domain name configuration is supported")
    config = configs[0]
    kind = config.get("EndpointType") or "REGIONAL"
    mtls = params.get("MutualTlsAuthentication") or {}
    return drop_none(
        {
            "domainName": params.get("DomainName"),
            "endpointConfiguration": {"types": [kind]},
            "certificateArn": config.get("CertificateArn") if kind == "EDGE" else None,
            "regionalCertificateArn": config.get("CertificateArn") if kind != "EDGE" else None,
            "securityPolicy": config.get("SecurityPolicy"),
            "routingMode": _v1_mode(params.get("RoutingMode")),
            "tags": params.get("Tags"),
            "mutualTlsAuthentication": {
                "truststoreUri": mtls.get("TruststoreUri"),
                "truststoreVersion": mtls.get("TruststoreVersion"),
            }
            if mtls.get("TruststoreUri")
            else None,
        }
    )


def _v2_mapping(doc: Doc) -> Doc:
    key = doc["basePath"]
    return drop_none(
        {
            "ApiId": doc["restApiId"],
            "ApiMappingId": doc["apiMappingId"],
            "ApiMappingKey": "" if key == v1.NONE else key,
            "Stage": doc.get("stage"),
        }
    )


def _mapping_by_id(ctx: ControlContext, name: str, mapping_id: str) -> Doc:
    v1.domain(ctx, name)
    for doc in ctx.store.list(v1.MAPPING, name):
        if doc.get("apiMappingId") == mapping_id:
            return doc
    raise not_found("Invalid API mapping identifier specified")


async def create_domain_name(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _v2_domain(v1.new_domain(ctx, v1_params(params)))


async def get_domain_name(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _v2_domain(v1.domain(ctx, str(params["DomainName"]).lower()))


async def get_domain_names(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return page([_v2_domain(doc) for doc in ctx.store.list(v1.DOMAIN)], params)


async def update_domain_name(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    name = str(params["DomainName"]).lower()
    doc = v1.domain(ctx, name)
    if params.get("DomainNameConfigurations"):
        changes = v1_params({**params, "DomainName": name})
        for key in ("certificateArn", "regionalCertificateArn", "securityPolicy"):
            if key in changes:
                doc[key] = changes[key]
    if params.get("RoutingMode") is not None:
        mode = _v1_mode(params["RoutingMode"])
        if mode not in v1.ROUTING_MODES:
            raise bad_request(f"Invalid routing mode: {params['RoutingMode']}")
        doc["routingMode"] = mode
    mtls = params.get("MutualTlsAuthentication")
    if mtls is not None:
        if mtls.get("TruststoreUri"):
            doc["mutualTlsAuthentication"] = {
                "truststoreUri": mtls["TruststoreUri"],
                "truststoreVersion": mtls.get("TruststoreVersion"),
                "truststoreWarnings": [],
            }
        else:
            doc.pop("mutualTlsAuthentication", None)
    pem = v1.truststore_pem(ctx, doc)
    with ctx.store.transaction():
        v1.store_truststore(ctx, doc, pem)
        ctx.store.put(v1.DOMAIN, name, doc)
    return _v2_domain(doc)


async def delete_domain_name(ctx: ControlContext, params: dict[str, Any]) -> None:
    v1.delete_domain(ctx, str(params["DomainName"]).lower())


async def create_api_mapping(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    name = str(params["DomainName"]).lower()
    if not params.get("Stage"):
        raise bad_request("Stage is required")
    key = v1.normal_base_path(params.get("ApiMappingKey"))
    return _v2_mapping(v1.new_mapping(ctx, name, key, params["ApiId"], params["Stage"]))


async def get_api_mapping(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _v2_mapping(_mapping_by_id(ctx, str(params["DomainName"]).lower(), params["ApiMappingId"]))


async def get_api_mappings(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    name = str(params["DomainName"]).lower()
    v1.domain(ctx, name)
    return page([_v2_mapping(doc) for doc in ctx.store.list(v1.MAPPING, name)], params)


async def update_api_mapping(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    name = str(params["DomainName"]).lower()
    old = _mapping_by_id(ctx, name, params["ApiMappingId"])
    key = v1.normal_base_path(params["ApiMappingKey"]) if "ApiMappingKey" in params else old["basePath"]
    with ctx.store.transaction():
        ctx.store.delete(v1.MAPPING, f"{name}/{old['basePath']}")
        doc = v1.new_mapping(
            ctx,
            name,
            key,
            params.get("ApiId") or old["restApiId"],
            params.get("Stage") or old.get("stage"),
            old["apiMappingId"],
        )
    return _v2_mapping(doc)


async def delete_api_mapping(ctx: ControlContext, params: dict[str, Any]) -> None:
    name = str(params["DomainName"]).lower()
    doc = _mapping_by_id(ctx, name, params["ApiMappingId"])
    ctx.store.delete(v1.MAPPING, f"{name}/{doc['basePath']}")


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "CreateDomainName": partial(create_domain_name, ctx),
        "GetDomainName": partial(get_domain_name, ctx),
        "GetDomainNames": partial(get_domain_names, ctx),
        "UpdateDomainName": partial(update_domain_name, ctx),
        "DeleteDomainName": partial(delete_domain_name, ctx),
        "CreateApiMapping": partial(create_api_mapping, ctx),
        "GetApiMapping": partial(get_api_mapping, ctx),
        "GetApiMappings": partial(get_api_mappings, ctx),
        "UpdateApiMapping": partial(update_api_mapping, ctx),
        "DeleteApiMapping": partial(delete_api_mapping, ctx),
    }
