"""Payload format 1.0: the event a function receives and the rules for the response it returns.

Field by field as AWS documents it: single-value maps keep the last value, multi-value maps every value,
absent maps are null. REST APIs send it (AWS_PROXY, REQUEST authorizers), and HTTP APIs whose integration or
authorizer asks for ``payloadFormatVersion: "1.0"``; each passes what its own request knows.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from typing import Any

import orjson

from apigate.dataplane.binary import first_accept, is_binary
from apigate.server.message import Response

_ALLOWED_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
_last_request_time: tuple[int, str] = (-1, "")


def request_time(epoch_ms: int) -> str:
    """Common Log Format time, as ``requestContext.requestTime``: 04/Mar/2020:19:15:17 +0000."""
    # Formatted once per second, not per request: gmtime + strftime measured ~3% of a full REST pipeline request.
    global _last_request_time
    second = epoch_ms // 1000
    if _last_request_time[0] != second:
        _last_request_time = (second, time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second)))
    return _last_request_time[1]


def multi(pairs: list[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    """``headers``/``multiValueHeaders`` (or the query string's pair of maps): both null when there are none."""
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multiple: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multiple.setdefault(name, []).append(value)
    return single, multiple


def event_v1(
    *,
    resource: str,
    path: str,
    http_method: str,
    headers: tuple[dict[str, str] | None, dict[str, list[str]] | None],
    query: tuple[dict[str, str] | None, dict[str, list[str]] | None],
    path_parameters: Mapping[str, str] | None,
    stage_variables: Mapping[str, str] | None,
    request_context: dict[str, Any],
    body: tuple[str | None, bool],
    version: str | None = None,
) -> dict[str, Any]:
    """The 1.0 event from what the API kind knows; ``headers`` and ``query`` as :func:`multi` makes them, ``body``
    as (text or base64, isBase64Encoded). HTTP APIs add ``version`` (first, as AWS sends it)."""
    if version is None:  # REST APIs' order
        return {
            "resource": resource,
            "path": path,
            "httpMethod": http_method,
            "headers": headers[0],
            "multiValueHeaders": headers[1],
            "queryStringParameters": query[0],
            "multiValueQueryStringParameters": query[1],
            "pathParameters": path_parameters or None,
            "stageVariables": dict(stage_variables) if stage_variables else None,
            "requestContext": request_context,
            "body": body[0],
            "isBase64Encoded": body[1],
        }
    return {  # HTTP APIs' order
        "version": version,
        "resource": resource,
        "path": path,
        "httpMethod": http_method,
        "headers": headers[0],
        "multiValueHeaders": headers[1],
        "queryStringParameters": query[0],
        "multiValueQueryStringParameters": query[1],
        "requestContext": request_context,
        "pathParameters": path_parameters or None,
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "body": body[0],
        "isBase64Encoded": body[1],
    }


class ProxyFormatError(Exception):
    """The function's result is not a valid 1.0 (or 2.0) response; ``why`` says what is wrong."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _text(value: Any, lenient: bool) -> str:
    """Header values must be strings; booleans pass as AWS writes them (HTTP APIs: numbers too)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if lenient and isinstance(value, int | float):
        return str(value)
    raise ProxyFormatError("header values must be strings")


def parse_v1(
    payload: bytes,
    *,
    lenient: bool = False,
    accept: str | None = None,
    binary_types: tuple[str, ...] | None = None,
    content_type_header: str = "Content-Type",
) -> Response:
    """Raise ProxyFormatError for anything but the documented shape.

    REST APIs (``lenient`` False): unknown fields and non-list ``multiValueHeaders`` values are errors, and an
    ``isBase64Encoded`` body is decoded only when the client accepts a binary media type of the API. HTTP APIs
    (``lenient``, ``binary_types`` None): unknown fields and non-list values are ignored, numbers pass as header
    values, and a base64 body is always decoded.
    """
    try:
        result = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise ProxyFormatError("the function returned invalid JSON") from exc
    if not isinstance(result, dict):
        raise ProxyFormatError("the function's result is not a JSON object")
    if not lenient:
        unknown = set(result) - _ALLOWED_KEYS
        if unknown:
            raise ProxyFormatError(f"unexpected fields {sorted(unknown)}")
    # Every field is optional: a missing statusCode means 200.
    status = result.get("statusCode") or 200
    if isinstance(status, str) and status.isascii() and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ProxyFormatError("statusCode is missing or not an HTTP status")
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise ProxyFormatError("body is not a string")
    headers: dict[str, list[str]] = {}
    single = result.get("headers") or {}
    multiple = result.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multiple, dict):
        raise ProxyFormatError("headers must be objects")
    for name, value in single.items():
        if value is not None:
            headers[name] = [_text(value, lenient)]
    for name, values in multiple.items():  # a key in both: the multi-value list wins
        if not isinstance(values, list):
            if lenient:
                continue
            raise ProxyFormatError("multiValueHeaders values must be lists")
        headers[name] = [_text(v, lenient) for v in values]
    raw = (body or "").encode()
    if (
        result.get("isBase64Encoded")
        and body
        and (binary_types is None or is_binary(first_accept(accept), binary_types))
    ):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProxyFormatError("isBase64Encoded body is not base64") from exc
    pairs = [(name, value) for name, values in headers.items() for value in values]
    if not any(name.lower() == "content-type" for name, _ in pairs):
        pairs.append((content_type_header, "application/json"))
    return Response(status, pairs, raw)
