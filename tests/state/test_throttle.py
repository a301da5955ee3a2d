"""Token buckets: the same tests against the memory and the Redis backend."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

import apigate.state
from apigate.state import Limit, MemoryRateLimiter, RateLimiter, ThrottleResult
from apigate.state.redis import RedisRateLimiter, connect

from helpers import RedisScratch, require_redis

T0 = 1_000.0  # an explicit clock for deterministic bucket math


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Backend(RedisScratch):
    """Opens limiters of one backend; Redis ones get their own key prefix, deleted afterwards."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    @asynccontextmanager
    async def limiter(self) -> AsyncIterator[RateLimiter]:
        if self.name == "memory":
            memory = MemoryRateLimiter()
            yield memory
            await memory.aclose()
            return
        async with self.client() as client:
            yield RedisRateLimiter(client, prefix=self.prefix)


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "redis":
        require_redis()
    return Backend(request.param)


def run(backend: Backend, body: Callable[[RateLimiter], Awaitable[None]]) -> None:
    async def main() -> None:
        async with backend.limiter() as limiter:
            await body(limiter)

    asyncio.run(main())


async def admitted(limiter: RateLimiter, limits: list[Limit], count: int, now: float | None = T0) -> int:
    results = [await limiter.acquire(limits, now) for _ in range(count)]
    return sum(result.allowed for result in results)


def test_public_api() -> None:
    assert sorted(apigate.state.__all__) == [
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
        "WEEK_START",
        "period_bounds",
    ]


def test_full_bucket_admits_exactly_burst(backend: Backend) -> None:
    async def body(limiter: RateLimiter) -> None:
        bucket = [Limit("k", rate=1.0, burst=5)]
        assert [(await limiter.acquire(bucket, T0)).allowed for _ in range(5)] == [True] * 5
        assert await limiter.acquire(bucket, T0) == ThrottleResult(False, "k")
        assert await limiter.acquire([Limit("other", 1.0, 5)], T0) == ThrottleResult(True, None)

    run(backend, body)


def test_refills_at_rate(backend: Backend) -> None:
    async def body(limiter: RateLimiter) -> None:
        bucket = [Limit("k", rate=2.0, burst=5)]
        assert await admitted(limiter, bucket, 10, T0) == 5
        assert not (await limiter.acquire(bucket, T0 + 0.4)).allowed  # 0.8 of a token
        assert (await limiter.acquire(bucket, T0 + 0.5)).allowed  # 1.0
        assert not (await limiter.acquire(bucket, T0 + 0.5)).allowed
        assert await admitted(limiter, bucket, 4, T0 + 1.5) == 2
        # Refill stops at the bucket size however long the bucket sat idle.
        assert await admitted(limiter, bucket, 10, T0 + 100) == 5

    run(backend, body)


def test_fractional_rate(backend: Backend) -> None:
    async def body(limiter: RateLimiter) -> None:
        bucket = [Limit("half", rate=0.5, burst=1)]
        allowed = [(await limiter.acquire(bucket, T0 + t)).allowed for t in (0, 1, 1.99, 2, 3.9, 4, 4)]
        assert allowed == [True, False, False, True, False, True, False]

    run(backend, body)


def test_all_or_nothing_across_limits(backend: Backend) -> None:
    async def body(limiter: RateLimiter) -> None:
        method, key, account = Limit("m", 1.0, 5), Limit("key", 1.0, 2), Limit("acct", 1.0, 5)
        limits = [method, key, account]
        assert await admitted(limiter, limits, 2) == 2
        # The middle bucket is empty: the request is throttled by it and charges neither of the others.
        for _ in range(5):
            assert await limiter.acquire(limits, T0) == ThrottleResult(False, "key")
        assert await admitted(limiter, [method], 10) == 3
        assert await admitted(limiter, [account], 10) == 3

    run(backend, body)


def test_first_empty_bucket_is_reported(backend: Backend) -> None:
    async def body(limiter: RateLimiter) -> None:
        assert await limiter.acquire([Limit("none", 1.0, 0)], T0) == ThrottleResult(False, "none")
        limits = [Limit("a", 1.0, 1), Limit("b", 1.0, 1)]
        assert (await limiter.acquire(limits, T0)).allowed
        assert await limiter.acquire(limits, T0) == ThrottleResult(False, "a")
        assert await limiter.acquire([], T0) == ThrottleResult(True)

    run(backend, body)


def test_concurrent_acquires_admit_exactly_burst(backend: Backend) -> None:
    async def body(limiter: RateLimiter) -> None:
        # Real clocks here (monotonic / Redis TIME); the rate is low enough that nothing refills meanwhile.
        bucket = [Limit("hot", rate=0.001, burst=50)]
        results = await asyncio.gather(*(limiter.acquire(bucket) for _ in range(200)))
        assert sum(r.allowed for r in results) == 50

    run(backend, body)


def test_two_redis_clients_share_buckets() -> None:
    require_redis()
    backend = Backend("redis")

    async def main() -> None:
        async with backend.client() as one, backend.client() as two:
            first = RedisRateLimiter(one, prefix=backend.prefix)
            second = RedisRateLimiter(two, prefix=backend.prefix)
            bucket = [Limit("shared", rate=0.001, burst=50)]
            calls = [limiter.acquire(bucket) for _ in range(100) for limiter in (first, second)]
            results = await asyncio.gather(*calls)
            assert sum(r.allowed for r in results) == 50

    asyncio.run(main())


@pytest.mark.parametrize("fail_open", [True, False])
def test_redis_down(fail_open: bool, caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        client = connect(f"redis://127.0.0.1:{_closed_port()}/0", timeout=0.5)
        try:
            limiter = RedisRateLimiter(client, fail_open=fail_open)
            results = [await limiter.acquire([Limit("k", 1.0, 1)]) for _ in range(3)]
        finally:
            await client.aclose()
        assert results == [ThrottleResult(fail_open, None)] * 3

    asyncio.run(main())
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1  # once per outage


def test_redis_bucket_expires_when_full_again() -> None:
    require_redis()
    backend = Backend("redis")

    async def main() -> None:
        async with backend.client() as client:
            limiter = RedisRateLimiter(client, prefix=backend.prefix)
            await limiter.acquire([Limit("k", rate=10.0, burst=20)], T0)
            await limiter.acquire([Limit("k", rate=10.0, burst=20)], T0)
            # Two tokens short at 10 per second: full again in 200 ms.
            assert 0 < await client.pttl(backend.prefix + "tb:k") <= 201

    asyncio.run(main())


def test_redis_reloads_script_after_flush() -> None:
    require_redis()
    backend = Backend("redis")

    async def main() -> None:
        async with backend.client() as client:
            limiter = RedisRateLimiter(client, prefix=backend.prefix)
            bucket = [Limit("k", rate=1.0, burst=2)]
            assert (await limiter.acquire(bucket, T0)).allowed
            await client.script_flush()  # as after a Redis restart: EVALSHA answers NOSCRIPT
            assert (await limiter.acquire(bucket, T0)).allowed
            assert not (await limiter.acquire(bucket, T0)).allowed

    asyncio.run(main())


def test_memory_stays_bounded() -> None:
    async def main() -> None:
        limiter = MemoryRateLimiter(max_buckets=100)
        for i in range(1_000):  # keys seen once, 10 ms apart: most are full again by the next sweep
            await limiter.acquire([Limit(f"k{i}", rate=10.0, burst=5)], T0 + i / 100)
        assert len(limiter) <= 100
        # Buckets in active use survive a sweep forced by many idle keys.
        busy = [Limit("busy", rate=0.001, burst=3)]
        assert await admitted(limiter, busy, 2, T0 + 20) == 2
        for i in range(200):
            await limiter.acquire([Limit(f"idle{i}", rate=1000.0, burst=1)], T0 + 20 + i)
        assert len(limiter) <= 100
        assert await admitted(limiter, busy, 5, T0 + 300) == 1

    asyncio.run(main())


def test_memory_sweep_keeps_the_buckets_it_charges() -> None:
    async def main() -> None:
        limiter = MemoryRateLimiter(max_buckets=4)
        account = Limit("account", rate=0.001, burst=10)
        # Every call brings a new key past the cap and forces a sweep; the shared bucket keeps its count.
        for i in range(8):
            assert (await limiter.acquire([Limit(f"key{i}", 0.001, 1), account], T0)).allowed
        assert await admitted(limiter, [account], 5) == 2

    asyncio.run(main())
