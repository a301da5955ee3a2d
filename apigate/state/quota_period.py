"""Quota periods in UTC: which period a moment falls in, and when that period ends.

AWS documents the period names (``DAY | WEEK | MONTH``) but not where a week starts. The only AWS text that names a
week's first day is an earlier wording of ``QuotaSettings.offset`` in the service model ("with a time period of WEEK,
an offset of 0 starts on Sunday, and an offset of 1 starts on Monday"): with the default offset 0 a week started on
Sunday. The current model reuses ``offset`` for a request count, so we keep that default: weeks start Sunday 00:00
UTC. ``WEEK_START`` is the one place to change it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Final, Literal, get_args

Period = Literal["DAY", "WEEK", "MONTH"]
PERIODS: Final[tuple[str, ...]] = get_args(Period)

# date.weekday() of the first day of a WEEK period (Monday is 0, Sunday is 6).
WEEK_START: Final = 6

_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()


def utc_day(now: float) -> date:
    """The UTC calendar day of a Unix timestamp."""
    return _day(int(now // 86400))


# Every quota check asks for today's day and period: both change once a day, so they are computed once (a
# profile of the full pipeline showed the date arithmetic at about 7% of a request).
@lru_cache(maxsize=8)
def _day(days_since_epoch: int) -> date:
    return date.fromordinal(_EPOCH_ORDINAL + days_since_epoch)


@lru_cache(maxsize=64)
def period_bounds(period: str, day: date) -> tuple[date, date]:
    """The period containing ``day``, as (first day, first day of the next period)."""
    if period == "DAY":
        return day, day + timedelta(days=1)
    if period == "WEEK":
        start = day - timedelta(days=(day.weekday() - WEEK_START) % 7)
        return start, start + timedelta(days=7)
    if period == "MONTH":
        start = day.replace(day=1)
        after = date(start.year + 1, 1, 1) if start.month == 12 else date(start.year, start.month + 1, 1)
        return start, after
    raise ValueError(f"quota period must be one of {', '.join(PERIODS)}, not {period!r}")


def day_start(day: date) -> float:
    """Unix timestamp of 00:00 UTC on ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
