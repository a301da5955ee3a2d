"""Gateway responses: the answers apigate itself gives (no route, auth failures, integration errors).

Status, message and ``x-amzn-ErrorType`` per type are AWS's defaults. ``render`` answers with them (one
pre-rendered body per type); an API's own customisations are compiled at deploy time into
:class:`apigate.model.CustomResponse` and applied by ``apigate.dataplane.responses.gateway.respond``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import orjson

from apigate.server.message import Response


@dataclass(frozen=True, slots=True)
class _Default:
    status: int
    message: str | None
    error_type: str


class ResponseType(Enum):
    ACCESS_DENIED = _Default(403, "User is not authorized to access this resource", "AccessDeniedException")
    # Recorded against AWS: an unreachable HTTP backend answers 500 with InternalServerErrorException.
    API_CONFIGURATION_ERROR = _Default(500, "Internal server error", "InternalServerErrorException")
    AUTHORIZER_CONFIGURATION_ERROR = _Default(500, None, "AuthorizerConfigurationException")
    AUTHORIZER_FAILURE = _Default(500, None, "AuthorizerFailureException")
    BAD_REQUEST_PARAMETERS = _Default(400, "Bad request parameters", "BadRequestException")
    BAD_REQUEST_BODY = _Default(400, "Invalid request body", "BadRequestException")
    EXPIRED_TOKEN = _Default(
        403, "The security token included in the request is expired", "ExpiredTokenException"
    )
    # AWS documents 504 for INTEGRATION_FAILURE but answers a failed Lambda or unreachable backend with 502.
    INTEGRATION_FAILURE = _Default(502, "Internal server error", "InternalServerErrorException")
    INTEGRATION_TIMEOUT = _Default(504, "Endpoint request timed out", "InternalServerErrorException")
    INVALID_API_KEY = _Default(403, "Forbidden", "ForbiddenException")
    INVALID_SIGNATURE = _Default(403, "Invalid signature", "InvalidSignatureException")
    MISSING_AUTHENTICATION_TOKEN = _Default(
        403, "Missing Authentication Token", "MissingAuthenticationTokenException"
    )
    QUOTA_EXCEEDED = _Default(429, "Limit Exceeded", "LimitExceededException")
    REQUEST_TOO_LARGE = _Default(413, "Request Too Long", "RequestTooLargeException")
    RESOURCE_NOT_FOUND = _Default(404, "Not Found", "ResourceNotFoundException")
    THROTTLED = _Default(429, "Too Many Requests", "TooManyRequestsException")
    UNAUTHORIZED = _Default(401, "Unauthorized", "UnauthorizedException")
    UNSUPPORTED_MEDIA_TYPE = _Default(415, "Unsupported Media Type", "BadRequestException")
    WAF_FILTERED = _Default(403, "Forbidden", "WafFilteredException")


class GatewayError(Exception):
    """Raised by a step to stop the request with a gateway response."""

    def __init__(self, response_type: ResponseType, message: str | None = None) -> None:
        super().__init__(message or response_type.value.message or response_type.name)
        self.response_type = response_type
        self.message = message if message is not None else response_type.value.message


# What a type answers when nobody customised it: headers and body rendered once, here.
_PRERENDERED = {
    kind: (
        (("Content-Type", "application/json"), ("x-amzn-ErrorType", kind.value.error_type)),
        orjson.dumps({"message": kind.value.message}),
    )
    for kind in ResponseType
}


def render(error: GatewayError) -> Response:
    """AWS's default answer for ``error``, without any API's customisation."""
    default = error.response_type.value
    headers, body = _PRERENDERED[error.response_type]
    if error.message != default.message:  # a message of its own (the missing parameters, say)
        body = orjson.dumps({"message": error.message})
    return Response(default.status, list(headers), body)


# The management API's view: every type GetGatewayResponses lists, and the default template.
DEFAULT_TEMPLATE = '{"message":$context.error.messageString}'
FALLBACK_TYPES = ("DEFAULT_4XX", "DEFAULT_5XX")
GATEWAY_RESPONSE_TYPES: tuple[str, ...] = tuple(sorted([*ResponseType.__members__, *FALLBACK_TYPES]))
# AWS lists INTEGRATION_FAILURE with 504 (as it documents it) though it answers a failed backend with 502.
_LISTED_STATUS = {"INTEGRATION_FAILURE": "504"}


def listed_status(response_type: str) -> str | None:
    """The status code GetGatewayResponse shows for an uncustomised type (none for DEFAULT_4XX/5XX)."""
    if response_type in FALLBACK_TYPES:
        return None
    return _LISTED_STATUS.get(response_type) or str(ResponseType[response_type].value.status)


def status_class(response_type: str) -> str | None:
    """DEFAULT_4XX or DEFAULT_5XX: the fallback that applies to ``response_type`` when it is not customised."""
    if response_type in FALLBACK_TYPES:
        return None
    return "DEFAULT_5XX" if ResponseType[response_type].value.status >= 500 else "DEFAULT_4XX"
