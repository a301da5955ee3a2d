"""The apigatewayv2 calls that differ for WebSocket APIs: creating one, its routes (``$connect``, custom keys),
integrations (AWS_PROXY, MOCK, HTTP), REQUEST authorizers, route responses and integration responses.

The HTTP API handlers stay as they are; ``handlers`` wraps them so that a call naming a WebSocket API is
validated by WebSocket rules, while reads, deletes, stages and deployments (served through
``websocket_serving``) stay shared.
"""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING, Any

from apigate.aws.errors import bad_request, conflict
from apigate.aws.wire import OperationHandler
from apigate.control.api_ids import new_api_id
from apigate.control.context import ControlContext
from apigate.control.v2 import apis, common, stages
from apigate.control.v2.common import (
    API,
    AUTHORIZER,
    INTEGRATION,
    INTEGRATION_RESPONSE,
    ROUTE,
    ROUTE_RESPONSE,
    Doc,
    drop_none,
    is_websocket,
    new_id,
    now,
)
from apigate.control.v2.deploy import auto_deploy
from apigate.store.base import Conflict

if TYPE_CHECKING:
    from apigate.dataplane.http_api import HttpApis


_INTEGRATION_TYPES = {"AWS_PROXY", "AWS", "MOCK", "HTTP", "HTTP_PROXY"}
_CUSTOM_KEY = re.compile(r"^[^$][\S ]{0,127}$")  # custom route keys cannot start with "$"
_ROUTE_FIELDS = (
    "ApiKeyRequired",
    "AuthorizationType",
    "AuthorizerId",
    "ModelSelectionExpression",
    "OperationName",
    "RequestModels",
    "RequestParameters",
    "RouteKey",
    "RouteResponseSelectionExpression",
    "Target",
)
_INTEGRATION_FIELDS = (
    "ConnectionId",
    "ConnectionType",
    "ContentHandlingStrategy",
    "CredentialsArn",
    "Description",
    "IntegrationMethod",
    "IntegrationType",
    "IntegrationUri",
    "PassthroughBehavior",
    "RequestParameters",
    "RequestTemplates",
    "TemplateSelectionExpression",
    "TimeoutInMillis",
)
_AUTHORIZER_FIELDS = ("AuthorizerCredentialsArn", "AuthorizerType", "AuthorizerUri", "IdentitySource", "Name")
_API_FIELDS = ("ApiKeySelectionExpression", "Description", "DisableExecuteApiEndpoint", "DisableSchemaValidation",
               "Name", "RouteSelectionExpression", "Version")  # fmt: skip


def _check_selection(expression: Any) -> str:
    if not isinstance(expression, str) or not expression:
        raise bad_request("RouteSelectionExpression is required for WEBSOCKET APIs")
    if not (
        expression.startswith("$request.body") or "${request.body" in expression or "$" not in expression
    ):
        raise bad_request(f"Invalid route selection expression specified: {expression}")
    return expression


def _check_route(ctx: ControlContext, api_id: str, doc: Doc) -> None:
    key = doc.get("RouteKey")
    if not isinstance(key, str) or not key:
        raise bad_request("RouteKey is required")
    if key.startswith("$") and key not in ("$connect", "$disconnect", "$default"):
        raise bad_request(f"Invalid route key: {key}. Route keys starting with $ are reserved")
    if not key.startswith("$") and not _CUSTOM_KEY.match(key):
        raise bad_request(f"Invalid route key: {key}")
    target = doc.get("Target")
    if target:
        if not str(target).startswith("integrations/"):
            raise bad_request(f"Invalid target: {target}")
        if ctx.store.get(INTEGRATION, f"{api_id}/{str(target).split('/', 1)[1]}") is None:
            raise bad_request(f"Invalid integration identifier in target: {target}")
    kind = doc.get("AuthorizationType") or "NONE"
    if kind not in ("NONE", "CUSTOM", "AWS_IAM"):
        raise bad_request(
            f"Invalid authorization type {kind} for a WEBSOCKET API: use NONE, CUSTOM or AWS_IAM"
        )
    if kind != "NONE" and key != "$connect":
        raise bad_request("Authorization is supported only on the $connect route of a WEBSOCKET API")
    if kind == "CUSTOM" and ctx.store.get(AUTHORIZER, f"{api_id}/{doc.get('AuthorizerId') or ''}") is None:
        raise bad_request("Unable to find authorizer for the route")


def _check_integration(doc: Doc) -> None:
    kind = doc.get("IntegrationType")
    if kind not in _INTEGRATION_TYPES:
        raise bad_request(f"Invalid integration type {kind}: use AWS_PROXY, AWS, MOCK, HTTP or HTTP_PROXY")
    if kind != "MOCK" and not doc.get("IntegrationUri"):
        raise bad_request("IntegrationUri is required")
    timeout = doc.get("TimeoutInMillis")
    if not isinstance(timeout, int) or not 50 <= timeout <= 29000:
        raise bad_request("Timeout must be between 50 milliseconds and 29000 milliseconds.")


def _check_authorizer(doc: Doc) -> None:
    if not doc.get("Name"):
        raise bad_request("Name is required")
    if doc.get("AuthorizerType") != "REQUEST":
        raise bad_request("WEBSOCKET APIs support only REQUEST authorizers")
    if not doc.get("AuthorizerUri"):
        raise bad_request("AuthorizerUri is required for REQUEST authorizers")
    for source in doc.get("IdentitySource") or []:
        if not str(source).startswith(
            ("route.request.header.", "route.request.querystring.", "stageVariables.", "context.")
        ):
            raise bad_request(f"Invalid identity source: {source}")


def _served(ctx: ControlContext, http: HttpApis, api_id: str) -> None:
    auto_deploy(ctx, http, api_id)


async def create_api(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    name = params.get("Name")
    if not name:
        raise bad_request("Name is required")
    if params.get("Target") or params.get("RouteKey"):
        raise bad_request("Quick create is not supported for WEBSOCKET APIs")
    api_id, _ = new_api_id(ctx.store, params.get("Tags"))
    doc = drop_none(
        {
            "ApiEndpoint": f"wss://{api_id}.execute-api.{ctx.region}.amazonaws.com",
            "ApiId": api_id,
            "ApiKeySelectionExpression": params.get("ApiKeySelectionExpression")
            or "$request.header.x-api-key",
            "CreatedDate": now(),
            "Description": params.get("Description"),
            "DisableSchemaValidation": params.get("DisableSchemaValidation"),
            "DisableExecuteApiEndpoint": bool(params.get("DisableExecuteApiEndpoint", False)),
            "IpAddressType": params.get("IpAddressType") or "ipv4",
            "Name": name,
            "ProtocolType": "WEBSOCKET",
            "RouteSelectionExpression": _check_selection(params.get("RouteSelectionExpression")),
            "Tags": params.get("Tags") or {},
            "Version": params.get("Version"),
        }
    )
    ctx.store.put(API, api_id, doc)
    if ctx.websocket_apis is not None:
        ctx.websocket_apis.declare(api_id)
    return doc


async def update_api(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    doc = common.api(ctx, params["ApiId"])
    if "RouteSelectionExpression" in params:
        _check_selection(params["RouteSelectionExpression"])
    common.merge(doc, params, _API_FIELDS)
    ctx.store.put(API, doc["ApiId"], doc)
    _served(ctx, http, doc["ApiId"])
    return doc


async def delete_api(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    await apis.delete_api(ctx, http, params)
    if ctx.websocket_apis is not None:
        await ctx.websocket_apis.remove_api(params["ApiId"])


async def delete_stage(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    await stages.delete_stage(ctx, http, params)
    if ctx.websocket_apis is not None:
        await ctx.websocket_apis.remove(params["ApiId"], params["StageName"])


async def create_route(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    route_id = new_id()
    doc = drop_none(
        {
            "ApiKeyRequired": bool(params.get("ApiKeyRequired", False)),
            "AuthorizationType": params.get("AuthorizationType") or "NONE",
            "AuthorizerId": params.get("AuthorizerId"),
            "ModelSelectionExpression": params.get("ModelSelectionExpression"),
            "OperationName": params.get("OperationName"),
            "RequestModels": params.get("RequestModels") or None,
            "RequestParameters": params.get("RequestParameters") or None,
            "RouteId": route_id,
            "RouteKey": params.get("RouteKey"),
            "RouteResponseSelectionExpression": params.get("RouteResponseSelectionExpression"),
            "Target": params.get("Target"),
        }
    )
    _check_route(ctx, api_id, doc)
    common.save_route(ctx, api_id, doc)
    _served(ctx, http, api_id)
    return doc


async def update_route(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    doc = common.child(ctx, ROUTE, api_id, params["RouteId"], "Route")
    common.merge(doc, params, _ROUTE_FIELDS)
    if doc.get("AuthorizationType") == "NONE":
        doc.pop("AuthorizerId", None)
    _check_route(ctx, api_id, doc)
    common.save_route(ctx, api_id, doc)
    _served(ctx, http, api_id)
    return doc


async def delete_route(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    api_id, route_id = params["ApiId"], params["RouteId"]
    common.child(ctx, ROUTE, api_id, route_id, "Route")
    with ctx.store.transaction():
        for response in ctx.store.list(ROUTE_RESPONSE, api_id):
            if response.get("_RouteId") == route_id:
                ctx.store.delete(ROUTE_RESPONSE, f"{api_id}/{route_id}/{response['RouteResponseId']}")
        ctx.store.delete(ROUTE, f"{api_id}/{route_id}")
    _served(ctx, http, api_id)


async def create_integration(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    integration_id = new_id()
    kind = params.get("IntegrationType")
    doc = drop_none(
        {
            "ConnectionType": params.get("ConnectionType") or "INTERNET",
            "ContentHandlingStrategy": params.get("ContentHandlingStrategy"),
            "CredentialsArn": params.get("CredentialsArn"),
            "Description": params.get("Description"),
            "IntegrationId": integration_id,
            "IntegrationMethod": params.get("IntegrationMethod") or ("POST" if kind != "MOCK" else None),
            "IntegrationResponseSelectionExpression": "${integration.response.statuscode}"
            if kind in ("HTTP", "MOCK", "AWS")
            else None,
            "IntegrationType": kind,
            "IntegrationUri": params.get("IntegrationUri"),
            "PassthroughBehavior": params.get("PassthroughBehavior") or "WHEN_NO_MATCH",
            "PayloadFormatVersion": "1.0",
            "RequestParameters": params.get("RequestParameters") or None,
            "RequestTemplates": params.get("RequestTemplates") or None,
            "TemplateSelectionExpression": params.get("TemplateSelectionExpression"),
            "TimeoutInMillis": params.get("TimeoutInMillis", 29000),
        }
    )
    _check_integration(doc)
    ctx.store.put(INTEGRATION, f"{api_id}/{integration_id}", doc, parent=api_id)
    _served(ctx, http, api_id)
    return doc


async def update_integration(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    doc = common.child(ctx, INTEGRATION, api_id, params["IntegrationId"], "Integration")
    common.merge(doc, params, _INTEGRATION_FIELDS)
    _check_integration(doc)
    ctx.store.put(INTEGRATION, f"{api_id}/{doc['IntegrationId']}", doc, parent=api_id)
    _served(ctx, http, api_id)
    return doc


async def create_authorizer(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    authorizer_id = new_id()
    doc = drop_none(
        {
            "AuthorizerCredentialsArn": params.get("AuthorizerCredentialsArn"),
            "AuthorizerId": authorizer_id,
            "AuthorizerType": params.get("AuthorizerType"),
            "AuthorizerUri": params.get("AuthorizerUri"),
            "IdentitySource": params.get("IdentitySource") or None,
            "Name": params.get("Name"),
        }
    )
    _check_authorizer(doc)
    ctx.store.put(AUTHORIZER, f"{api_id}/{authorizer_id}", doc, parent=api_id)
    _served(ctx, http, api_id)
    return doc


async def update_authorizer(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    doc = common.child(ctx, AUTHORIZER, api_id, params["AuthorizerId"], "Authorizer")
    common.merge(doc, params, _AUTHORIZER_FIELDS)
    _check_authorizer(doc)
    ctx.store.put(AUTHORIZER, f"{api_id}/{doc['AuthorizerId']}", doc, parent=api_id)
    _served(ctx, http, api_id)
    return doc


def _route_responses(ctx: ControlContext, http: HttpApis, api_id: str, route_id: str) -> list[Doc]:
    return [_public(ctx, http, d) for d in ctx.store.list(ROUTE_RESPONSE, api_id) if d.get("_RouteId") == route_id]


def _public(ctx: ControlContext, http: HttpApis, doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


def _route_response(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id, route_id = params["ApiId"], params["RouteId"]
    common.child(ctx, ROUTE, api_id, route_id, "Route")
    return common.child(
        ctx, ROUTE_RESPONSE, api_id, f"{route_id}/{params['RouteResponseId']}", "RouteResponse"
    )


async def create_route_response(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id, route_id = params["ApiId"], params["RouteId"]
    common.child(ctx, ROUTE, api_id, route_id, "Route")
    key = params.get("RouteResponseKey")
    if key != "$default":
        raise bad_request("Only $default is supported as a RouteResponseKey for WEBSOCKET APIs")
    response_id = new_id()
    doc = drop_none(
        {
            "ModelSelectionExpression": params.get("ModelSelectionExpression"),
            "ResponseModels": params.get("ResponseModels") or None,
            "ResponseParameters": params.get("ResponseParameters") or None,
            "RouteResponseId": response_id,
            "RouteResponseKey": key,
            "_RouteId": route_id,
        }
    )
    try:  # one response per key and route: the store's rule (uniqueness.RULES)
        ctx.store.insert(ROUTE_RESPONSE, f"{api_id}/{route_id}/{response_id}", doc, parent=api_id)
    except Conflict:
        raise conflict("A RouteResponse with key $default already exists for this Route") from None
    _served(ctx, http, api_id)
    return _public(ctx, http, doc)


async def get_route_response(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    return _public(ctx, http, _route_response(ctx, http, params))


async def get_route_responses(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    common.child(ctx, ROUTE, params["ApiId"], params["RouteId"], "Route")
    return common.page(_route_responses(ctx, http, params["ApiId"], params["RouteId"]), params)


async def update_route_response(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    doc = _route_response(ctx, http, params)
    common.merge(doc, params, ("ModelSelectionExpression", "ResponseModels", "ResponseParameters"))
    api_id = params["ApiId"]
    ctx.store.put(
        ROUTE_RESPONSE, f"{api_id}/{params['RouteId']}/{doc['RouteResponseId']}", doc, parent=api_id
    )
    _served(ctx, http, api_id)
    return _public(ctx, http, doc)


async def delete_route_response(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    doc = _route_response(ctx, http, params)
    api_id = params["ApiId"]
    ctx.store.delete(ROUTE_RESPONSE, f"{api_id}/{params['RouteId']}/{doc['RouteResponseId']}")
    _served(ctx, http, api_id)


def _integration_responses(ctx: ControlContext, http: HttpApis, api_id: str, integration_id: str) -> list[Doc]:
    return [
        _public(ctx, http, d)
        for d in ctx.store.list(INTEGRATION_RESPONSE, api_id)
        if d.get("_IntegrationId") == integration_id
    ]


def _integration_response(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id, integration_id = params["ApiId"], params["IntegrationId"]
    common.child(ctx, INTEGRATION, api_id, integration_id, "Integration")
    return common.child(
        ctx,
        INTEGRATION_RESPONSE,
        api_id,
        f"{integration_id}/{params['IntegrationResponseId']}",
        "IntegrationResponse",
    )


async def create_integration_response(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id, integration_id = params["ApiId"], params["IntegrationId"]
    common.child(ctx, INTEGRATION, api_id, integration_id, "Integration")
    key = params.get("IntegrationResponseKey")
    if not key:
        raise bad_request("IntegrationResponseKey is required")
    response_id = new_id()
    doc = drop_none(
        {
            "ContentHandlingStrategy": params.get("ContentHandlingStrategy"),
            "IntegrationResponseId": response_id,
            "IntegrationResponseKey": key,
            "ResponseParameters": params.get("ResponseParameters") or None,
            "ResponseTemplates": params.get("ResponseTemplates") or None,
            "TemplateSelectionExpression": params.get("TemplateSelectionExpression"),
            "_IntegrationId": integration_id,
        }
    )
    try:  # one response per key and integration: the store's rule (uniqueness.RULES)
        ctx.store.insert(
            INTEGRATION_RESPONSE, f"{api_id}/{integration_id}/{response_id}", doc, parent=api_id
        )
    except Conflict:
        raise conflict(
            f"An IntegrationResponse with key {key} already exists for this Integration"
        ) from None
    _served(ctx, http, api_id)
    return _public(ctx, http, doc)


async def get_integration_response(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    return _public(ctx, http, _integration_response(ctx, http, params))


async def get_integration_responses(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    common.child(ctx, INTEGRATION, params["ApiId"], params["IntegrationId"], "Integration")
    return common.page(_integration_responses(ctx, http, params["ApiId"], params["IntegrationId"]), params)


async def update_integration_response(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    doc = _integration_response(ctx, http, params)
    api_id, integration_id = params["ApiId"], params["IntegrationId"]
    fields = (
        "ContentHandlingStrategy",
        "IntegrationResponseKey",
        "ResponseParameters",
        "ResponseTemplates",
        "TemplateSelectionExpression",
    )
    common.merge(doc, params, fields)
    try:  # a new key stays unique among the integration's responses (uniqueness.RULES)
        ctx.store.put(
            INTEGRATION_RESPONSE, f"{api_id}/{integration_id}/{doc['IntegrationResponseId']}", doc, parent=api_id
        )
    except Conflict:
        raise conflict(
            f"An IntegrationResponse with key {doc['IntegrationResponseKey']} already exists for this Integration"
        ) from None
    _served(ctx, http, api_id)
    return _public(ctx, http, doc)


async def delete_integration_response(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    doc = _integration_response(ctx, http, params)
    api_id = params["ApiId"]
    ctx.store.delete(
        INTEGRATION_RESPONSE, f"{api_id}/{params['IntegrationId']}/{doc['IntegrationResponseId']}"
    )
    _served(ctx, http, api_id)


def _either(
    ctx: ControlContext, shared: OperationHandler, own: OperationHandler, *, create: bool = False
) -> OperationHandler:
    """The call for an HTTP API (``shared``) or for a WebSocket API (``own``), by the API it names (or, for
    CreateApi, by the ProtocolType asked for)."""

    async def handler(params: dict[str, Any]) -> Any:
        if create:
            wanted = params.get("ProtocolType") == "WEBSOCKET"
        else:
            wanted = is_websocket(ctx.store.get(API, str(params.get("ApiId") or "")))
        return await (own if wanted else shared)(params)

    return handler


def handlers(
    ctx: ControlContext, http: HttpApis, base: dict[str, OperationHandler]
) -> dict[str, OperationHandler]:
    """``base`` with the calls for WebSocket APIs handled here, and the route/integration response calls."""
    return {
        **base,
        "CreateApi": _either(ctx, base["CreateApi"], partial(create_api, ctx, http), create=True),
        "UpdateApi": _either(ctx, base["UpdateApi"], partial(update_api, ctx, http)),
        "DeleteApi": _either(ctx, base["DeleteApi"], partial(delete_api, ctx, http)),
        "DeleteStage": _either(ctx, base["DeleteStage"], partial(delete_stage, ctx, http)),
        "CreateRoute": _either(ctx, base["CreateRoute"], partial(create_route, ctx, http)),
        "UpdateRoute": _either(ctx, base["UpdateRoute"], partial(update_route, ctx, http)),
        "DeleteRoute": _either(ctx, base["DeleteRoute"], partial(delete_route, ctx, http)),
        "CreateIntegration": _either(ctx, base["CreateIntegration"], partial(create_integration, ctx, http)),
        "UpdateIntegration": _either(ctx, base["UpdateIntegration"], partial(update_integration, ctx, http)),
        "CreateAuthorizer": _either(ctx, base["CreateAuthorizer"], partial(create_authorizer, ctx, http)),
        "UpdateAuthorizer": _either(ctx, base["UpdateAuthorizer"], partial(update_authorizer, ctx, http)),
        "CreateRouteResponse": partial(create_route_response, ctx, http),
        "GetRouteResponse": partial(get_route_response, ctx, http),
        "GetRouteResponses": partial(get_route_responses, ctx, http),
        "UpdateRouteResponse": partial(update_route_response, ctx, http),
        "DeleteRouteResponse": partial(delete_route_response, ctx, http),
        "CreateIntegrationResponse": partial(create_integration_response, ctx, http),
        "GetIntegrationResponse": partial(get_integration_response, ctx, http),
        "GetIntegrationResponses": partial(get_integration_responses, ctx, http),
        "UpdateIntegrationResponse": partial(update_integration_response, ctx, http),
        "DeleteIntegrationResponse": partial(delete_integration_response, ctx, http),
    }
