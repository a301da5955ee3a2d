"""Shared state for throttling and quotas: in memory (one process, the default) or in Redis (several processes).

``apigate.state.redis`` is imported on its own, so the ``redis`` package stays an optional extra.
"""

from __future__ import annotations

from apigate.state.base import (
    Limit,
    Quota,
    QuotaCounter,
    QuotaResult,
    RateLimiter,
    StateUnavailable,
    ThrottleResult,
)
from apigate.state.memory import MemoryQuotaCounter, MemoryRateLimiter
from apigate.state.quota_period import WEEK_START, Period, period_bounds

__all__ = [
    "WEEK_START",
    "Limit",
    "MemoryQuotaCounter",
    "MemoryRateLimiter",
    "Period",
    "Quota",
    "QuotaCounter",
    "QuotaResult",
    "RateLimiter",
    "StateUnavailable",
    "ThrottleResult",
    "period_bounds",
]
