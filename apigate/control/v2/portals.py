"""Portals (apigatewayv2 CreatePortal & co): a developer portal showing portal products. PublishPortal keeps a
snapshot of the portal and its products, which apigate serves at ``/_apigate/portals/{portalId}/``; PreviewPortal
makes the current content visible at ``/_apigate/portals/{portalId}/preview`` (docs_page/portal.py renders
both). A portal's custom domain (``AcmManaged``) and Cognito sign-in are kept and reported, not served: the
page answers 401 for a portal that asks for sign-in.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from apigate.aws.errors import bad_request, not_found
from apigate.aws.ids import short_id
from apigate.aws.wire import OperationHandler
from apigate.control.context import ControlContext
from apigate.control.v2.common import Doc, drop_none, now
from apigate.control.v2.portal_products import product_by_arn, products_of

__all__ = ["PATH", "PORTAL", "PUBLISHED", "handlers", "portal_content"]

PORTAL = "portal"
PUBLISHED = "portalpublished"  # the snapshot PublishPortal took: the portal, its products and their pages
PATH = "/_apigate/portals/"
_HOSTED_ZONE = "Z2FDTNDATAQYW2"  # the zone AWS names for CloudFront-served endpoints
_COLORS = (
    "AccentColor",
    "BackgroundColor",
    "ErrorValidationColor",
    "HeaderColor",
    "NavigationColor",
    "TextColor",
)


def portal(ctx: ControlContext, portal_id: str) -> Doc:
    doc = ctx.store.get(PORTAL, portal_id)
    if doc is None:
        raise not_found(f"Invalid portal identifier specified {portal_id}")
    return doc


def _authorization(raw: Any) -> Doc:
    if (
        not isinstance(raw, dict)
        or len([k for k in ("CognitoConfig", "None") if raw.get(k) is not None]) != 1
    ):
        raise bad_request("Authorization needs exactly one of CognitoConfig or None")
    if raw.get("CognitoConfig") is not None:
        config = raw["CognitoConfig"]
        missing = [k for k in ("AppClientId", "UserPoolArn", "UserPoolDomain") if not config.get(k)]
        if missing:
            raise bad_request(f"CognitoConfig needs {missing[0]}")
        return {
            "CognitoConfig": {k: str(config[k]) for k in ("AppClientId", "UserPoolArn", "UserPoolDomain")}
        }
    return {"None": {}}


def _endpoint(ctx: ControlContext, portal_id: str, raw: Any) -> Doc:
    if not isinstance(raw, dict) or len([k for k in ("AcmManaged", "None") if raw.get(k) is not None]) != 1:
        raise bad_request("EndpointConfiguration needs exactly one of AcmManaged or None")
    local = {
        "PortalDefaultDomainName": f"{portal_id}.portal.localhost",
        "PortalDomainHostedZoneId": _HOSTED_ZONE,
    }
    managed = raw.get("AcmManaged")
    if managed is not None:
        if not managed.get("CertificateArn") or not managed.get("DomainName"):
            raise bad_request("AcmManaged needs CertificateArn and DomainName")
        return {"CertificateArn": managed["CertificateArn"], "DomainName": managed["DomainName"], **local}
    return local


def _content(raw: Any) -> Doc:
    if not isinstance(raw, dict) or not raw.get("DisplayName"):
        raise bad_request("PortalContent needs a DisplayName")
    colors = ((raw.get("Theme") or {}).get("CustomColors")) or {}
    missing = [name for name in _COLORS if not colors.get(name)]
    if missing:
        raise bad_request(f"PortalContent.Theme.CustomColors needs {missing[0]}")
    theme: Doc = {"CustomColors": {name: str(colors[name]) for name in _COLORS}}
    if (raw.get("Theme") or {}).get("LogoLastUploaded") is not None:
        theme["LogoLastUploaded"] = raw["Theme"]["LogoLastUploaded"]
    return drop_none(
        {"Description": raw.get("Description"), "DisplayName": str(raw["DisplayName"]), "Theme": theme}
    )


def _products(ctx: ControlContext, arns: Any) -> list[str]:
    found = [str(arn) for arn in arns or ()]
    for arn in found:
        if product_by_arn(ctx, arn) is None:
            raise bad_request(f"Invalid portal product ARN specified: {arn}")
    return found


async def create_portal(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    portal_id = short_id(10)
    doc = drop_none(
        {
            "Authorization": _authorization(params.get("Authorization")),
            "EndpointConfiguration": _endpoint(ctx, portal_id, params.get("EndpointConfiguration")),
            "IncludedPortalProductArns": _products(ctx, params.get("IncludedPortalProductArns")),
            "LastModified": now(),
            "LogoUri": params.get("LogoUri"),
            "PortalArn": f"arn:aws:apigateway:{ctx.region}:{ctx.settings.account_id}:/portals/{portal_id}",
            "PortalContent": _content(params.get("PortalContent")),
            "PortalId": portal_id,
            "PublishStatus": "DISABLED",
            "RumAppMonitorName": params.get("RumAppMonitorName"),
            "Tags": dict(params.get("Tags") or {}),
        }
    )
    ctx.store.insert(PORTAL, portal_id, doc)
    return _answer(doc)


def _answer(doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if k != "LogoUri"}  # an input AWS does not answer back


async def get_portal(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _answer(portal(ctx, params["PortalId"]))


async def list_portals(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    try:
        start = int(params.get("NextToken") or 0)
        limit = int(params.get("MaxResults") or 50)
    except ValueError as exc:
        raise bad_request("Invalid pagination parameters") from exc
    items = [_answer(doc) for doc in ctx.store.list(PORTAL)]
    result: Doc = {"Items": items[start : start + limit]}
    if start + limit < len(items):
        result["NextToken"] = str(start + limit)
    return result


async def update_portal(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    doc = portal(ctx, params["PortalId"])
    if params.get("Authorization") is not None:
        doc["Authorization"] = _authorization(params["Authorization"])
    if params.get("EndpointConfiguration") is not None:
        doc["EndpointConfiguration"] = _endpoint(ctx, doc["PortalId"], params["EndpointConfiguration"])
    if params.get("IncludedPortalProductArns") is not None:
        doc["IncludedPortalProductArns"] = _products(ctx, params["IncludedPortalProductArns"])
    if params.get("PortalContent") is not None:
        doc["PortalContent"] = _content(params["PortalContent"])
    for name in ("LogoUri", "RumAppMonitorName"):
        if params.get(name) is not None:
            doc[name] = params[name]
    doc["LastModified"] = now()
    ctx.store.put(PORTAL, doc["PortalId"], doc)
    return _answer(doc)


async def delete_portal(ctx: ControlContext, params: dict[str, Any]) -> None:
    doc = portal(ctx, params["PortalId"])
    with ctx.store.transaction():
        ctx.store.delete(PUBLISHED, doc["PortalId"])
        ctx.store.delete(PORTAL, doc["PortalId"])


def portal_content(ctx: ControlContext, doc: Doc) -> Doc:
    """What a portal page shows: the portal and each included product with its pages, as they are now."""
    return {
        "Portal": _answer(doc),
        "Products": products_of(ctx, list(doc.get("IncludedPortalProductArns") or [])),
    }


async def publish_portal(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    doc = portal(ctx, params["PortalId"])
    doc.update(PublishStatus="PUBLISHED", LastPublished=now(), LastModified=now())
    doc.pop("LastPublishedDescription", None)
    if params.get("Description"):
        doc["LastPublishedDescription"] = params["Description"]
    with ctx.store.transaction():
        ctx.store.put(PORTAL, doc["PortalId"], doc)
        ctx.store.put(PUBLISHED, doc["PortalId"], portal_content(ctx, doc), parent=doc["PortalId"])
    return {}


async def disable_portal(ctx: ControlContext, params: dict[str, Any]) -> None:
    doc = portal(ctx, params["PortalId"])
    doc.update(PublishStatus="DISABLED", LastModified=now())
    with ctx.store.transaction():
        ctx.store.put(PORTAL, doc["PortalId"], doc)
        ctx.store.delete(PUBLISHED, doc["PortalId"])


async def preview_portal(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    doc = portal(ctx, params["PortalId"])
    doc["Preview"] = {
        "PreviewStatus": "PREVIEW_READY",
        "PreviewUrl": f"{ctx.settings.base_url}{PATH}{doc['PortalId']}/preview",
    }
    ctx.store.put(PORTAL, doc["PortalId"], doc)
    return {}


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "CreatePortal": partial(create_portal, ctx),
        "GetPortal": partial(get_portal, ctx),
        "ListPortals": partial(list_portals, ctx),
        "UpdatePortal": partial(update_portal, ctx),
        "DeletePortal": partial(delete_portal, ctx),
        "PublishPortal": partial(publish_portal, ctx),
        "DisablePortal": partial(disable_portal, ctx),
        "PreviewPortal": partial(preview_portal, ctx),
    }
