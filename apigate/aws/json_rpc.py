"""The JSON 1.1 wire protocol (``X-Amz-Target: Prefix.Operation``, a JSON body both ways), for the few
services apigate answers that speak it (ACM). Errors as botocore reads them: ``__type`` and ``message``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from apigate.aws.errors import AwsError
from apigate.server.message import Request, Response

__all__ = ["JsonApi", "JsonHandler"]

# A handler answers with the output document, or (a streaming operation) with the Response itself.
JsonHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | Response | None]]
_HEADERS = [("Content-Type", "application/x-amz-json-1.1")]


def error_response(error: AwsError) -> Response:
    body = orjson.dumps({"__type": error.code, "message": error.message})
    return Response(error.status, [*_HEADERS, ("x-amzn-ErrorType", error.code)], body)


class JsonApi:
    def __init__(self, target_prefix: str, handlers: Mapping[str, JsonHandler], lock: asyncio.Lock) -> None:
        self._prefix = target_prefix + "."
        self._handlers = dict(handlers)
        self._lock = lock

    def handles(self, request: Request) -> bool:
        return (request.header("x-amz-target") or "").startswith(self._prefix)

    async def dispatch(self, request: Request) -> Response:
        operation = (request.header("x-amz-target") or "")[len(self._prefix) :]
        handler = self._handlers.get(operation)
        if handler is None:
            return error_response(
                AwsError("NotImplementedException", f"{operation} is not supported by apigate yet", 501)
            )
        try:
            params = orjson.loads(request.body or b"{}")
            if not isinstance(params, dict):
                raise AwsError("SerializationException", "The request body must be a JSON object")
            async with self._lock:
                result = await handler(params)
        except orjson.JSONDecodeError:
            return error_response(AwsError("SerializationException", "The request body is not valid JSON"))
        except AwsError as exc:
            return error_response(exc)
        if isinstance(result, Response):
            return result
        return Response(200, list(_HEADERS), orjson.dumps(result or {}))
