"""Payload format 2.0 (HTTP APIs): how a request's headers, query string and body travel in the event, and the
rules for the response a function returns."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl

import orjson

from apigate.dataplane.lambda_proxy.v1 import ProxyFormatError
from apigate.server.message import Request, Response

# Content types whose bodies travel as text; anything else is base64 with isBase64Encoded, as HTTP APIs do.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "+json", "+xml")


def _is_text(content_type: str | None) -> bool:
    if not content_type:
        return True
    lowered = content_type.lower()
    return any(marker in lowered for marker in _TEXT_TYPES) or "urlencoded" in lowered


def body_v2(request: Request) -> tuple[str | None, bool]:
    raw = request.body
    if not raw:
        return None, False
    if _is_text(request.header("content-type")):
        try:
            return raw.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(raw).decode(), True


def headers_v2(request: Request) -> tuple[dict[str, str], list[str] | None]:
    """Lower-cased names, repeats comma-joined; every Cookie header split into ``cookies``."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        lowered = name.lower()
        if lowered == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        previous = headers.get(lowered)
        headers[lowered] = value if previous is None else f"{previous},{value}"
    # What AWS's front end adds: the client's address appended, the scheme and port it was called on.
    client_ip = request.client[0]
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {client_ip}" if forwarded else client_ip
    host_port = (headers.get("host") or "").rpartition(":")[2]
    headers.setdefault("x-forwarded-proto", request.scheme)
    headers.setdefault(
        "x-forwarded-port",
        host_port if host_port.isdigit() else ("443" if request.scheme == "https" else "80"),
    )
    return headers, cookies or None


def query_v2(query_string: str) -> dict[str, str] | None:
    if not query_string:
        return None
    out: dict[str, str] = {}
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        previous = out.get(name)
        out[name] = value if previous is None else f"{previous},{value}"
    return out or None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise ProxyFormatError("header values must be strings or numbers")


def parse_v2(payload: bytes) -> Response:
    """A result with ``statusCode`` is a response; any other valid JSON is itself the body, with 200."""
    try:
        result = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise ProxyFormatError("invalid JSON or base64") from None
    if not isinstance(result, dict) or "statusCode" not in result:
        text = result if isinstance(result, str) else orjson.dumps(result).decode()
        return Response(200, [("content-type", "application/json")], text.encode())
    status = result.get("statusCode")
    if isinstance(status, str) and status.isascii() and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ProxyFormatError("malformed 2.0 response")
    pairs: list[tuple[str, str]] = []
    headers = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(headers, dict) or not isinstance(multi, dict):
        raise ProxyFormatError("malformed 2.0 response")
    for name, value in headers.items():
        if value is not None:
            pairs.append((name, _text(value)))
    for name, values in multi.items():
        if isinstance(values, list):
            pairs += [(name, _text(v)) for v in values]
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list):
        raise ProxyFormatError("malformed 2.0 response")
    pairs += [("set-cookie", _text(cookie)) for cookie in cookies]
    body = result.get("body")
    if body is None:
        raw = b""
    elif isinstance(body, str):
        raw = body.encode()
        if result.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                raise ProxyFormatError("invalid JSON or base64") from None
    else:
        raw = orjson.dumps(body)
    if not any(name.lower() == "content-type" for name, _ in pairs):
        pairs.append(("content-type", "application/json"))
    return Response(status, pairs, raw)
