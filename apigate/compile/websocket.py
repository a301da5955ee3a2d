"""Compiling a WebSocket API stage: a deployment's snapshot into a frozen DeployedWebSocketApi."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fastjsonschema
import orjson

from apigate.compile.access_log import compile_access_log, v2_access_log
from apigate.compile.http import route_throttle
from apigate.compile.schemas import bound_schema_patterns
from apigate.dataplane.mapping.templates import compile_template
from apigate.dataplane.regex_budget import UserRegexError, compile_user_regex
from apigate.model.websocket import (
    CONNECT,
    DEFAULT,
    DISCONNECT,
    DeployedWebSocketApi,
    RouteSelection,
    WsAuthorizer,
    WsIntegration,
    WsIntegrationResponse,
    WsRoute,
)

Doc = dict[str, Any]


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


def _responses(integration_id: str, responses: list[Doc]) -> tuple[WsIntegrationResponse, ...]:
    """The integration's responses with templates: ``/regex/`` keys (matched against the status code) first,
    ``$default`` last."""
    keyed, default = [], []
    for doc in responses:
        templates = doc.get("ResponseTemplates") or {}
        if doc.get("_IntegrationId") != integration_id or not templates:
            continue
        compiled = {key: compile_template(source or "") for key, source in templates.items()}
        key = str(doc.get("IntegrationResponseKey") or "$default")
        selection = doc.get("TemplateSelectionExpression")
        if key == "$default" or not (key.startswith("/") and key.endswith("/") and len(key) > 1):
            default.append(WsIntegrationResponse(None, compiled, selection))
            continue
        try:
            pattern = compile_user_regex(key[1:-1])
        except UserRegexError:
            continue  # CreateIntegrationResponse checked it; one stored before then matches nothing
        keyed.append(WsIntegrationResponse(pattern, compiled, selection))
    return tuple(keyed + default[:1])


def _service_fields(doc: Doc) -> dict[str, Any]:
    """A non-proxy integration's request templates (parsed once) and role (AWS and HTTP integrations)."""
    if doc["IntegrationType"] not in ("AWS", "HTTP"):
        return {}
    return {
        # keys as the integration names them: a template selection expression's value picks one
        "request_templates": {
            key: compile_template(source or "") for key, source in (doc.get("RequestTemplates") or {}).items()
        },
        "credentials": doc.get("CredentialsArn"),
        "template_selection": doc.get("TemplateSelectionExpression"),
    }


def _validators(models: list[Doc]) -> dict[str, Callable[[object], object]]:
    """Each model's schema compiled once (draft 4, patterns bounded); a schema that does not compile checks
    nothing rather than failing the deployment (CreateModel checked it is JSON)."""
    compiled: dict[str, Callable[[object], object]] = {}
    for doc in models:
        try:
            schema = orjson.loads(doc.get("Schema") or "{}")
            if isinstance(schema, dict) and "$schema" not in schema:
                schema = {**schema, "$schema": "http://json-schema.org/draft-04/schema#"}
            validate = fastjsonschema.compile(schema, use_default=False)
            bound_schema_patterns(validate)  # a fallback pattern gets MATCH_SECONDS per match here
            compiled[doc["Name"]] = validate
        except (orjson.JSONDecodeError, fastjsonschema.JsonSchemaDefinitionException, UserRegexError):
            continue
    return compiled


def _required_parameters(doc: Doc) -> tuple[tuple[str, str], ...]:
    required = []
    for key, constraints in sorted((doc.get("RequestParameters") or {}).items()):  # named in this order
        if not (constraints or {}).get("Required"):
            continue
        for kind in ("header", "querystring"):
            prefix = f"route.request.{kind}."
            if key.startswith(prefix) and len(key) > len(prefix):
                name = key[len(prefix) :]
                required.append((kind, name))
    return tuple(required)


def _route_models(doc: Doc, validators: dict[str, Callable[[object], object]]) -> dict[str, Any]:
    names = doc.get("RequestModels") or {}
    models = {key: validators[name] for key, name in names.items() if name in validators}
    if not models:
        return {}
    expression = doc.get("ModelSelectionExpression")
    return {
        "request_models": models,
        "model_selection": RouteSelection.parse(expression) if expression else None,
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
            responses=_responses(doc["IntegrationId"], responses)
            if doc["IntegrationType"] in ("AWS", "HTTP")
            else (),
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
    validators = _validators(snap.get("models") or [])
    route_settings = stage.get("RouteSettings") or {}
    bucket_prefix = f"wsapi:{api.get('ApiId')}:{stage['StageName']}:"
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
            iam=doc.get("AuthorizationType") == "AWS_IAM",
            required_parameters=_required_parameters(doc) if doc["RouteKey"] == CONNECT else (),
            **_route_models(doc, validators),
            limit=route_throttle(
                bucket_prefix + doc["RouteKey"],
                route_settings.get(doc["RouteKey"]),
                stage.get("DefaultRouteSettings"),
            ),
            **_route_logging(route_settings.get(doc["RouteKey"]), stage.get("DefaultRouteSettings")),
        )
    default_logging = _route_logging(None, stage.get("DefaultRouteSettings"))
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
        execute_api_disabled=bool(api.get("DisableExecuteApiEndpoint")),
        access_log=compile_access_log(v2_access_log(stage.get("AccessLogSettings"))),
        log_level=default_logging["log_level"],
        data_trace=default_logging["data_trace"],
        execution_logging=any(
            route.log_level != "OFF" for route in routes.values()
        )
        or default_logging["log_level"] != "OFF",
    )


def _route_logging(settings: Doc | None, defaults: Doc | None) -> dict[str, Any]:
    """A route's LoggingLevel and DataTraceEnabled: its RouteSettings' where set, else DefaultRouteSettings'."""
    level, trace = "OFF", False
    for source in (defaults or {}, settings or {}):
        if source.get("LoggingLevel") in ("OFF", "ERROR", "INFO"):
            level = source["LoggingLevel"]
        if isinstance(source.get("DataTraceEnabled"), bool):
            trace = source["DataTraceEnabled"]
    return {"log_level": level, "data_trace": trace}
