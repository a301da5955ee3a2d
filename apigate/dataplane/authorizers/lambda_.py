"""Lambda (CUSTOM) authorizers of REST APIs: TOKEN and REQUEST events, the output AWS expects, the cache."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import orjson

from apigate.aws.policy import Decision, Policy, PolicyError, evaluate, parse_policy
from apigate.dataplane.authorizers.cache import AuthorizerCache
from apigate.dataplane.authorizers.function_answer import TIMEOUT
from apigate.dataplane.authorizers.identity import identity_values, method_arn
from apigate.dataplane.authorizers.result import AuthResult
from apigate.dataplane.integrations.base import IntegrationServices, call_function
from apigate.dataplane.integrations.lambda_proxy import function_name
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.lambda_proxy.rest import proxy_event_v1
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.model import RestAuthorizer

_ACTION = "execute-api:Invoke"


def _configuration_error(inv: Invocation, why: str) -> GatewayError:
    inv.log(f"Execution failed due to configuration error: {why}")
    inv.log("AuthorizerConfigurationException")
    return GatewayError(ResponseType.AUTHORIZER_CONFIGURATION_ERROR)


def _unauthorized(inv: Invocation, why: str) -> GatewayError:
    inv.log(why)
    return GatewayError(ResponseType.UNAUTHORIZED)


def stringified(value: Any) -> str | None:
    """A context value as AWS passes it on (``1`` -> "1", ``true`` -> "true"); None for a type AWS refuses."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


class LambdaAuthorizer:
    """TOKEN and REQUEST authorizers: ask the function once per identity, then re-check its policy per method."""

    __slots__ = ("_cache", "_decisions", "_services")

    def __init__(self, cache: AuthorizerCache, services: IntegrationServices | None) -> None:
        self._cache = cache
        self._services = services
        # (policy, method ARN) -> decision: a cached answer is evaluated against the same few ARNs again and
        # again (~8,000 instructions each). Keyed by the policy's identity; the entry holds the policy, so the
        # id cannot be reused while the entry lives.
        self._decisions: dict[tuple[int, str], tuple[Policy, Decision]] = {}

    def _decision(self, policy: Policy, arn: str) -> Decision:
        key = (id(policy), arn)
        entry = self._decisions.get(key)
        if entry is not None and entry[0] is policy:
            return entry[1]
        decision = evaluate(policy, _ACTION, arn)
        if len(self._decisions) >= 10_000:  # many paths or short-lived policies: start again rather than grow
            self._decisions.clear()
        self._decisions[key] = (policy, decision)
        return decision

    async def authorize(self, inv: Invocation, authorizer: RestAuthorizer) -> AuthResult:
        values = identity_values(inv, authorizer)
        if authorizer.type == "TOKEN":
            if values is None:
                raise _unauthorized(inv, "The incoming identity is missing or empty")
            if authorizer.validation is not None and authorizer.validation.fullmatch(values[0]) is None:
                raise _unauthorized(inv, "The incoming identity does not match the validation expression")
        elif values is None:
            if authorizer.ttl_seconds:  # the identity keys the cache: without it there is nothing to look up
                raise _unauthorized(inv, "An identity source is missing or empty")
            values = []
        arn = method_arn(inv)
        api = inv.api
        stage = (api.api_id, api.stage)
        key = (authorizer.id, api.deployment_id, *values)
        result = self._cache.get(stage, key) if authorizer.ttl_seconds else None
        if result is None:
            result = await self.call(inv, authorizer, values, arn)
            if authorizer.ttl_seconds:  # cached as later hits report it: integrationLatency 0, no call made
                self._cache.put(stage, key, replace(result, latency_ms=0), authorizer.ttl_seconds)
        # The cached policy is evaluated against this request's ARN: a policy written for one method only
        # denies the others until it expires, exactly as on AWS.
        assert result.policy is not None
        decision = self._decision(result.policy, arn)
        # AWS's same-account table: an explicit Deny always wins; the authorizer's silence is enough when the
        # API's resource policy explicitly allowed the call (recorded by the resource policy step before).
        if decision is Decision.DENY or (decision is Decision.NOT_APPLICABLE and not inv.policy_allowed):
            inv.log(f"The authorizer's policy does not allow {_ACTION} on {arn}")
            raise GatewayError(ResponseType.ACCESS_DENIED)
        return result

    def event(
        self, inv: Invocation, authorizer: RestAuthorizer, values: list[str], arn: str
    ) -> dict[str, Any]:
        if authorizer.type == "TOKEN":
            return {"type": "TOKEN", "methodArn": arn, "authorizationToken": values[0]}
        event = proxy_event_v1(inv)
        del event["body"], event["isBase64Encoded"]
        return {"type": "REQUEST", "methodArn": arn, **event}

    async def call(
        self, inv: Invocation, authorizer: RestAuthorizer, values: list[str], arn: str
    ) -> AuthResult:
        """Invoke the function and read its output; no cache, no policy evaluation (TestInvokeAuthorizer)."""
        name = function_name(authorizer.uri)
        if name is None or self._services is None:
            raise _configuration_error(inv, "Invalid Lambda function ARN in the authorizer URI")
        payload = orjson.dumps(self.event(inv, authorizer, values, arn))
        if inv.test_log is not None:
            inv.log(f"Endpoint request body after transformations: {payload.decode()}")
        started = time.perf_counter()
        try:
            result = await call_function(self._services, inv, name, payload, TIMEOUT)
        except GatewayError as error:
            if error.response_type is ResponseType.INTEGRATION_TIMEOUT:
                inv.log("AuthorizerFailureException")
                raise GatewayError(ResponseType.AUTHORIZER_FAILURE) from None
            raise _configuration_error(inv, f"Authorizer function {name} could not be invoked") from None
        latency = int((time.perf_counter() - started) * 1000)
        if inv.test_log is not None:
            inv.log(f"Authorizer result body before parsing: {result.payload.decode(errors='replace')}")
        try:
            output = orjson.loads(result.payload)
        except orjson.JSONDecodeError:
            output = None
        if result.function_error:
            message = output.get("errorMessage") if isinstance(output, dict) else None
            if message == "Unauthorized":  # the one error text AWS turns into a 401
                raise _unauthorized(inv, "Unauthorized request")
            raise _configuration_error(inv, "Authorizer function failed")
        return _read_output(inv, output, latency)


def _read_output(inv: Invocation, output: Any, latency: int) -> AuthResult:
    if not isinstance(output, dict):
        raise _configuration_error(inv, "Could not parse policy")
    principal = stringified(output.get("principalId"))
    if principal is None or isinstance(output.get("principalId"), bool):
        raise _configuration_error(inv, "Invalid principal identifier: a principalId is required")
    document = output.get("policyDocument")
    if not isinstance(document, dict | str):
        raise _configuration_error(inv, "Could not parse policy")
    try:
        policy = parse_policy(document)
    except PolicyError as exc:
        raise _configuration_error(inv, f"Could not parse policy: {exc}") from None
    raw_context = output.get("context")
    if raw_context is None:
        raw_context = {}
    if not isinstance(raw_context, dict):
        raise _configuration_error(inv, "Invalid context: must be a map of strings, numbers and booleans")
    context: dict[str, str] = {}
    for name, value in raw_context.items():
        text = stringified(value)
        if text is None:  # objects, arrays and null are refused, as AWS refuses them
            raise _configuration_error(
                inv, f"Invalid value for context key {name}: {orjson.dumps(value).decode()}"
            )
        context[name] = text
    usage_key = output.get("usageIdentifierKey")
    if usage_key is not None and not isinstance(usage_key, str):
        raise _configuration_error(inv, "Invalid usageIdentifierKey: must be a string")
    inv.log(f"Using valid authorizer policy for principal: {principal}")
    return AuthResult(principal, context, policy, usage_key, latency_ms=latency)
