"""Routing: which compiled method (REST API) or route (HTTP API) answers a request's canonical path.

Both take ``segments`` in the canonical form (decoded once, empty and dot segments resolved: request_path.py), so
the path parameters, and everything keyed by the matched method, are the same for every spelling of a path.
WebSocket APIs route messages, not paths: ``DeployedWebSocketApi.route_for`` (route selection expression).
"""

from __future__ import annotations

from typing import NamedTuple

from apigate.model import DeployedApi, RestMethod, RouteNode
from apigate.model.http import DeployedHttpApi, HttpRoute


class RouteMatch(NamedTuple):  # a tuple: cheaper to build per request than a frozen dataclass
    method: RestMethod
    path_parameters: dict[str, str]


def route_rest(api: DeployedApi, http_method: str, segments: list[str]) -> RouteMatch | None:
    """Find a REST API's method for a path: literal segments beat ``{param}``, ``{proxy+}`` takes the rest."""
    # A path of literal resources is the walk's first candidate: when that resource has the verb (or ANY) the
    # walk would answer with it, so one lookup answers instead (most requests of most APIs).
    node = api.literal_routes.get(tuple(segments))
    if node is not None:
        found = node.methods.get(http_method) or node.methods.get("ANY")
        if found is not None:
            return RouteMatch(found, {})
    params: dict[str, str] = {}
    method = _walk(api.root, http_method, segments, 0, params)
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


def route_http(api: DeployedHttpApi, verb: str, parts: list[str]) -> tuple[HttpRoute, dict[str, str]] | None:
    """An HTTP API's route: the first match in specificity order (deployment sorted them), else ``$default``."""
    for route in api.routes:
        if route.method != "ANY" and route.method != verb:
            continue
        params = _match(route.segments, parts)
        if params is not None:
            return route, params
    if api.default_route is not None:
        return api.default_route, {}
    return None


def _match(segments: tuple[str, ...], parts: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for index, segment in enumerate(segments):
        if segment.endswith("+}"):
            rest = parts[index:]
            if not rest:
                return None
            params[segment[1:-2]] = "/".join(rest)
            return params
        if index >= len(parts):
            return None
        part = parts[index]
        if segment.startswith("{"):
            params[segment[1:-1]] = part
        elif segment != part:
            return None
    if len(parts) != len(segments):
        return None
    return params
