"""Deployments of HTTP APIs: a snapshot of the API's documents, compiled into a DeployedHttpApi per stage."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson

from apigate.control.context import ControlContext
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

log = logging.getLogger("apigate")


def snapshot(ctx: ControlContext, api_id: str) -> Doc:
    return {
        "api": ctx.store.get(API, api_id),
        "routes": ctx.store.list(ROUTE, api_id),
        "integrations": ctx.store.list(INTEGRATION, api_id),
        "authorizers": ctx.store.list(AUTHORIZER, api_id),
    }


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
    http.declare(api_id)
    deployment_id = stage.get("DeploymentId")
    if not deployment_id:
        http.remove(api_id, stage["StageName"])
        return
    snap = ctx.store.get(SNAPSHOT, f"{api_id}/{deployment_id}")
    if snap is None:
        log.error("stage %s of HTTP API %s points at a missing deployment", stage["StageName"], api_id)
        return
    http.install(compile_stage(snap, stage, region=ctx.settings.region, account_id=ctx.settings.account_id))
    http.remember(api_id, stage["StageName"], _fingerprint(stage))


def load_all(ctx: ControlContext, http: HttpApis) -> None:
    """At startup, and when another process changed the shared data dir: serve every stored HTTP API stage.

    A stage whose document did not change keeps its compiled snapshot (deployments are immutable); APIs and
    stages that are gone stop being served.
    """
    served: dict[str, dict[str, DeployedHttpApi]] = {}
    for api in ctx.store.list(API):
        api_id = api["ApiId"]
        stages = served[api_id] = {}
        for stage in ctx.store.list(STAGE, api_id):
            name = stage["StageName"]
            current = http.get(api_id, name)
            if current is not None and http.fingerprint(api_id, name) == _fingerprint(stage):
                stages[name] = current
                continue
            if not stage.get("DeploymentId"):
                continue
            snap = ctx.store.get(SNAPSHOT, f"{api_id}/{stage['DeploymentId']}")
            if snap is None:
                log.error("stage %s of HTTP API %s points at a missing deployment", name, api_id)
                continue
            try:
                stages[name] = compile_stage(
                    snap, stage, region=ctx.settings.region, account_id=ctx.settings.account_id
                )
            except Exception:
                log.exception("stage %s of HTTP API %s could not be compiled", name, api_id)
                continue
            http.remember(api_id, name, _fingerprint(stage))
    http.replace_all(served)


def _fingerprint(stage: Doc) -> bytes:
    return orjson.dumps(stage, option=orjson.OPT_SORT_KEYS)


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
            request_parameters=parameter_maps(doc.get("RequestParameters")),
            response_parameters={
                status: parameter_maps(maps) for status, maps in (doc.get("ResponseParameters") or {}).items()
            },
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
