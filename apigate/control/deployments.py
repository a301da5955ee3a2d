"""Deployments (immutable snapshots of an API) and stages (a name that points at one, plus settings)."""

from __future__ import annotations

import logging
import re
from typing import Any

from apigate.aws import patch
from apigate.aws.errors import bad_request, conflict, not_found
from apigate.aws.ids import short_id
from apigate.aws.wire import OperationHandler
from apigate.control.common import Doc, drop_none, now, page, rest_api
from apigate.control.context import ControlContext
from apigate.control.deploy import CACHE_SIZES, compile_stage, snapshot_of
from apigate.control.models import list_models
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


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    store = ctx.store

    def stage_key(api_id: str, name: str) -> str:
        return f"{api_id}/{name}"

    def get_stage_doc(api_id: str, name: str) -> Doc:
        rest_api(ctx, api_id)
        doc = store.get("stage", stage_key(api_id, name))
        if doc is None:
            raise not_found("Invalid Stage identifier specified")
        return doc

    def get_deployment_doc(api_id: str, deployment_id: str) -> Doc:
        rest_api(ctx, api_id)
        doc = store.get("deployment", stage_key(api_id, deployment_id))
        if doc is None:
            raise not_found("Invalid Deployment identifier specified")
        return doc

    def publish(api_id: str, stage: Doc) -> None:
        snapshot = store.get("snapshot", stage_key(api_id, stage["deploymentId"]))
        if snapshot is None:  # a stage always points at a stored deployment; see create/update below
            raise not_found("Invalid Deployment identifier specified")
        ctx.registry.install(
            compile_stage(snapshot, stage, region=ctx.settings.region, account_id=ctx.settings.account_id)
        )

    def save_stage(api_id: str, stage: Doc, *, announce: bool = False) -> None:
        store.put("stage", stage_key(api_id, stage["stageName"]), stage, parent=api_id)
        publish(api_id, stage)
        if announce:  # on stdout, like the table `apigate serve` prints at start
            path_url, host_url = ctx.settings.invoke_urls(api_id, stage["stageName"])
            print(f"  stage {stage['stageName']} of {api_id}: {path_url}  {host_url}", flush=True)

    def new_stage(
        api_id: str, name: str, deployment_id: str, params: dict[str, Any], description: Any
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

    async def create_deployment(params: dict[str, Any]) -> Doc:
        api_id = params["restApiId"]
        api = rest_api(ctx, api_id)
        resources = store.list("resource", api_id)
        methods = [
            (doc, verb, m) for doc in resources for verb, m in (doc.get("resourceMethods") or {}).items()
        ]
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
        with store.transaction():
            store.put("deployment", stage_key(api_id, deployment_id), deployment, parent=api_id)
            store.put(
                "snapshot",
                stage_key(api_id, deployment_id),
                snapshot_of(
                    api,
                    resources,
                    models=list_models(store, api_id),
                    validators=store.list("validator", api_id),
                    gateway_responses=store.list("gatewayresponse", api_id),
                    authorizers=store.list("authorizer", api_id),
                ),
                parent=api_id,
            )
            if stage_name:
                stage = store.get("stage", stage_key(api_id, stage_name))
                if stage is None:
                    stage = new_stage(
                        api_id, stage_name, deployment_id, params, params.get("stageDescription")
                    )
                    save_stage(api_id, stage, announce=True)
                else:
                    _check_variables(params.get("variables"))
                    stage["deploymentId"] = deployment_id
                    stage["lastUpdatedDate"] = now()
                    if params.get("variables"):
                        stage["variables"] = {**(stage.get("variables") or {}), **params["variables"]}
                    save_stage(api_id, stage)
        return deployment

    async def get_deployment(params: dict[str, Any]) -> Doc:
        return get_deployment_doc(params["restApiId"], params["deploymentId"])

    async def get_deployments(params: dict[str, Any]) -> Doc:
        api_id = params["restApiId"]
        rest_api(ctx, api_id)
        return page(store.list("deployment", api_id), params)

    async def update_deployment(params: dict[str, Any]) -> Doc:
        api_id = params["restApiId"]
        doc = get_deployment_doc(api_id, params["deploymentId"])
        patch.apply(doc, params.get("patchOperations") or [], {"description": patch.scalar("description")})
        store.put("deployment", stage_key(api_id, doc["id"]), doc, parent=api_id)
        return doc

    async def delete_deployment(params: dict[str, Any]) -> None:
        api_id = params["restApiId"]
        deployment_id = params["deploymentId"]
        get_deployment_doc(api_id, deployment_id)
        if any(stage["deploymentId"] == deployment_id for stage in store.list("stage", api_id)):
            raise bad_request("Active stages pointing to this deployment must be moved or deleted")
        with store.transaction():
            store.delete("deployment", stage_key(api_id, deployment_id))
            store.delete("snapshot", stage_key(api_id, deployment_id))

    async def create_stage(params: dict[str, Any]) -> Doc:
        api_id = params["restApiId"]
        name = params.get("stageName") or ""
        get_deployment_doc(api_id, params.get("deploymentId") or "")
        stage = new_stage(api_id, name, params["deploymentId"], params, params.get("description"))
        with store.transaction():  # the name is claimed and the stage served, or neither
            try:
                store.insert("stage", stage_key(api_id, name), stage, parent=api_id)
            except Conflict:
                raise conflict("Stage already exists") from None
            save_stage(api_id, stage, announce=True)
        return stage

    async def get_stage(params: dict[str, Any]) -> Doc:
        return get_stage_doc(params["restApiId"], params["stageName"])

    async def get_stages(params: dict[str, Any]) -> Doc:
        api_id = params["restApiId"]
        rest_api(ctx, api_id)
        stages = store.list("stage", api_id)
        if params.get("deploymentId"):
            stages = [s for s in stages if s["deploymentId"] == params["deploymentId"]]
        return {"item": stages}

    async def update_stage(params: dict[str, Any]) -> Doc:
        api_id = params["restApiId"]
        stage = get_stage_doc(api_id, params["stageName"])
        cache_before = (stage.get("cacheClusterEnabled"), stage.get("cacheClusterSize"))
        plain = []
        for operation in params.get("patchOperations") or []:
            if not _patch_method_setting(stage, operation):
                plain.append(operation)
        patch.apply(stage, plain, _STAGE_PATCHABLE)
        _check_variables(stage.get("variables"))
        get_deployment_doc(api_id, stage["deploymentId"])
        if stage.get("cacheClusterEnabled") and not stage.get("cacheClusterSize"):
            stage["cacheClusterSize"] = "0.5"
        _check_cache_size(stage.get("cacheClusterSize"))
        stage["cacheClusterStatus"] = "AVAILABLE" if stage.get("cacheClusterEnabled") else "NOT_AVAILABLE"
        stage["lastUpdatedDate"] = now()
        save_stage(api_id, stage)
        if cache_before != (stage.get("cacheClusterEnabled"), stage.get("cacheClusterSize")):
            await flush(api_id, stage["stageName"])  # resizing or disabling recreates the cache empty
        return stage

    async def flush(api_id: str, name: str) -> None:
        if ctx.cache is not None:
            await ctx.cache.flush(f"{api_id}/{name}")

    async def flush_stage_cache(params: dict[str, Any]) -> None:
        api_id = params["restApiId"]
        get_stage_doc(api_id, params["stageName"])
        await flush(api_id, params["stageName"])

    async def delete_stage(params: dict[str, Any]) -> None:
        api_id = params["restApiId"]
        name = params["stageName"]
        get_stage_doc(api_id, name)
        store.delete("stage", stage_key(api_id, name))
        ctx.registry.remove(api_id, name)
        await flush(api_id, name)

    return {
        "CreateDeployment": create_deployment,
        "GetDeployment": get_deployment,
        "GetDeployments": get_deployments,
        "UpdateDeployment": update_deployment,
        "DeleteDeployment": delete_deployment,
        "CreateStage": create_stage,
        "GetStage": get_stage,
        "GetStages": get_stages,
        "UpdateStage": update_stage,
        "DeleteStage": delete_stage,
        "FlushStageCache": flush_stage_cache,
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


_STAGE_PATCHABLE: dict[str, patch.PathHandler] = {
    "description": patch.scalar("description"),
    "documentationVersion": patch.scalar("documentationVersion"),
    "deploymentId": patch.scalar("deploymentId", nullable=False),
    "variables": patch.string_map("variables"),
    "tracingEnabled": patch.scalar("tracingEnabled", convert=_bool, nullable=False),
    "cacheClusterEnabled": patch.scalar("cacheClusterEnabled", convert=_bool, nullable=False),
    "cacheClusterSize": patch.scalar("cacheClusterSize"),
    "clientCertificateId": patch.scalar("clientCertificateId"),
    "webAclArn": patch.scalar("webAclArn"),
}
