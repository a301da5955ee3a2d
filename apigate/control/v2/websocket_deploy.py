"""Serving WebSocket API stages: a deployment's snapshot compiled into a frozen DeployedWebSocketApi."""

from __future__ import annotations

from typing import Any

from apigate.control.context import ControlContext
from apigate.control.v2 import serving
from apigate.control.v2.common import API, Doc
from apigate.control.v2.websocket import is_websocket
from apigate.model.websocket import (
    CONNECT,
    DEFAULT,
    DISCONNECT,
    DeployedWebSocketApi,
    RouteSelection,
    WsAuthorizer,
    WsIntegration,
    WsRoute,
)


def serve_stage(ctx: ControlContext, api_id: str, stage: Doc) -> None:
    if ctx.websocket_apis is not None:
        serving.serve_stage(ctx, ctx.websocket_apis, compile_stage, "WebSocket API", api_id, stage)


def load_all(ctx: ControlContext) -> None:
    """At startup and after another process changed the data dir: serve every stored WebSocket API stage."""
    if ctx.websocket_apis is not None:
        apis = [api for api in ctx.store.list(API) if is_websocket(api)]
        serving.load_all(ctx, ctx.websocket_apis, compile_stage, "WebSocket API", apis)


def _mock_response(integration_id: str, responses: list[Doc]) -> str | None:
    for doc in responses:
        if doc.get("_IntegrationId") == integration_id and doc.get("IntegrationResponseKey") in (
            "$default",
            "/2\\d\\d/",
            "/.*/",
        ):
            templates = doc.get("ResponseTemplates") or {}
            selected = templates.get("$default")
            if selected is None and templates:
                selected = next(iter(templates.values()))
            if selected is not None:
                return str(selected)
    return None


def _service_fields(doc: Doc) -> dict[str, Any]:
    """An AWS integration's templates (parsed once) and role; only what calling a service needs."""
    if doc["IntegrationType"] != "AWS":
        return {}
    from apigate.dataplane.templates import compile_template

    templates = {
        key: compile_template(source or "") for key, source in (doc.get("RequestTemplates") or {}).items()
    }
    return {
        "request_templates": templates,
        "credentials": doc.get("CredentialsArn"),
        "template_selection": doc.get("TemplateSelectionExpression"),
    }


def compile_stage(snap: Doc, stage: Doc, *, region: str, account_id: str) -> DeployedWebSocketApi:
    api = snap.get("api") or {}
    responses = snap.get("integrationResponses") or []
    integrations: dict[str, WsIntegration] = {}
    for doc in snap.get("integrations") or []:
        integrations[doc["IntegrationId"]] = WsIntegration(
            id=doc["IntegrationId"],
            type=doc["IntegrationType"],
            uri=doc.get("IntegrationUri") or "",
            method=doc.get("IntegrationMethod") or "POST",
            timeout_seconds=int(doc.get("TimeoutInMillis") or 29000) / 1000.0,
            mock_response=_mock_response(doc["IntegrationId"], responses),
            **_service_fields(doc),
        )
    authorizers = {
        doc["AuthorizerId"]: WsAuthorizer(
            id=doc["AuthorizerId"],
            name=doc.get("Name") or "",
            function=doc.get("AuthorizerUri") or "",
            identity_source=tuple(doc.get("IdentitySource") or ()),
        )
        for doc in snap.get("authorizers") or []
    }
    two_way = {doc.get("_RouteId") for doc in snap.get("routeResponses") or []}
    routes: dict[str, WsRoute] = {}
    for doc in snap.get("routes") or []:
        target = doc.get("Target") or ""
        integration = (
            integrations.get(target.split("/", 1)[1]) if target.startswith("integrations/") else None
        )
        authorizer = None
        if doc.get("AuthorizationType") == "CUSTOM":
            authorizer = authorizers.get(doc.get("AuthorizerId") or "")
        routes[doc["RouteKey"]] = WsRoute(
            route_key=doc["RouteKey"],
            integration=integration,
            two_way=doc["RouteId"] in two_way,
            authorizer=authorizer,
            api_key_required=bool(doc.get("ApiKeyRequired")),
        )
    return DeployedWebSocketApi(
        api_id=api.get("ApiId") or "",
        api_name=api.get("Name") or "",
        stage=stage["StageName"],
        deployment_id=stage.get("DeploymentId") or "",
        account_id=account_id,
        region=region,
        stage_variables=dict(stage.get("StageVariables") or {}),
        routes=routes,
        selection=RouteSelection.parse(api.get("RouteSelectionExpression") or "$request.body.action"),
        api_key_selection=api.get("ApiKeySelectionExpression") or "$request.header.x-api-key",
        has_custom_routes=any(key not in (CONNECT, DISCONNECT, DEFAULT) for key in routes),
    )
