"""A queue filled on the request path and written by a task of its own, a few times a second.

The request path only appends (a bounded queue: under a flood entries go, never memory); the rendering and the
writes happen in ``drain``, on the loop but off any request, or in a thread for a drain that mostly waits on
I/O (``threaded``: the log store). The access logs, the log store's sink and the console work this way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Generic, TypeVar

__all__ = ["PeriodicDrain"]

_T = TypeVar("_T")


class PeriodicDrain(Generic[_T]):
    # True: the task runs ``drain`` in a thread (one at a time), for a drain that waits on I/O with the GIL
    # released (the log store's SQLite transaction): the loop serves meanwhile.
    threaded = False

    def __init__(self, *, interval: float, capacity: int) -> None:
        self._interval = interval
        self._queue: deque[_T] = deque(maxlen=capacity)
        self._task: asyncio.Task[None] | None = None
        self._writing: asyncio.Future[None] | None = None

    def drain(self) -> None:
        raise NotImplementedError

    def pending(self) -> bool:
        """Whether the drain has anything to write."""
        return bool(self._queue)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Stop the task and write what is still queued."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._writing is not None:  # a threaded drain still running: it finishes before the last one
            with contextlib.suppress(Exception):
                await self._writing
            self._writing = None
        self.drain()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            if not self.pending():
                continue
            if self.threaded:
                self._writing = asyncio.ensure_future(asyncio.to_thread(self.drain))
                await asyncio.shield(self._writing)  # close() waits for it rather than leave it half done
            else:
                self.drain()
