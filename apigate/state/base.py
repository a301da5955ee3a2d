"""The shared-state interface for throttling and quotas, and the values it returns.

Two backends implement it: ``memory`` (one process, the default) and ``redis`` (several processes or hosts).
Both run the same tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from apigate.state.quota_period import Period, period_bounds


@dataclass(frozen=True, slots=True)
class Limit:
    """One token bucket: ``rate`` tokens refilled per second, at most ``burst`` tokens held.

    A bucket seen for the first time is full. Keys within one ``acquire`` call must be distinct.
    """

    key: str
    rate: float
    burst: int


@dataclass(frozen=True, slots=True)
class ThrottleResult:
    """``limited_by`` is the key of the first bucket that was empty; ``None`` when allowed, or when the backend was
    unreachable and the limiter fails closed."""

    allowed: bool
    limited_by: str | None = None


@dataclass(frozen=True, slots=True)
class Quota:
    """A usage plan's ``quota``: ``limit`` requests per ``period`` (UTC), ``offset`` of them subtracted in the
    initial period (see ``QuotaCounter``)."""

    limit: int
    period: Period
    offset: int = 0


@dataclass(frozen=True, slots=True)
class QuotaResult:
    """``remaining`` is what is left in the current period after this request; -1 when unknown (backend down)."""

    allowed: bool
    remaining: int


class StateUnavailable(Exception):
    """The shared state could not be reached (raised by control-plane calls; the request path fails open or
    closed instead)."""


class RateLimiter(Protocol):
    async def acquire(self, limits: Sequence[Limit], now: float | None = None) -> ThrottleResult:
        """Take one token from every bucket in ``limits``, or from none of them.

        All or nothing: if any bucket is empty the request is throttled and no bucket is charged. ``now`` (seconds)
        overrides the backend's clock, for tests: the memory backend uses ``time.monotonic()``, Redis its server
        ``TIME`` (so hosts with skewed clocks agree).
        """
        ...

    async def aclose(self) -> None: ...


class QuotaCounter(Protocol):
    """Request counts per key and quota period, and per UTC day (for GetUsage).

    The initial period, in which ``quota.offset`` is subtracted from ``quota.limit``, is the period in which this
    counter first saw the key (a request, or ``set_remaining``).
    """

    async def consume(self, key: str, quota: Quota, now: float | None = None) -> QuotaResult:
        """Count one request if the current period has any left; a refused request is not counted."""
        ...

    async def remaining(self, key: str, quota: Quota, now: float | None = None) -> int:
        """What is left in the current period, without counting anything."""
        ...

    async def set_remaining(self, key: str, quota: Quota, remaining: int, now: float | None = None) -> None:
        """Make ``remaining`` the requests left in the current period (UpdateUsage ``replace /remaining``)."""
        ...

    async def usage(self, key: str, start: date, end: date) -> dict[str, int]:
        """Requests counted per UTC day from ``start`` to ``end`` inclusive, keyed ``YYYY-MM-DD``; days with none
        are left out."""
        ...

    async def daily_usage(
        self, key: str, quota: Quota, start: date, end: date, now: float | None = None
    ) -> list[tuple[int, int]]:
        """GetUsage's ``[used, remaining]`` for each UTC day from ``start`` to ``end`` inclusive: the requests
        counted that day and the quota left at the end of it (see ``daily_report``)."""
        ...

    async def aclose(self) -> None: ...


def report_from(quota: Quota, start: date) -> date:
    """The first day whose closing record ``daily_report`` may need for a report starting on ``start``."""
    return period_bounds(quota.period, start)[0]


def daily_report(
    quota: Quota,
    start: date,
    end: date,
    *,
    today: date,
    first: date | None,
    counts: Mapping[date, int],
    closing: Mapping[date, int],
    live: int,
) -> list[tuple[int, int]]:
    """``[used, remaining]`` per day, ``remaining`` being the quota left at the end of that day (AWS's GetUsage).

    ``closing`` holds what was left at the end of each day on which the backend counted a request or UpdateUsage
    set the remaining (from ``report_from(quota, start)`` on); ``first`` is the first day of the key's initial
    period (``None``: the current period will be); ``live`` is what is left now. A day without a record ends with
    what the latest earlier record of its period left, or the period's whole limit if there is none. Today, and
    days still to come in the current period, report ``live``; later periods, the whole limit.
    """
    current, _ = period_bounds(quota.period, today)
    initial = current if first is None else first
    rows: list[tuple[int, int]] = []
    day = start
    while day <= end:
        period, _ = period_bounds(quota.period, day)
        if day >= today and period == current:
            left = live
        else:
            left = max(quota.limit - quota.offset if period == initial else quota.limit, 0)
            if day < today:
                back = day
                while back >= period:
                    if back in closing:
                        left = closing[back]
                        break
                    back -= timedelta(days=1)
        rows.append((counts.get(day, 0), max(left, 0)))
        day += timedelta(days=1)
    return rows
