"""Parameter mapping on HTTP APIs: change the request sent to an HTTP integration, and the response returned."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

from apigate.dataplane.http_api.call import HttpCall
from apigate.dataplane.lambda_proxy.http import request_context_v2
from apigate.dataplane.lambda_proxy.v2 import query_v2
from apigate.dataplane.request_path import encoded_path, path_value
from apigate.model.http import ParameterMap
from apigate.server.message import Response
from apigate.server.upstream import HOP_BY_HOP, HOP_BY_HOP_LENGTHS

_EMBEDDED = re.compile(r"\$\{([^}]+)\}")


def value_of(
    call: HttpCall, source: str, response: Response | None = None, *, in_path: bool = False
) -> str | None:
    """A mapping's source: one ``$...`` reference, or text with ``${...}`` references in it.

    ``in_path``: the value becomes (part of) the integration's request path. Each referenced value is then
    percent-encoded with its dot segments resolved inside it (request_path.path_value), so a header or a path
    parameter cannot make the path climb; ``$request.path`` is the canonical path, encoded. Literal text (the
    API owner's) is kept as written."""
    if "${" in source:
        return _EMBEDDED.sub(
            lambda m: value_of(call, "$" + m.group(1), response, in_path=in_path) or "", source
        )
    if not source.startswith("$"):
        return source
    if in_path:
        if source == "$request.path":
            return encoded_path(call.segments)
        plain = value_of(call, source, response)
        return None if plain is None else path_value(plain)
    request = call.request
    if source.startswith("$request.header."):
        found = request.header_values(source[len("$request.header.") :])
        return ",".join(found) if found else None
    if source.startswith("$request.querystring."):
        return (query_v2(request.query_string) or {}).get(source[len("$request.querystring.") :])
    if source == "$request.path":
        return call.path
    if source.startswith("$request.path."):
        return call.path_parameters.get(source[len("$request.path.") :])
    if source.startswith("$stageVariables."):
        return call.api.stage_variables.get(source[len("$stageVariables.") :])
    if source.startswith("$context."):
        node: object = request_context_v2(call)
        for part in source[len("$context.") :].split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return None if node is None else str(node)
    if source.startswith("$response.header.") and response is not None:
        wanted = source[len("$response.header.") :].lower()
        values = [v for k, v in response.headers if k.lower() == wanted]
        return ",".join(values) if values else None
    return None


def _apply_headers(
    headers: list[tuple[str, str]], mapping: ParameterMap, value: str | None
) -> list[tuple[str, str]]:
    lowered = mapping.name.lower()
    if mapping.action == "remove":
        return [(k, v) for k, v in headers if k.lower() != lowered]
    if value is None:
        return headers
    if mapping.action == "overwrite":
        return [*((k, v) for k, v in headers if k.lower() != lowered), (mapping.name, value)]
    existing = [v for k, v in headers if k.lower() == lowered]
    if existing:  # append: one header, the values comma-joined
        joined = ",".join([*existing, value])
        return [*((k, v) for k, v in headers if k.lower() != lowered), (mapping.name, joined)]
    return [*headers, (mapping.name, value)]


def map_request(
    call: HttpCall, maps: tuple[ParameterMap, ...], url: str, headers: list[tuple[str, str]]
) -> tuple[str, list[tuple[str, str]]]:
    """The URL (path and query) and headers sent to the integration after the request mappings."""
    parts = urlsplit(url)
    path = parts.path
    query = parse_qsl(parts.query, keep_blank_values=True)
    for mapping in maps:
        value = value_of(call, mapping.source, in_path=mapping.location == "path")
        if mapping.location == "header":
            if len(mapping.name) in HOP_BY_HOP_LENGTHS and mapping.name.lower() in HOP_BY_HOP:
                continue  # reserved, as on AWS: the pool computes these (an added Connection would strip others)
            headers = _apply_headers(headers, mapping, value)
        elif mapping.location == "querystring":
            if mapping.action in ("remove", "overwrite"):
                query = [(k, v) for k, v in query if k != mapping.name]
            if mapping.action != "remove" and value is not None:
                query.append((mapping.name, value))
        elif mapping.location == "path" and mapping.action == "overwrite" and value is not None:
            path = value if value.startswith("/") else "/" + value
    rebuilt = f"{parts.scheme}://{parts.netloc}{path}"
    if query:
        rebuilt += "?" + urlencode(query)
    return rebuilt, headers


def map_response(call: HttpCall, maps: tuple[ParameterMap, ...], response: Response) -> None:
    original = Response(response.status, list(response.headers), response.body)
    for mapping in maps:
        value = value_of(call, mapping.source, original)
        if mapping.location == "header":
            response.headers = _apply_headers(response.headers, mapping, value)
        elif mapping.location == "statuscode" and value is not None and value.isascii() and value.isdigit():
            response.status = int(value)
