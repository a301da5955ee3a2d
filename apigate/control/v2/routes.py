"""CreateRoute, GetRoute(s), UpdateRoute, DeleteRoute for HTTP APIs."""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING, Any

from apigate.aws.errors import bad_request, not_found
from apigate.aws.wire import OperationHandler
from apigate.control.context import ControlContext
from apigate.control.v2 import common
from apigate.control.v2.common import AUTHORIZER, INTEGRATION, ROUTE, Doc, drop_none, new_id
from apigate.control.v2.deploy import auto_deploy

if TYPE_CHECKING:
    from apigate.dataplane.http_api import HttpApis

_VERBS = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY"}
_SEGMENT = re.compile(r"^(\{[A-Za-z0-9._-]+\+?\}|[^{}]+)$")
_UPDATABLE = (
    "ApiKeyRequired",
    "AuthorizationScopes",
    "AuthorizationType",
    "AuthorizerId",
    "OperationName",
    "RequestParameters",
    "RouteKey",
    "Target",
)


def check_route_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise bad_request("RouteKey is required")
    if key == "$default":
        return key
    verb, _, path = key.partition(" ")
    if verb not in _VERBS or not path.startswith("/"):
        raise bad_request(f"Invalid route key: {key}")
    parts = [p for p in path.strip("/").split("/") if p != ""] if path != "/" else []
    for index, part in enumerate(parts):
        if not _SEGMENT.match(part) or (part.endswith("+}") and index != len(parts) - 1):
            raise bad_request(f"Invalid route key: {key}")
    return key


def _check(ctx: ControlContext, api_id: str, doc: Doc) -> None:
    check_route_key(doc.get("RouteKey"))  # that no other route has it: common.save_route
    target = doc.get("Target")
    if target:
        if not target.startswith("integrations/"):
            raise bad_request(f"Invalid target: {target}")
        if ctx.store.get(INTEGRATION, f"{api_id}/{target.split('/', 1)[1]}") is None:
            raise bad_request(f"Invalid integration identifier in target: {target}")
    kind = doc.get("AuthorizationType") or "NONE"
    if kind not in ("NONE", "JWT", "CUSTOM", "AWS_IAM"):
        raise bad_request(f"Invalid authorization type: {kind}")
    if kind in ("JWT", "CUSTOM"):
        authorizer = ctx.store.get(AUTHORIZER, f"{api_id}/{doc.get('AuthorizerId') or ''}")
        if authorizer is None:
            raise bad_request("Unable to find authorizer for the route")
        wanted = "JWT" if kind == "JWT" else "REQUEST"
        if authorizer["AuthorizerType"] != wanted:
            raise bad_request(f"AuthorizationType {kind} does not match the authorizer's type")
    if doc.get("AuthorizationScopes") and kind != "JWT":
        raise bad_request("Authorization scopes are supported only for JWT authorizers")


def new_route(ctx: ControlContext, api_id: str, params: dict[str, Any], *, managed: bool = False) -> Doc:
    route_id = new_id()
    doc = drop_none(
        {
            "ApiGatewayManaged": True if managed else None,
            "ApiKeyRequired": bool(params.get("ApiKeyRequired", False)),
            "AuthorizationScopes": params.get("AuthorizationScopes") or None,
            "AuthorizationType": params.get("AuthorizationType") or "NONE",
            "AuthorizerId": params.get("AuthorizerId"),
            "OperationName": params.get("OperationName"),
            "RequestParameters": params.get("RequestParameters") or None,
            "RouteId": route_id,
            "RouteKey": params.get("RouteKey"),
            "Target": params.get("Target"),
        }
    )
    _check(ctx, api_id, doc)
    common.save_route(ctx, api_id, doc)
    return doc


async def create_route(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    common.api(ctx, api_id)
    doc = new_route(ctx, api_id, params)
    auto_deploy(ctx, http, api_id)
    return doc


async def get_route(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    return common.child(ctx, ROUTE, params["ApiId"], params["RouteId"], "Route")


async def get_routes(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    common.api(ctx, params["ApiId"])
    return common.page(ctx.store.list(ROUTE, params["ApiId"]), params)


async def update_route(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    doc = common.child(ctx, ROUTE, api_id, params["RouteId"], "Route")
    common.merge(doc, params, _UPDATABLE)
    if doc.get("AuthorizationType") == "NONE":
        doc.pop("AuthorizerId", None)
    _check(ctx, api_id, doc)
    common.save_route(ctx, api_id, doc)
    auto_deploy(ctx, http, api_id)
    return doc


async def delete_route(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    api_id = params["ApiId"]
    common.child(ctx, ROUTE, api_id, params["RouteId"], "Route")
    ctx.store.delete(ROUTE, f"{api_id}/{params['RouteId']}")
    auto_deploy(ctx, http, api_id)


async def delete_route_request_parameter(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    api_id = params["ApiId"]
    doc = common.child(ctx, ROUTE, api_id, params["RouteId"], "Route")
    parameters = doc.get("RequestParameters") or {}
    if parameters.pop(params["RequestParameterKey"], None) is None:
        raise not_found(f"Invalid request parameter key specified {params['RequestParameterKey']}")
    if not parameters:
        doc.pop("RequestParameters", None)
    common.save_route(ctx, api_id, doc)
    auto_deploy(ctx, http, api_id)


def handlers(ctx: ControlContext, http: HttpApis) -> dict[str, OperationHandler]:
    return {
        "DeleteRouteRequestParameter": partial(delete_route_request_parameter, ctx, http),
        "CreateRoute": partial(create_route, ctx, http),
        "GetRoute": partial(get_route, ctx, http),
        "GetRoutes": partial(get_routes, ctx, http),
        "UpdateRoute": partial(update_route, ctx, http),
        "DeleteRoute": partial(delete_route, ctx, http),
    }
