"""Compiling a deployment: AWS documents in, a frozen routing tree out, done once per stage change."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from apigate.model import DeployedApi, IntegrationResponse, MethodIntegration, RestMethod, RouteNode

Snapshot = Mapping[str, Any]  # {"restApi": RestApi document, "resources": [Resource documents]}


def snapshot_of(rest_api: Mapping[str, Any], resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"restApi": dict(rest_api), "resources": resources}


def compile_stage(
    snapshot: Snapshot, stage: Mapping[str, Any], *, region: str, account_id: str
) -> DeployedApi:
    api = snapshot["restApi"]
    resources = {doc["id"]: doc for doc in snapshot["resources"]}
    nodes = {rid: RouteNode(rid, doc["path"]) for rid, doc in resources.items()}
    root: RouteNode | None = None
    for rid, doc in resources.items():
        node = nodes[rid]
        for verb, method_doc in (doc.get("resourceMethods") or {}).items():
            node.methods[verb] = compile_method(method_doc, rid, doc["path"])
        parent_id = doc.get("parentId")
        if parent_id is None:
            root = node
            continue
        parent = nodes[parent_id]
        part: str = doc["pathPart"]
        if part.startswith("{") and part.endswith("+}"):
            parent.greedy = (part[1:-2], node)
        elif part.startswith("{") and part.endswith("}"):
            parent.variable = (part[1:-1], node)
        else:
            parent.literal[part] = node
    if root is None:
        raise ValueError("deployment snapshot has no root resource")
    return DeployedApi(
        api_id=api["id"],
        api_name=api.get("name", ""),
        stage=stage["stageName"],
        deployment_id=stage["deploymentId"],
        stage_variables=dict(stage.get("variables") or {}),
        root=root,
        binary_media_types=tuple(api.get("binaryMediaTypes") or ()),
        api_key_source=api.get("apiKeySource", "HEADER"),
        region=region,
        account_id=account_id,
    )


def compile_method(doc: Mapping[str, Any], resource_id: str, resource_path: str) -> RestMethod:
    integration = doc.get("methodIntegration")
    return RestMethod(
        http_method=doc["httpMethod"],
        resource_id=resource_id,
        resource_path=resource_path,
        authorization_type=doc.get("authorizationType", "NONE"),
        api_key_required=bool(doc.get("apiKeyRequired", False)),
        integration=None if integration is None else compile_integration(integration),
        document=doc,
    )


def compile_integration(doc: Mapping[str, Any]) -> MethodIntegration:
    responses = tuple(
        IntegrationResponse(
            status_code=code,
            selection_pattern=_selection(response.get("selectionPattern")),
            response_parameters=dict(response.get("responseParameters") or {}),
            response_templates=dict(response.get("responseTemplates") or {}),
        )
        for code, response in (doc.get("integrationResponses") or {}).items()
    )
    return MethodIntegration(
        type=doc["type"],
        http_method=doc.get("httpMethod"),
        uri=doc.get("uri"),
        request_parameters=dict(doc.get("requestParameters") or {}),
        request_templates=dict(doc.get("requestTemplates") or {}),
        passthrough_behavior=doc.get("passthroughBehavior", "WHEN_NO_MATCH"),
        timeout_seconds=int(doc.get("timeoutInMillis", 29000)) / 1000.0,
        responses=responses,
        content_handling=doc.get("contentHandling"),
        uri_is_template=any(mark in (doc.get("uri") or "") for mark in ("{", "$")),
    )


def _selection(pattern: str | None) -> re.Pattern[str] | None:
    # AWS treats an empty pattern like a missing one: the default response. Patterns match the whole value.
    if not pattern:
        return None
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error:
        return re.compile(re.escape(pattern))
