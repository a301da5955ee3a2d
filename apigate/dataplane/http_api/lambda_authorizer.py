"""Lambda REQUEST authorizers on HTTP APIs: payload 1.0 or 2.0, simple or IAM policy responses, caching."""

from __future__ import annotations

import time
from typing import Any

import orjson

from apigate.aws import arns
from apigate.dataplane.authorizers.function_answer import (
    TIMEOUT,
    InvalidAnswer,
    answer_context,
    decode_answer,
    iam_statements,
    policy_allows,
    with_principal,
)
from apigate.dataplane.function_call import FunctionCallFailed, call_function
from apigate.dataplane.http_api.call import HttpCall
from apigate.dataplane.http_api.responses import forbidden, internal_error, unauthorized
from apigate.dataplane.http_api.targets import lambda_function
from apigate.dataplane.lambda_proxy.http import proxy_event_v1, request_context_v2
from apigate.dataplane.lambda_proxy.v2 import headers_v2, query_v2
from apigate.functions.directory import FunctionDirectory
from apigate.model.http import LambdaAuthorizer

_CACHE_MAX = 10_000


class _Decision:
    __slots__ = ("allowed", "context", "expires", "policy")

    def __init__(
        self, allowed: bool, context: dict[str, Any], policy: list[dict[str, Any]] | None, expires: float
    ):
        self.allowed = allowed
        self.context = context
        self.policy = policy  # IAM statements, re-evaluated against each route ARN on a cache hit
        self.expires = expires


def identity_values(call: HttpCall, sources: tuple[str, ...]) -> list[str] | None:
    """Every identity source's value, or None when one is missing or empty (AWS answers 401 then)."""
    values: list[str] = []
    for source in sources:
        value: str | None = None
        if source.startswith("$request.header."):
            found = call.request.header_values(source[len("$request.header.") :])
            value = ",".join(found) if found else None
        elif source.startswith("$request.querystring."):
            value = (query_v2(call.request.query_string) or {}).get(source[len("$request.querystring.") :])
        elif source.startswith("$stageVariables."):
            value = call.api.stage_variables.get(source[len("$stageVariables.") :])
        elif source.startswith("$context."):
            found_value = _context_value(call, source[len("$context.") :])
            value = None if found_value is None else str(found_value)
        if not value:
            return None
        values.append(value)
    return values


def _context_value(call: HttpCall, path: str) -> Any:
    node: Any = request_context_v2(call)
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def route_arn(call: HttpCall) -> str:
    """The ARN the authorizer's policy is evaluated against: the canonical path the router matched."""
    api = call.api
    return arns.method_arn(
        api.region, api.account_id, api.api_id, api.stage, call.request.method, call.segments
    )


class LambdaAuthorizers:
    def __init__(self, functions: FunctionDirectory) -> None:
        self._functions = functions
        self._cache: dict[tuple[str, ...], _Decision] = {}

    def flush(self, api_id: str, stage: str) -> None:
        """ResetAuthorizersCache: the stage's next requests call their authorizers again."""
        for key in [key for key in self._cache if key[:2] == (api_id, stage)]:
            del self._cache[key]

    async def authorize(self, authorizer: LambdaAuthorizer, call: HttpCall) -> dict[str, Any]:
        values = identity_values(call, authorizer.identity_source)
        if values is None and authorizer.identity_source:
            raise unauthorized()
        values = values or []
        arn = route_arn(call)
        key = (call.api.api_id, call.api.stage, authorizer.id, *values)
        decision = self._cache.get(key) if authorizer.ttl_seconds else None
        if decision is None or decision.expires <= time.monotonic():
            decision = await self._invoke(authorizer, call, values, arn)
            if authorizer.ttl_seconds:
                if len(self._cache) >= _CACHE_MAX:
                    self._cache.clear()
                self._cache[key] = decision
        allowed = decision.allowed if decision.policy is None else policy_allows(decision.policy, arn)
        if not allowed:
            raise forbidden()
        return {"lambda": decision.context}

    async def _invoke(
        self, authorizer: LambdaAuthorizer, call: HttpCall, values: list[str], arn: str
    ) -> _Decision:
        name = lambda_function(authorizer.function)
        if name is None:
            raise internal_error()
        if authorizer.payload_format_version == "2.0":
            headers, cookies = headers_v2(call.request)
            event: dict[str, Any] = {
                "version": "2.0",
                "type": "REQUEST",
                "routeArn": arn,
                "identitySource": values,
                "routeKey": call.route.route_key if call.route else "$default",
                "rawPath": call.raw_path,
                "rawQueryString": call.request.query_string,
                "cookies": cookies,
                "headers": headers,
                "queryStringParameters": query_v2(call.request.query_string),
                "requestContext": request_context_v2(call),
                "pathParameters": dict(call.path_parameters),
                "stageVariables": dict(call.api.stage_variables),
            }
        else:
            event = proxy_event_v1(call)
            event["type"] = "REQUEST"
            event["methodArn"] = arn
            event["identitySource"] = ",".join(values)
            event["authorizationToken"] = ",".join(values)
        try:
            result = await call_function(
                self._functions, name, orjson.dumps(event), timeout=TIMEOUT, request_id=call.request_id
            )
        except FunctionCallFailed:
            raise internal_error() from None
        if result.function_error:
            raise internal_error()
        expires = time.monotonic() + authorizer.ttl_seconds
        try:
            answer = decode_answer(result.payload)
            context = answer_context(answer)
            if authorizer.simple_responses:
                allowed = answer.get("isAuthorized")
                if not isinstance(allowed, bool):
                    raise internal_error()
                return _Decision(allowed, context, None, expires)
            statements = iam_statements(answer)
        except InvalidAnswer:
            raise internal_error() from None
        if "principalId" in answer:
            context = with_principal(context, answer)
        return _Decision(False, context, statements, expires)
