"""Throttling and quotas, in AWS's order: the key's usage plan (per method, then per key), the stage's method
settings, the account. Every bucket is charged in one all-or-nothing acquire; the limits were compiled at deploy
time (``RestMethod.limits``) and when plans changed (``KeyPlan``), so the request does a dict lookup and one call.
"""

from __future__ import annotations

import logging
import time

from apigate.dataplane.invocation import Invocation
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.state import MemoryQuotaCounter, MemoryRateLimiter, Quota, QuotaCounter, RateLimiter

log = logging.getLogger("apigate.dataplane")

# Usage is counted for plans without a quota too (GetUsage reports it); this "quota" never runs out.
UNLIMITED = Quota(10**15, "DAY")


class ThrottleStep:
    __slots__ = ("_fast", "_limiter", "_quota_fast", "_quotas")

    def __init__(self, limiter: RateLimiter, quotas: QuotaCounter) -> None:
        self._limiter = limiter
        self._quotas = quotas
        # In memory the acquire needs no await: call its synchronous core directly.
        self._fast = limiter.acquire_nowait if isinstance(limiter, MemoryRateLimiter) else None
        self._quota_fast = quotas.consume_nowait if isinstance(quotas, MemoryQuotaCounter) else None

    async def __call__(self, inv: Invocation) -> None:
        if inv.test_log is not None:  # TestInvokeMethod is not throttled
            return
        method = inv.method
        assert method is not None
        plan = inv.key_plan
        if plan is None:
            limits = method.limits
        else:
            limits = plan.method_limits.get(method.setting_key, plan.default_limits) + method.limits
        fast = self._fast
        if fast is not None:
            result = fast(limits, time.monotonic())
        else:
            result = await self._limiter.acquire(limits)
        if not result.allowed:
            raise GatewayError(ResponseType.THROTTLED)
        if plan is not None:
            quota_fast = self._quota_fast
            if quota_fast is not None:
                counted = quota_fast(plan.usage_key, plan.quota or UNLIMITED)
            else:
                counted = await self._quotas.consume(plan.usage_key, plan.quota or UNLIMITED)
            if not counted.allowed:
                raise GatewayError(ResponseType.QUOTA_EXCEEDED)
