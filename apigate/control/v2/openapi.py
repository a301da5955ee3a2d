"""ImportApi, ReimportApi and ExportApi for HTTP APIs: OpenAPI 3.0 with the x-amazon-apigateway-* extensions."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

import orjson
import yaml

from apigate.aws import limits
from apigate.aws.errors import bad_request, not_found
from apigate.aws.ids import short_id
from apigate.aws.wire import OperationHandler
from apigate.control.api_ids import document_tags, new_api_id
from apigate.control.context import ControlContext
from apigate.control.v2 import common
from apigate.control.v2.authorizers import check_authorizer
from apigate.control.v2.common import (
    API,
    AUTHORIZER,
    INTEGRATION,
    ROUTE,
    SNAPSHOT,
    STAGE,
    Doc,
    drop_none,
    now,
)
from apigate.control.v2.deploy import auto_deploy
from apigate.control.v2.integrations import new_integration
from apigate.control.v2.routes import new_route

if TYPE_CHECKING:
    from apigate.dataplane.http_api import HttpApis

_VERBS = ("get", "post", "put", "delete", "patch", "head", "options")
_ANY = "x-amazon-apigateway-any-method"
_INTEGRATION = "x-amazon-apigateway-integration"
_AUTHORIZER = "x-amazon-apigateway-authorizer"
_CORS = "x-amazon-apigateway-cors"
_PREFIX = "x-amazon-apigateway-"
_READ_AT_TOP = frozenset({_CORS, "x-amazon-apigateway-importexport-version"})
_READ_IN_INTEGRATION = frozenset(
    {
        "type",
        "uri",
        "httpMethod",
        "payloadFormatVersion",
        "timeoutInMillis",
        "connectionType",
        "integrationSubtype",
        "credentials",
        "requestParameters",
    }
)
_CORS_KEYS = {
    "allowOrigins": "AllowOrigins",
    "allowMethods": "AllowMethods",
    "allowHeaders": "AllowHeaders",
    "exposeHeaders": "ExposeHeaders",
    "maxAge": "MaxAge",
    "allowCredentials": "AllowCredentials",
}


def _parse(body: Any) -> Doc:
    text = body.decode() if isinstance(body, bytes) else str(body or "")
    try:
        limits.check_size(text)
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError:
            try:
                document = limits.load_yaml(text)
            except yaml.YAMLError as exc:
                raise bad_request("Invalid OpenAPI definition: neither JSON nor YAML") from exc
        limits.check_depth(document)
    except limits.DocumentLimitError as exc:  # size, depth, YAML alias expansion (aws.limits)
        raise bad_request(f"Invalid OpenAPI definition: {exc}") from exc
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3."):
        raise bad_request("Only OpenAPI 3.0 definitions can be imported into an HTTP API")
    return document


def _sources(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _authorizer_params(name: str, extension: Doc) -> Doc:
    kind = str(extension.get("type", "")).upper()
    if kind == "JWT":
        config = extension.get("jwtConfiguration") or {}
        return drop_none(
            {
                "Name": name,
                "AuthorizerType": "JWT",
                "IdentitySource": _sources(extension.get("identitySource"))
                or ["$request.header.Authorization"],
                "JwtConfiguration": {
                    "Issuer": config.get("issuer"),
                    "Audience": list(config.get("audience") or []),
                },
            }
        )
    return drop_none(
        {
            "Name": name,
            "AuthorizerType": "REQUEST",
            "AuthorizerUri": extension.get("authorizerUri"),
            "AuthorizerPayloadFormatVersion": extension.get("authorizerPayloadFormatVersion") or "2.0",
            "EnableSimpleResponses": extension.get("enableSimpleResponses"),
            "AuthorizerResultTtlInSeconds": int(extension.get("authorizerResultTtlInSeconds") or 0),
            "IdentitySource": _sources(extension.get("identitySource")) or None,
        }
    )


def _load(ctx: ControlContext, api_id: str, document: Doc) -> list[str]:
    """Create the routes, integrations and authorizers ``document`` describes; return warnings."""
    warnings = [
        f"Unsupported extension ignored: {key}"
        for key in document
        if isinstance(key, str) and key.startswith(_PREFIX) and key not in _READ_AT_TOP
    ]
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    authorizers: dict[str, str] = {}
    for name, scheme in schemes.items():
        extension = (scheme or {}).get(_AUTHORIZER)
        if not isinstance(extension, dict):
            continue
        doc = {"AuthorizerId": short_id(7), **_authorizer_params(name, extension)}
        check_authorizer(doc)
        ctx.store.put(AUTHORIZER, f"{api_id}/{doc['AuthorizerId']}", doc, parent=api_id)
        authorizers[name] = doc["AuthorizerId"]
    top_security = document.get("security")
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for key, operation in item.items():
            if key == _ANY:
                verb = "ANY"
            elif key in _VERBS:
                verb = key.upper()
            else:
                continue
            route_key = "$default" if path == "/$default" else f"{verb} {path}"
            params: Doc = {"RouteKey": route_key}
            for other in operation or {}:
                if isinstance(other, str) and other.startswith(_PREFIX) and other != _INTEGRATION:
                    warnings.append(f"Unsupported extension ignored: {other} at {route_key}")
            extension = (operation or {}).get(_INTEGRATION)
            if isinstance(extension, dict):
                for member in extension:
                    if member not in _READ_IN_INTEGRATION:
                        warnings.append(f"{_INTEGRATION} {member} ignored at {route_key}")
                kind = str(extension.get("type", "")).upper()
                integration = new_integration(
                    ctx,
                    api_id,
                    drop_none(
                        {
                            "IntegrationType": kind,
                            "IntegrationUri": extension.get("uri"),
                            "IntegrationMethod": extension.get("httpMethod"),
                            "PayloadFormatVersion": extension.get("payloadFormatVersion")
                            or ("1.0" if kind == "HTTP_PROXY" else None),
                            "TimeoutInMillis": extension.get("timeoutInMillis"),
                            "ConnectionType": extension.get("connectionType"),
                            "IntegrationSubtype": extension.get("integrationSubtype"),
                            "CredentialsArn": extension.get("credentials"),
                            "RequestParameters": extension.get("requestParameters"),
                        }
                    ),
                )
                params["Target"] = f"integrations/{integration['IntegrationId']}"
            else:
                warnings.append(f"Route {route_key} has no x-amazon-apigateway-integration")
            security = (operation or {}).get("security", top_security) or []
            for requirement in security:
                for scheme_name, scopes in (requirement or {}).items():
                    authorizer_id = authorizers.get(scheme_name)
                    if authorizer_id is None:
                        warnings.append(f"Unknown security scheme {scheme_name} on {route_key}")
                        continue
                    stored = ctx.store.get(AUTHORIZER, f"{api_id}/{authorizer_id}") or {}
                    params["AuthorizerId"] = authorizer_id
                    params["AuthorizationType"] = "JWT" if stored.get("AuthorizerType") == "JWT" else "CUSTOM"
                    if scopes and params["AuthorizationType"] == "JWT":
                        params["AuthorizationScopes"] = list(scopes)
            new_route(ctx, api_id, params)
    return warnings


def _api_fields(document: Doc) -> Doc:
    info = document.get("info") or {}
    if not info.get("title"):
        raise bad_request("The OpenAPI definition needs info.title, the API's name")
    fields: Doc = {
        "Name": info["title"],
        "Version": None if info.get("version") is None else str(info["version"]),  # YAML's 1.0 is a number
        "Description": info.get("description"),
    }
    cors = document.get(_CORS)
    if isinstance(cors, dict):
        fields["CorsConfiguration"] = {_CORS_KEYS[k]: v for k, v in cors.items() if k in _CORS_KEYS}
    return drop_none(fields)


def export(
    api: Doc, routes: list[Doc], integrations: list[Doc], authorizers: list[Doc], extensions: bool
) -> Doc:
    by_id = {doc["IntegrationId"]: doc for doc in integrations}
    names = {doc["AuthorizerId"]: doc["Name"] for doc in authorizers}
    info: Doc = {"title": api["Name"], "version": api.get("Version") or "1.0"}
    if api.get("Description"):
        info["description"] = api["Description"]
    paths: dict[str, Doc] = {}
    for route in sorted(routes, key=lambda r: r["RouteKey"]):
        key = route["RouteKey"]
        verb, path = ("ANY", "/$default") if key == "$default" else key.split(" ", 1)
        operation: Doc = {"responses": {"default": {"description": "Default response"}}}
        parameters = [
            {"name": part[1:-1].rstrip("+"), "in": "path", "required": True, "schema": {"type": "string"}}
            for part in path.split("/")
            if part.startswith("{")
        ]
        if parameters:
            operation["parameters"] = parameters
        if route.get("AuthorizerId") in names:
            operation["security"] = [
                {names[route["AuthorizerId"]]: list(route.get("AuthorizationScopes") or [])}
            ]
        target = route.get("Target") or ""
        integration = by_id.get(target.split("/", 1)[1]) if target.startswith("integrations/") else None
        if extensions and integration is not None:
            operation[_INTEGRATION] = drop_none(
                {
                    "type": integration["IntegrationType"].lower(),
                    "uri": integration.get("IntegrationUri"),
                    "httpMethod": integration.get("IntegrationMethod"),
                    "payloadFormatVersion": integration.get("PayloadFormatVersion"),
                    "connectionType": integration.get("ConnectionType"),
                    "timeoutInMillis": integration.get("TimeoutInMillis"),
                    "integrationSubtype": integration.get("IntegrationSubtype"),
                    "credentials": integration.get("CredentialsArn"),
                    "requestParameters": integration.get("RequestParameters"),
                }
            )
        paths.setdefault(path, {})[_ANY if verb == "ANY" else verb.lower()] = operation
    document: Doc = {"openapi": "3.0.1", "info": info, "paths": paths}
    if authorizers:
        schemes: Doc = {}
        for doc in authorizers:
            scheme: Doc = {"type": "oauth2" if doc["AuthorizerType"] == "JWT" else "apiKey"}
            if doc["AuthorizerType"] != "JWT":
                scheme.update({"name": "Unused", "in": "header"})
            if extensions:
                if doc["AuthorizerType"] == "JWT":
                    config = doc.get("JwtConfiguration") or {}
                    scheme[_AUTHORIZER] = {
                        "type": "jwt",
                        "identitySource": ",".join(doc.get("IdentitySource") or []),
                        "jwtConfiguration": {
                            "issuer": config.get("Issuer"),
                            "audience": list(config.get("Audience") or []),
                        },
                    }
                else:
                    scheme[_AUTHORIZER] = drop_none(
                        {
                            "type": "request",
                            "identitySource": ",".join(doc.get("IdentitySource") or []),
                            "authorizerUri": doc.get("AuthorizerUri"),
                            "authorizerPayloadFormatVersion": doc.get("AuthorizerPayloadFormatVersion"),
                            "enableSimpleResponses": doc.get("EnableSimpleResponses"),
                            "authorizerResultTtlInSeconds": doc.get("AuthorizerResultTtlInSeconds"),
                        }
                    )
            schemes[doc["Name"]] = scheme
        document["components"] = {"securitySchemes": schemes}
    cors = api.get("CorsConfiguration")
    if extensions and cors:
        reverse = {v: k for k, v in _CORS_KEYS.items()}
        document[_CORS] = {reverse[k]: v for k, v in cors.items() if k in reverse}
    return document


async def import_api(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    document = _parse(params.get("Body"))
    fields = _api_fields(document)
    tags = document_tags(document)
    api_id, _ = new_api_id(ctx.store, tags)
    doc: Doc = {
        "ApiEndpoint": f"https://{api_id}.execute-api.{ctx.region}.amazonaws.com",
        "ApiId": api_id,
        "ApiKeySelectionExpression": "$request.header.x-api-key",
        "CreatedDate": now(),
        "DisableExecuteApiEndpoint": False,
        "IpAddressType": "ipv4",
        "ProtocolType": "HTTP",
        "RouteSelectionExpression": "$request.method $request.path",
        "Tags": tags,
        **fields,
    }
    with ctx.store.transaction():
        ctx.store.insert(API, api_id, doc)
        warnings = _load(ctx, api_id, document)
        if warnings and params.get("FailOnWarnings"):
            raise bad_request("; ".join(warnings))
    http.declare(api_id)
    return {**doc, "Warnings": warnings} if warnings else doc


async def reimport_api(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    doc = common.api(ctx, api_id)
    document = _parse(params.get("Body"))
    fields = _api_fields(document)
    doc.pop("CorsConfiguration", None)
    doc.update(fields)
    with ctx.store.transaction():
        for kind in (ROUTE, INTEGRATION, AUTHORIZER):
            for item in ctx.store.list(kind, api_id):
                item_id = item.get("RouteId") or item.get("IntegrationId") or item.get("AuthorizerId")
                ctx.store.delete(kind, f"{api_id}/{item_id}")
        ctx.store.put(API, api_id, doc)
        warnings = _load(ctx, api_id, document)
        if warnings and params.get("FailOnWarnings"):
            raise bad_request("; ".join(warnings))
    auto_deploy(ctx, http, api_id)
    return {**doc, "Warnings": warnings} if warnings else doc


async def export_api(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    api = common.api(ctx, api_id)
    if params.get("Specification") != "OAS30":
        raise bad_request("Only the OAS30 specification can be exported")
    output = params.get("OutputType") or "JSON"
    if output not in ("JSON", "YAML"):
        raise bad_request("OutputType must be JSON or YAML")
    stage_name = params.get("StageName")
    if stage_name:
        stage = ctx.store.get(STAGE, f"{api_id}/{stage_name}")
        if stage is None or not stage.get("DeploymentId"):
            raise not_found(f"Invalid stage identifier specified {stage_name}")
        snap = ctx.store.get(SNAPSHOT, f"{api_id}/{stage['DeploymentId']}") or {}
        api = snap.get("api") or api
        parts = (snap.get("routes") or [], snap.get("integrations") or [], snap.get("authorizers") or [])
    else:
        parts = (
            ctx.store.list(ROUTE, api_id),
            ctx.store.list(INTEGRATION, api_id),
            ctx.store.list(AUTHORIZER, api_id),
        )
    document = export(api, *parts, extensions=params.get("IncludeExtensions", True) is not False)
    if output == "YAML":
        return {"body": yaml.safe_dump(document, sort_keys=False).encode()}
    return {"body": orjson.dumps(document)}


def handlers(ctx: ControlContext, http: HttpApis) -> dict[str, OperationHandler]:
    return {
        "ImportApi": partial(import_api, ctx, http),
        "ReimportApi": partial(reimport_api, ctx, http),
        "ExportApi": partial(export_api, ctx, http),
    }
