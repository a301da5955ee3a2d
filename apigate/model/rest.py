"""Compiled REST API: a routing tree of resources, each method with its integration, frozen per deployment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class IntegrationResponse:
    status_code: str
    selection_pattern: re.Pattern[str] | None  # None: the default response
    response_parameters: Mapping[str, str]
    response_templates: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class MethodIntegration:
    type: str  # MOCK | HTTP | HTTP_PROXY | AWS | AWS_PROXY
    http_method: str | None
    uri: str | None
    request_parameters: Mapping[str, str]
    request_templates: Mapping[str, str]
    passthrough_behavior: str
    timeout_seconds: float
    responses: tuple[IntegrationResponse, ...]
    content_handling: str | None = None
    uri_is_template: bool = True  # holds {placeholders} or stage variables: substituted per request

    def default_response(self) -> IntegrationResponse | None:
        for response in self.responses:
            if response.selection_pattern is None:
                return response
        return None


@dataclass(frozen=True, slots=True)
class RestMethod:
    http_method: str
    resource_id: str
    resource_path: str
    authorization_type: str
    api_key_required: bool
    integration: MethodIntegration | None
    document: Mapping[str, Any]  # the AWS Method document, for what later steps need rarely


@dataclass(slots=True)
class RouteNode:
    """One resource in the tree. Built at deploy time, never mutated after the snapshot is published."""

    resource_id: str
    path: str
    methods: dict[str, RestMethod] = field(default_factory=dict)
    literal: dict[str, RouteNode] = field(default_factory=dict)
    variable: tuple[str, RouteNode] | None = None  # {name}
    greedy: tuple[str, RouteNode] | None = None  # {name+}


@dataclass(frozen=True, slots=True)
class RouteMatch:
    method: RestMethod
    path_parameters: dict[str, str]


@dataclass(frozen=True, slots=True)
class DeployedApi:
    api_id: str
    api_name: str
    stage: str
    deployment_id: str
    stage_variables: Mapping[str, str]
    root: RouteNode
    binary_media_types: tuple[str, ...]
    api_key_source: str
    region: str
    account_id: str

    def route(self, http_method: str, segments: list[str]) -> RouteMatch | None:
        """Find the method for a path: literal segments beat ``{param}``, ``{proxy+}`` takes the rest."""
        params: dict[str, str] = {}
        method = _walk(self.root, http_method, segments, 0, params)
        return None if method is None else RouteMatch(method, params)


def _method(node: RouteNode, http_method: str) -> RestMethod | None:
    return node.methods.get(http_method) or node.methods.get("ANY")


def _walk(
    node: RouteNode, http_method: str, segments: list[str], index: int, params: dict[str, str]
) -> RestMethod | None:
    """Depth-first, most specific branch first; a branch without the verb falls back to the next one."""
    if index == len(segments):
        return _method(node, http_method)
    segment = segments[index]
    child = node.literal.get(segment)
    if child is not None:
        found = _walk(child, http_method, segments, index + 1, params)
        if found is not None:
            return found
    if node.variable is not None and segment:
        name, child = node.variable
        params[name] = segment
        found = _walk(child, http_method, segments, index + 1, params)
        if found is not None:
            return found
        del params[name]
    if node.greedy is not None:
        name, child = node.greedy
        found = _method(child, http_method)
        if found is not None:
            params[name] = "/".join(segments[index:])
            return found
    return None
