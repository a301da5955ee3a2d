"""The order of the data plane, as plain data: routing, request steps in turn, the integration, then response
steps always.

A step is ``async def step(inv) -> None``: it enriches the invocation, sets ``inv.response`` to answer early,
or raises GatewayError. AWS's order: route, authorizer, API key, throttles and quota, request validation, cache lookup, the
integration; then the cache store, the request id headers and the metrics, always. Routing comes first and the
integration last in every request, so ``run`` calls them itself rather than through the step tuple: every
coroutine level is walked twice per request that waits (measured: ~1 µs of a ~43 µs HTTP_PROXY request).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from apigate.aws.identity import Identities
from apigate.dataplane.authorizers.cache import AuthorizerCache
from apigate.dataplane.authorizers.iam import IamAuthStep
from apigate.dataplane.authorizers.resource_policy import ResourcePolicyStep
from apigate.dataplane.authorizers.step import AuthorizerStep
from apigate.dataplane.edge import cloudfront_headers
from apigate.dataplane.integrations import Integration, IntegrationServices
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.request_path import canonical_segments
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.dataplane.responses.gateway import respond
from apigate.dataplane.routing import route_rest
from apigate.dataplane.steps import (
    ApiKeyStep,
    CacheLookupStep,
    CacheStoreStep,
    Metrics,
    MetricsStep,
    ThrottleStep,
)
from apigate.dataplane.steps.validation import ValidationStep
from apigate.model import RestMethod
from apigate.observe.execution_log import start_execution_log
from apigate.observe.tracing import Tracing
from apigate.registry import Registry
from apigate.server.message import Response
from apigate.state import MemoryQuotaCounter, MemoryRateLimiter, QuotaCounter, RateLimiter
from apigate.state.cache import MemoryResponseCache, ResponseCache

Step = Callable[[Invocation], Awaitable[None]]
log = logging.getLogger("apigate.dataplane")


def _applies(step: Step, method: RestMethod) -> bool:
    check = getattr(step, "applies", None)
    return True if check is None else bool(check(method))


# Decoded path segments below the stage, empty and dot segments resolved (TestInvokeMethod routes with it too).
split_path = canonical_segments


@dataclass(slots=True)
class SharedState:
    """What the steps share across requests: in memory by default, in Redis with `apigate serve --redis`."""

    registry: Registry = field(default_factory=Registry)
    limiter: RateLimiter = field(default_factory=MemoryRateLimiter)
    quotas: QuotaCounter = field(default_factory=MemoryQuotaCounter)
    cache: ResponseCache = field(default_factory=MemoryResponseCache)
    metrics: Metrics = field(default_factory=Metrics)
    authorizers: AuthorizerCache = field(default_factory=AuthorizerCache)  # in this process, even with Redis
    identities: Identities | None = None  # IAM users, STS sessions and the admin key (AWS_IAM methods)


class Pipeline:
    def __init__(
        self,
        integrations: dict[str, Integration],
        state: SharedState | None = None,
        *,
        services: IntegrationServices | None = None,  # Lambda authorizers' functions, Cognito's key fetches
        user_pools: Mapping[str, str] | None = None,  # Cognito pool id -> issuer URL (`serve --user-pool`)
    ) -> None:
        self._integrations = integrations
        self.state = state = state or SharedState()
        # Between routing and the integration:
        self.request_steps: tuple[Step, ...] = (
            ResourcePolicyStep(),  # no authorization: an Allow needed; a Lambda authorizer's: Deny checked first
            IamAuthStep(state),
            AuthorizerStep(state.authorizers, services, user_pools),
            ResourcePolicyStep(after_authorizer=True),  # Cognito: the token first, then an Allow needed
            ApiKeyStep(state.registry),
            ThrottleStep(state.limiter, state.quotas),
            ValidationStep(),
            CacheLookupStep(state.cache, state),
        )
        self.response_steps: tuple[Step, ...] = (
            CacheStoreStep(state.cache),
            self.request_id_headers,
            MetricsStep(state.metrics),
        )
        # Without a method (no route matched) only the steps that need none run.
        self._unrouted_response_steps: tuple[Step, ...] = (self.request_id_headers, self.response_steps[2])
        self._plans: dict[int, tuple[RestMethod, tuple[Step, ...], tuple[Step, ...]]] = {}
        self.tracing: Tracing | None = None  # `serve --otlp-endpoint`: spans for stages with tracingEnabled

    def _plan(self, method: RestMethod) -> tuple[tuple[Step, ...], tuple[Step, ...]]:
        """The steps that apply to ``method``, worked out once per compiled method, not per request.

        A step with an ``applies(method)`` check is left out where it would do nothing (no API key required,
        no validation, no caching); the others always run. Keyed by identity: a redeploy compiles new methods.
        """
        entry = self._plans.get(id(method))
        if entry is not None and entry[0] is method:
            return entry[1], entry[2]
        if len(self._plans) > 10_000:  # old deployments' methods: forget them rather than grow
            self._plans.clear()
        request = tuple(s for s in self.request_steps if _applies(s, method))
        response = tuple(s for s in self.response_steps if _applies(s, method))
        self._plans[id(method)] = (method, request, response)
        return request, response

    async def run(self, inv: Invocation) -> Response:
        response_steps = self._unrouted_response_steps
        try:
            method = self.route(inv)  # always first: the method decides which other steps apply
            if method.log_level is not None and inv.test_log is None:
                start_execution_log(inv, method)
            if inv.api.tracing and self.tracing is not None and inv.test_log is None:
                self.tracing.start(inv)
            request_steps, response_steps = self._plan(method)
            if inv.span is not None and self.tracing is not None:  # traced: a child span per step
                request_steps = self.tracing.steps(request_steps)
            for step in request_steps:
                await step(inv)
                if inv.response is not None:
                    break
            else:  # no step answered (a cache hit does): the integration
                integration = method.integration
                if integration is None:
                    raise GatewayError(ResponseType.API_CONFIGURATION_ERROR)
                handler = self._integrations.get(integration.type)
                if handler is None:
                    inv.log(f"Execution failed: integration type {integration.type} is not supported yet")
                    raise GatewayError(ResponseType.API_CONFIGURATION_ERROR)
                traced = inv.span
                if traced is not None:  # the integration's span: the function call's goes under it
                    request_span = traced.enter(
                        f"integration {integration.type}",
                        {"aws.api_gateway.integration.type": integration.type},
                    )
                started = time.perf_counter()
                try:
                    inv.response = await handler.invoke(inv, integration)
                finally:
                    inv.integration_ms = (time.perf_counter() - started) * 1000.0
                    if traced is not None:
                        traced.leave(request_span)
        except GatewayError as error:
            inv.log(f"Gateway response type: {error.response_type.name}")
            inv.error_type = error.response_type.name
            inv.response = respond(inv, error)  # through the API's gateway responses
        except Exception:  # a bug of ours must not become a dropped connection
            log.exception("data plane step failed")
            inv.response = respond(inv, GatewayError(ResponseType.API_CONFIGURATION_ERROR))
        for step in response_steps:
            await step(inv)
        assert inv.response is not None
        return inv.response

    @staticmethod
    def route(inv: Invocation) -> RestMethod:
        if inv.method is not None:  # TestInvokeMethod names the method itself
            return inv.method
        match = route_rest(inv.api, inv.request.method, inv.segments)
        if match is None:
            raise GatewayError(ResponseType.MISSING_AUTHENTICATION_TOKEN)
        inv.method = match.method
        inv.path_parameters = match.path_parameters
        return match.method

    async def request_id_headers(self, inv: Invocation) -> None:
        assert inv.response is not None
        headers = inv.response.headers
        if inv.test_log is not None:  # TestInvokeMethod: AWS's test call is neither traced nor behind CloudFront
            headers += (("x-amzn-RequestId", inv.request_id), ("x-amz-apigw-id", inv.extended_request_id))
            return
        headers += (
            ("x-amzn-RequestId", inv.request_id),
            ("x-amz-apigw-id", inv.extended_request_id),
            ("X-Amzn-Trace-Id", inv.trace_id),
        )
        if inv.api.endpoint_type == "EDGE":  # CloudFront's headers (dataplane/edge.py)
            headers += cloudfront_headers()
