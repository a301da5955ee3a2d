"""What the apigatewayv2 handlers share: lookups that raise AWS's NotFound, paging, timestamps, auto-deploy."""

from __future__ import annotations

import time
from typing import Any

from apigate.aws.errors import bad_request, conflict, not_found
from apigate.aws.ids import short_id
from apigate.control.context import ControlContext
from apigate.store.base import Conflict

Doc = dict[str, Any]

API = "v2api"
ROUTE = "v2route"
INTEGRATION = "v2integration"
AUTHORIZER = "v2authorizer"
STAGE = "v2stage"
DEPLOYMENT = "v2deployment"
SNAPSHOT = "v2snapshot"
ROUTE_RESPONSE = "v2routeresponse"  # WebSocket APIs only
INTEGRATION_RESPONSE = "v2integrationresponse"  # WebSocket APIs only


def is_websocket(doc: Doc | None) -> bool:
    return doc is not None and doc.get("ProtocolType") == "WEBSOCKET"


def now() -> str:
    """apigatewayv2 timestamps travel as ISO 8601."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def new_id() -> str:
    return short_id(7)


def api(ctx: ControlContext, api_id: str) -> Doc:
    doc = ctx.store.get(API, api_id)
    if doc is None:
        raise not_found(f"Invalid API identifier specified {ctx.settings.account_id}:{api_id}")
    return doc


def child(ctx: ControlContext, kind: str, api_id: str, item_id: str, what: str) -> Doc:
    api(ctx, api_id)
    doc = ctx.store.get(kind, f"{api_id}/{item_id}")
    if doc is None:
        raise not_found(f"Invalid {what} identifier specified {item_id}")
    return doc


def save_route(ctx: ControlContext, api_id: str, doc: Doc) -> None:
    """Write a route (HTTP or WebSocket); route keys are unique in an API, the store's rule (uniqueness.RULES)."""
    try:
        ctx.store.put(ROUTE, f"{api_id}/{doc['RouteId']}", doc, parent=api_id)
    except Conflict:
        raise conflict(f"Route with key {doc['RouteKey']} already exists for this API") from None


def page(items: list[Doc], params: dict[str, Any]) -> Doc:
    """``NextToken`` is the index of the next item; ``MaxResults`` a string in the model."""
    try:
        start = int(params.get("NextToken") or 0)
        limit = int(params.get("MaxResults") or 100)
    except ValueError as exc:
        raise bad_request("Invalid pagination parameters") from exc
    result: Doc = {"Items": items[start : start + limit]}
    if start + limit < len(items):
        result["NextToken"] = str(start + limit)
    return result


def drop_none(doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if v is not None}


def merge(doc: Doc, params: dict[str, Any], fields: tuple[str, ...]) -> None:
    for name in fields:
        if name in params and params[name] is not None:
            doc[name] = params[name]
