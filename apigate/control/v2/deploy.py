"""Deployments of HTTP and WebSocket APIs: a snapshot of the API's documents, served per stage (compiled by
``apigate/compile/http.py`` and ``apigate/compile/websocket.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apigate.compile.http import compile_stage
from apigate.control.context import ControlContext
from apigate.control.v2 import serving, websocket_serving
from apigate.control.v2.common import (
    API,
    AUTHORIZER,
    DEPLOYMENT,
    INTEGRATION,
    INTEGRATION_RESPONSE,
    ROUTE,
    ROUTE_RESPONSE,
    SNAPSHOT,
    STAGE,
    Doc,
    is_websocket,
    new_id,
    now,
)
from apigate.store.regional import everywhere

if TYPE_CHECKING:
    from apigate.dataplane.http_api import HttpApis


def snapshot(ctx: ControlContext, api_id: str) -> Doc:
    snap: Doc = {
        "api": ctx.store.get(API, api_id),
        "routes": ctx.store.list(ROUTE, api_id),
        "integrations": ctx.store.list(INTEGRATION, api_id),
        "authorizers": ctx.store.list(AUTHORIZER, api_id),
    }
    if is_websocket(snap["api"]):  # and the route and integration responses only they have
        snap["routeResponses"] = ctx.store.list(ROUTE_RESPONSE, api_id)
        snap["integrationResponses"] = ctx.store.list(INTEGRATION_RESPONSE, api_id)
        snap["models"] = ctx.store.list("v2model", api_id)
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


def auto_deploy(ctx: ControlContext, http: HttpApis, api_id: str) -> None:
    """Something of the API changed: every stage with AutoDeploy gets a new deployment, served at once."""
    for stage in ctx.store.list(STAGE, api_id):
        if stage.get("AutoDeploy"):
            deploy(ctx, http, api_id, stage, description="Automatic deployment", auto=True)


def serve_stage(ctx: ControlContext, http: HttpApis, api_id: str, stage: Doc) -> None:
    if is_websocket(ctx.store.get(API, api_id)):
        websocket_serving.serve_stage(ctx, api_id, stage)
        return
    serving.serve_stage(ctx, http, compile_stage, "HTTP API", api_id, stage)


def load_all(ctx: ControlContext, http: HttpApis) -> None:
    """At startup, and when another process changed the shared data dir: serve every stored HTTP API stage
    (and, through websocket_serving, every WebSocket API stage)."""
    with everywhere():
        apis = [api for api in ctx.store.list(API) if not is_websocket(api)]
        serving.load_all(ctx, http, compile_stage, "HTTP API", apis)
        websocket_serving.load_all(ctx)


