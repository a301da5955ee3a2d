"""Stage response caches, least recently used entries evicted by bytes within the stage's budget: in memory (one
process) or in Redis (shared by every node).

An entry is a whole method response (status, headers, body) stored under a key the cache step builds from the
method and its cache key parameters, for ``ttl`` seconds. ``stage`` names the stage's cache ("{api}/{stage}").
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CachedResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def encode(self) -> bytes:
        return orjson.dumps([self.status, self.headers]) + b"\n" + self.body

    @staticmethod
    def decode(raw: bytes) -> CachedResponse:
        head, _, body = raw.partition(b"\n")
        status, headers = orjson.loads(head)
        return CachedResponse(int(status), tuple((str(k), str(v)) for k, v in headers), body)

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + 64


class ResponseCache(Protocol):
    async def get(self, stage: str, key: str) -> CachedResponse | None: ...

    async def put(self, stage: str, key: str, entry: CachedResponse, ttl: float, capacity: int) -> None: ...

    async def flush(self, stage: str) -> None: ...

    async def aclose(self) -> None: ...


class _StageLru:
    __slots__ = ("bytes", "entries")

    def __init__(self) -> None:
        self.entries: OrderedDict[str, tuple[float, CachedResponse]] = OrderedDict()
        self.bytes = 0


class MemoryResponseCache:
    """One LRU per stage, bounded by the stage's byte budget; expired entries go when met or evicted."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._stages: dict[str, _StageLru] = {}
        self._clock = clock

    async def get(self, stage: str, key: str) -> CachedResponse | None:
        lru = self._stages.get(stage)
        if lru is None:
            return None
        found = lru.entries.get(key)
        if found is None:
            return None
        expires, entry = found
        if expires <= self._clock():
            del lru.entries[key]
            lru.bytes -= entry.size
            return None
        lru.entries.move_to_end(key)
        return entry

    async def put(self, stage: str, key: str, entry: CachedResponse, ttl: float, capacity: int) -> None:
        size = entry.size
        if size > capacity:
            return
        lru = self._stages.get(stage)
        if lru is None:
            lru = self._stages[stage] = _StageLru()
        old = lru.entries.pop(key, None)
        if old is not None:
            lru.bytes -= old[1].size
        lru.entries[key] = (self._clock() + ttl, entry)
        lru.bytes += size
        while lru.bytes > capacity:
            _, (_, evicted) = lru.entries.popitem(last=False)
            lru.bytes -= evicted.size

    async def flush(self, stage: str) -> None:
        self._stages.pop(stage, None)

    def stage_bytes(self, stage: str) -> int:
        lru = self._stages.get(stage)
        return 0 if lru is None else lru.bytes

    async def aclose(self) -> None:
        self._stages.clear()


# Per stage: the entries (strings with a TTL), a sorted set of their keys by last use (scores from a per-stage
# sequence, so every host agrees on the order without comparing clocks), a hash of their sizes, and a hash holding
# the stage's byte total and sequence. The three bookkeeping keys expire no sooner than the stage's longest-lived
# entry. An entry that expired is still counted until a lookup misses on it or eviction reaches it (as in memory).
#
# Lookup. KEYS: entry, lru, sizes, meta. ARGV: member. Returns the entry, or nil.
_GET_LUA = """
local raw = redis.call('GET', KEYS[1])
if raw then
  if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
    redis.call('ZADD', KEYS[2], redis.call('HINCRBY', KEYS[4], 'seq', 1), ARGV[1])
  end
  return raw
end
local size = redis.call('HGET', KEYS[3], ARGV[1])
if size then
  redis.call('HDEL', KEYS[3], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HINCRBY', KEYS[4], 'bytes', -tonumber(size))
end
return false
"""

# Store. KEYS: entry, lru, sizes, meta. ARGV: member, value, ttl ms, size, capacity, entry key prefix.
# Evicts the least recently used entries until the new one fits. Returns the number evicted.
_PUT_LUA = """
local member, size, capacity = ARGV[1], tonumber(ARGV[4]), tonumber(ARGV[5])
local bytes = tonumber(redis.call('HGET', KEYS[4], 'bytes') or '0')
local old = redis.call('HGET', KEYS[3], member)
if old then
  bytes = bytes - tonumber(old)
  redis.call('ZREM', KEYS[2], member)
  redis.call('HDEL', KEYS[3], member)
end
local evicted = 0
while bytes + size > capacity do
  local oldest = redis.call('ZPOPMIN', KEYS[2])
  if #oldest == 0 then
    bytes = 0
    break
  end
  local victim = oldest[1]
  bytes = bytes - tonumber(redis.call('HGET', KEYS[3], victim) or '0')
  redis.call('HDEL', KEYS[3], victim)
  redis.call('DEL', ARGV[6] .. victim)
  evicted = evicted + 1
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], redis.call('HINCRBY', KEYS[4], 'seq', 1), member)
redis.call('HSET', KEYS[3], member, size)
redis.call('HSET', KEYS[4], 'bytes', bytes + size)
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[4]) < ttl then
  for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], ttl) end
end
return evicted
"""


class RedisResponseCache:
    """Entries as Redis strings with a TTL, within the stage's byte budget (``cacheClusterSize``) like the memory
    cache: least recently used entries are evicted by bytes, per stage, atomically in one Lua script per lookup or
    store (one round trip each). Every gateway sharing the Redis server shares the stage's budget and LRU order.

    Keys: ``{prefix}c:{stage}:{key}`` (entries), ``{prefix}cl:{stage}`` (LRU order), ``{prefix}cs:{stage}``
    (sizes), ``{prefix}cm:{stage}`` (byte total, sequence). Eviction deletes entries by name from the script, so
    this needs one Redis server (or a primary with replicas), not Redis Cluster.
    An unreachable Redis is a miss (the request goes to the integration), logged once per outage.
    """

    def __init__(self, client: Any, *, prefix: str = "apigate:") -> None:
        from apigate.state.redis import _Script  # redis is imported only when this backend is used

        self._client = client
        self._root = prefix
        self._prefix = prefix + "c:"
        self._down = False
        self._get = _Script(_GET_LUA)
        self._put = _Script(_PUT_LUA)

    def _keys(self, stage: str, key: str) -> tuple[str, str, str, str]:
        root = self._root
        return (f"{self._prefix}{stage}:{key}", f"{root}cl:{stage}", f"{root}cs:{stage}", f"{root}cm:{stage}")

    def _failed(self, exc: BaseException) -> None:
        if not self._down:
            self._down = True
            log.warning("redis unreachable (response cache), serving without the cache: %s", exc)

    async def get(self, stage: str, key: str) -> CachedResponse | None:
        try:
            raw = await self._get(self._client, self._keys(stage, key), (key,))
        except (
            Exception
        ) as exc:  # redis-py's ConnectionError/TimeoutError, OSError: a miss, not a failed request
            self._failed(exc)
            return None
        if self._down:
            self._down = False
            log.warning("redis reachable again (response cache)")
        return None if raw is None else CachedResponse.decode(raw)

    async def put(self, stage: str, key: str, entry: CachedResponse, ttl: float, capacity: int) -> None:
        size = entry.size
        if size > capacity:
            return
        args = (key, entry.encode(), max(1, int(ttl * 1000)), size, capacity, f"{self._prefix}{stage}:")
        try:
            await self._put(self._client, self._keys(stage, key), args)
        except Exception as exc:
            self._failed(exc)

    async def stage_bytes(self, stage: str) -> int:
        """The bytes the stage's entries are counted for (what eviction compares with the budget)."""
        raw = await self._client.hget(f"{self._root}cm:{stage}", "bytes")
        return 0 if raw is None else int(raw)

    async def flush(self, stage: str) -> None:
        root = self._root
        await self._client.delete(f"{root}cl:{stage}", f"{root}cs:{stage}", f"{root}cm:{stage}")
        pattern = f"{self._prefix}{stage}:*"
        batch: list[Any] = []
        async for name in self._client.scan_iter(match=pattern, count=500):
            batch.append(name)
            if len(batch) >= 500:
                await self._client.delete(*batch)
                batch.clear()
        if batch:
            await self._client.delete(*batch)

    async def aclose(self) -> None:
        pass
