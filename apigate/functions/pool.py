"""The workers of one function configuration: warm ones reused newest-first, callers queued first-come.

A slot is a worker that exists or is being started. ``take`` returns an idle worker; ``reserve`` a slot to
start one in (only when the function has no worker at all); otherwise the call waits in the queue until a
worker or a freed slot is handed to it through ``serve``, straight from ``release``: no task wakes up in
between, the next call is sent from the callback that received the previous reply. Every slot taken is given
back by one ``release`` (of the worker, or of ``None`` when no worker came of it).

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
from typing import Any, Protocol

from .process import WorkerProcess

__all__ = ["STALL_SECONDS", "PoolClosedError", "Queued", "WorkerPool"]

BATCH_CALLS = 16  # at most this many calls in one batch
STALL_SECONDS = 0.01  # queue wait that asks for another worker (if the queue also stopped moving)
_CONFIRM_SECONDS = 0.001  # one more turn of the loop, I/O included, before deciding
_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class PoolClosedError(RuntimeError):
    pass


class Queued(Protocol):
    """A call waiting for a worker: done once its caller gave up (or its deadline, in loop time, passed)."""

    deadline: float | None
    result: asyncio.Future[Any]


class WorkerPool:
    def __init__(
        self,
        key: str,
        limit: int,
        serve: Callable[[WorkerProcess | None, Any], None],
        start_spare: Callable[[WorkerPool], None] | None = None,
        serve_batch: Callable[[WorkerProcess, list[Any]], None] | None = None,
    ) -> None:
        self.key = key
        self._limit = limit
        self._size = 0
        self._idle: list[WorkerProcess] = []  # a stack: the most recently used stays warm
        self._queue: deque[tuple[float, Queued]] = deque()  # (enqueued at, call)
        self._serve = serve  # hands a worker, or a free slot (None), to a queued call
        self._serve_batch = serve_batch  # hands a worker several queued calls at once (frames.py)
        self._retired = False
        self._closed = False
        self._start_spare = start_spare
        self._starting = 0  # spares being started in the background
        self._served = 0  # slots handed back: the queue moved
        self._timer: asyncio.TimerHandle | None = None
        self._busy: set[WorkerProcess] = set()
        self.batches = False  # its workers run batches (set by the runtime)
        self.flushing = False  # a flush is scheduled for the end of this turn of the loop (runtime.py)

    def take(self) -> WorkerProcess | None:
        """An idle worker, now busy; or None."""
        idle = self._idle
        while idle:
            worker = idle.pop()
            if worker.alive:
                self._busy.add(worker)
                return worker
            self._size -= 1  # died while idle and not yet forgotten
        return None

    @property
    def started(self) -> bool:
        """It has a worker, or one on its way (so a queued call will be served)."""
        return self._size > 0

    def reserve(self) -> bool:
        """Take a slot to start a worker in, when the function has none (or nothing starts spares)."""
        if self._size == 0 or (self._start_spare is None and self._size < self._limit):
            self._size += 1
            return True
        return False

    def enqueue(self, call: Queued, loop: asyncio.AbstractEventLoop | None = None) -> None:
        if loop is None:
            loop = asyncio.get_running_loop()  # (a getpid() system call each time: callers pass theirs)
        self._queue.append((loop.time(), call))
        if self._timer is None:
            self._timer = loop.call_at(loop.time() + STALL_SECONDS, self._check, loop)

    def release(self, worker: WorkerProcess | None) -> None:
        if worker is not None:
            self._busy.discard(worker)
            if self._retired or not worker.alive:
                worker.kill()
                worker = None
        self._served += 1
        queue = self._queue
        if worker is not None and len(queue) > 1 and self.batches and self._serve_batch is not None:
            taken = self._take_live(BATCH_CALLS)
            if len(taken) > 1:
                self._busy.add(worker)
                self._serve_batch(worker, [call for _, call in taken])
                return
            queue.extendleft(taken)  # one left alive (or none): served alone, as below
        while queue:
            call = queue.popleft()[1]
            if not call.result.done():
                if worker is not None:
                    self._busy.add(worker)
                self._serve(worker, call)  # a worker, or its free slot
                return
        if worker is None:
            self._size -= 1
        else:
            self._idle.append(worker)

    def _take_live(self, most: int) -> list[tuple[float, Queued]]:
        """Up to ``most`` of the oldest calls whose callers still wait, taken off the queue."""
        queue = self._queue
        taken: list[tuple[float, Queued]] = []
        while queue and len(taken) < most:
            item = queue.popleft()
            if not item[1].result.done():
                taken.append(item)
        return taken

    def requeue(self, calls: list[Any]) -> None:
        """Calls a worker did not run (skipped in a batch, or behind a call that failed): first in line
        again, in their order, to be served by the next release."""
        if not calls:
            return
        if self._closed:
            for call in calls:
                if not call.result.done():
                    call.result.set_exception(PoolClosedError("the function runtime is closed"))
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._queue.extendleft((now, call) for call in reversed(calls))
        if self._timer is None and not self._retired:
            self._timer = loop.call_at(now + STALL_SECONDS, self._check, loop)

    def flush(self) -> None:
        """Hand an idle worker the calls queued meanwhile (several at once: a batch)."""
        if self._queue:
            worker = self.take()
            if worker is not None:
                self.release(worker)
            elif self._size == 0 and not self._closed:  # its workers died while idle: start one
                self._size += 1
                self.release(None)

    def spare_started(self, worker: WorkerProcess | None) -> None:
        """A background start ended: with a ready worker, or ``None`` (it failed; its slot is free again)."""
        self._starting -= 1
        self.release(worker)

    def _head(self, now: float) -> tuple[float, Queued] | None:
        """The oldest call still waiting; calls past their deadline are failed here (TimeoutError)."""
        queue = self._queue
        if any(call.deadline is not None and call.deadline <= now for _, call in queue):
            for _, call in queue:
                if call.deadline is not None and call.deadline <= now and not call.result.done():
                    call.result.set_exception(TimeoutError())
        while queue and queue[0][1].result.done():  # callers gone
            queue.popleft()
        return queue[0] if queue else None

    def _check(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        head = self._head(loop.time())
        if head is None or self._retired:
            return
        if loop.time() - head[0] < STALL_SECONDS:
            self._timer = loop.call_at(head[0] + STALL_SECONDS, self._check, loop)
            return
        self._timer = loop.call_later(_CONFIRM_SECONDS, self._confirm, loop, head[1], self._served)

    def _confirm(self, loop: asyncio.AbstractEventLoop, head: Queued, served: int) -> None:
        # A timer runs before the callbacks its turn's I/O scheduled (a reply read, the call it serves):
        # decide after them, or a reply that had arrived would count as a stall.
        loop.call_soon(self._decide, loop, head, served)

    def _decide(self, loop: asyncio.AbstractEventLoop, head: Queued, served: int) -> None:
        self._timer = None
        if self._retired:
            return
        if (
            not head.result.done()
            and self._served == served
            and self._start_spare is not None
            and self._helps()
        ):
            wanted = min(len(self._queue) - self._starting, self._limit - self._size)
            for _ in range(wanted):
                self._size += 1
                self._starting += 1
                self._start_spare(self)
        if self._head(loop.time()) is not None:
            self._timer = loop.call_later(STALL_SECONDS, self._check, loop)

    def _helps(self) -> bool:
        """Would another worker serve the queue sooner? Yes if a busy one is blocked (sleeping, waiting for
        I/O) or a core is left; no if they all run, or wait for a core, on every core we have: more
        workers would only share the same cores. And no if a reply waits unread: the gateway was only
        starved (the event loop had not read it yet), which is no reason to start any."""
        busy = self._busy
        if any(worker.reply_pending() for worker in busy):
            return False
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
        self._closed = True
        self.retire()
        while self._queue:
            call = self._queue.popleft()[1]
            if not call.result.done():
                call.result.set_exception(PoolClosedError("the function runtime is closed"))
