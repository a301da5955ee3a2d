"""CreateApi (with quick create), GetApi(s), UpdateApi, DeleteApi for HTTP APIs."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from apigate.aws.errors import bad_request
from apigate.aws.wire import OperationHandler
from apigate.control.api_ids import new_api_id
from apigate.control.context import ControlContext
from apigate.control.v2 import common
from apigate.control.v2.common import API, INTEGRATION, ROUTE, Doc, drop_none, now
from apigate.control.v2.deploy import auto_deploy, deploy
from apigate.control.v2.integrations import new_integration
from apigate.control.v2.routes import new_route

if TYPE_CHECKING:
    from apigate.dataplane.http_api import HttpApis

_UPDATABLE = (
    "ApiKeySelectionExpression",
    "CorsConfiguration",
    "Description",
    "DisableExecuteApiEndpoint",
    "DisableSchemaValidation",
    "IpAddressType",
    "Name",
    "RouteSelectionExpression",
    "Version",
)


def _cors(value: Any) -> Doc | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad_request("Invalid CorsConfiguration")
    max_age = value.get("MaxAge")
    if max_age is not None and not -1 <= int(max_age) <= 86400:
        raise bad_request("MaxAge must be between -1 and 86400")
    if value.get("AllowCredentials") and "*" in (value.get("AllowOrigins") or []):
        raise bad_request("allow-credentials is not supported with a wildcard allow-origin")
    return value


def _quick_integration(target: str) -> Doc:
    """What quick create's Target makes of an integration: a URL proxies over HTTP, anything else is a
    function (CreateApi makes it; UpdateApi changes it)."""
    http_target = target.startswith("http")
    return {
        "IntegrationType": "HTTP_PROXY" if http_target else "AWS_PROXY",
        "IntegrationUri": target,
        "IntegrationMethod": "ANY" if http_target else "POST",
        "PayloadFormatVersion": "1.0" if http_target else "2.0",
    }


def _retarget(ctx: ControlContext, api_id: str, target: str | None, route_key: str | None) -> None:
    """UpdateApi's Target and RouteKey change what quick create made: its integration and its route's key."""
    if target is not None:
        managed = [d for d in ctx.store.list(INTEGRATION, api_id) if d.get("ApiGatewayManaged")]
        if not managed:
            raise bad_request("Target can only be updated on an API created with quick create")
        integration = managed[0]
        integration.update(_quick_integration(target))
        ctx.store.put(INTEGRATION, f"{api_id}/{integration['IntegrationId']}", integration, parent=api_id)
    if route_key is not None:
        routes = [d for d in ctx.store.list(ROUTE, api_id) if d.get("ApiGatewayManaged")]
        if not routes:
            raise bad_request("RouteKey can only be updated on an API created with quick create")
        routes[0]["RouteKey"] = route_key
        common.save_route(ctx, api_id, routes[0])


async def create_api(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    name = params.get("Name")
    if not name:
        raise bad_request("Name is required")
    protocol = params.get("ProtocolType")
    if protocol != "HTTP":
        raise bad_request(f"Unsupported protocol type {protocol}: apigate serves HTTP APIs here")
    api_id, _ = new_api_id(ctx.store, params.get("Tags"))
    doc = drop_none(
        {
            "ApiEndpoint": f"https://{api_id}.execute-api.{ctx.region}.amazonaws.com",
            "ApiId": api_id,
            "ApiKeySelectionExpression": params.get("ApiKeySelectionExpression")
            or "$request.header.x-api-key",
            "CorsConfiguration": _cors(params.get("CorsConfiguration")),
            "CreatedDate": now(),
            "Description": params.get("Description"),
            "DisableExecuteApiEndpoint": bool(params.get("DisableExecuteApiEndpoint", False)),
            "IpAddressType": params.get("IpAddressType") or "ipv4",
            "Name": name,
            "ProtocolType": "HTTP",
            "RouteSelectionExpression": "$request.method $request.path",
            "Tags": params.get("Tags") or {},
            "Version": params.get("Version"),
        }
    )
    target = params.get("Target")
    with ctx.store.transaction():
        ctx.store.put(API, api_id, doc)
        if target:  # quick create: an integration, a route to it, and an auto-deployed $default stage
            integration = new_integration(
                ctx,
                api_id,
                _quick_integration(target),
                managed=True,
            )
            new_route(
                ctx,
                api_id,
                {
                    "RouteKey": params.get("RouteKey") or "$default",
                    "Target": f"integrations/{integration['IntegrationId']}",
                },
                managed=True,
            )
    http.declare(api_id)
    if target:
        stage = {
            "ApiGatewayManaged": True,
            "AutoDeploy": True,
            "CreatedDate": now(),
            "DefaultRouteSettings": {"DetailedMetricsEnabled": False},
            "LastUpdatedDate": now(),
            "RouteSettings": {},
            "StageName": "$default",
            "StageVariables": {},
            "Tags": {},
        }
        deploy(ctx, http, api_id, stage, auto=True)
    return doc


async def get_api(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    return common.api(ctx, params["ApiId"])


async def get_apis(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    return common.page(ctx.store.list(API), params)


async def update_api(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    doc = common.api(ctx, params["ApiId"])
    if "CorsConfiguration" in params:
        _cors(params["CorsConfiguration"])
    common.merge(doc, params, _UPDATABLE)
    with ctx.store.transaction():
        ctx.store.put(API, doc["ApiId"], doc)
        _retarget(ctx, doc["ApiId"], params.get("Target"), params.get("RouteKey"))
    auto_deploy(ctx, http, doc["ApiId"])
    return doc


async def delete_api(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    api_id = params["ApiId"]
    common.api(ctx, api_id)
    with ctx.store.transaction():
        ctx.store.delete_parent(api_id)
        ctx.store.delete(API, api_id)
    http.forget_api(api_id)


async def delete_cors(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    doc = common.api(ctx, params["ApiId"])
    doc.pop("CorsConfiguration", None)
    ctx.store.put(API, doc["ApiId"], doc)
    auto_deploy(ctx, http, doc["ApiId"])


def handlers(ctx: ControlContext, http: HttpApis) -> dict[str, OperationHandler]:
    return {
        "CreateApi": partial(create_api, ctx, http),
        "GetApi": partial(get_api, ctx, http),
        "GetApis": partial(get_apis, ctx, http),
        "UpdateApi": partial(update_api, ctx, http),
        "DeleteApi": partial(delete_api, ctx, http),
        "DeleteCorsConfiguration": partial(delete_cors, ctx, http),
    }
