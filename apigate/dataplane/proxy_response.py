"""Turning a function's result into the HTTP response, by the Lambda proxy (payload 1.0) rules."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from apigate.dataplane.binary import first_accept, is_binary
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.server.message import Response

_ALLOWED_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})


class MalformedProxyResponse(GatewayError):
    def __init__(self, why: str) -> None:
        super().__init__(ResponseType.INTEGRATION_FAILURE)
        self.why = why


def _text(value: Any) -> str:
    """Header values must be strings; booleans pass as AWS writes them, anything else is malformed."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str):
        raise MalformedProxyResponse("header values must be strings")
    return value


def parse_v1(payload: bytes, *, accept: str | None, binary_types: tuple[str, ...]) -> Response:
    """Raise MalformedProxyResponse (AWS's 502) for anything but the documented shape."""
    try:
        result = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise MalformedProxyResponse("the function returned invalid JSON") from exc
    if not isinstance(result, dict):
        raise MalformedProxyResponse("the function's result is not a JSON object")
    unknown = set(result) - _ALLOWED_KEYS
    if unknown:
        raise MalformedProxyResponse(f"unexpected fields {sorted(unknown)}")
    # Every field is optional: a missing statusCode means 200.
    status = result.get("statusCode") or 200
    if isinstance(status, str) and status.isascii() and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedProxyResponse("statusCode is missing or not an HTTP status")
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise MalformedProxyResponse("body is not a string")
    headers: dict[str, list[str]] = {}
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedProxyResponse("headers must be objects")
    for name, value in single.items():
        if value is not None:
            headers[name] = [_text(value)]
    for name, values in multi.items():  # a key in both: the multi-value list wins
        if not isinstance(values, list):
            raise MalformedProxyResponse("multiValueHeaders values must be lists")
        headers[name] = [_text(v) for v in values]
    raw = (body or "").encode()
    if result.get("isBase64Encoded") and body and is_binary(first_accept(accept), binary_types):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedProxyResponse("isBase64Encoded body is not base64") from exc
    pairs = [(name, value) for name, values in headers.items() for value in values]
    if not any(name.lower() == "content-type" for name, _ in pairs):
        pairs.append(("Content-Type", "application/json"))
    return Response(status, pairs, raw)
