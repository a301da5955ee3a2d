"""Portal products (apigatewayv2 CreatePortalProduct & co): what a portal shows. A product groups product pages
(a title and a Markdown body) and REST endpoint pages (one method of a deployed REST API stage: its URL, its
operation name, its description), in the order its ``DisplayOrder`` gives; a sharing policy says who else may
include it. Portals (control/v2/portals.py) include products; the portal page renders them
(docs_page/portal.py).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson

from apigate.aws.errors import bad_request, conflict, not_found
from apigate.aws.ids import short_id
from apigate.aws.policy import PolicyError, parse_policy
from apigate.aws.wire import OperationHandler
from apigate.control.context import ControlContext
from apigate.control.v2.common import Doc, drop_none, now

__all__ = ["PAGE", "POLICY", "PRODUCT", "REST_PAGE", "handlers", "product_by_arn", "products_of"]

PRODUCT = "portalproduct"
PAGE = "productpage"
REST_PAGE = "productrestendpointpage"
POLICY = "portalproductpolicy"
_SUMMARY = ("Description", "DisplayName", "LastModified", "PortalProductArn", "PortalProductId", "Tags")
_TRY_IT = ("ENABLED", "DISABLED")


def _arn(ctx: ControlContext, path: str) -> str:
    return f"arn:aws:apigateway:{ctx.region}:{ctx.settings.account_id}:/portalproducts/{path}"


def _page(items: list[Doc], params: dict[str, Any]) -> Doc:
    try:
        start = int(params.get("NextToken") or 0)
        limit = int(params.get("MaxResults") or 50)
    except ValueError as exc:
        raise bad_request("Invalid pagination parameters") from exc
    result: Doc = {"Items": items[start : start + limit]}
    if start + limit < len(items):
        result["NextToken"] = str(start + limit)
    return result


def product(ctx: ControlContext, product_id: str) -> Doc:
    doc = ctx.store.get(PRODUCT, product_id)
    if doc is None:
        raise not_found(f"Invalid portal product identifier specified {product_id}")
    return doc


def product_by_arn(ctx: ControlContext, arn: str) -> Doc | None:
    """The product an ARN names, if it exists in this region."""
    if not arn.startswith("arn:aws:apigateway:") or "/portalproducts/" not in arn:
        return None
    doc = ctx.store.get(PRODUCT, arn.rsplit("/", 1)[1])
    return doc if doc is not None and doc["PortalProductArn"] == arn else None


def products_of(ctx: ControlContext, arns: list[str]) -> list[Doc]:
    """Each product with its pages, in the product's display order (pages it does not order come last)."""
    out = []
    for arn in arns:
        doc = product_by_arn(ctx, arn)
        if doc is None:
            continue
        pages = {p["ProductPageArn"]: p for p in ctx.store.list(PAGE, doc["PortalProductId"])}
        endpoints = {
            p["ProductRestEndpointPageArn"]: p for p in ctx.store.list(REST_PAGE, doc["PortalProductId"])
        }
        order = doc.get("DisplayOrder") or {}
        ordered_pages = [pages.pop(a) for a in order.get("ProductPageArns") or () if a in pages]
        overview = pages.pop(order["OverviewPageArn"], None) if order.get("OverviewPageArn") else None
        sections = []
        for section in order.get("Contents") or ():
            found = [endpoints.pop(a) for a in section["ProductRestEndpointPageArns"] if a in endpoints]
            sections.append({"SectionName": section["SectionName"], "Endpoints": found})
        if endpoints:
            sections.append({"SectionName": "", "Endpoints": list(endpoints.values())})
        out.append(
            {
                "Product": doc,
                "Overview": overview,
                "Pages": ordered_pages + list(pages.values()),
                "Sections": sections,
            }
        )
    return out


async def create_portal_product(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    product_id = short_id(10)
    doc = drop_none(
        {
            "Description": params.get("Description") or "",
            "DisplayName": _name(params.get("DisplayName")),
            "LastModified": now(),
            "PortalProductArn": _arn(ctx, product_id),
            "PortalProductId": product_id,
            "Tags": dict(params.get("Tags") or {}),
        }
    )
    ctx.store.insert(PRODUCT, product_id, doc)
    return doc


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise bad_request("DisplayName is required")
    return value


async def get_portal_product(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return product(ctx, params["PortalProductId"])


async def list_portal_products(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    owner = params.get("ResourceOwner") or "SELF"
    if owner not in ("SELF", "OTHER_ACCOUNTS"):
        raise bad_request(f"Invalid resource owner: {owner}")
    docs = [] if owner == "OTHER_ACCOUNTS" else ctx.store.list(PRODUCT)  # one account: nothing shared with it
    return _page([{k: d[k] for k in _SUMMARY if k in d} for d in docs], params)


def _display_order(ctx: ControlContext, product_id: str, order: Any) -> Doc:
    """A display order whose pages all belong to the product."""
    pages = {p["ProductPageArn"] for p in ctx.store.list(PAGE, product_id)}
    endpoints = {p["ProductRestEndpointPageArn"] for p in ctx.store.list(REST_PAGE, product_id)}
    named = list(order.get("ProductPageArns") or [])
    if order.get("OverviewPageArn"):
        named.append(order["OverviewPageArn"])
    for section in order.get("Contents") or ():
        if not section.get("SectionName"):
            raise bad_request("Each section of the display order needs a SectionName")
        unknown = set(section.get("ProductRestEndpointPageArns") or ()) - endpoints
        if unknown:
            raise bad_request(f"Invalid product REST endpoint page ARN specified: {sorted(unknown)[0]}")
    unknown = set(named) - pages
    if unknown:
        raise bad_request(f"Invalid product page ARN specified: {sorted(unknown)[0]}")
    return drop_none(
        {
            "Contents": [
                {
                    "ProductRestEndpointPageArns": list(s["ProductRestEndpointPageArns"]),
                    "SectionName": s["SectionName"],
                }
                for s in order.get("Contents") or ()
            ],
            "OverviewPageArn": order.get("OverviewPageArn"),
            "ProductPageArns": list(order.get("ProductPageArns") or []),
        }
    )


async def update_portal_product(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    doc = product(ctx, params["PortalProductId"])
    if params.get("DisplayName") is not None:
        doc["DisplayName"] = _name(params["DisplayName"])
    if params.get("Description") is not None:
        doc["Description"] = params["Description"]
    if params.get("DisplayOrder") is not None:
        doc["DisplayOrder"] = _display_order(ctx, doc["PortalProductId"], params["DisplayOrder"])
    doc["LastModified"] = now()
    ctx.store.put(PRODUCT, doc["PortalProductId"], doc)
    return doc


async def delete_portal_product(ctx: ControlContext, params: dict[str, Any]) -> None:
    doc = product(ctx, params["PortalProductId"])
    for portal in ctx.store.list("portal"):
        if doc["PortalProductArn"] in (portal.get("IncludedPortalProductArns") or ()):
            raise conflict(f"The portal product is included in portal {portal['PortalId']}")
    with ctx.store.transaction():
        ctx.store.delete_parent(doc["PortalProductId"])  # its pages and its sharing policy
        ctx.store.delete(PRODUCT, doc["PortalProductId"])


# --- product pages -------------------------------------------------------------------------------------------


def _content(raw: Any) -> Doc:
    if not isinstance(raw, dict) or not raw.get("Title") or raw.get("Body") is None:
        raise bad_request("DisplayContent needs a Title and a Body")
    return {"Body": str(raw["Body"]), "Title": str(raw["Title"])}


def _product_page(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    product(ctx, params["PortalProductId"])
    doc = ctx.store.get(PAGE, f"{params['PortalProductId']}/{params['ProductPageId']}")
    if doc is None:
        raise not_found(f"Invalid product page identifier specified {params['ProductPageId']}")
    return doc


async def create_product_page(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    product_id = product(ctx, params["PortalProductId"])["PortalProductId"]
    page_id = short_id(10)
    doc = {
        "DisplayContent": _content(params.get("DisplayContent")),
        "LastModified": now(),
        "ProductPageArn": _arn(ctx, f"{product_id}/productpages/{page_id}"),
        "ProductPageId": page_id,
    }
    ctx.store.insert(PAGE, f"{product_id}/{page_id}", doc, parent=product_id)
    return doc


async def get_product_page(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _product_page(ctx, params)


async def list_product_pages(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    product_id = product(ctx, params["PortalProductId"])["PortalProductId"]
    items = [
        {
            "LastModified": p["LastModified"],
            "PageTitle": p["DisplayContent"]["Title"],
            "ProductPageArn": p["ProductPageArn"],
            "ProductPageId": p["ProductPageId"],
        }
        for p in ctx.store.list(PAGE, product_id)
    ]
    return _page(items, params)


async def update_product_page(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    doc = _product_page(ctx, params)
    if params.get("DisplayContent") is not None:
        doc["DisplayContent"] = _content(params["DisplayContent"])
    doc["LastModified"] = now()
    ctx.store.put(
        PAGE, f"{params['PortalProductId']}/{doc['ProductPageId']}", doc, parent=params["PortalProductId"]
    )
    return doc


async def delete_product_page(ctx: ControlContext, params: dict[str, Any]) -> None:
    doc = _product_page(ctx, params)
    ctx.store.delete(PAGE, f"{params['PortalProductId']}/{doc['ProductPageId']}")


# --- REST endpoint pages -------------------------------------------------------------------------------------


def _endpoint(ctx: ControlContext, identifier: Any) -> tuple[Doc, Doc]:
    """(identifier parts, the method's document) of a method of a REST API stage, or BadRequest."""
    parts = (identifier or {}).get("IdentifierParts") or {}
    api_id, stage = str(parts.get("RestApiId") or ""), str(parts.get("Stage") or "")
    method, path = str(parts.get("Method") or "").upper(), str(parts.get("Path") or "")
    if ctx.store.get("restapi", api_id) is None:
        raise bad_request(f"Invalid REST API identifier specified {api_id}")
    if ctx.store.get("stage", f"{api_id}/{stage}") is None:
        raise bad_request(f"Invalid stage identifier specified {stage}")
    for resource in ctx.store.list("resource", api_id):
        if resource.get("path") == path:
            found = (resource.get("resourceMethods") or {}).get(method)
            if found is not None:
                return {"Method": method, "Path": path, "RestApiId": api_id, "Stage": stage}, found
    raise bad_request(f"Invalid REST endpoint specified: {method} {path}")


def _display(ctx: ControlContext, parts: Doc, method: Doc, raw: Any) -> tuple[Doc, Doc | None]:
    """What the page shows (the method's own values, or the ``Overrides`` given) and the overrides kept."""
    overrides = (raw or {}).get("Overrides") if isinstance(raw, dict) else None
    endpoint = ctx.settings.invoke_urls(parts["RestApiId"], parts["Stage"])[0].rstrip("/") + parts["Path"]
    shown = drop_none(
        {
            "Body": (overrides or {}).get("Body"),
            "Endpoint": (overrides or {}).get("Endpoint") or endpoint,
            "OperationName": (overrides or {}).get("OperationName") or method.get("operationName"),
        }
    )
    return shown, drop_none(dict(overrides)) if overrides else None


def _try_it(value: Any) -> str:
    state = value or "DISABLED"
    if state not in _TRY_IT:
        raise bad_request(f"Invalid TryItState: {state}. Must be one of: [ENABLED, DISABLED]")
    return str(state)


def _rest_page(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    product(ctx, params["PortalProductId"])
    doc = ctx.store.get(REST_PAGE, f"{params['PortalProductId']}/{params['ProductRestEndpointPageId']}")
    if doc is None:
        raise not_found(
            f"Invalid product REST endpoint page identifier specified {params['ProductRestEndpointPageId']}"
        )
    return doc


def _answer(doc: Doc, raw: bool = False) -> Doc:
    """A stored page as the API answers it (the overrides kept only as raw content, when asked)."""
    out = {k: v for k, v in doc.items() if k != "Overrides"}
    if raw:
        out["RawDisplayContent"] = orjson.dumps(doc.get("Overrides") or {}).decode()
    return out


async def create_product_rest_endpoint_page(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    product_id = product(ctx, params["PortalProductId"])["PortalProductId"]
    parts, method = _endpoint(ctx, params.get("RestEndpointIdentifier"))
    shown, overrides = _display(ctx, parts, method, params.get("DisplayContent"))
    page_id = short_id(10)
    doc = drop_none(
        {
            "DisplayContent": shown,
            "LastModified": now(),
            "ProductRestEndpointPageArn": _arn(ctx, f"{product_id}/productrestendpointpages/{page_id}"),
            "ProductRestEndpointPageId": page_id,
            "RestEndpointIdentifier": {"IdentifierParts": parts},
            "Status": "AVAILABLE",
            "TryItState": _try_it(params.get("TryItState")),
            "Overrides": overrides,
        }
    )
    ctx.store.insert(REST_PAGE, f"{product_id}/{page_id}", doc, parent=product_id)
    return _answer(doc)


async def get_product_rest_endpoint_page(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    raw = str(params.get("IncludeRawDisplayContent") or "").lower() == "true"
    return _answer(_rest_page(ctx, params), raw)


async def list_product_rest_endpoint_pages(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    product_id = product(ctx, params["PortalProductId"])["PortalProductId"]
    items = [
        drop_none(
            {
                "Endpoint": p["DisplayContent"]["Endpoint"],
                "LastModified": p["LastModified"],
                "OperationName": p["DisplayContent"].get("OperationName"),
                "ProductRestEndpointPageArn": p["ProductRestEndpointPageArn"],
                "ProductRestEndpointPageId": p["ProductRestEndpointPageId"],
                "RestEndpointIdentifier": p["RestEndpointIdentifier"],
                "Status": p["Status"],
                "TryItState": p["TryItState"],
            }
        )
        for p in ctx.store.list(REST_PAGE, product_id)
    ]
    return _page(items, params)


async def update_product_rest_endpoint_page(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    doc = _rest_page(ctx, params)
    if params.get("DisplayContent") is not None:
        parts = doc["RestEndpointIdentifier"]["IdentifierParts"]
        _, method = _endpoint(ctx, doc["RestEndpointIdentifier"])
        shown, overrides = _display(ctx, parts, method, params["DisplayContent"])
        doc["DisplayContent"] = shown
        doc.pop("Overrides", None)
        if overrides:
            doc["Overrides"] = overrides
    if params.get("TryItState") is not None:
        doc["TryItState"] = _try_it(params["TryItState"])
    doc["LastModified"] = now()
    product_id = params["PortalProductId"]
    ctx.store.put(REST_PAGE, f"{product_id}/{doc['ProductRestEndpointPageId']}", doc, parent=product_id)
    return _answer(doc)


async def delete_product_rest_endpoint_page(ctx: ControlContext, params: dict[str, Any]) -> None:
    doc = _rest_page(ctx, params)
    ctx.store.delete(REST_PAGE, f"{params['PortalProductId']}/{doc['ProductRestEndpointPageId']}")


# --- sharing policy ------------------------------------------------------------------------------------------


async def put_portal_product_sharing_policy(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    product_id = product(ctx, params["PortalProductId"])["PortalProductId"]
    text = str(params.get("PolicyDocument") or "")
    try:
        parse_policy(orjson.loads(text))
    except (orjson.JSONDecodeError, PolicyError) as exc:
        raise bad_request("Invalid policy document. Please check the policy syntax and try again.") from exc
    ctx.store.put(
        POLICY, product_id, {"PolicyDocument": text, "PortalProductId": product_id}, parent=product_id
    )
    return {}


async def get_portal_product_sharing_policy(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    product_id = product(ctx, params["PortalProductId"])["PortalProductId"]
    doc = ctx.store.get(POLICY, product_id)
    if doc is None:
        raise not_found(f"No sharing policy for portal product {product_id}")
    return doc


async def delete_portal_product_sharing_policy(ctx: ControlContext, params: dict[str, Any]) -> None:
    product_id = product(ctx, params["PortalProductId"])["PortalProductId"]
    if not ctx.store.delete(POLICY, product_id):
        raise not_found(f"No sharing policy for portal product {product_id}")


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    operations = {
        "CreatePortalProduct": create_portal_product,
        "GetPortalProduct": get_portal_product,
        "ListPortalProducts": list_portal_products,
        "UpdatePortalProduct": update_portal_product,
        "DeletePortalProduct": delete_portal_product,
        "CreateProductPage": create_product_page,
        "GetProductPage": get_product_page,
        "ListProductPages": list_product_pages,
        "UpdateProductPage": update_product_page,
        "DeleteProductPage": delete_product_page,
        "CreateProductRestEndpointPage": create_product_rest_endpoint_page,
        "GetProductRestEndpointPage": get_product_rest_endpoint_page,
        "ListProductRestEndpointPages": list_product_rest_endpoint_pages,
        "UpdateProductRestEndpointPage": update_product_rest_endpoint_page,
        "DeleteProductRestEndpointPage": delete_product_rest_endpoint_page,
        "PutPortalProductSharingPolicy": put_portal_product_sharing_policy,
        "GetPortalProductSharingPolicy": get_portal_product_sharing_policy,
        "DeletePortalProductSharingPolicy": delete_portal_product_sharing_policy,
    }
    return {name: partial(function, ctx) for name, function in operations.items()}
