"""Deployments of HTTP APIs: a snapshot of the API's documents, compiled into a DeployedHttpApi per stage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from apigate.control.context import ControlContext
from apigate.control.v2 import serving
from apigate.control.v2.common import (
    API,
    AUTHORIZER,
    DEPLOYMENT,
    INTEGRATION,
    ROUTE,
    SNAPSHOT,
    STAGE,
    Doc,
    new_id,
    now,
)
from apigate.model.http import (
    Cors,
    DeployedHttpApi,
    HttpIntegration,
    HttpRoute,
    JwtAuthorizer,
    LambdaAuthorizer,
    ParameterMap,
)
from apigate.state import Limit

if TYPE_CHECKING:
    from apigate.dataplane.http_api import HttpApis


def snapshot(ctx: ControlContext, api_id: str) -> Doc:
    from apigate.control.v2 import websocket

    snap: Doc = {
        "api": ctx.store.get(API, api_id),
        "routes": ctx.store.list(ROUTE, api_id),
        "integrations": ctx.store.list(INTEGRATION, api_id),
        "authorizers": ctx.store.list(AUTHORIZER, api_id),
    }
    if websocket.is_websocket(snap["api"]):  # and the route and integration responses only they have
        snap.update(websocket.responses(ctx, api_id))
    return snap


def deploy(
    ctx: ControlContext,
    http: HttpApis,
    api_id: str,
    stage: Doc | None,
    *,
    description: str | None = None,
    auto: bool = False,
) -> Doc:
    """Record a deployment of the API as it is now; point ``stage`` at it and serve it."""
    deployment_id = new_id()
    deployment: Doc = {
        "AutoDeployed": auto,
        "CreatedDate": now(),
        "DeploymentId": deployment_id,
        "DeploymentStatus": "DEPLOYED",
    }
    if description is not None:
        deployment["Description"] = description
    with ctx.store.transaction():
        ctx.store.put(DEPLOYMENT, f"{api_id}/{deployment_id}", deployment, parent=api_id)
        ctx.store.put(SNAPSHOT, f"{api_id}/{deployment_id}", snapshot(ctx, api_id), parent=api_id)
        if stage is not None:
            stage["DeploymentId"] = deployment_id
            stage["LastUpdatedDate"] = now()
            ctx.store.put(STAGE, f"{api_id}/{stage['StageName']}", stage, parent=api_id)
    if stage is not None:
        serve_stage(ctx, http, api_id, stage)
    return deployment


def serve_stage(ctx: ControlContext, http: HttpApis, api_id: str, stage: Doc) -> None:
    from apigate.control.v2 import websocket, websocket_deploy

    if websocket.is_websocket(ctx.store.get(API, api_id)):
        websocket_deploy.serve_stage(ctx, api_id, stage)
        return
    serving.serve_stage(ctx, http, compile_stage, "HTTP API", api_id, stage)


def load_all(ctx: ControlContext, http: HttpApis) -> None:
    """At startup, and when another process changed the shared data dir: serve every stored HTTP API stage
    (and, through websocket_deploy, every WebSocket API stage)."""
    from apigate.control.v2 import websocket, websocket_deploy

    apis = [api for api in ctx.store.list(API) if not websocket.is_websocket(api)]
    serving.load_all(ctx, http, compile_stage, "HTTP API", apis)
    websocket_deploy.load_all(ctx)


def parse_route_key(key: str) -> tuple[str | None, tuple[str, ...]]:
    if key == "$default":
        return None, ()
    verb, _, path = key.partition(" ")
    stripped = path.strip("/")
    return verb, tuple(stripped.split("/")) if stripped else ()


def _throttle(key: str, settings: Any, fallback: Any) -> Limit | None:
    """A route's bucket: its RouteSettings limits, each falling back to DefaultRouteSettings."""
    rate = burst = None
    for source in (settings, fallback):
        if isinstance(source, dict):
            rate = source.get("ThrottlingRateLimit") if rate is None else rate
            burst = source.get("ThrottlingBurstLimit") if burst is None else burst
    if rate is None and burst is None:
        return None
    return Limit(key, float(rate if rate is not None else 10000), int(burst if burst is not None else 5000))


def parameter_maps(mapping: Any) -> tuple[ParameterMap, ...]:
    out = []
    for key, source in (mapping or {}).items():
        action, _, target = key.partition(":")
        location, _, name = target.partition(".")
        out.append(ParameterMap(action.lower(), location.lower(), name, str(source)))
    return tuple(out)


def service_fields(doc: Doc) -> dict[str, Any]:
    """An AWS service integration's subtype, role and parameters (by name), for HttpIntegration."""
    if not doc.get("IntegrationSubtype"):
        return {"credentials": doc.get("CredentialsArn")}
    parameters = tuple((str(k), str(v)) for k, v in (doc.get("RequestParameters") or {}).items())
    return {
        "subtype": doc["IntegrationSubtype"],
        "credentials": doc.get("CredentialsArn"),
        "service_parameters": parameters,
    }


def compile_stage(snap: Doc, stage: Doc, *, region: str, account_id: str) -> DeployedHttpApi:
    api = snap["api"] or {}
    integrations: dict[str, HttpIntegration] = {}
    for doc in snap["integrations"]:
        integrations[doc["IntegrationId"]] = HttpIntegration(
            id=doc["IntegrationId"],
            type=doc["IntegrationType"],
            uri=doc.get("IntegrationUri") or "",
            method=doc.get("IntegrationMethod"),
            payload_format_version=doc.get("PayloadFormatVersion") or "1.0",
            timeout_seconds=int(doc.get("TimeoutInMillis") or 30000) / 1000.0,
            request_parameters=()
            if doc.get("IntegrationSubtype")
            else parameter_maps(doc.get("RequestParameters")),
            response_parameters={
                status: parameter_maps(maps) for status, maps in (doc.get("ResponseParameters") or {}).items()
            },
            **service_fields(doc),
        )
    authorizers: dict[str, JwtAuthorizer | LambdaAuthorizer] = {}
    for doc in snap["authorizers"]:
        sources = tuple(doc.get("IdentitySource") or ())
        if doc["AuthorizerType"] == "JWT":
            config = doc.get("JwtConfiguration") or {}
            authorizers[doc["AuthorizerId"]] = JwtAuthorizer(
                id=doc["AuthorizerId"],
                name=doc.get("Name") or "",
                issuer=config.get("Issuer") or "",
                audience=tuple(config.get("Audience") or ()),
                identity_source=sources,
            )
        else:
            authorizers[doc["AuthorizerId"]] = LambdaAuthorizer(
                id=doc["AuthorizerId"],
                name=doc.get("Name") or "",
                function=doc.get("AuthorizerUri") or "",
                payload_format_version=doc.get("AuthorizerPayloadFormatVersion") or "2.0",
                simple_responses=bool(doc.get("EnableSimpleResponses")),
                ttl_seconds=int(doc.get("AuthorizerResultTtlInSeconds") or 0),
                identity_source=sources,
            )
    routes: list[HttpRoute] = []
    default_route: HttpRoute | None = None
    route_settings = stage.get("RouteSettings") or {}
    default_settings = stage.get("DefaultRouteSettings")
    bucket_prefix = f"httpapi:{api.get('ApiId')}:{stage['StageName']}:"
    for doc in snap["routes"]:
        verb, segments = parse_route_key(doc["RouteKey"])
        target = doc.get("Target") or ""
        integration = (
            integrations.get(target.split("/", 1)[1]) if target.startswith("integrations/") else None
        )
        authorizer = None
        if doc.get("AuthorizationType") in ("JWT", "CUSTOM"):
            authorizer = authorizers.get(doc.get("AuthorizerId") or "")
        route = HttpRoute(
            route_key=doc["RouteKey"],
            method=verb,
            segments=segments,
            integration=integration,
            authorizer=authorizer,
            scopes=tuple(doc.get("AuthorizationScopes") or ()),
            limit=_throttle(
                bucket_prefix + doc["RouteKey"], route_settings.get(doc["RouteKey"]), default_settings
            ),
        )
        if verb is None:
            default_route = route
        else:
            routes.append(route)
    routes.sort(key=HttpRoute.specificity)
    cors_doc = api.get("CorsConfiguration")
    cors = None
    if isinstance(cors_doc, dict):
        cors = Cors(
            allow_origins=tuple(cors_doc.get("AllowOrigins") or ()),
            allow_methods=tuple(m.upper() for m in cors_doc.get("AllowMethods") or ()),
            allow_headers=tuple(cors_doc.get("AllowHeaders") or ()),
            expose_headers=tuple(cors_doc.get("ExposeHeaders") or ()),
            max_age=cors_doc.get("MaxAge"),
            allow_credentials=bool(cors_doc.get("AllowCredentials")),
        )
    return DeployedHttpApi(
        api_id=api.get("ApiId") or "",
        stage=stage["StageName"],
        deployment_id=stage.get("DeploymentId") or "",
        account_id=account_id,
        region=region,
        stage_variables=dict(stage.get("StageVariables") or {}),
        routes=tuple(routes),
        default_route=default_route,
        cors=cors,
    )
