"""Helpers the management modules share: lookups that raise AWS's NotFound, paging, timestamps."""

from __future__ import annotations

import time
from typing import Any

from apigate.aws.errors import bad_request, not_found
from apigate.control.context import ControlContext

Doc = dict[str, Any]


def now() -> int:
    """API Gateway timestamps travel as epoch seconds (rest-json's default)."""
    return int(time.time())


def rest_api(ctx: ControlContext, api_id: str) -> Doc:
    doc = ctx.store.get("restapi", api_id)
    if doc is None:
        raise not_found(f"Invalid API identifier specified {ctx.settings.account_id}:{api_id}")
    return doc


def resource(ctx: ControlContext, api_id: str, resource_id: str) -> Doc:
    # AWS names the resource, not the API, when either is unknown on resource-level calls.
    doc = ctx.store.get("resource", f"{api_id}/{resource_id}")
    if doc is None:
        raise not_found("Invalid Resource identifier specified")
    return doc


def page(items: list[Doc], params: dict[str, Any], key: str = "item") -> Doc:
    """AWS pages with an opaque ``position``; ours is the index of the next item."""
    position = params.get("position") or "0"
    if not (str(position).isascii() and str(position).isdigit()):  # "²" is a digit to Python
        raise bad_request("Invalid position parameter")  # not one we handed out
    start = int(position)
    limit = int(params.get("limit") or 500)
    if not 1 <= limit <= 500:
        raise bad_request("1 validation error detected: Value at 'limit' failed to satisfy constraint: "
                          "Member must have value between 1 and 500")
    chunk = items[start : start + limit]
    result: Doc = {key: chunk}
    if start + limit < len(items):
        result["position"] = str(start + limit)
    return result


def drop_none(doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if v is not None}
