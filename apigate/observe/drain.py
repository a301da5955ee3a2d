"""A queue filled on the request path and written by a task of its own, a few times a second.

The request path only appends (a deque with a bound: under a flood the oldest entries go, never memory); the
rendering and the writes happen in ``drain``, on the loop but off any request. The access logs and the console
both work this way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Generic, TypeVar

__all__ = ["PeriodicDrain"]

_T = TypeVar("_T")


class PeriodicDrain(Generic[_T]):
    def __init__(self, *, interval: float, capacity: int) -> None:
        self._interval = interval
        self._queue: deque[_T] = deque(maxlen=capacity)
        self._task: asyncio.Task[None] | None = None

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
        self.drain()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            if self.pending():
                self.drain()
