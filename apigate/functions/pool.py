"""The workers of one function configuration: warm ones reused newest-first, callers queued first-come.

A slot is a worker that exists or is being started. ``take`` returns an idle worker, ``None`` meaning "the
slot is yours: start a worker" (only when the function has no worker at all), or a future to await for one of
those; every slot taken is given back by one ``release`` (of the worker, or of ``None`` when no worker came
of it).

A busy function queues its callers rather than starting a worker per concurrent call: on one core, one warm
worker serves a trivial handler ~3x cheaper than eight round-robined ones (their caches stay cold), and a queue
of a few calls waits microseconds. The pool scales up when the queue *stalls*: its oldest caller has waited
``STALL_SECONDS`` and no call ended during one more turn of the event loop (so a gateway that was merely
descheduled, or busy, does not count), and another worker would help: a busy one is blocked (sleeping,
waiting for I/O), or fewer workers are busy than we have cores. It then starts one worker per waiting
caller, up to the limit, in the background (``start_spare``); each joins the pool when ready. Lambda would start an environment per
concurrent call at once; the queue trades a few milliseconds of a slow handler's concurrency for not paying a
process per burst of fast calls.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Callable

from .process import WorkerProcess

__all__ = ["STALL_SECONDS", "PoolClosedError", "WorkerPool"]

STALL_SECONDS = 0.01  # queue wait that asks for another worker (if the queue also stopped moving)
_CONFIRM_SECONDS = 0.001  # one more turn of the loop, I/O included, before deciding
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class PoolClosedError(RuntimeError):
    pass


class WorkerPool:
    def __init__(self, key: str, limit: int, start_spare: Callable[[WorkerPool], None] | None = None) -> None:
        self.key = key
        self._limit = limit
        self._size = 0
        self._idle: list[WorkerProcess] = []  # a stack: the most recently used stays warm
        self._waiters: deque[tuple[float, asyncio.Future[WorkerProcess | None]]] = deque()
        self._retired = False
        self._start_spare = start_spare
        self._starting = 0  # spares being started in the background
        self._served = 0  # slots handed back: the queue moved
        self._timer: asyncio.TimerHandle | None = None
        self._busy: set[WorkerProcess] = set()

    def take(self) -> WorkerProcess | asyncio.Future[WorkerProcess | None] | None:
        idle = self._idle
        while idle:
            worker = idle.pop()
            if worker.alive:
                self._busy.add(worker)
                return worker
            self._size -= 1  # died while idle and not yet forgotten
        if self._size == 0 or (self._start_spare is None and self._size < self._limit):
            self._size += 1
            return None
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[WorkerProcess | None] = loop.create_future()
        self._waiters.append((loop.time(), waiter))
        if self._timer is None and self._start_spare is not None:
            self._timer = loop.call_at(loop.time() + STALL_SECONDS, self._check, loop)
        return waiter

    async def acquire(self) -> WorkerProcess | None:
        got = self.take()
        if not isinstance(got, asyncio.Future):
            return got
        return await self.wait(got)

    async def wait(self, waiter: asyncio.Future[WorkerProcess | None]) -> WorkerProcess | None:
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release(waiter.result())  # handed over just as we were cancelled: pass it on
            raise

    def release(self, worker: WorkerProcess | None) -> None:
        if worker is not None:
            self._busy.discard(worker)
            if self._retired or not worker.alive:
                worker.kill()
                worker = None
        self._served += 1
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()[1]
            if not waiter.done():
                waiter.set_result(worker)  # a worker, or its free slot
                if worker is not None:
                    self._busy.add(worker)
                return
        if worker is None:
            self._size -= 1
        else:
            self._idle.append(worker)

    def spare_started(self, worker: WorkerProcess | None) -> None:
        """A background start ended: with a ready worker, or ``None`` (it failed; its slot is free again)."""
        self._starting -= 1
        self.release(worker)

    def _head(self) -> tuple[float, asyncio.Future[WorkerProcess | None]] | None:
        waiters = self._waiters
        while waiters and waiters[0][1].done():  # cancelled callers
            waiters.popleft()
        return waiters[0] if waiters else None

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        head = self._head()
        if head is None or self._retired:
            return
        if loop.time() - head[0] < STALL_SECONDS:
            self._timer = loop.call_at(head[0] + STALL_SECONDS, self._check, loop)
            return
        self._timer = loop.call_later(_CONFIRM_SECONDS, self._confirm, loop, head[1], self._served)

    def _confirm(
        self, loop: asyncio.AbstractEventLoop, head: asyncio.Future[WorkerProcess | None], served: int
    ) -> None:
        # A timer runs before the callbacks its turn's I/O scheduled (a reply read, the task it wakes):
        # decide after them, or a reply that had arrived would count as a stall.
        loop.call_soon(self._decide, loop, head, served)

    def _decide(
        self, loop: asyncio.AbstractEventLoop, head: asyncio.Future[WorkerProcess | None], served: int
    ) -> None:
        self._timer = None
        if self._retired:
            return
        if not head.done() and self._served == served and self._start_spare is not None and self._helps():
            wanted = min(len(self._waiters) - self._starting, self._limit - self._size)
            for _ in range(wanted):
                self._size += 1
                self._starting += 1
                self._start_spare(self)
        if self._head() is not None:
            self._timer = loop.call_later(STALL_SECONDS, self._check, loop)

    def _helps(self) -> bool:
        """Would another worker serve the queue sooner? Yes if a busy one is blocked (sleeping, waiting for
        I/O) or a core is left; no if they all run, or wait for a core, on every core we have: more
        workers would only share the same cores (and a starved gateway is no reason to start any)."""
        busy = self._busy
        return len(busy) < _CORES or not all(worker.runnable() for worker in busy)

    def forget(self, worker: WorkerProcess) -> None:
        """A worker exited on its own; free its slot if it was idle (busy ones come back through release)."""
        if worker in self._idle:
            self._idle.remove(worker)
            self.release(None)

    def retire(self) -> list[WorkerProcess]:
        """No more reuse: kill the idle workers now; busy ones are killed when released."""
        self._retired = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()
            self.release(None)
        return idle

    def close(self) -> None:
        self.retire()
        while self._waiters:
            waiter = self._waiters.popleft()[1]
            if not waiter.done():
                waiter.set_exception(PoolClosedError("the function runtime is closed"))
