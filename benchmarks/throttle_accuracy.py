"""How closely the token buckets hold their configured rate and burst, in real time.

    python benchmarks/throttle_accuracy.py [--rate 200] [--burst 50] [--duration 10] [--redis redis://127.0.0.1:6379/0]

For each backend, two drivers each send requests at the configured rate (so twice the rate in total) at one bucket
for ``--duration`` seconds: the memory backend with two asyncio tasks sharing one limiter; Redis with two separate
processes, each with its own connection, on the server's clock. The admitted rate should be the configured one:
(admitted - burst) / duration, within 10%. Then a fresh bucket gets 3 x burst requests at once and should admit
exactly ``burst`` (its rate is set to 0.1/s for that, so refill during the burst is nil).

A script, not a test: it takes real time and prints a table. Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

from apigate.state import Limit, MemoryRateLimiter, RateLimiter


@dataclass
class Drive:
    sent: int = 0
    admitted: int = 0
    busy: float = 0.0  # seconds spent inside acquire


async def drive(limiter: RateLimiter, limit: Limit, rate: float, start: float, duration: float) -> Drive:
    """Send at ``rate`` per second from wall-clock ``start`` for ``duration``; late requests catch up at once."""
    result = Drive()
    interval = 1.0 / rate
    due = start
    end = start + duration
    while due < end:
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        began = time.perf_counter()
        allowed = (await limiter.acquire([limit])).allowed
        result.busy += time.perf_counter() - began
        result.sent += 1
        result.admitted += allowed
        due += interval
    return result


async def burst_admitted(limiter: RateLimiter, burst: int) -> int:
    limit = Limit(f"burst-{uuid.uuid4().hex}", 0.1, burst)
    results = await asyncio.gather(*(limiter.acquire([limit]) for _ in range(3 * burst)))
    return sum(r.allowed for r in results)


async def memory_run(rate: float, burst: int, duration: float) -> tuple[list[Drive], int]:
    limiter = MemoryRateLimiter()
    limit = Limit("bench", rate, burst)
    start = time.time() + 0.2
    drives = await asyncio.gather(*(drive(limiter, limit, rate, start, duration) for _ in range(2)))
    return list(drives), await burst_admitted(limiter, burst)


async def redis_worker(url: str, key: str, rate: float, burst: int, start: float, duration: float) -> Drive:
    from apigate.state.redis import RedisRateLimiter, connect

    client = connect(url)
    try:
        limiter = RedisRateLimiter(client, prefix=key, fail_open=False)
        await client.ping()
        return await drive(limiter, Limit("bench", rate, burst), rate, start, duration)
    finally:
        await client.aclose()


async def redis_burst_and_cleanup(url: str, prefix: str, burst: int) -> int:
    from apigate.state.redis import RedisRateLimiter, connect

    client = connect(url, max_connections=8)
    try:
        admitted = await burst_admitted(RedisRateLimiter(client, prefix=prefix, fail_open=False), burst)
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        return admitted
    finally:
        await client.aclose()


def redis_run(url: str, rate: float, burst: int, duration: float) -> tuple[list[Drive], int]:
    prefix = f"apigate-bench:{uuid.uuid4().hex}:"
    start = time.time() + 1.0  # both processes up and connected before the clock starts
    args = [url, prefix, str(rate), str(burst), repr(start), str(duration)]
    workers = [
        subprocess.Popen([sys.executable, __file__, "--worker", *args], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    drives = []
    for worker in workers:
        out, _ = worker.communicate(timeout=duration + 30)
        if worker.returncode != 0:
            raise SystemExit(f"redis worker failed with status {worker.returncode}")
        drives.append(Drive(**json.loads(out)))
    return drives, asyncio.run(redis_burst_and_cleanup(url, prefix, burst))


def report(name: str, drives: list[Drive], burst_got: int, rate: float, burst: int, duration: float) -> bool:
    sent = sum(d.sent for d in drives)
    admitted = sum(d.admitted for d in drives)
    steady = (admitted - burst) / duration
    error = steady / rate - 1
    latency_us = sum(d.busy for d in drives) / sent * 1e6
    rate_ok = abs(error) <= 0.10
    burst_ok = burst_got == burst
    print(
        f"| {name} | {sent / duration:.0f} | {admitted} | {steady:.1f} | {error:+.1%} {'ok' if rate_ok else 'MISSED'} "
        f"| {burst_got} / {burst} {'ok' if burst_ok else 'MISSED'} | {latency_us:.1f} |"
    )
    return rate_ok and burst_ok


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        url, prefix, rate, burst, start, duration = sys.argv[2:8]
        result = asyncio.run(
            redis_worker(url, prefix, float(rate), int(burst), float(start), float(duration))
        )
        print(json.dumps(result.__dict__))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="empty to skip the Redis run")
    parser.add_argument("--backends", default="memory,redis")
    options = parser.parse_args()
    rate, burst, duration = options.rate, options.burst, options.duration
    print(
        f"configured: rate {rate:g}/s, burst {burst}; offered {2 * rate:g}/s from 2 drivers for {duration:g} s"
    )
    print()
    print(
        "| backend | offered/s | admitted | admitted/s after burst | vs rate | burst from full | µs/acquire |"
    )
    print("|---|---|---|---|---|---|---|")
    ok = True
    backends = options.backends.split(",")
    if "memory" in backends:
        drives, got = asyncio.run(memory_run(rate, burst, duration))
        ok &= report("memory (2 tasks)", drives, got, rate, burst, duration)
    if "redis" in backends and options.redis:
        drives, got = redis_run(options.redis, rate, burst, duration)
        ok &= report("redis (2 processes)", drives, got, rate, burst, duration)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
