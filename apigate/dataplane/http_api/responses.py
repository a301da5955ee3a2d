"""What HTTP APIs answer themselves, and the payload 2.0 / 1.0 rules for a function's result."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from apigate.server.message import Response

_JSON = ("Content-Type", "application/json")


class HttpApiError(Exception):
    """Stops an HTTP API request with one of its fixed answers."""

    def __init__(self, status: int, message: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []

    def response(self) -> Response:
        body = orjson.dumps({"message": self.message})
        return Response(self.status, [_JSON, *self.headers], body)


def not_found() -> HttpApiError:
    return HttpApiError(404, "Not Found")


def unauthorized() -> HttpApiError:
    return HttpApiError(401, "Unauthorized")


def forbidden() -> HttpApiError:
    return HttpApiError(403, "Forbidden")


def internal_error() -> HttpApiError:
    return HttpApiError(500, "Internal Server Error")


def unavailable() -> HttpApiError:
    return HttpApiError(503, "Service Unavailable")


def too_many_requests() -> HttpApiError:
    return HttpApiError(429, "Too Many Requests")


def _header_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise internal_error()


def parse_v2(payload: bytes) -> Response:
    """A result with ``statusCode`` is a response; any other valid JSON is itself the body, with 200."""
    try:
        result = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise internal_error() from None
    if not isinstance(result, dict) or "statusCode" not in result:
        text = result if isinstance(result, str) else orjson.dumps(result).decode()
        return Response(200, [("content-type", "application/json")], text.encode())
    status = result.get("statusCode")
    if isinstance(status, str) and status.isascii() and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise internal_error()
    pairs: list[tuple[str, str]] = []
    headers = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(headers, dict) or not isinstance(multi, dict):
        raise internal_error()
    for name, value in headers.items():
        if value is not None:
            pairs.append((name, _header_text(value)))
    for name, values in multi.items():
        if isinstance(values, list):
            pairs += [(name, _header_text(v)) for v in values]
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list):
        raise internal_error()
    pairs += [("set-cookie", _header_text(cookie)) for cookie in cookies]
    body = result.get("body")
    if body is None:
        raw = b""
    elif isinstance(body, str):
        raw = body.encode()
        if result.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                raise internal_error() from None
    else:
        raw = orjson.dumps(body)
    if not any(name.lower() == "content-type" for name, _ in pairs):
        pairs.append(("content-type", "application/json"))
    return Response(status, pairs, raw)


def parse_v1(payload: bytes) -> Response:
    """Payload 1.0 on an HTTP API: the REST rules, but a malformed result is a 500."""
    try:
        result = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise internal_error() from None
    if not isinstance(result, dict):
        raise internal_error()
    status = result.get("statusCode") or 200
    if isinstance(status, str) and status.isascii() and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise internal_error()
    merged: dict[str, list[str]] = {}
    headers = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(headers, dict) or not isinstance(multi, dict):
        raise internal_error()
    for name, value in headers.items():
        if value is not None:
            merged[name] = [_header_text(value)]
    for name, values in multi.items():
        if isinstance(values, list):
            merged[name] = [_header_text(v) for v in values]
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        raise internal_error()
    raw = (body or "").encode()
    if result.get("isBase64Encoded") and body:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise internal_error() from None
    pairs = [(name, value) for name, values in merged.items() for value in values]
    if not any(name.lower() == "content-type" for name, _ in pairs):
        pairs.append(("content-type", "application/json"))
    return Response(status, pairs, raw)
