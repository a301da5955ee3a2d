"""Stage response caches: in memory (LRU by bytes within the stage's budget) or in Redis (shared by every node).

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


class RedisResponseCache:
    """Entries as Redis strings with a TTL (``SET ... PX``): one round trip per lookup or store.

    The byte budget is Redis's own (``maxmemory`` with an LRU policy), not the stage's ``cacheClusterSize``.
    An unreachable Redis is a miss (the request goes to the integration), logged once per outage.
    """

    def __init__(self, client: Any, *, prefix: str = "apigate:") -> None:
        self._client = client
        self._prefix = prefix + "c:"
        self._down = False

    def _failed(self, exc: BaseException) -> None:
        if not self._down:
            self._down = True
            log.warning("redis unreachable (response cache), serving without the cache: %s", exc)

    async def get(self, stage: str, key: str) -> CachedResponse | None:
        try:
            raw = await self._client.get(f"{self._prefix}{stage}:{key}")
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
        if entry.size > capacity:
            return
        try:
            await self._client.set(f"{self._prefix}{stage}:{key}", entry.encode(), px=max(1, int(ttl * 1000)))
        except Exception as exc:
            self._failed(exc)

    async def flush(self, stage: str) -> None:
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
