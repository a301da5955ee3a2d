"""Function logs in Lambda's text format: one file per function, one START..REPORT block per invocation.

An invocation's lines are buffered and written as one block, so concurrent invocations of a function never
interleave in its file; a very chatty invocation spills to the file early and keeps only its tail. What one
invocation prints is capped (``OUTPUT_LIMIT_BYTES``): past it the output is dropped with one notice, so a
function printing without end can neither fill the disk nor hold the gateway's memory.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path

__all__ = ["OUTPUT_LIMIT_BYTES", "FunctionLog", "InvocationLog", "LogDirectory", "report_line"]

TAIL_BYTES = 4096  # what Invoke's LogType=Tail returns
OUTPUT_LIMIT_BYTES = 4 * 1024 * 1024  # what one invocation's own output may add to the log
_SPILL_BYTES = 1 << 20
_FLUSH_BYTES = 1 << 18  # buffered log bytes written at once, without waiting for the end of the loop's turn

_logger = logging.getLogger("apigate.functions")


class FunctionLog:
    """Appends to ``<log_dir>/<function name>.log``; the file is opened on first use and reopened after close.

    Writes are buffered and go out once per turn of the event loop (``call_soon``), after the responses of
    that turn: one system call for every invocation the turn finished, off the request path. Without a
    running loop, or past ``_FLUSH_BYTES``, a write goes out at once.

    A write that fails (a full disk, a removed directory) loses that output, never the invocation: logs are
    the function's, and serving must go on without them. The failure is reported once until writes work again.
    """

    def __init__(self, path: Path, tee: Callable[[bytes], None] | None = None) -> None:
        self._path = path
        self._fd = -1
        self._failing = False
        self._pending: list[bytes] = []
        self._size = 0
        self._scheduled = False
        self._tee = tee  # the console's echo of what the function prints (apigate/observe/console.py)

    def write(self, data: bytes) -> None:
        if self._tee is not None:
            self._tee(data)
        self._pending.append(data)
        self._size += len(data)
        if self._size >= _FLUSH_BYTES:
            self.flush()
        elif not self._scheduled:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop: nothing to batch with
                self.flush()
                return
            self._scheduled = True

    def flush(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending.clear()
        self._size = 0
        try:
            if self._fd < 0:
                self._fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            if not self._failing:
                self._failing = True
                _logger.warning("cannot write the function log %s, output is lost: %s", self._path, exc)
            return
        if self._failing:
            self._failing = False
            _logger.warning("writing the function log %s again", self._path)

    def close(self) -> None:
        self.flush()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class LogDirectory:
    def __init__(self, log_dir: Path) -> None:
        self._dir = Path(log_dir)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._logs: dict[str, FunctionLog] = {}
        self.tee: Callable[[str, bytes], None] | None = None  # set before the first invocation, if at all

    def get(self, function_name: str) -> FunctionLog:
        log = self._logs.get(function_name)
        if log is None:
            tee = self.tee
            echo = None if tee is None else functools.partial(tee, function_name)
            log = self._logs[function_name] = FunctionLog(self._dir / f"{function_name}.log", echo)
        return log

    def close_all(self) -> None:
        for log in self._logs.values():
            log.close()
        self._logs.clear()


class InvocationLog:
    """Collects one invocation's block; anything fed after ``finish`` goes straight to the function log.

    ``feed`` takes the function's own output and counts it against ``limit``; ``line`` takes the runtime's
    lines (START, END, REPORT, errors), which are always kept.
    """

    __slots__ = ("_behind", "_done", "_log", "_parts", "_room", "_size")

    def __init__(self, log: FunctionLog, limit: int = OUTPUT_LIMIT_BYTES) -> None:
        self._log = log
        self._parts: list[bytes] = []
        self._size = 0
        self._room = limit  # output bytes still allowed; -1 once output has been dropped
        self._behind = b""  # the last TAIL_BYTES of what already left _parts (spilled or dropped)
        self._done = False

    def feed(self, data: bytes) -> None:
        if self._done:
            self._log.write(data)
            return
        room = self._room
        if len(data) <= room:
            self._room = room - len(data)
            self._keep(data)
            return
        if room >= 0:  # the first output past the limit: keep what fits, then say the rest is not kept
            if room:
                self._keep(data[:room])
            self._keep(
                f"[apigate] output truncated: this invocation printed more than {OUTPUT_LIMIT_BYTES} bytes, "
                "the rest is not logged\n".encode()
            )
            self._spill()  # later blocks hold only runtime lines: the tail stays in time order
            self._room = -1
        # Dropped output still counts for LogType=Tail, which shows the newest output.
        self._behind = (self._behind + data[-TAIL_BYTES:])[-TAIL_BYTES:]

    def line(self, text: str) -> None:
        if self._done:
            self._log.write(text.encode() + b"\n")
        else:
            self._keep(text.encode() + b"\n")

    def _keep(self, data: bytes) -> None:
        self._parts.append(data)
        self._size += len(data)
        if self._size > _SPILL_BYTES:
            self._spill()

    def _spill(self) -> None:
        block = b"".join(self._parts)
        self._log.write(block)
        self._behind = (self._behind + block[-TAIL_BYTES:])[-TAIL_BYTES:]
        self._parts.clear()
        self._size = 0

    def finish(self) -> bytes:
        """Write the block out; return its last 4 KB for LogType=Tail (decoded only by who asks for it)."""
        parts = self._parts
        block = b"".join(parts) if len(parts) != 1 else parts[0]
        self._log.write(block)
        self._parts = []
        self._done = True
        tail = block[-TAIL_BYTES:]
        if len(tail) < TAIL_BYTES and self._behind:
            tail = (self._behind + tail)[-TAIL_BYTES:]
        return tail


def report_line(
    request_id: str,
    duration_ms: float,
    memory_size: int,
    max_rss_kb: int,
    init_duration_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
    if init_duration_ms is None and status is None and error_type is None:  # a warm call's: one format
        return (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(math.ceil(duration_ms), 1)} ms\tMemory Size: {memory_size} MB\t"
            f"Max Memory Used: {math.ceil(max_rss_kb / 1024)} MB"
        )
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {max(math.ceil(duration_ms), 1)} ms",
        f"Memory Size: {memory_size} MB",
        f"Max Memory Used: {math.ceil(max_rss_kb / 1024)} MB",
    ]
    if init_duration_ms is not None:
        fields.append(f"Init Duration: {init_duration_ms:.2f} ms")
    if status is not None:
        fields.append(f"Status: {status}")
    if error_type is not None:
        fields.append(f"Error Type: {error_type}")
    return "\t".join(fields)
