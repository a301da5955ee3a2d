"""The workers of one function configuration: warm ones reused newest-first, callers queued first-come.

A slot is a worker that exists or is being started. ``acquire`` returns an idle worker, or ``None`` meaning
"the slot is yours: start a worker"; every acquire is matched by one ``release`` (of the worker, or of
``None`` when no worker came of it).
"""

from __future__ import annotations

import asyncio
from collections import deque

from .process import WorkerProcess

__all__ = ["PoolClosedError", "WorkerPool"]


class PoolClosedError(RuntimeError):
    pass


class WorkerPool:
    def __init__(self, key: str, limit: int) -> None:
        self.key = key
        self._limit = limit
        self._size = 0
        self._idle: list[WorkerProcess] = []  # a stack: the most recently used stays warm
        self._waiters: deque[asyncio.Future[WorkerProcess | None]] = deque()
        self._retired = False

    async def acquire(self) -> WorkerProcess | None:
        idle = self._idle
        while idle:
            worker = idle.pop()
            if worker.alive:
                return worker
            self._size -= 1  # died while idle and not yet forgotten
        if self._size < self._limit:
            self._size += 1
            return None
        waiter: asyncio.Future[WorkerProcess | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release(waiter.result())  # handed over just as we were cancelled: pass it on
            raise

    def release(self, worker: WorkerProcess | None) -> None:
        if worker is not None and (self._retired or not worker.alive):
            worker.kill()
            worker = None
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)  # a worker, or its free slot
                return
        if worker is None:
            self._size -= 1
        else:
            self._idle.append(worker)

    def forget(self, worker: WorkerProcess) -> None:
        """A worker exited on its own; free its slot if it was idle (busy ones come back through release)."""
        if worker in self._idle:
            self._idle.remove(worker)
            self.release(None)

    def retire(self) -> list[WorkerProcess]:
        """No more reuse: kill the idle workers now; busy ones are killed when released."""
        self._retired = True
        idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()
            self.release(None)
        return idle

    def close(self) -> None:
        self.retire()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(PoolClosedError("the function runtime is closed"))
