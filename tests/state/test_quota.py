"""Quota counters: the same tests against the memory and the Redis backend."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime

import pytest

from apigate.state import (
    MemoryQuotaCounter,
    Quota,
    QuotaCounter,
    QuotaResult,
    StateUnavailable,
    period_bounds,
)
from apigate.state.redis import RedisQuotaCounter, connect

from helpers import RedisScratch, require_redis


def at(text: str) -> float:
    """A Unix timestamp from an ISO moment in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


class Backend(RedisScratch):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    @asynccontextmanager
    async def counter(self) -> AsyncIterator[QuotaCounter]:
        if self.name == "memory":
            memory = MemoryQuotaCounter()
            yield memory
            await memory.aclose()
            return
        async with self.client() as client:
            yield RedisQuotaCounter(client, prefix=self.prefix)


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "redis":
        require_redis()
    return Backend(request.param)


def run(backend: Backend, body: Callable[[QuotaCounter], Awaitable[None]]) -> None:
    async def main() -> None:
        async with backend.counter() as counter:
            await body(counter)

    asyncio.run(main())


async def consume(counter: QuotaCounter, quota: Quota, now: float, count: int, key: str = "k") -> list[int]:
    """Remaining after each of ``count`` requests, or -1 for a refused one."""
    results = [await counter.consume(key, quota, now) for _ in range(count)]
    return [r.remaining if r.allowed else -1 for r in results]


@pytest.mark.parametrize(
    ("period", "day", "bounds"),
    [
        ("DAY", date(2024, 3, 5), (date(2024, 3, 5), date(2024, 3, 6))),
        ("WEEK", date(2024, 3, 10), (date(2024, 3, 10), date(2024, 3, 17))),  # a Sunday starts its week
        ("WEEK", date(2024, 3, 9), (date(2024, 3, 3), date(2024, 3, 10))),  # Saturday ends it
        ("WEEK", date(2024, 1, 1), (date(2023, 12, 31), date(2024, 1, 7))),  # across a year
        ("MONTH", date(2024, 2, 29), (date(2024, 2, 1), date(2024, 3, 1))),
        ("MONTH", date(2024, 12, 31), (date(2024, 12, 1), date(2025, 1, 1))),
    ],
)
def test_period_bounds(period: str, day: date, bounds: tuple[date, date]) -> None:
    assert period_bounds(period, day) == bounds


def test_unknown_period() -> None:
    with pytest.raises(ValueError, match="DAY, WEEK, MONTH"):
        period_bounds("YEAR", date(2024, 1, 1))


def test_day_resets_at_utc_midnight(backend: Backend) -> None:
    async def body(counter: QuotaCounter) -> None:
        quota = Quota(limit=3, period="DAY")
        assert await consume(counter, quota, at("2024-03-05T12:00:00"), 4) == [2, 1, 0, -1]
        assert await counter.consume("k", quota, at("2024-03-05T23:59:59.999")) == QuotaResult(False, 0)
        assert await consume(counter, quota, at("2024-03-06T00:00:00"), 1) == [2]
        assert await consume(counter, quota, at("2024-03-05T12:00:00"), 1, key="other") == [2]

    run(backend, body)


def test_week_starts_sunday_utc(backend: Backend) -> None:
    async def body(counter: QuotaCounter) -> None:
        quota = Quota(limit=2, period="WEEK")
        assert await consume(counter, quota, at("2024-03-04T00:00:00"), 2) == [1, 0]  # Monday
        assert await consume(counter, quota, at("2024-03-09T23:59:59"), 1) == [-1]  # Saturday, same week
        assert await consume(counter, quota, at("2024-03-10T00:00:00"), 3) == [1, 0, -1]  # Sunday, a new week

    run(backend, body)


def test_month_resets_on_the_first(backend: Backend) -> None:
    async def body(counter: QuotaCounter) -> None:
        quota = Quota(limit=2, period="MONTH")
        assert await consume(counter, quota, at("2024-01-01T00:00:00"), 1) == [1]
        assert await consume(counter, quota, at("2024-01-31T23:59:59"), 2) == [0, -1]
        assert await consume(counter, quota, at("2024-02-01T00:00:00"), 1) == [1]
        assert await consume(counter, quota, at("2024-12-31T23:00:00"), 3) == [1, 0, -1]
        assert await consume(counter, quota, at("2025-01-01T00:00:00"), 1) == [1]

    run(backend, body)


def test_offset_applies_to_the_initial_period_only(backend: Backend) -> None:
    async def body(counter: QuotaCounter) -> None:
        quota = Quota(limit=5, period="WEEK", offset=3)
        # A peek does not make its period the initial one.
        assert await counter.remaining("k", quota, at("2024-02-28T10:00:00")) == 2
        # First seen on a Wednesday: 5 - 3 this week.
        assert await counter.remaining("k", quota, at("2024-03-06T10:00:00")) == 2
        assert await consume(counter, quota, at("2024-03-06T10:00:00"), 3) == [1, 0, -1]
        assert await consume(counter, quota, at("2024-03-10T00:00:00"), 6) == [4, 3, 2, 1, 0, -1]
        # An offset larger than the limit leaves nothing in the initial period.
        big = Quota(limit=2, period="DAY", offset=5)
        assert await consume(counter, big, at("2024-03-06T10:00:00"), 1, key="big") == [-1]
        assert await consume(counter, big, at("2024-03-07T10:00:00"), 1, key="big") == [1]

    run(backend, body)


def test_usage_by_day(backend: Backend) -> None:
    async def body(counter: QuotaCounter) -> None:
        quota = Quota(limit=5, period="MONTH")
        await consume(counter, quota, at("2024-03-01T08:00:00"), 2)
        await consume(counter, quota, at("2024-03-02T23:59:59"), 2)
        await consume(counter, quota, at("2024-03-04T00:00:01"), 3)  # only 1 left: 2 refused, not counted
        assert await counter.usage("k", date(2024, 2, 28), date(2024, 3, 31)) == {
            "2024-03-01": 2,
            "2024-03-02": 2,
            "2024-03-04": 1,
        }
        assert await counter.usage("k", date(2024, 3, 2), date(2024, 3, 3)) == {"2024-03-02": 2}
        assert await counter.usage("nobody", date(2024, 3, 1), date(2024, 3, 31)) == {}
        assert await counter.usage("k", date(2024, 3, 5), date(2024, 3, 1)) == {}

    run(backend, body)


def test_daily_usage_reports_each_days_closing_remaining(backend: Backend) -> None:
    """GetUsage's [used, remaining]: remaining is what was left at the end of that day, not today's for every day."""

    async def body(counter: QuotaCounter) -> None:
        quota = Quota(limit=5, period="DAY")
        await consume(counter, quota, at("2024-03-04T09:00:00"), 2)
        await consume(counter, quota, at("2024-03-05T09:00:00"), 1)
        now = at("2024-03-05T18:00:00")
        # The day before the first request had the whole limit; tomorrow is a new period.
        assert await counter.daily_usage("k", quota, date(2024, 3, 3), date(2024, 3, 6), now) == [
            (0, 5),
            (2, 3),
            (1, 4),
            (0, 5),
        ]
        # Seen from the next day, yesterday still closes with what it had left.
        later = at("2024-03-06T01:00:00")
        assert await counter.daily_usage("k", quota, date(2024, 3, 4), date(2024, 3, 6), later) == [
            (2, 3),
            (1, 4),
            (0, 5),
        ]
        assert await counter.daily_usage("k", quota, date(2024, 3, 6), date(2024, 3, 5), now) == []

        # A week (Sunday 3 March to Saturday 9 March, the key's initial period: offset 2 applies).
        week = Quota(limit=10, period="WEEK", offset=2)
        await consume(counter, week, at("2024-03-04T10:00:00"), 3, key="w")
        await consume(counter, week, at("2024-03-06T10:00:00"), 2, key="w")
        await counter.set_remaining("w", week, 20, at("2024-03-07T10:00:00"))  # UpdateUsage, no request
        today = at("2024-03-08T10:00:00")
        await consume(counter, week, today, 1, key="w")
        report = await counter.daily_usage("w", week, date(2024, 3, 2), date(2024, 3, 10), today)
        assert report == [
            (0, 10),  # Saturday 2 March: the week before, not the initial one
            (0, 8),  # Sunday: the initial week starts with 10 - 2
            (3, 5),
            (0, 5),  # no request: what Monday left
            (2, 3),
            (0, 20),  # UpdateUsage set it
            (1, 19),  # today
            (0, 19),  # tomorrow, same week: what is left now
            (0, 10),  # next week: the whole limit
        ]
        # A report starting mid-week still carries what earlier days of the week left.
        assert await counter.daily_usage("w", week, date(2024, 3, 5), date(2024, 3, 5), today) == [(0, 5)]
        # A key never seen: its initial period is the current one.
        assert await counter.daily_usage("nobody", week, date(2024, 3, 8), date(2024, 3, 8), today) == [
            (0, 8)
        ]

    run(backend, body)


def test_set_remaining(backend: Backend) -> None:
    async def body(counter: QuotaCounter) -> None:
        quota = Quota(limit=10, period="DAY")
        now = at("2024-03-05T12:00:00")
        await consume(counter, quota, now, 3)
        assert await counter.remaining("k", quota, now) == 7
        await counter.set_remaining("k", quota, 20, now)  # extend beyond the limit
        assert await consume(counter, quota, now, 2) == [19, 18]
        await counter.set_remaining("k", quota, 0, now)
        assert await consume(counter, quota, now, 1) == [-1]
        # The adjustment belongs to the period it was made in.
        assert await counter.remaining("k", quota, at("2024-03-06T00:00:00")) == 10
        # Before any request: the key's initial period, offset included.
        await counter.set_remaining("fresh", Quota(10, "DAY", offset=4), 1, now)
        assert await consume(counter, Quota(10, "DAY", offset=4), now, 2, key="fresh") == [0, -1]

    run(backend, body)


def test_concurrent_consumes_stop_at_the_limit(backend: Backend) -> None:
    async def body(counter: QuotaCounter) -> None:
        quota = Quota(limit=50, period="DAY")
        now = at("2024-03-05T12:00:00")
        results = await asyncio.gather(*(counter.consume("k", quota, now) for _ in range(200)))
        assert sum(r.allowed for r in results) == 50
        assert sorted(r.remaining for r in results if r.allowed) == list(range(50))
        assert await counter.usage("k", date(2024, 3, 5), date(2024, 3, 5)) == {"2024-03-05": 50}

    run(backend, body)


def test_redis_counters_expire() -> None:
    require_redis()
    backend = Backend("redis")

    async def main() -> None:
        async with backend.client() as client:
            counter = RedisQuotaCounter(client, prefix=backend.prefix, retention_days=7)
            await counter.consume("k", Quota(5, "DAY"), at("2024-03-05T23:00:00"))
            day_ms = 86_400_000
            # The period's counter lives until the period ends (1 h away) plus a day's grace.
            assert day_ms < await client.pttl(backend.prefix + "q:k:DAY:2024-03-05") <= day_ms + 3_600_000
            assert 7 * day_ms < await client.pttl(backend.prefix + "q:k:d:2024-03-05") <= 8 * day_ms

    asyncio.run(main())


@pytest.mark.parametrize("fail_open", [True, False])
def test_redis_down(fail_open: bool) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def main() -> None:
        client = connect(f"redis://127.0.0.1:{port}/0", timeout=0.5)
        try:
            counter = RedisQuotaCounter(client, fail_open=fail_open)
            assert await counter.consume("k", Quota(5, "DAY")) == QuotaResult(fail_open, -1)
            with pytest.raises(StateUnavailable):
                await counter.usage("k", date(2024, 3, 1), date(2024, 3, 2))
            with pytest.raises(StateUnavailable):
                await counter.set_remaining("k", Quota(5, "DAY"), 3)
        finally:
            await client.aclose()

    asyncio.run(main())
