"""WebSocket APIs in templates: ``AWS::ApiGatewayV2::Api`` with ``ProtocolType: WEBSOCKET`` and its ``Route``,
``Integration``, ``IntegrationResponse``, ``RouteResponse``, ``Authorizer`` and ``Deployment`` resources, created
through the apigatewayv2 handlers (stages go through the HTTP API path, which serves both).

A redeploy of the same stack keeps the API's id (clients' URLs stay valid) and recreates its routes,
integrations and authorizers from the template, as a fresh deployment of what the template now says.
"""

from __future__ import annotations

from typing import Any, Protocol

from apigate.aws.wire import OperationHandler
from apigate.control.context import ControlContext
from apigate.control.v2.common import (
    API,
    AUTHORIZER,
    INTEGRATION,
    INTEGRATION_RESPONSE,
    ROUTE,
    ROUTE_RESPONSE,
)

Doc = dict[str, Any]

RESOURCE_TYPES = (
    "AWS::ApiGatewayV2::Route",
    "AWS::ApiGatewayV2::Integration",
    "AWS::ApiGatewayV2::IntegrationResponse",
    "AWS::ApiGatewayV2::RouteResponse",
    "AWS::ApiGatewayV2::Authorizer",
    "AWS::ApiGatewayV2::Deployment",
)

_ROUTE = ("ApiKeyRequired", "AuthorizationType", "AuthorizerId", "ModelSelectionExpression", "OperationName",
          "RequestModels", "RequestParameters", "RouteKey", "RouteResponseSelectionExpression", "Target")  # fmt: skip
_INTEGRATION = ("ConnectionType", "ContentHandlingStrategy", "CredentialsArn", "Description", "IntegrationMethod",
                "IntegrationType", "IntegrationUri", "PassthroughBehavior", "PayloadFormatVersion",
                "RequestParameters", "RequestTemplates", "TemplateSelectionExpression",
                "TimeoutInMillis")  # fmt: skip
_AUTHORIZER = ("AuthorizerCredentialsArn", "AuthorizerType", "AuthorizerUri", "IdentitySource", "Name",
               "AuthorizerPayloadFormatVersion", "AuthorizerResultTtlInSeconds", "EnableSimpleResponses",
               "JwtConfiguration")  # fmt: skip


class Run(Protocol):
    """What the template run lends: the store, the handlers, and where physical ids are recorded."""

    ctx: ControlContext
    physical: dict[str, tuple[str, str]]
    attributes: dict[str, dict[str, Any]]

    def _v2(self, operation: str) -> OperationHandler: ...

    def _old(self, logical_id: str, kind: str) -> str | None: ...


def _pick(props: Doc, names: tuple[str, ...]) -> Doc:
    return {name: props[name] for name in names if props.get(name) is not None}


_QUICK_CREATE = ("Target", "RouteKey", "CredentialsArn")


async def create_api(run: Run, logical_id: str, props: Doc, protocol: str = "WEBSOCKET") -> None:
    """A WebSocket API, or an HTTP API defined without a Body: by quick create (``Target``) or by its own
    ``Route``/``Integration``/``Stage`` resources. A redeploy keeps the API's id and recreates what hangs off it."""
    params = _pick(
        props,
        ("ApiKeySelectionExpression", "Description", "DisableSchemaValidation", "Name", "RouteSelectionExpression",
         "Version", "Tags", "CorsConfiguration", "DisableExecuteApiEndpoint"),
    )  # fmt: skip
    params["Name"] = params.get("Name") or logical_id
    quick = _pick(props, _QUICK_CREATE) if protocol == "HTTP" else {}
    store = run.ctx.store
    existing = run._old(logical_id, "AWS::ApiGatewayV2::Api")
    if (
        existing is not None
        and (store.get(API, existing) or {}).get("ProtocolType") == protocol
        and not quick
    ):
        for kind in (ROUTE_RESPONSE, INTEGRATION_RESPONSE, ROUTE, AUTHORIZER, INTEGRATION):
            for doc in store.list(kind, existing):
                store.delete(kind, _key(existing, kind, doc))
        api = await run._v2("UpdateApi")({"ApiId": existing, **params})
    else:
        if existing is not None and store.get(API, existing) is not None:
            await run._v2("DeleteApi")({"ApiId": existing})
        api = await run._v2("CreateApi")({**params, **quick, "ProtocolType": protocol})
    run.physical[logical_id] = ("AWS::ApiGatewayV2::Api", api["ApiId"])
    run.attributes[logical_id] = {"ApiId": api["ApiId"], "ApiEndpoint": api["ApiEndpoint"]}


def _key(api_id: str, kind: str, doc: Doc) -> str:
    if kind == ROUTE_RESPONSE:
        return f"{api_id}/{doc['_RouteId']}/{doc['RouteResponseId']}"
    if kind == INTEGRATION_RESPONSE:
        return f"{api_id}/{doc['_IntegrationId']}/{doc['IntegrationResponseId']}"
    field = {ROUTE: "RouteId", AUTHORIZER: "AuthorizerId", INTEGRATION: "IntegrationId"}[kind]
    return f"{api_id}/{doc[field]}"


async def create(run: Run, logical_id: str, kind: str, props: Doc) -> None:
    api_id = props.get("ApiId")
    if kind == "AWS::ApiGatewayV2::Route":
        doc = await run._v2("CreateRoute")({"ApiId": api_id, **_pick(props, _ROUTE)})
        physical = doc["RouteId"]
    elif kind == "AWS::ApiGatewayV2::Integration":
        params = _pick(props, _INTEGRATION)
        if (run.ctx.store.get(API, str(api_id)) or {}).get("ProtocolType") != "WEBSOCKET":
            params.setdefault(
                "PayloadFormatVersion", "2.0" if params.get("IntegrationType") == "AWS_PROXY" else "1.0"
            )
        doc = await run._v2("CreateIntegration")({"ApiId": api_id, **params})
        physical = doc["IntegrationId"]
    elif kind == "AWS::ApiGatewayV2::IntegrationResponse":
        params = _pick(
            props,
            (
                "IntegrationResponseKey",
                "ResponseTemplates",
                "TemplateSelectionExpression",
                "ContentHandlingStrategy",
            ),
        )
        doc = await run._v2("CreateIntegrationResponse")(
            {"ApiId": api_id, "IntegrationId": props.get("IntegrationId"), **params}
        )
        physical = doc["IntegrationResponseId"]
    elif kind == "AWS::ApiGatewayV2::RouteResponse":
        params = _pick(props, ("RouteResponseKey", "ModelSelectionExpression", "ResponseModels"))
        doc = await run._v2("CreateRouteResponse")(
            {"ApiId": api_id, "RouteId": props.get("RouteId"), **params}
        )
        physical = doc["RouteResponseId"]
    elif kind == "AWS::ApiGatewayV2::Authorizer":
        doc = await run._v2("CreateAuthorizer")({"ApiId": api_id, **_pick(props, _AUTHORIZER)})
        physical = doc["AuthorizerId"]
    else:  # AWS::ApiGatewayV2::Deployment
        params = _pick(props, ("Description", "StageName"))
        doc = await run._v2("CreateDeployment")({"ApiId": api_id, **params})
        physical = doc["DeploymentId"]
    run.physical[logical_id] = (kind, str(physical))
