"""Compiling an HTTP API stage: a deployment's snapshot (apigatewayv2 documents) into a frozen DeployedHttpApi."""

from __future__ import annotations

from typing import Any

from apigate.compile.access_log import compile_access_log, v2_access_log
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

Doc = dict[str, Any]


def parse_route_key(key: str) -> tuple[str | None, tuple[str, ...]]:
    if key == "$default":
        return None, ()
    verb, _, path = key.partition(" ")
    stripped = path.strip("/")
    return verb, tuple(stripped.split("/")) if stripped else ()


def route_throttle(key: str, settings: Any, fallback: Any) -> Limit | None:
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
    targets = snap.get("vpcLinkTargets") or {}
    for doc in snap["integrations"]:
        uri = doc.get("IntegrationUri") or ""
        private = doc.get("ConnectionType") == "VPC_LINK" and uri in targets
        integrations[doc["IntegrationId"]] = HttpIntegration(
            id=doc["IntegrationId"],
            type=doc["IntegrationType"],
            uri=targets[uri] if private else uri,
            private=private,
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
            limit=route_throttle(
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
        access_log=compile_access_log(v2_access_log(stage.get("AccessLogSettings"))),
        api_name=str(api.get("Name") or ""),
        execute_api_disabled=bool(api.get("DisableExecuteApiEndpoint")),
    )

