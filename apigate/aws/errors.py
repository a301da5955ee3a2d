"""Errors of the management API, rendered the way AWS's rest-json services render them."""

from __future__ import annotations


class AwsError(Exception):
    """An error a management call answers with: AWS's error code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def not_found(message: str = "Invalid Resource identifier specified") -> AwsError:
    return AwsError("NotFoundException", message, 404)


def bad_request(message: str) -> AwsError:
    return AwsError("BadRequestException", message, 400)


def conflict(message: str) -> AwsError:
    return AwsError("ConflictException", message, 409)


# Lambda's own vocabulary.
def function_not_found(arn: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"Function not found: {arn}", 404)


def invalid_parameter(message: str) -> AwsError:
    return AwsError("InvalidParameterValueException", message, 400)


def resource_conflict(message: str) -> AwsError:
    return AwsError("ResourceConflictException", message, 409)
