"""What HTTP APIs answer themselves (the payload 1.0 / 2.0 rules are in ``dataplane/lambda_proxy``)."""

from __future__ import annotations

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
