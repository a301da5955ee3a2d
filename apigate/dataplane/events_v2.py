"""The Lambda proxy events HTTP APIs send: payload format 2.0, and 1.0 with ``version: "1.0"``."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from apigate.aws.ids import request_id
from apigate.dataplane.events import request_time
from apigate.dataplane.request_path import canonical_segments
from apigate.model.http import DeployedHttpApi, HttpRoute
from apigate.server.message import Request

# Content types whose bodies travel as text; anything else is base64 with isBase64Encoded, as HTTP APIs do.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "+json", "+xml")


@dataclass(slots=True)
class HttpCall:
    """One request to an HTTP API: what the route, authorizer and integration steps share."""

    request: Request
    api: DeployedHttpApi
    path: str  # below the stage, still percent-encoded
    raw_path: str  # rawPath: with the stage segment for a named stage
    domain_name: str
    start_epoch_ms: int
    route: HttpRoute | None = None
    path_parameters: dict[str, str] = field(default_factory=dict)
    authorizer: dict[str, Any] | None = None  # requestContext.authorizer
    request_id: str = field(default_factory=request_id)
    # The path as routing sees it (decoded, empty and dot segments resolved): the router and the route ARN
    # derive from these, never from ``path`` (see request_path.py).
    segments: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.segments = canonical_segments(self.path)


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


def route_key(call: HttpCall) -> str:
    return call.route.route_key if call.route is not None else "$default"


def request_context_v2(call: HttpCall) -> dict[str, Any]:
    request = call.request
    context: dict[str, Any] = {
        "accountId": call.api.account_id,
        "apiId": call.api.api_id,
        "domainName": call.domain_name,
        "domainPrefix": call.domain_name.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": call.raw_path,
            "protocol": f"HTTP/{request.http_version}",
            "sourceIp": request.client[0],
            "userAgent": request.header("user-agent") or "",
        },
        "requestId": call.request_id,
        "routeKey": route_key(call),
        "stage": call.api.stage,
        "time": request_time(call.start_epoch_ms),
        "timeEpoch": call.start_epoch_ms,
    }
    if call.authorizer is not None:
        context["authorizer"] = call.authorizer
    return context


def proxy_event_v2(call: HttpCall) -> dict[str, Any]:
    request = call.request
    headers, cookies = headers_v2(request)
    body, is_base64 = body_v2(request)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key(call),
        "rawPath": call.raw_path,
        "rawQueryString": request.query_string,
    }
    if cookies is not None:
        event["cookies"] = cookies
    event["headers"] = headers
    query = query_v2(request.query_string)
    if query is not None:
        event["queryStringParameters"] = query
    if call.path_parameters:
        event["pathParameters"] = dict(call.path_parameters)
    if call.api.stage_variables:
        event["stageVariables"] = dict(call.api.stage_variables)
    event["requestContext"] = request_context_v2(call)
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = is_base64
    return event


def proxy_event_v1(call: HttpCall) -> dict[str, Any]:
    """Payload 1.0 on an HTTP API: the REST shape, plus ``version``; the resource is the route's path."""
    request = call.request
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    pairs = parse_qsl(request.query_string, keep_blank_values=True)
    query = {name: value for name, value in pairs} or None
    multi_query: dict[str, list[str]] = {}
    for name, value in pairs:
        multi_query.setdefault(name, []).append(value)
    body, is_base64 = body_v2(request)
    key = route_key(call)
    resource = key.split(" ", 1)[1] if " " in key else key
    authorizer = call.authorizer
    context = {
        "accountId": call.api.account_id,
        "apiId": call.api.api_id,
        "domainName": call.domain_name,
        "domainPrefix": call.domain_name.split(".", 1)[0],
        "extendedRequestId": call.request_id,
        "httpMethod": request.method,
        "identity": {
            "accessKey": None,
            "accountId": None,
            "caller": None,
            "cognitoAuthenticationProvider": None,
            "cognitoAuthenticationType": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "principalOrgId": None,
            "sourceIp": request.client[0],
            "user": None,
            "userAgent": request.header("user-agent"),
            "userArn": None,
        },
        "path": call.raw_path,
        "protocol": f"HTTP/{request.http_version}",
        "requestId": call.request_id,
        "requestTime": request_time(call.start_epoch_ms),
        "requestTimeEpoch": call.start_epoch_ms,
        "resourceId": key,
        "resourcePath": resource,
        "stage": call.api.stage,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    return {
        "version": "1.0",
        "resource": resource,
        "path": call.raw_path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query or None,
        "requestContext": context,
        "pathParameters": dict(call.path_parameters) or None,
        "stageVariables": dict(call.api.stage_variables) or None,
        "body": body,
        "isBase64Encoded": is_base64,
    }
