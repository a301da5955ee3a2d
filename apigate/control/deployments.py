"""Deployments (immutable snapshots of an API) and stages (a name that points at one, plus settings)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from apigate.aws import patch
from apigate.aws.errors import bad_request, conflict, not_found
from apigate.aws.ids import short_id
from apigate.aws.wire import OperationHandler
from apigate.compile.canary import attach_canary
from apigate.compile.rest import CACHE_SIZES, StageDefaults, compile_stage, snapshot_of
from apigate.control.client_certificates import client_identity
from apigate.control.common import Doc, drop_none, now, page, rest_api
from apigate.control.context import ControlContext
from apigate.control.models import list_models
from apigate.model import DeployedApi
from apigate.store.base import Conflict

log = logging.getLogger("apigate")

_STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_VARIABLE_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_VARIABLE_VALUE = re.compile(r"^[A-Za-z0-9\-._~:/?#&=,]{0,512}$")

# Patch paths under a method setting (/{resource path}/{verb}/{category}/{name}) -> MethodSetting fields.
_METHOD_SETTINGS = {
    ("throttling", "rateLimit"): ("throttlingRateLimit", float),
    ("throttling", "burstLimit"): ("throttlingBurstLimit", int),
    ("caching", "enabled"): ("cachingEnabled", bool),
    ("caching", "ttlInSeconds"): ("cacheTtlInSeconds", int),
    ("caching", "dataEncrypted"): ("cacheDataEncrypted", bool),
    ("caching", "requireAuthorizationForCacheControl"): ("requireAuthorizationForCacheControl", bool),
    ("caching", "unauthorizedCacheControlHeaderStrategy"): ("unauthorizedCacheControlHeaderStrategy", str),
    ("logging", "loglevel"): ("loggingLevel", str),
    ("logging", "dataTrace"): ("dataTraceEnabled", bool),
    ("metrics", "enabled"): ("metricsEnabled", bool),
}
_METHOD_SETTING_DEFAULTS: Doc = {
    "metricsEnabled": False,
    "dataTraceEnabled": False,
    "throttlingBurstLimit": 5000,
    "throttlingRateLimit": 10000.0,
    "cachingEnabled": False,
    "cacheTtlInSeconds": 300,
    "cacheDataEncrypted": False,
    "requireAuthorizationForCacheControl": True,
    "unauthorizedCacheControlHeaderStrategy": "SUCCEED_WITH_RESPONSE_HEADER",
}


def _check_variables(variables: dict[str, Any] | None) -> None:
    for name, value in (variables or {}).items():
        if not _VARIABLE_NAME.match(name):
            raise bad_request(
                "Stage variable names must only contain alphanumeric characters and underscores"
            )
        if not _VARIABLE_VALUE.match(str(value)):
            raise bad_request(
                "Stage variable value must only contain alphanumeric characters and the following special "
                "characters: -._~:/?#&=,"
            )


def _stage_key(ctx: ControlContext, api_id: str, name: str) -> str:
    return f"{api_id}/{name}"


def _get_stage_doc(ctx: ControlContext, api_id: str, name: str) -> Doc:
    rest_api(ctx, api_id)
    doc = ctx.store.get("stage", _stage_key(ctx, api_id, name))
    if doc is None:
        raise not_found("Invalid Stage identifier specified")
    return doc


def _get_deployment_doc(ctx: ControlContext, api_id: str, deployment_id: str) -> Doc:
    rest_api(ctx, api_id)
    doc = ctx.store.get("deployment", _stage_key(ctx, api_id, deployment_id))
    if doc is None:
        raise not_found("Invalid Deployment identifier specified")
    return doc


def _publish(ctx: ControlContext, api_id: str, stage: Doc) -> None:
    snapshot = ctx.store.get("snapshot", _stage_key(ctx, api_id, stage["deploymentId"]))
    if snapshot is None:  # a stage always points at a stored deployment; see create/update below
        raise not_found("Invalid Deployment identifier specified")
    ctx.registry.install(compile_with_canary(ctx, api_id, snapshot, stage))


def compile_with_canary(ctx: ControlContext, api_id: str, snapshot: Doc, stage: Doc) -> DeployedApi:
    """The stage compiled, with its canary release (if any) attached."""

    identity = (
        client_identity(ctx, stage["clientCertificateId"]) if stage.get("clientCertificateId") else None
    )

    def compiled(snap: Doc, doc: Mapping[str, Any]) -> DeployedApi:
        deployed = compile_stage(
            snap,
            doc,
            region=ctx.region_of(api_id),
            account_id=ctx.settings.account_id,
            defaults=StageDefaults.of(ctx.settings),
        )
        return deployed if identity is None else replace(deployed, client_identity=identity)

    return attach_canary(
        compiled(snapshot, stage),
        stage,
        lambda deployment_id: ctx.store.get("snapshot", _stage_key(ctx, api_id, deployment_id)),
        compiled,
    )


def _save_stage(ctx: ControlContext, api_id: str, stage: Doc, *, announce: bool = False) -> None:
    ctx.store.put("stage", _stage_key(ctx, api_id, stage["stageName"]), stage, parent=api_id)
    _publish(ctx, api_id, stage)
    if announce:  # on stdout, like the table `apigate serve` prints at start
        path_url, host_url = ctx.settings.invoke_urls(api_id, stage["stageName"])
        print(f"  stage {stage['stageName']} of {api_id}: {path_url}  {host_url}", flush=True)


def _new_stage(
    ctx: ControlContext, api_id: str, name: str, deployment_id: str, params: dict[str, Any], description: Any
) -> Doc:
    if not _STAGE_NAME.match(name):
        raise bad_request("Stage name only allows a-zA-Z0-9_-")
    _check_variables(params.get("variables"))
    _check_cache_size(params.get("cacheClusterSize"))
    stamp = now()
    return drop_none(
        {
            "deploymentId": deployment_id,
            "stageName": name,
            "description": description,
            "cacheClusterEnabled": bool(params.get("cacheClusterEnabled", False)),
            "cacheClusterSize": params.get("cacheClusterSize")
            or ("0.5" if params.get("cacheClusterEnabled") else None),
            "cacheClusterStatus": "AVAILABLE" if params.get("cacheClusterEnabled") else "NOT_AVAILABLE",
            "methodSettings": {},
            "variables": params.get("variables") or None,
            "tracingEnabled": bool(params.get("tracingEnabled", False)),
            "documentationVersion": params.get("documentationVersion"),
            "tags": params.get("tags") or None,
            "createdDate": stamp,
            "lastUpdatedDate": stamp,
        }
    )


async def create_deployment(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    api = rest_api(ctx, api_id)
    resources = ctx.store.list("resource", api_id)
    methods = [(doc, verb, m) for doc in resources for verb, m in (doc.get("resourceMethods") or {}).items()]
    if not methods:
        raise bad_request("The REST API doesn't contain any methods")
    for _, _, method in methods:
        if "methodIntegration" not in method:
            raise bad_request("No integration defined for method")
    stage_name = params.get("stageName")
    deployment_id = short_id(6)
    deployment = drop_none(
        {
            "id": deployment_id,
            "description": params.get("description"),
            "createdDate": now(),
            "apiSummary": {
                doc["path"]: {
                    verb: {
                        "authorizationType": m.get("authorizationType", "NONE"),
                        "apiKeyRequired": bool(m.get("apiKeyRequired", False)),
                    }
                    for verb, m in (doc.get("resourceMethods") or {}).items()
                }
                for doc in resources
                if doc.get("resourceMethods")
            },
        }
    )
    snapshot = snapshot_of(
        api,
        resources,
        models=list_models(ctx.store, api_id),
        validators=ctx.store.list("validator", api_id),
        gateway_responses=ctx.store.list("gatewayresponse", api_id),
        authorizers=ctx.store.list("authorizer", api_id),
    )
    # the VPC links' targets as they are now (AWS resolves a link when called; a deployment is our moment)
    snapshot["vpcLinks"] = {link["id"]: link["targetArns"][0] for link in ctx.store.list("vpclink")}
    with ctx.store.transaction():
        ctx.store.put("deployment", _stage_key(ctx, api_id, deployment_id), deployment, parent=api_id)
        ctx.store.put("snapshot", _stage_key(ctx, api_id, deployment_id), snapshot, parent=api_id)
        canary = params.get("canarySettings")
        if (
            canary is not None
        ):  # a canary release: the stage keeps its deployment, the canary gets the new one
            stage = ctx.store.get("stage", _stage_key(ctx, api_id, stage_name or ""))
            if stage is None:
                raise bad_request("Invalid stage identifier specified")
            stage["canarySettings"] = canary_settings(canary, deployment_id)
            stage["lastUpdatedDate"] = now()
            _save_stage(ctx, api_id, stage)
        elif stage_name:
            stage = ctx.store.get("stage", _stage_key(ctx, api_id, stage_name))
            if stage is None:
                stage = _new_stage(
                    ctx, api_id, stage_name, deployment_id, params, params.get("stageDescription")
                )
                _save_stage(ctx, api_id, stage, announce=True)
            else:
                _check_variables(params.get("variables"))
                stage["deploymentId"] = deployment_id
                stage["lastUpdatedDate"] = now()
                if params.get("variables"):
                    stage["variables"] = {**(stage.get("variables") or {}), **params["variables"]}
                _save_stage(ctx, api_id, stage)
    return _deployment_view(deployment, {})


def _deployment_view(doc: Doc, params: dict[str, Any]) -> Doc:
    """AWS shows a deployment's ``apiSummary`` only when asked (``embed=apisummary``)."""
    if "apisummary" in [str(item).lower() for item in params.get("embed") or []]:
        return doc
    return {key: value for key, value in doc.items() if key != "apiSummary"}


def canary_settings(params: Mapping[str, Any], deployment_id: str) -> Doc:
    """A stage's ``canarySettings`` from CreateDeployment's or CreateStage's (checked as AWS checks them)."""
    percent = params.get("percentTraffic", 0.0)
    try:
        percent = float(percent)
    except (TypeError, ValueError):
        percent = -1.0
    if not 0.0 <= percent <= 100.0:
        raise bad_request("Canary traffic percentage must be between 0.0 and 100.0")
    _check_variables(params.get("stageVariableOverrides"))
    return drop_none(
        {
            "percentTraffic": percent,
            "deploymentId": params.get("deploymentId") or deployment_id,
            "stageVariableOverrides": params.get("stageVariableOverrides") or None,
            "useStageCache": bool(params.get("useStageCache", False)),
        }
    )


async def get_deployment(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _deployment_view(_get_deployment_doc(ctx, params["restApiId"], params["deploymentId"]), params)


async def get_deployments(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    rest_api(ctx, api_id)
    return page([_deployment_view(doc, {}) for doc in ctx.store.list("deployment", api_id)], params)


async def update_deployment(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    doc = _get_deployment_doc(ctx, api_id, params["deploymentId"])
    patch.apply(doc, params.get("patchOperations") or [], {"description": patch.scalar("description")})
    ctx.store.put("deployment", _stage_key(ctx, api_id, doc["id"]), doc, parent=api_id)
    return _deployment_view(doc, {})


async def delete_deployment(ctx: ControlContext, params: dict[str, Any]) -> None:
    api_id = params["restApiId"]
    deployment_id = params["deploymentId"]
    _get_deployment_doc(ctx, api_id, deployment_id)
    if any(stage["deploymentId"] == deployment_id for stage in ctx.store.list("stage", api_id)):
        raise bad_request("Active stages pointing to this deployment must be moved or deleted")
    with ctx.store.transaction():
        ctx.store.delete("deployment", _stage_key(ctx, api_id, deployment_id))
        ctx.store.delete("snapshot", _stage_key(ctx, api_id, deployment_id))


async def create_stage(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    name = params.get("stageName") or ""
    _get_deployment_doc(ctx, api_id, params.get("deploymentId") or "")
    stage = _new_stage(ctx, api_id, name, params["deploymentId"], params, params.get("description"))
    if params.get("canarySettings") is not None:
        stage["canarySettings"] = canary_settings(params["canarySettings"], params["deploymentId"])
        _get_deployment_doc(ctx, api_id, stage["canarySettings"]["deploymentId"])
    with ctx.store.transaction():  # the name is claimed and the stage served, or neither
        try:
            ctx.store.insert("stage", _stage_key(ctx, api_id, name), stage, parent=api_id)
        except Conflict:
            raise conflict("Stage already exists") from None
        _save_stage(ctx, api_id, stage, announce=True)
    return stage


async def get_stage(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _get_stage_doc(ctx, params["restApiId"], params["stageName"])


async def get_stages(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    rest_api(ctx, api_id)
    stages = ctx.store.list("stage", api_id)
    if params.get("deploymentId"):
        stages = [s for s in stages if s["deploymentId"] == params["deploymentId"]]
    return {"item": stages}


async def update_stage(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    stage = _get_stage_doc(ctx, api_id, params["stageName"])
    cache_before = (stage.get("cacheClusterEnabled"), stage.get("cacheClusterSize"))
    plain = []
    for operation in params.get("patchOperations") or []:
        if not _patch_method_setting(stage, operation):
            plain.append(operation)
    patch.apply(stage, plain, _STAGE_PATCHABLE)
    _check_variables(stage.get("variables"))
    _get_deployment_doc(ctx, api_id, stage["deploymentId"])
    canary = stage.get("canarySettings")
    if canary is not None:
        canary.setdefault("deploymentId", stage["deploymentId"])
        _check_variables(canary.get("stageVariableOverrides"))
        _get_deployment_doc(ctx, api_id, canary["deploymentId"])
    if stage.get("cacheClusterEnabled") and not stage.get("cacheClusterSize"):
        stage["cacheClusterSize"] = "0.5"
    _check_cache_size(stage.get("cacheClusterSize"))
    stage["cacheClusterStatus"] = "AVAILABLE" if stage.get("cacheClusterEnabled") else "NOT_AVAILABLE"
    stage["lastUpdatedDate"] = now()
    _save_stage(ctx, api_id, stage)
    if cache_before != (stage.get("cacheClusterEnabled"), stage.get("cacheClusterSize")):
        await _flush(ctx, api_id, stage["stageName"])  # resizing or disabling recreates the cache empty
    return stage


async def _flush(ctx: ControlContext, api_id: str, name: str) -> None:
    if ctx.cache is not None:
        await ctx.cache.flush(f"{api_id}/{name}")


async def flush_stage_cache(ctx: ControlContext, params: dict[str, Any]) -> None:
    api_id = params["restApiId"]
    _get_stage_doc(ctx, api_id, params["stageName"])
    await _flush(ctx, api_id, params["stageName"])


async def delete_stage(ctx: ControlContext, params: dict[str, Any]) -> None:
    api_id = params["restApiId"]
    name = params["stageName"]
    _get_stage_doc(ctx, api_id, name)
    ctx.store.delete("stage", _stage_key(ctx, api_id, name))
    ctx.registry.forget(api_id, name)
    await _flush(ctx, api_id, name)


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "CreateDeployment": partial(create_deployment, ctx),
        "GetDeployment": partial(get_deployment, ctx),
        "GetDeployments": partial(get_deployments, ctx),
        "UpdateDeployment": partial(update_deployment, ctx),
        "DeleteDeployment": partial(delete_deployment, ctx),
        "CreateStage": partial(create_stage, ctx),
        "GetStage": partial(get_stage, ctx),
        "GetStages": partial(get_stages, ctx),
        "UpdateStage": partial(update_stage, ctx),
        "DeleteStage": partial(delete_stage, ctx),
        "FlushStageCache": partial(flush_stage_cache, ctx),
    }


_SETTING_PATH = re.compile(
    r"^/(?P<key>.+/[A-Z*]+)/(?P<category>throttling|caching|logging|metrics)/(?P<name>[A-Za-z]+)$"
)
_SETTING_KEY = re.compile(r"^/(?P<key>.+/([A-Z]+|\*))$")


def _patch_method_setting(stage: Doc, operation: dict[str, Any]) -> bool:
    """Handle ``/{resource path}/{VERB}/{category}/{name}`` and ``remove /{resource path}/{VERB}``.

    The key is kept as the client wrote it (``*/*``, ``~1pets/GET``, or Terraform's unescaped ``a/b/GET``):
    tools read the setting back under the same key they wrote.
    """
    path = str(operation.get("path") or "")
    found = _SETTING_PATH.match(path)
    if found is None:
        whole = _SETTING_KEY.match(path)
        settings = stage.get("methodSettings") or {}
        if operation.get("op") == "remove" and whole is not None and whole.group("key") in settings:
            del settings[whole.group("key")]
            return True
        return False
    spec = _METHOD_SETTINGS.get((found.group("category"), found.group("name")))
    if spec is None:
        raise bad_request(f"Invalid method setting path: {path}")
    if operation.get("op") != "replace":
        raise bad_request("Invalid patch operation specified. Must be one of: [replace]")
    field, kind = spec
    raw = operation.get("value")
    value: Any
    if kind is bool:
        value = str(raw).lower() == "true"
    else:
        try:
            value = kind(raw)
        except (TypeError, ValueError) as exc:
            raise bad_request(
                f"Invalid value for {found.group('category')}/{found.group('name')}: {raw}"
            ) from exc
    entry = stage.setdefault("methodSettings", {}).setdefault(
        found.group("key"), dict(_METHOD_SETTING_DEFAULTS)
    )
    entry[field] = value
    return True


def _check_cache_size(size: Any) -> None:
    if size is not None and str(size) not in CACHE_SIZES:
        raise bad_request(
            f"Invalid cache cluster size specified: {size}. Must be one of: [{', '.join(CACHE_SIZES)}]"
        )


def _bool(value: Any) -> bool:
    return str(value).lower() == "true"


def _access_log_settings(stage: Doc, op: str, value: Any, rest: list[str]) -> None:
    """``remove /accessLogSettings`` (logging off), ``replace /accessLogSettings/destinationArn|format``."""
    if not rest and op == "remove":
        stage.pop("accessLogSettings", None)
        return
    if (
        len(rest) != 1
        or rest[0] not in ("destinationArn", "format")
        or op not in ("replace", "add", "remove")
    ):
        raise bad_request(f"Invalid patch path /accessLogSettings{''.join('/' + part for part in rest)}")
    settings: Doc = stage.setdefault("accessLogSettings", {})
    if op == "remove" or value in (None, ""):
        settings.pop(rest[0], None)
    else:
        settings[rest[0]] = str(value)
    if not settings:
        stage.pop("accessLogSettings")


def _canary_settings(stage: Doc, op: str, value: Any, rest: list[str]) -> None:
    """``remove /canarySettings``; ``replace /canarySettings/percentTraffic|useStageCache|deploymentId``;
    ``replace|remove /canarySettings/stageVariableOverrides/{name}`` (stored here; serving the split is the
    canary release's own work)."""
    where = "/canarySettings" + "".join("/" + part for part in rest)
    if not rest:
        if op != "remove":
            raise bad_request(f"Invalid patch path {where}")
        stage.pop("canarySettings", None)
        return
    canary: Doc = stage.setdefault("canarySettings", {})
    field = rest[0]
    if field == "stageVariableOverrides" and len(rest) == 2 and op in ("replace", "add", "remove"):
        overrides: Doc = canary.setdefault("stageVariableOverrides", {})
        if op == "remove":
            overrides.pop(rest[1], None)
        else:
            overrides[rest[1]] = "" if value is None else str(value)
        return
    if len(rest) != 1 or op != "replace":
        raise bad_request(f"Invalid patch path {where}")
    if field == "percentTraffic":
        try:
            percent = float(value)
        except (TypeError, ValueError):
            percent = -1.0
        if not 0.0 <= percent <= 100.0:
            raise bad_request("Canary weight must be between 0.0 and 100.0")
        canary["percentTraffic"] = percent
    elif field == "useStageCache":
        canary["useStageCache"] = _bool(value)
    elif field == "deploymentId":
        canary["deploymentId"] = str(value)
    else:
        raise bad_request(f"Invalid patch path {where}")


_STAGE_PATCHABLE: dict[str, patch.PathHandler] = {
    "accessLogSettings": _access_log_settings,
    "canarySettings": _canary_settings,
    "description": patch.scalar("description", allowed_ops=("replace", "remove")),
    "documentationVersion": patch.scalar("documentationVersion"),
    "deploymentId": patch.scalar("deploymentId", nullable=False),
    "variables": patch.string_map("variables"),
    "tracingEnabled": patch.scalar("tracingEnabled", convert=_bool, nullable=False),
    "cacheClusterEnabled": patch.scalar("cacheClusterEnabled", convert=_bool, nullable=False),
    "cacheClusterSize": patch.scalar("cacheClusterSize"),
    "clientCertificateId": patch.scalar("clientCertificateId"),
    "webAclArn": patch.scalar("webAclArn"),
}
