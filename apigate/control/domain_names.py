"""Custom domain names and base path mappings (apigateway): CreateDomainName, GetDomainName(s),
UpdateDomainName, DeleteDomainName; CreateBasePathMapping, GetBasePathMapping(s), UpdateBasePathMapping,
DeleteBasePathMapping.

One document per domain (the v1 shape) and one per mapping, shared with apigatewayv2's DomainName and
ApiMapping calls (control/v2/domain_names.py): at AWS these are one resource seen through two APIs.
Mappings may have several levels (``v1/pets``); routing takes the longest one that prefixes the path.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import nullcontext
from functools import partial
from typing import Any

from apigate.aws import patch
from apigate.aws.errors import bad_request, conflict, not_found
from apigate.aws.ids import short_id
from apigate.aws.wire import OperationHandler
from apigate.compile.resource_policy import store_form
from apigate.control import certificates
from apigate.control.common import Doc, drop_none, now, page
from apigate.control.context import ControlContext
from apigate.control.truststores import read_truststore
from apigate.server.tls import POLICIES
from apigate.store.base import Conflict
from apigate.store.regional import in_region

__all__ = ["DOMAIN", "MAPPING", "delete_domain", "handlers", "new_domain", "new_mapping"]

DOMAIN = "domainname"
MAPPING = "basepathmapping"
TRUSTSTORE = "truststore"  # a domain's truststore (PEM), read when the domain names it (child of the domain)
NONE = "(none)"  # v1's name for the empty base path
_ENDPOINT_TYPES = ("EDGE", "REGIONAL", "PRIVATE")
# Whether the domain's routing rules (control/v2/routing_rules.py) are tried, and before its mappings or alone.
ROUTING_MODES = ("BASE_PATH_MAPPING_ONLY", "ROUTING_RULE_ONLY", "ROUTING_RULE_THEN_BASE_PATH_MAPPING")
_TRUSTSTORE_LIMIT = 1024 * 1024  # AWS's limit on a truststore file
_DOMAIN = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_BASE_PATH = re.compile(r"^[a-zA-Z0-9$_.+!*'()-]+(/[a-zA-Z0-9$_.+!*'()-]+)*$")


def _digest(name: str, length: int) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:length]


def domain(ctx: ControlContext, name: str) -> Doc:
    doc = ctx.store.get(DOMAIN, name)
    if doc is None:
        raise not_found("Invalid domain name identifier specified")
    return doc


def _certificate(ctx: ControlContext, arn: str | None, *, edge: bool = False) -> None:
    """The certificate must exist in the call's region; an edge domain's, in us-east-1 (CloudFront's region)."""
    with in_region("us-east-1") if edge else nullcontext():
        found = arn is None or ctx.store.get(certificates.KIND, arn) is not None
    if not found:
        raise bad_request(f"Certificate {arn} not found")


def _routing_mode(mode: Any) -> str | None:
    if mode is not None and mode not in ROUTING_MODES:
        raise bad_request(f"Invalid routing mode: {mode}. Must be one of: [{', '.join(ROUTING_MODES)}]")
    return None if mode is None else str(mode)


def _check_policy(policy: str | None) -> None:
    if policy is not None and policy not in POLICIES:
        raise bad_request(f"Invalid security policy: {policy}. Must be one of: [{', '.join(POLICIES)}]")


def new_domain(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    """Validate and store a domain name in the v1 shape (apigatewayv2 translates into this)."""
    name = str(params.get("domainName") or "").lower()
    if not _DOMAIN.match(name):
        raise bad_request("Invalid domain name specified")
    types = list((params.get("endpointConfiguration") or {}).get("types") or ["EDGE"])
    if len(types) != 1 or types[0] not in _ENDPOINT_TYPES:
        raise bad_request(
            "Invalid endpoint configuration type specified. Must be one of: [EDGE, REGIONAL, PRIVATE]"
        )
    kind = types[0]
    if kind == "PRIVATE":
        return _new_private_domain(ctx, name, params)
    edge_arn, regional_arn = params.get("certificateArn"), params.get("regionalCertificateArn")
    if kind == "EDGE" and not edge_arn:
        raise bad_request("A certificate was not provided. Provide certificateArn for an EDGE domain name")
    if kind != "EDGE" and not regional_arn:
        raise bad_request(
            "A certificate was not provided. Provide regionalCertificateArn for a REGIONAL domain name"
        )
    _certificate(ctx, edge_arn, edge=True)
    _certificate(ctx, regional_arn)
    policy = params.get("securityPolicy") or "TLS_1_2"
    _check_policy(policy)
    if ctx.store.get(DOMAIN, name) is not None:
        raise conflict("The domain name you provided already exists.")
    region = ctx.region
    mtls = params.get("mutualTlsAuthentication") or {}
    doc = drop_none(
        {
            "domainName": name,
            "domainNameId": None,
            "certificateName": params.get("certificateName") if kind == "EDGE" else None,
            "certificateArn": edge_arn if kind == "EDGE" else None,
            "certificateUploadDate": now() if kind == "EDGE" else None,
            "distributionDomainName": f"d{_digest(name, 13)}.cloudfront.net" if kind == "EDGE" else None,
            "distributionHostedZoneId": "Z2FDTNDATAQYW2" if kind == "EDGE" else None,
            "regionalDomainName": f"d-{_digest(name, 10)}.execute-api.{region}.amazonaws.com"
            if kind != "EDGE"
            else None,
            "regionalHostedZoneId": "Z1UJRXOUMOOFQ8" if kind != "EDGE" else None,
            "regionalCertificateName": params.get("regionalCertificateName") if kind != "EDGE" else None,
            "regionalCertificateArn": regional_arn if kind != "EDGE" else None,
            "endpointConfiguration": {"types": [kind]},
            "domainNameStatus": "AVAILABLE",
            "securityPolicy": policy,
            "routingMode": _routing_mode(params.get("routingMode")),
            "tags": params.get("tags") or None,
            "mutualTlsAuthentication": {
                "truststoreUri": mtls["truststoreUri"],
                "truststoreVersion": mtls.get("truststoreVersion"),
                "truststoreWarnings": [],
            }
            if mtls.get("truststoreUri")
            else None,
        }
    )
    pem = truststore_pem(ctx, doc)
    try:
        with ctx.store.transaction():
            ctx.store.insert(DOMAIN, name, doc)
            store_truststore(ctx, doc, pem)
    except Conflict:  # another region's: one listener serves every region, so a host names one domain
        raise conflict("The domain name you provided already exists.") from None
    return doc


def _new_private_domain(ctx: ControlContext, name: str, params: dict[str, Any]) -> Doc:
    """A private custom domain name: reached through VPC endpoints that have an access association with it
    (control/domain_access.py) and that its resource policy allows; identified by name and ``domainNameId``."""
    certificate = params.get("certificateArn") or params.get("regionalCertificateArn")
    if not certificate:
        raise bad_request("A certificate was not provided. Provide certificateArn for a PRIVATE domain name")
    _certificate(ctx, certificate)
    policy = params.get("securityPolicy") or "TLS_1_2"
    _check_policy(policy)
    domain_id = short_id(8)
    doc = drop_none(
        {
            "domainName": name,
            "domainNameId": domain_id,
            "domainNameArn": f"arn:aws:apigateway:{ctx.region}:{ctx.settings.account_id}:/domainnames/"
            f"{name}+{domain_id}",
            "certificateArn": certificate,
            "certificateUploadDate": now(),
            "endpointConfiguration": {"types": ["PRIVATE"], "ipAddressType": "dualstack"},
            "domainNameStatus": "AVAILABLE",
            "securityPolicy": policy,
            "routingMode": _routing_mode(params.get("routingMode")),
            "tags": params.get("tags") or None,
            "policy": private_policy(ctx, name, domain_id, params.get("policy")),
        }
    )
    try:
        ctx.store.insert(DOMAIN, name, doc)
    except Conflict:
        raise conflict("The domain name you provided already exists.") from None
    return doc


def private_policy(ctx: ControlContext, name: str, domain_id: str, policy: Any) -> str | None:
    """A private domain's resource policy as kept: ``execute-api:/…`` resources expanded to the domain's
    execute-api ARN (``arn:aws:execute-api:{region}:{account}:/domainnames/{name}+{id}``)."""
    return store_form(
        None if policy is None else str(policy),
        region=ctx.region,
        account_id=ctx.settings.account_id,
        api_id=f"/domainnames/{name}+{domain_id}",
    )


def truststore_pem(ctx: ControlContext, doc: Doc) -> str | None:
    """The truststore the domain names, read and checked (None: no mutual TLS); the warnings about certificates
    left out go on the domain (``truststoreWarnings``). Called before the store's transaction: an S3 truststore
    is a network call, which must not hold the store's write lock."""
    mtls = doc.get("mutualTlsAuthentication")
    if not mtls or not mtls.get("truststoreUri"):
        return None
    uri = str(mtls["truststoreUri"])
    try:
        pem, mtls["truststoreWarnings"] = read_truststore(
            uri, mtls.get("truststoreVersion"), ctx.settings.region, ctx.aws
        )
    except (OSError, ValueError) as exc:
        raise bad_request(f"Invalid truststore {uri}: {exc}") from exc
    return pem


def store_truststore(ctx: ControlContext, doc: Doc, pem: str | None) -> None:
    """Keep the domain's truststore (from ``truststore_pem``), so what the listener trusts changes only when
    the domain does (AWS keeps a version of the S3 object)."""
    if pem is None:
        doc.pop("mutualTlsAuthentication", None)
        ctx.store.delete(TRUSTSTORE, doc["domainName"])
        return
    ctx.store.put(TRUSTSTORE, doc["domainName"], {"pem": pem}, parent=doc["domainName"])


def delete_domain(ctx: ControlContext, name: str) -> None:
    domain(ctx, name)
    with ctx.store.transaction():
        ctx.store.delete_parent(name)
        ctx.store.delete(DOMAIN, name)


def normal_base_path(raw: Any) -> str:
    """``(none)`` for the empty base path, else the path without its outer slashes (checked)."""
    text = str(raw or "").strip("/")
    if text in ("", NONE):
        return NONE
    if not _BASE_PATH.match(text):
        raise bad_request(f"Invalid base path specified: {raw}")
    return text


def new_mapping(
    ctx: ControlContext,
    name: str,
    base_path: str,
    api_id: str,
    stage: str | None,
    mapping_id: str | None = None,
) -> Doc:
    """Store a mapping (``base_path`` normalised), after checking the domain, the API and its stage."""
    domain(ctx, name)
    rest = ctx.store.get("restapi", api_id)
    v2 = ctx.store.get("v2api", api_id)
    if rest is None and v2 is None:
        raise bad_request("Invalid REST API identifier specified")
    if stage:
        exists = (
            ctx.store.get("stage", f"{api_id}/{stage}")
            if rest is not None
            else ctx.store.get("v2stage", f"{api_id}/{stage}")
        )
        if exists is None:
            raise bad_request("Invalid stage identifier specified")
    if ctx.store.get(MAPPING, f"{name}/{base_path}") is not None:
        raise conflict("Base path already exists for this domain name")
    # AWS: a domain serves WebSocket APIs or REST/HTTP APIs, never both.
    websocket = _is_websocket(v2)
    if any(
        _is_websocket(ctx.store.get("v2api", m["restApiId"])) != websocket
        for m in ctx.store.list(MAPPING, name)
    ):
        raise bad_request(
            "WebSocket APIs cannot share a domain name with REST or HTTP APIs: map them to another domain name"
        )
    doc = drop_none(
        {
            "basePath": base_path,
            "restApiId": api_id,
            "stage": stage or None,
            "apiMappingId": mapping_id or short_id(6),
        }
    )
    ctx.store.insert(MAPPING, f"{name}/{base_path}", doc, parent=name)
    return doc


def _is_websocket(api: Doc | None) -> bool:
    return api is not None and api.get("ProtocolType") == "WEBSOCKET"


def v1_mapping(doc: Doc) -> Doc:
    return {k: doc[k] for k in ("basePath", "restApiId", "stage") if k in doc}


def mapping(ctx: ControlContext, name: str, base_path: str) -> Doc:
    domain(ctx, name)
    doc = ctx.store.get(MAPPING, f"{name}/{base_path}")
    if doc is None:
        raise not_found("Invalid base path mapping identifier specified")
    return doc


async def create_domain_name(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return new_domain(ctx, params)


async def get_domain_name(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return domain(ctx, str(params["domainName"]).lower())


async def get_domain_names(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return page(ctx.store.list(DOMAIN), params)


async def update_domain_name(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    doc = domain(ctx, str(params["domainName"]).lower())
    patch.apply(doc, params.get("patchOperations") or [], _PATCHABLE)
    _certificate(ctx, doc.get("certificateArn"), edge=not doc.get("domainNameId"))
    _certificate(ctx, doc.get("regionalCertificateArn"))
    _check_policy(doc.get("securityPolicy"))
    pem = truststore_pem(ctx, doc)
    _routing_mode(doc.get("routingMode"))
    if doc.get("domainNameId"):  # a private domain: its policy kept in its expanded form
        doc["policy"] = private_policy(ctx, doc["domainName"], doc["domainNameId"], doc.get("policy"))
        if doc["policy"] is None:
            doc.pop("policy")
    with ctx.store.transaction():
        store_truststore(ctx, doc, pem)
        ctx.store.put(DOMAIN, doc["domainName"], doc)
    return doc


async def delete_domain_name(ctx: ControlContext, params: dict[str, Any]) -> None:
    delete_domain(ctx, str(params["domainName"]).lower())


async def create_base_path_mapping(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    name = str(params["domainName"]).lower()
    base_path = normal_base_path(params.get("basePath"))
    return v1_mapping(new_mapping(ctx, name, base_path, params["restApiId"], params.get("stage")))


async def get_base_path_mapping(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return v1_mapping(
        mapping(ctx, str(params["domainName"]).lower(), normal_base_path(params.get("basePath")))
    )


async def get_base_path_mappings(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    name = str(params["domainName"]).lower()
    domain(ctx, name)
    return page([v1_mapping(doc) for doc in ctx.store.list(MAPPING, name)], params)


async def update_base_path_mapping(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    name = str(params["domainName"]).lower()
    old = mapping(ctx, name, normal_base_path(params.get("basePath")))
    doc = dict(old)
    patch.apply(doc, params.get("patchOperations") or [], _MAPPING_PATCHABLE)
    doc["basePath"] = normal_base_path(doc.get("basePath"))
    with ctx.store.transaction():
        ctx.store.delete(MAPPING, f"{name}/{old['basePath']}")
        new_mapping(ctx, name, doc["basePath"], doc["restApiId"], doc.get("stage"), old.get("apiMappingId"))
    return v1_mapping(mapping(ctx, name, doc["basePath"]))


async def delete_base_path_mapping(ctx: ControlContext, params: dict[str, Any]) -> None:
    name = str(params["domainName"]).lower()
    doc = mapping(ctx, name, normal_base_path(params.get("basePath")))
    ctx.store.delete(MAPPING, f"{name}/{doc['basePath']}")


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "CreateDomainName": partial(create_domain_name, ctx),
        "GetDomainName": partial(get_domain_name, ctx),
        "GetDomainNames": partial(get_domain_names, ctx),
        "UpdateDomainName": partial(update_domain_name, ctx),
        "DeleteDomainName": partial(delete_domain_name, ctx),
        "CreateBasePathMapping": partial(create_base_path_mapping, ctx),
        "GetBasePathMapping": partial(get_base_path_mapping, ctx),
        "GetBasePathMappings": partial(get_base_path_mappings, ctx),
        "UpdateBasePathMapping": partial(update_base_path_mapping, ctx),
        "DeleteBasePathMapping": partial(delete_base_path_mapping, ctx),
    }


def _truststore(document: Doc, op: str, value: Any, rest: list[str]) -> None:
    if rest not in (["truststoreUri"], ["truststoreVersion"]) or op != "replace":
        raise bad_request(f"Invalid patch path /mutualTlsAuthentication/{'/'.join(rest)}")
    settings = document.setdefault("mutualTlsAuthentication", {"truststoreWarnings": []})
    if value in (None, ""):
        if rest[0] == "truststoreUri":
            document.pop("mutualTlsAuthentication", None)
        return
    settings[rest[0]] = value


_PATCHABLE: dict[str, patch.PathHandler] = {
    "certificateArn": patch.scalar("certificateArn"),
    "certificateName": patch.scalar("certificateName"),
    "regionalCertificateArn": patch.scalar("regionalCertificateArn"),
    "regionalCertificateName": patch.scalar("regionalCertificateName"),
    "securityPolicy": patch.scalar("securityPolicy", nullable=False),
    "routingMode": patch.scalar("routingMode", nullable=False),
    "policy": patch.scalar("policy"),
    "mutualTlsAuthentication": _truststore,
}
_MAPPING_PATCHABLE: dict[str, patch.PathHandler] = {
    "basePath": patch.scalar("basePath"),
    "restapiId": patch.scalar("restApiId", nullable=False),
    "restApiId": patch.scalar("restApiId", nullable=False),
    "stage": patch.scalar("stage"),
}
