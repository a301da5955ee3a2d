"""Where WebSocket connections live: which process holds each one, and what GET @connections reports.

The memory directory serves one process. The Redis directory lets every process that shares a Redis server
answer @connections calls for any connection: each connection's record is a hash (``{prefix}c:{id}``, expiring
after the maximum connection duration), and each process listens on a channel of its own
(``{prefix}n:{node}``) for posts and deletes meant for the connections it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from redis import asyncio as aioredis

__all__ = [
    "ConnectionDirectory",
    "ConnectionInfo",
    "LocalConnections",
    "MemoryConnectionDirectory",
    "Owner",
    "PostResult",
    "RedisConnectionDirectory",
    "connection_directory",
]

log = logging.getLogger("apigate.websocket")


@dataclass(slots=True)
class ConnectionInfo:
    connection_id: str
    api_id: str
    stage: str
    connected_at: int  # epoch milliseconds
    source_ip: str
    user_agent: str
    last_active_at: int  # epoch milliseconds


# Which API and stage a connection must belong to for an @connections call to reach it: (api id, stage).
Owner = tuple[str, str]


def _owned(info: ConnectionInfo | None, owner: Owner | None) -> bool:
    """The connection exists and, when an owner is named, belongs to that API and stage."""
    return info is not None and (owner is None or (info.api_id, info.stage) == owner)


class PostResult(Enum):
    SENT = "sent"
    GONE = "gone"  # 410 GoneException
    FULL = "full"  # 429 LimitExceededException: the client does not read what it is sent


class LocalConnections(Protocol):
    """The connections this process holds (the data plane implements it)."""

    def info(self, connection_id: str) -> ConnectionInfo | None: ...

    def post(self, connection_id: str, data: bytes) -> PostResult: ...

    def disconnect(self, connection_id: str) -> bool: ...


class ConnectionDirectory(Protocol):
    async def start(self, local: LocalConnections) -> None: ...

    async def added(self, info: ConnectionInfo) -> None: ...

    async def removed(self, connection_id: str) -> None: ...

    def active(self, info: ConnectionInfo) -> None: ...

    async def get(self, connection_id: str) -> ConnectionInfo | None: ...

    async def post(self, connection_id: str, data: bytes, owner: Owner | None = None) -> PostResult: ...

    async def delete(self, connection_id: str, owner: Owner | None = None) -> bool: ...

    async def close(self) -> None: ...


class MemoryConnectionDirectory:
    """One process: every connection is local."""

    def __init__(self) -> None:
        self._local: LocalConnections | None = None

    async def start(self, local: LocalConnections) -> None:
        self._local = local

    async def added(self, info: ConnectionInfo) -> None:
        pass

    async def removed(self, connection_id: str) -> None:
        pass

    def active(self, info: ConnectionInfo) -> None:
        pass

    async def get(self, connection_id: str) -> ConnectionInfo | None:
        return self._local.info(connection_id) if self._local else None

    async def post(self, connection_id: str, data: bytes, owner: Owner | None = None) -> PostResult:
        local = self._local
        if local is None or (owner is not None and not _owned(local.info(connection_id), owner)):
            return PostResult.GONE
        return local.post(connection_id, data)

    async def delete(self, connection_id: str, owner: Owner | None = None) -> bool:
        local = self._local
        if local is None or (owner is not None and not _owned(local.info(connection_id), owner)):
            return False
        return local.disconnect(connection_id)

    async def close(self) -> None:
        pass


_FIELDS = ("node", "api", "stage", "connectedAt", "sourceIp", "userAgent", "lastActiveAt")
_ACTIVE_EVERY_MS = 1000  # lastActiveAt reaches Redis at most once a second per connection


class RedisConnectionDirectory:
    """Several processes: records in Redis, posts and deletes relayed to the holding process by pub/sub."""

    def __init__(self, client: aioredis.Redis, *, ttl_seconds: int, prefix: str = "apigate:ws:") -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._prefix = prefix
        self.node = uuid.uuid4().hex
        self._local: LocalConnections | None = None
        self._listener: asyncio.Task[None] | None = None
        self._pubsub: Any = None
        self._synced: dict[str, int] = {}  # connection id -> lastActiveAt last written
        self._writes: set[asyncio.Task[Any]] = set()

    def _key(self, connection_id: str) -> str:
        return f"{self._prefix}c:{connection_id}"

    def _channel(self, node: str) -> str:
        return f"{self._prefix}n:{node}"

    async def start(self, local: LocalConnections) -> None:
        self._local = local
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            await self._pubsub.subscribe(self._channel(self.node))
        except Exception:  # Redis is down: serve anyway, the listener keeps trying
            log.warning("cannot subscribe to this process's @connections channel yet", exc_info=True)
        self._listener = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=5.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("lost the Redis channel for @connections; retrying", exc_info=True)
                await asyncio.sleep(1.0)
                with contextlib.suppress(Exception):
                    await self._pubsub.subscribe(self._channel(self.node))
                continue
            if message is None or message.get("type") != "message":
                continue
            data: bytes = message["data"]
            operation, _, rest = data.partition(b" ")
            connection_id, _, payload = rest.partition(b"\n")
            local = self._local
            if local is None:
                continue
            if operation == b"P":
                if local.post(connection_id.decode(), payload) is PostResult.GONE:
                    await self.removed(connection_id.decode())
            elif operation == b"D":
                local.disconnect(connection_id.decode())

    async def added(self, info: ConnectionInfo) -> None:
        key = self._key(info.connection_id)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "node": self.node,
                    "api": info.api_id,
                    "stage": info.stage,
                    "connectedAt": info.connected_at,
                    "sourceIp": info.source_ip,
                    "userAgent": info.user_agent,
                    "lastActiveAt": info.last_active_at,
                },
            )
            pipe.expire(key, self._ttl)
            await pipe.execute()
        self._synced[info.connection_id] = info.last_active_at

    async def removed(self, connection_id: str) -> None:
        self._synced.pop(connection_id, None)
        try:
            await self._client.delete(self._key(connection_id))
        except Exception:
            log.warning("could not remove connection %s from Redis", connection_id, exc_info=True)

    def active(self, info: ConnectionInfo) -> None:
        synced = self._synced.get(info.connection_id)
        if synced is None or info.last_active_at - synced < _ACTIVE_EVERY_MS:
            return
        self._synced[info.connection_id] = info.last_active_at
        task = asyncio.get_running_loop().create_task(
            self._set_active(info.connection_id, info.last_active_at)
        )
        self._writes.add(task)
        task.add_done_callback(self._written)

    async def _set_active(self, connection_id: str, when: int) -> None:
        await self._client.hset(self._key(connection_id), "lastActiveAt", str(when))

    def _written(self, task: asyncio.Task[Any]) -> None:
        self._writes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("could not record activity in Redis: %s", task.exception())  # once a second each

    async def _record(self, connection_id: str) -> dict[str, str] | None:
        raw = await self._client.hgetall(self._key(connection_id))
        if not raw:
            return None
        record = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                  for k, v in raw.items()}  # fmt: skip
        return record if all(name in record for name in _FIELDS) else None

    async def get(self, connection_id: str) -> ConnectionInfo | None:
        local = self._local.info(connection_id) if self._local else None
        if local is not None:
            return local
        record = await self._record(connection_id)
        if record is None:
            return None
        return ConnectionInfo(
            connection_id,
            record["api"],
            record["stage"],
            int(record["connectedAt"]),
            record["sourceIp"],
            record["userAgent"],
            int(record["lastActiveAt"]),
        )

    async def post(self, connection_id: str, data: bytes, owner: Owner | None = None) -> PostResult:
        info = self._local.info(connection_id) if self._local is not None else None
        if info is not None and self._local is not None:
            return self._local.post(connection_id, data) if _owned(info, owner) else PostResult.GONE
        return await self._relay(b"P", connection_id, data, owner)

    async def delete(self, connection_id: str, owner: Owner | None = None) -> bool:
        info = self._local.info(connection_id) if self._local is not None else None
        if info is not None and self._local is not None:
            return _owned(info, owner) and self._local.disconnect(connection_id)
        return await self._relay(b"D", connection_id, b"", owner) is PostResult.SENT

    async def _relay(
        self, operation: bytes, connection_id: str, data: bytes, owner: Owner | None
    ) -> PostResult:
        # The owner comes in the same round trip as the node: checking it costs nothing extra.
        node, api, stage = (
            value.decode() if isinstance(value, bytes) else value
            for value in await self._client.hmget(self._key(connection_id), ["node", "api", "stage"])
        )
        if node is None or (owner is not None and (api, stage) != owner):
            return PostResult.GONE
        receivers = await self._client.publish(
            self._channel(node), operation + b" " + connection_id.encode() + b"\n" + data
        )
        if not receivers:  # the process that held it is gone: so is the connection
            await self.removed(connection_id)
            return PostResult.GONE
        return PostResult.SENT

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        for task in list(self._writes):
            task.cancel()
        await self._client.aclose()


def connection_directory(redis_url: str | None, *, ttl_seconds: int) -> ConnectionDirectory:
    """In memory for one process; in Redis (a client of its own, closed with the directory) when shared."""
    if redis_url is None:
        return MemoryConnectionDirectory()
    from apigate.state.redis import connect

    return RedisConnectionDirectory(connect(redis_url), ttl_seconds=ttl_seconds)
