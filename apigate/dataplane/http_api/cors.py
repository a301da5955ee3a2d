"""Native CORS for HTTP APIs: the gateway answers preflight requests and sets the headers on responses."""

from __future__ import annotations

from apigate.model.http import Cors
from apigate.server.message import Request, Response

_CORS_PREFIX = "access-control-"


def _allowed_origin(cors: Cors, origin: str) -> str | None:
    if "*" in cors.allow_origins:
        return "*"
    lowered = origin.lower()
    for allowed in cors.allow_origins:
        if allowed.lower() == lowered:
            return origin
    return None


def is_preflight(request: Request) -> bool:
    return (
        request.method == "OPTIONS"
        and request.header("origin") is not None
        and request.header("access-control-request-method") is not None
    )


def preflight(cors: Cors, request: Request) -> Response:
    """204 with the allow headers when the origin is allowed; without them otherwise."""
    headers: list[tuple[str, str]] = []
    origin = _allowed_origin(cors, request.header("origin") or "")
    if origin is not None:
        headers.append(("access-control-allow-origin", origin))
        if cors.allow_credentials:
            headers.append(("access-control-allow-credentials", "true"))
        asked_method = request.header("access-control-request-method") or ""
        if cors.allow_methods:
            methods = asked_method if "*" in cors.allow_methods else ",".join(cors.allow_methods)
            headers.append(("access-control-allow-methods", methods))
        asked_headers = request.header("access-control-request-headers")
        if cors.allow_headers:
            allowed = (asked_headers or "*") if "*" in cors.allow_headers else ",".join(cors.allow_headers)
            headers.append(("access-control-allow-headers", allowed))
        if cors.expose_headers:
            headers.append(("access-control-expose-headers", ",".join(cors.expose_headers)))
        if cors.max_age is not None:
            headers.append(("access-control-max-age", str(cors.max_age)))
    return Response(204, headers, b"")


def decorate(cors: Cors, request: Request, response: Response) -> None:
    """The integration's own CORS headers are replaced by the API's."""
    origin_header = request.header("origin")
    response.headers = [(k, v) for k, v in response.headers if not k.lower().startswith(_CORS_PREFIX)]
    if origin_header is None:
        return
    origin = _allowed_origin(cors, origin_header)
    if origin is None:
        return
    response.headers.append(("access-control-allow-origin", origin))
    if origin != "*":
        response.headers.append(("vary", "Origin"))
    if cors.allow_credentials:
        response.headers.append(("access-control-allow-credentials", "true"))
    if cors.expose_headers:
        response.headers.append(("access-control-expose-headers", ",".join(cors.expose_headers)))
