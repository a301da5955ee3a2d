"""Stages and deployments of HTTP APIs: CreateStage ($default or named, AutoDeploy), CreateDeployment."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from apigate.aws.errors import bad_request, conflict, not_found
from apigate.aws.wire import OperationHandler
from apigate.control.context import ControlContext
from apigate.control.v2 import common
from apigate.control.v2.common import DEPLOYMENT, SNAPSHOT, STAGE, Doc, drop_none, now
from apigate.control.v2.deploy import deploy, serve_stage
from apigate.store.base import Conflict

if TYPE_CHECKING:
    from apigate.dataplane.http_api import HttpApis

_UPDATABLE = (
    "AccessLogSettings",
    "AutoDeploy",
    "ClientCertificateId",
    "DefaultRouteSettings",
    "DeploymentId",
    "Description",
    "RouteSettings",
    "StageVariables",
)


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise bad_request("StageName is required")
    if name != "$default" and (len(name) > 128 or not all(c.isalnum() or c in "-_" for c in name)):
        raise bad_request(f"Invalid stage name: {name}")
    return name


def _deployment_exists(ctx: ControlContext, http: HttpApis, api_id: str, deployment_id: str | None) -> None:
    if deployment_id and ctx.store.get(DEPLOYMENT, f"{api_id}/{deployment_id}") is None:
        raise bad_request(f"Invalid deployment identifier specified {deployment_id}")


async def create_stage(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    common.api(ctx, api_id)
    name = _check_name(params.get("StageName"))
    _deployment_exists(ctx, http, api_id, params.get("DeploymentId"))
    doc = drop_none(
        {
            "AccessLogSettings": params.get("AccessLogSettings"),
            "AutoDeploy": bool(params.get("AutoDeploy", False)),
            "ClientCertificateId": params.get("ClientCertificateId"),
            "CreatedDate": now(),
            "DefaultRouteSettings": params.get("DefaultRouteSettings")
            or {"DetailedMetricsEnabled": False},
            "DeploymentId": params.get("DeploymentId"),
            "Description": params.get("Description"),
            "LastUpdatedDate": now(),
            "RouteSettings": params.get("RouteSettings") or {},
            "StageName": name,
            "StageVariables": params.get("StageVariables") or {},
            "Tags": params.get("Tags") or {},
        }
    )
    with ctx.store.transaction():  # the name is claimed and the stage served, or neither
        try:
            ctx.store.insert(STAGE, f"{api_id}/{name}", doc, parent=api_id)
        except Conflict:
            raise conflict(f"Stage {name} already exists") from None
        if doc["AutoDeploy"]:
            deploy(ctx, http, api_id, doc, description="Automatic deployment", auto=True)
        else:
            serve_stage(ctx, http, api_id, doc)
    return doc


async def get_stage(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    return common.child(ctx, STAGE, params["ApiId"], params["StageName"], "Stage")


async def get_stages(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    common.api(ctx, params["ApiId"])
    return common.page(ctx.store.list(STAGE, params["ApiId"]), params)


async def update_stage(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    doc = common.child(ctx, STAGE, api_id, params["StageName"], "Stage")
    _deployment_exists(ctx, http, api_id, params.get("DeploymentId"))
    turned_on = bool(params.get("AutoDeploy")) and not doc.get("AutoDeploy")
    common.merge(doc, params, _UPDATABLE)
    doc["LastUpdatedDate"] = now()
    if turned_on:
        deploy(ctx, http, api_id, doc, description="Automatic deployment", auto=True)
    else:
        ctx.store.put(STAGE, f"{api_id}/{doc['StageName']}", doc, parent=api_id)
        serve_stage(ctx, http, api_id, doc)
    return doc


async def delete_stage(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    api_id = params["ApiId"]
    doc = common.child(ctx, STAGE, api_id, params["StageName"], "Stage")
    ctx.store.delete(STAGE, f"{api_id}/{doc['StageName']}")
    http.forget(api_id, doc["StageName"])


async def create_deployment(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    common.api(ctx, api_id)
    stage = None
    if params.get("StageName"):
        stage = common.child(ctx, STAGE, api_id, params["StageName"], "Stage")
    return deploy(ctx, http, api_id, stage, description=params.get("Description"))


async def get_deployment(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    return common.child(ctx, DEPLOYMENT, params["ApiId"], params["DeploymentId"], "Deployment")


async def get_deployments(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    common.api(ctx, params["ApiId"])
    return common.page(ctx.store.list(DEPLOYMENT, params["ApiId"]), params)


async def update_deployment(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    doc = common.child(ctx, DEPLOYMENT, api_id, params["DeploymentId"], "Deployment")
    common.merge(doc, params, ("Description",))
    ctx.store.put(DEPLOYMENT, f"{api_id}/{doc['DeploymentId']}", doc, parent=api_id)
    return doc


async def delete_route_settings(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    api_id = params["ApiId"]
    doc = common.child(ctx, STAGE, api_id, params["StageName"], "Stage")
    settings = doc.get("RouteSettings") or {}
    if settings.pop(params["RouteKey"], None) is None:
        raise not_found(f"Unable to find Route Settings for route key {params['RouteKey']}")
    doc["RouteSettings"] = settings
    doc["LastUpdatedDate"] = now()
    ctx.store.put(STAGE, f"{api_id}/{doc['StageName']}", doc, parent=api_id)
    serve_stage(ctx, http, api_id, doc)


async def delete_access_log_settings(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    """The stage stops writing access logs (a stage without settings answers 204 as well)."""
    api_id = params["ApiId"]
    doc = common.child(ctx, STAGE, api_id, params["StageName"], "Stage")
    if doc.pop("AccessLogSettings", None) is None:
        return
    doc["LastUpdatedDate"] = now()
    ctx.store.put(STAGE, f"{api_id}/{doc['StageName']}", doc, parent=api_id)
    serve_stage(ctx, http, api_id, doc)


async def reset_authorizers_cache(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    """The stage's next requests call their Lambda authorizers again (JWTs are verified, not cached as
    authorizer results)."""
    api_id = params["ApiId"]
    doc = common.child(ctx, STAGE, api_id, params["StageName"], "Stage")
    http.lambda_authorizers.flush(api_id, doc["StageName"])


async def delete_deployment(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    api_id = params["ApiId"]
    deployment_id = params["DeploymentId"]
    common.child(ctx, DEPLOYMENT, api_id, deployment_id, "Deployment")
    if any(s.get("DeploymentId") == deployment_id for s in ctx.store.list(STAGE, api_id)):
        raise bad_request("Active stages pointing to this deployment must be moved or deleted")
    with ctx.store.transaction():
        ctx.store.delete(DEPLOYMENT, f"{api_id}/{deployment_id}")
        ctx.store.delete(SNAPSHOT, f"{api_id}/{deployment_id}")


def handlers(ctx: ControlContext, http: HttpApis) -> dict[str, OperationHandler]:
    return {
        "CreateStage": partial(create_stage, ctx, http),
        "GetStage": partial(get_stage, ctx, http),
        "GetStages": partial(get_stages, ctx, http),
        "UpdateStage": partial(update_stage, ctx, http),
        "DeleteStage": partial(delete_stage, ctx, http),
        "CreateDeployment": partial(create_deployment, ctx, http),
        "GetDeployment": partial(get_deployment, ctx, http),
        "GetDeployments": partial(get_deployments, ctx, http),
        "DeleteDeployment": partial(delete_deployment, ctx, http),
        "UpdateDeployment": partial(update_deployment, ctx, http),
        "DeleteRouteSettings": partial(delete_route_settings, ctx, http),
        "ResetAuthorizersCache": partial(reset_authorizers_cache, ctx, http),
        "DeleteAccessLogSettings": partial(delete_access_log_settings, ctx, http),
    }
