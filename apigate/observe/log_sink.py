"""What the gateway logs into its CloudWatch Logs store (apigate/store/log_events.py): functions' output with
the START/END/REPORT lines of their runtime in ``/aws/lambda/{name}``, and access and execution log lines
whose destination is a log group. Queued on the request path (one append), written in one transaction a few
times a second by the drain task, in a thread; retention is applied every few minutes there too.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from itertools import repeat

from apigate.observe.drain import PeriodicDrain
from apigate.store.log_events import LogStore

__all__ = ["LogSink", "function_log_group"]

_log = logging.getLogger("apigate.logs")
_PRUNE_EVERY_S = 300.0
_CONTINUATION = (b" ", b"\t")  # a traceback's lines stay in the event of the [ERROR] line above them

# (group, epoch ms, lines or a function's output): each group's events go to this process's stream of it
_Entry = tuple[str, int, "list[str] | bytes"]


def _entry_time(entry: tuple[int, object]) -> int:
    return entry[0]


def function_log_group(name: str) -> str:
    return f"/aws/lambda/{name}"


class LogSink(PeriodicDrain[_Entry]):
    # The transaction in a thread: SQLite releases the GIL while it writes and syncs, so a WAL checkpoint's fsync
    # no longer stops the loop (measured: drains of 3,000 lines held the loop 1.8 ms at the median, 11 ms at the
    # 90th percentile and up to 80 ms, twice their CPU time). The CPU cost is the same.
    threaded = True

    def __init__(self, store: LogStore, *, interval: float = 0.2, capacity: int = 100_000) -> None:
        super().__init__(interval=interval, capacity=capacity)
        self.store = store
        self._instance = uuid.uuid4().hex  # this process's streams, as an execution environment's on AWS
        self._streams: dict[str, str] = {}
        self._day = ""
        self._pruned = 0.0
        self._failing = False

    def start(self) -> None:
        super().start()
        self._pruned = 0.0  # the first drain applies retention (later ones every few minutes)
        try:
            self.store.prune(int(time.time() * 1000))
            self._pruned = time.time()
        except sqlite3.Error as exc:
            _log.warning("cannot apply log retention: %s", exc)

    # --- on the request path ---

    def function_output(self, function: str, data: bytes) -> None:
        """A block of a function's log (its runtime's lines and what it printed)."""
        self._queue.append((function_log_group(function), int(time.time() * 1000), data))

    def lines(self, group: str, epoch_ms: int, lines: list[str]) -> None:
        self._queue.append((group, epoch_ms, lines))

    # --- the drain task ---

    def _stream(self, group: str, day: str) -> str:
        if day != self._day:
            self._day = day
            self._streams.clear()
        stream = self._streams.get(group)
        if stream is None:
            if group.startswith("/aws/lambda/"):
                stream = f"{day}/[$LATEST]{self._instance}"
            else:
                stream = self._instance
            self._streams[group] = stream
        return stream

    def drain(self) -> None:
        queue = self._queue
        day = time.strftime("%Y/%m/%d", time.gmtime())
        by_group: dict[str, list[tuple[int, list[str] | bytes]]] = {}
        while queue:
            group, epoch_ms, item = queue.popleft()
            entries = by_group.get(group)
            if entries is None:
                entries = by_group[group] = []
            entries.append((epoch_ms, item))
        streams: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for group, entries in by_group.items():
            # An entry's events share its time: ordering the few entries (stably) orders the events, so the
            # store need not sort thousands of them (measured: a tenth of what a logged line costs here).
            entries.sort(key=_entry_time)
            events: list[tuple[int, str]] = []
            for epoch_ms, item in entries:
                if isinstance(item, bytes):
                    events.extend((epoch_ms, message) for message in _events(item))
                else:
                    events.extend(zip(repeat(epoch_ms), item))  # C-level pairs: a drain may carry thousands
            streams[(group, self._stream(group, day))] = events
        count = sum(len(events) for events in streams.values())
        now = time.time()
        try:
            if streams:
                self.store.append_streams(streams, int(now * 1000), ordered=True)
            if now - self._pruned > _PRUNE_EVERY_S:
                self._pruned = now
                self.store.prune(int(now * 1000))
        except sqlite3.Error as exc:  # a full disk or a locked file loses log events, never requests
            if not self._failing:
                self._failing = True
                _log.warning("cannot write log events, %d are lost: %s", count, exc)
            return
        self._failing = False


def _events(data: bytes) -> list[str]:
    """A function's output as CloudWatch events: a line each, a traceback with its ``[ERROR]`` line."""
    if b"[ERROR]" not in data:  # the usual block (START, END, REPORT, prints): a line each
        return [raw.decode(errors="replace") for raw in data.splitlines() if raw.strip()]
    events: list[str] = []
    in_error = False
    for raw in data.splitlines():
        if not raw.strip():
            continue
        if in_error and (raw.startswith(_CONTINUATION) or raw == b"Traceback (most recent call last):"):
            events[-1] += "\n" + raw.decode(errors="replace")
            continue
        in_error = raw.startswith(b"[ERROR]")
        events.append(raw.decode(errors="replace"))
    return events
