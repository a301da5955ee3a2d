"""Gateway responses: the answers apigate itself gives (no route, auth failures, integration errors).

Status, message and ``x-amzn-ErrorType`` per type are AWS's defaults. Customised gateway responses per API
come with the security work; the lookup already goes through one function so they slot in there.
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


def render(error: GatewayError) -> Response:
    default = error.response_type.value
    return Response(
        default.status,
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", default.error_type)],
        orjson.dumps({"message": error.message}),
    )
