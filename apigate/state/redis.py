"""Throttling and quotas in Redis, shared by every gateway process and host that points at the same server.

Each check is one Lua script (EVALSHA; the script is sent again only when the server answers NOSCRIPT), so reading
and charging every bucket is atomic: concurrent requests from any number of hosts cannot both take the last token.
Buckets use the Redis server's clock (``TIME``), so hosts whose clocks disagree still refill buckets alike, and a
bucket key expires when it would be full again, so Redis holds only buckets that are in use.

Quota periods and days are computed from the gateway host's clock (UTC); skew only matters within seconds of
midnight. Keys are built from one prefix and are not hash-tagged: one Redis server (or a primary with replicas), not
Redis Cluster.

When Redis cannot be reached, the request path fails open (allow, the default) or closed (throttle), logging once
per outage; control-plane calls (``usage``, ``daily_usage``, ``set_remaining``, ``remaining``) raise
``StateUnavailable``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from apigate.state.base import (
    Limit,
    Quota,
    QuotaResult,
    StateUnavailable,
    ThrottleResult,
    daily_report,
    report_from,
)
from apigate.state.quota_period import day_start, period_bounds, utc_day

log = logging.getLogger(__name__)

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)
_ALLOWED = ThrottleResult(True)
_GRACE_MS = 86_400_000  # keep a period's counter a day past its end, for readers near the boundary

# KEYS: one hash per bucket {t: tokens, u: last update in µs}. ARGV[1]: now in µs, or "" for the server clock;
# then rate and burst for each key. Returns 0 when every bucket gave a token, else the 1-based index of the first
# empty bucket (and nothing was written).
_THROTTLE_LUA = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local levels, stamps = {}, {}
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local state = redis.call('HMGET', KEYS[i], 't', 'u')
  local tokens, stamp = burst, now
  if state[1] then
    tokens, stamp = tonumber(state[1]), tonumber(state[2])
    if now > stamp then
      tokens = tokens + (now - stamp) * rate / 1000000
      stamp = now
    end
    if tokens > burst then tokens = burst end
  end
  if tokens < 1 then return i end
  levels[i], stamps[i] = tokens - 1, stamp
end
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('HSET', KEYS[i], 't', string.format('%.17g', levels[i]), 'u', string.format('%d', stamps[i]))
  local ttl = 86400000
  if rate > 0 then ttl = math.ceil((burst - levels[i]) * 1000 / rate) + 1 end
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return 0
"""

# KEYS: the period's hash {used, adj}, the day's counter, the marker holding the key's initial period, the day's
# closing remaining (what was left after its last counted request or UpdateUsage, for GetUsage).
# ARGV: limit, offset, period id, period TTL ms, day TTL ms, mode (consume | peek | set), remaining (set).
# consume returns what is left after counting, or -1 when refused; peek returns what is left; set returns 0.
_QUOTA_LUA = """
local mode = ARGV[6]
local first = redis.call('GET', KEYS[3])
if not first then
  if mode ~= 'peek' then redis.call('SET', KEYS[3], ARGV[3]) end
  first = ARGV[3]
end
local limit = tonumber(ARGV[1])
if first == ARGV[3] then limit = limit - tonumber(ARGV[2]) end
if limit < 0 then limit = 0 end
local c = redis.call('HMGET', KEYS[1], 'used', 'adj')
local used, adj = tonumber(c[1] or '0'), tonumber(c[2] or '0')
local left = limit + adj - used
if mode == 'peek' then return left end
if mode == 'set' then
  redis.call('HSET', KEYS[1], 'adj', string.format('%d', tonumber(ARGV[7]) - (limit - used)))
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  redis.call('SET', KEYS[4], ARGV[7], 'PX', ARGV[5])
  return 0
end
if left <= 0 then return -1 end
redis.call('HINCRBY', KEYS[1], 'used', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('SET', KEYS[4], string.format('%d', left - 1), 'PX', ARGV[5])
return left - 1
"""


def connect(
    url: str = "redis://127.0.0.1:6379/0", *, max_connections: int = 32, timeout: float = 1.0
) -> aioredis.Redis:
    """A client for these backends (close it with ``aclose``).

    Its pool waits up to ``timeout`` for a free connection: redis-py's default pool raises "Too many connections"
    at once when a burst of requests exceeds it, which the limiter would take for an outage and fail open on.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
    )
    return aioredis.Redis.from_pool(pool)


class _Script:
    """A Lua script run by SHA; loaded on the first NOSCRIPT (a fresh or restarted server), then by SHA again."""

    __slots__ = ("_sha", "_source")

    def __init__(self, source: str) -> None:
        self._source = source
        self._sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(
        self, client: aioredis.Redis, keys: Sequence[str], args: Sequence[str | int | bytes]
    ) -> Any:
        try:
            return await client.evalsha(self._sha, len(keys), *keys, *args)
        except NoScriptError:
            await client.script_load(self._source)
            return await client.evalsha(self._sha, len(keys), *keys, *args)


class _Outage:
    """Logs the first failure of an outage, and the recovery."""

    __slots__ = ("down", "what")

    def __init__(self, what: str) -> None:
        self.what = what
        self.down = False

    def failed(self, exc: BaseException, fail_open: bool) -> None:
        if not self.down:
            self.down = True
            action = "allowing" if fail_open else "refusing"
            log.warning("redis unreachable (%s), %s requests until it answers: %s", self.what, action, exc)

    def recovered(self) -> None:
        self.down = False
        log.warning("redis reachable again (%s)", self.what)


class RedisRateLimiter:
    """Token buckets in Redis. ``client`` belongs to the caller (close it yourself); ``aclose`` closes nothing."""

    __slots__ = ("_client", "_fail_open", "_outage", "_prefix", "_script")

    def __init__(self, client: aioredis.Redis, *, prefix: str = "apigate:", fail_open: bool = True) -> None:
        self._client = client
        self._prefix = prefix + "tb:"
        self._fail_open = fail_open
        self._script = _Script(_THROTTLE_LUA)
        self._outage = _Outage("throttling")

    async def acquire(self, limits: Sequence[Limit], now: float | None = None) -> ThrottleResult:
        if not limits:
            return _ALLOWED
        prefix = self._prefix
        keys = [prefix + limit.key for limit in limits]
        args: list[str | int] = ["" if now is None else str(round(now * 1_000_000))]
        for limit in limits:
            args.append(repr(float(limit.rate)))
            args.append(limit.burst)
        try:
            index = await self._script(self._client, keys, args)
        except _UNREACHABLE as exc:
            self._outage.failed(exc, self._fail_open)
            return _ALLOWED if self._fail_open else ThrottleResult(False)
        if self._outage.down:
            self._outage.recovered()
        return _ALLOWED if index == 0 else ThrottleResult(False, limits[int(index) - 1].key)

    async def aclose(self) -> None:
        pass


class RedisQuotaCounter:
    """Quota counters in Redis: a hash per (key, period) and a counter per (key, UTC day) kept
    ``retention_days``. ``client`` belongs to the caller."""

    __slots__ = ("_client", "_day_ttl_ms", "_fail_open", "_outage", "_prefix", "_retention_days", "_script")

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "apigate:",
        fail_open: bool = True,
        retention_days: int = 90,
    ) -> None:
        self._client = client
        self._prefix = prefix + "q:"
        self._fail_open = fail_open
        self._retention_days = retention_days
        self._day_ttl_ms = (retention_days + 1) * 86_400_000
        self._script = _Script(_QUOTA_LUA)
        self._outage = _Outage("quotas")

    async def _run(self, key: str, quota: Quota, now: float | None, mode: str, remaining: int = 0) -> int:
        moment = time.time() if now is None else now
        day = utc_day(moment)
        start, end = period_bounds(quota.period, day)
        base = f"{self._prefix}{key}:"
        period_id = start.isoformat()
        keys = (
            f"{base}{quota.period}:{period_id}",
            f"{base}d:{day.isoformat()}",
            f"{base}first:{quota.period}",
            f"{base}r:{day.isoformat()}",
        )
        period_ttl_ms = max(1, math.ceil((day_start(end) - moment) * 1000)) + _GRACE_MS
        args = (quota.limit, quota.offset, period_id, period_ttl_ms, self._day_ttl_ms, mode, remaining)
        result = await self._script(self._client, keys, args)
        if self._outage.down:
            self._outage.recovered()
        return int(result)

    async def consume(self, key: str, quota: Quota, now: float | None = None) -> QuotaResult:
        try:
            left = await self._run(key, quota, now, "consume")
        except _UNREACHABLE as exc:
            self._outage.failed(exc, self._fail_open)
            return QuotaResult(self._fail_open, -1)
        return QuotaResult(False, 0) if left < 0 else QuotaResult(True, left)

    async def remaining(self, key: str, quota: Quota, now: float | None = None) -> int:
        try:
            return max(await self._run(key, quota, now, "peek"), 0)
        except _UNREACHABLE as exc:
            raise StateUnavailable(f"redis unreachable: {exc}") from exc

    async def set_remaining(self, key: str, quota: Quota, remaining: int, now: float | None = None) -> None:
        try:
            await self._run(key, quota, now, "set", remaining)
        except _UNREACHABLE as exc:
            raise StateUnavailable(f"redis unreachable: {exc}") from exc

    async def usage(self, key: str, start: date, end: date) -> dict[str, int]:
        days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        if not days:
            return {}
        base = f"{self._prefix}{key}:d:"
        try:
            counts = await self._client.mget([base + d.isoformat() for d in days])
        except _UNREACHABLE as exc:
            raise StateUnavailable(f"redis unreachable: {exc}") from exc
        return {d.isoformat(): int(n) for d, n in zip(days, counts, strict=True) if n is not None}

    async def daily_usage(
        self, key: str, quota: Quota, start: date, end: date, now: float | None = None
    ) -> list[tuple[int, int]]:
        moment = time.time() if now is None else now
        since = report_from(quota, start)
        days = [since + timedelta(days=i) for i in range((end - since).days + 1)]
        base = f"{self._prefix}{key}:"
        live = await self.remaining(key, quota, moment)
        if not days:
            return []
        try:
            pipe = self._client.pipeline(transaction=False)
            pipe.mget([f"{base}d:{d.isoformat()}" for d in days])
            pipe.mget([f"{base}r:{d.isoformat()}" for d in days])
            pipe.get(f"{base}first:{quota.period}")
            counts, closing, first = await pipe.execute()
        except _UNREACHABLE as exc:
            raise StateUnavailable(f"redis unreachable: {exc}") from exc
        return daily_report(
            quota,
            start,
            end,
            today=utc_day(moment),
            first=None if first is None else date.fromisoformat(first.decode()),
            counts={d: int(n) for d, n in zip(days, counts, strict=True) if n is not None},
            closing={d: int(n) for d, n in zip(days, closing, strict=True) if n is not None},
            live=live,
        )

    async def aclose(self) -> None:
        pass
