"""In-process throttling and quotas: the default, for one gateway process.

Everything runs on the event loop without awaiting, so each call is atomic with respect to other requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta

from apigate.state.base import Limit, Quota, QuotaResult, ThrottleResult, daily_report, report_from
from apigate.state.quota_period import period_bounds, utc_day

_ALLOWED = ThrottleResult(True)


class MemoryRateLimiter:
    """Token buckets in a dict, refilled lazily from the elapsed time (no timers).

    A bucket is ``[tokens, last_update, rate, burst]``; ``rate`` and ``burst`` are kept only so the sweep can tell
    when a bucket is full again, at which point dropping it changes nothing (an absent bucket is a full one).
    """

    __slots__ = ("_buckets", "_clock", "_max_buckets")

    def __init__(self, max_buckets: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: dict[str, list[float]] = {}
        self._max_buckets = max_buckets
        self._clock = clock

    async def acquire(self, limits: Sequence[Limit], now: float | None = None) -> ThrottleResult:
        return self.acquire_nowait(limits, self._clock() if now is None else now)

    def acquire_nowait(self, limits: Sequence[Limit], now: float) -> ThrottleResult:
        """The synchronous core of ``acquire``, for callers on the hot path that want to skip a coroutine."""
        buckets = self._buckets
        if len(limits) == 1:  # the common case, without the two-phase bookkeeping
            limit = limits[0]
            bucket = buckets.get(limit.key)
            if bucket is None:
                if limit.burst < 1:
                    return ThrottleResult(False, limit.key)
                if len(buckets) >= self._max_buckets:
                    self._sweep(now)
                buckets[limit.key] = [limit.burst - 1.0, now, limit.rate, limit.burst]
                return _ALLOWED
            tokens = bucket[0]
            if now > bucket[1]:
                tokens += (now - bucket[1]) * limit.rate
                bucket[1] = now
            if tokens > limit.burst:
                tokens = limit.burst
            if tokens < 1.0:
                bucket[0] = tokens
                return ThrottleResult(False, limit.key)
            bucket[0] = tokens - 1.0
            bucket[2] = limit.rate
            bucket[3] = limit.burst
            return _ALLOWED

        # Phase 1: refill and check every bucket, charging nothing.
        checked: list[tuple[Limit, list[float] | None, float]] = []
        missing = 0
        for limit in limits:
            bucket = buckets.get(limit.key)
            if bucket is None:
                tokens = float(limit.burst)
                missing += 1
            else:
                tokens = bucket[0]
                if now > bucket[1]:
                    tokens += (now - bucket[1]) * limit.rate
                if tokens > limit.burst:
                    tokens = limit.burst
            if tokens < 1.0:
                return ThrottleResult(False, limit.key)
            checked.append((limit, bucket, tokens))
        # Sweep before charging, then put back what we hold, so a sweep cannot drop a bucket charged below.
        if missing and len(buckets) + missing > self._max_buckets:
            self._sweep(now)
            for limit, bucket, _ in checked:
                if bucket is not None:
                    buckets[limit.key] = bucket
        # Phase 2: every bucket had a token; take one from each.
        for limit, bucket, tokens in checked:
            if bucket is None:
                buckets[limit.key] = [tokens - 1.0, now, limit.rate, limit.burst]
            else:
                bucket[0] = tokens - 1.0
                if now > bucket[1]:
                    bucket[1] = now
                bucket[2] = limit.rate
                bucket[3] = limit.burst
        return _ALLOWED

    def _sweep(self, now: float) -> None:
        """Drop buckets that are full again; if still too many, drop the oldest (which hands them a full bucket,
        the price of bounded memory). Leaves at most 3/4 of the cap, so sweeps are amortised O(1) per new key."""
        buckets = self._buckets
        full = [
            key
            for key, (tokens, updated, rate, burst) in buckets.items()
            if tokens + (now - updated) * rate >= burst
        ]
        for key in full:
            del buckets[key]
        excess = len(buckets) - self._max_buckets * 3 // 4
        if excess > 0:
            for key in list(buckets)[:excess]:  # dicts keep insertion order: oldest first
                del buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)

    async def aclose(self) -> None:
        self._buckets.clear()


class _KeyUsage:
    __slots__ = ("closing", "days", "first_period", "periods", "today")

    def __init__(self) -> None:
        self.today: tuple[float, float, str, date, date] | None = None  # see MemoryQuotaCounter._period
        self.days: dict[date, int] = {}
        # day -> what was left at the end of it (after its last counted request or UpdateUsage)
        self.closing: dict[date, int] = {}
        # (period name, first day) -> [used, adjustment made by set_remaining]
        self.periods: dict[tuple[str, date], list[int]] = {}
        # period name -> first day of the initial period, where the offset applies
        self.first_period: dict[str, date] = {}


class MemoryQuotaCounter:
    """Quota counters per key: the current period's count and daily counts kept for ``retention_days``."""

    __slots__ = ("_clock", "_keys", "_retention")

    def __init__(self, retention_days: int = 90, clock: Callable[[], float] = time.time) -> None:
        self._keys: dict[str, _KeyUsage] = {}
        self._retention = timedelta(days=retention_days)
        self._clock = clock

    def _period(
        self, key: str, quota: Quota, now: float | None, mark: bool = True
    ) -> tuple[_KeyUsage, date, list[int], int]:
        """The key's state, today, the current period's counters, and the period's effective limit.

        ``mark``: record this period as the key's initial one if it has none (a peek does not)."""
        moment = self._clock() if now is None else now
        usage = self._keys.get(key)
        if usage is None:
            usage = self._keys[key] = _KeyUsage()
        # Today's (day, period start) for the last period name asked, until midnight UTC: date arithmetic and two
        # cache lookups per request otherwise.
        today = usage.today
        if today is not None and today[0] <= moment < today[1] and today[2] == quota.period:
            day, start = today[3], today[4]
        else:
            day = utc_day(moment)
            start, _ = period_bounds(quota.period, day)
            midnight = (moment // 86400) * 86400
            usage.today = (midnight, midnight + 86400, quota.period, day, start)
        first = usage.first_period.get(quota.period, start)
        if mark:
            usage.first_period.setdefault(quota.period, start)
        counters = usage.periods.get((quota.period, start))
        if counters is None:
            # A new period: forget the ones that have ended (their daily counts stay for GetUsage).
            for name, old_start in list(usage.periods):
                if name == quota.period and old_start < start:
                    del usage.periods[name, old_start]
            counters = usage.periods[quota.period, start] = [0, 0]
        limit = quota.limit - quota.offset if first == start else quota.limit
        return usage, day, counters, max(limit, 0)

    async def consume(self, key: str, quota: Quota, now: float | None = None) -> QuotaResult:
        return self.consume_nowait(key, quota, now)

    def consume_nowait(self, key: str, quota: Quota, now: float | None = None) -> QuotaResult:
        """The synchronous core of ``consume``, for the throttle step (no coroutine per request)."""
        usage, day, counters, limit = self._period(key, quota, now)
        left = limit + counters[1] - counters[0]
        if left <= 0:
            return QuotaResult(False, 0)
        counters[0] += 1
        days = usage.days
        if day not in days:
            self._forget_before(usage, day - self._retention)
            days[day] = 0
        days[day] += 1
        usage.closing[day] = left - 1
        return QuotaResult(True, left - 1)

    @staticmethod
    def _forget_before(usage: _KeyUsage, cutoff: date) -> None:
        for old in [d for d in usage.days if d < cutoff]:
            del usage.days[old]
        for old in [d for d in usage.closing if d < cutoff]:
            del usage.closing[old]

    async def remaining(self, key: str, quota: Quota, now: float | None = None) -> int:
        _, _, counters, limit = self._period(key, quota, now, mark=False)
        return max(limit + counters[1] - counters[0], 0)

    async def set_remaining(self, key: str, quota: Quota, remaining: int, now: float | None = None) -> None:
        usage, day, counters, limit = self._period(key, quota, now)
        counters[1] = remaining - (limit - counters[0])
        if day not in usage.closing:
            self._forget_before(usage, day - self._retention)
        usage.closing[day] = remaining

    async def usage(self, key: str, start: date, end: date) -> dict[str, int]:
        state = self._keys.get(key)
        if state is None:
            return {}
        return {d.isoformat(): n for d, n in sorted(state.days.items()) if start <= d <= end}

    async def daily_usage(
        self, key: str, quota: Quota, start: date, end: date, now: float | None = None
    ) -> list[tuple[int, int]]:
        moment = self._clock() if now is None else now
        live = await self.remaining(key, quota, moment)
        state = self._keys[key]  # remaining() made it
        since = report_from(quota, start)
        return daily_report(
            quota,
            start,
            end,
            today=utc_day(moment),
            first=state.first_period.get(quota.period),
            counts=state.days,
            closing={d: n for d, n in state.closing.items() if since <= d <= end},
            live=live,
        )

    async def aclose(self) -> None:
        self._keys.clear()
