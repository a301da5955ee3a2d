"""Function logs in Lambda's text format: one file per function, one START..REPORT block per invocation.

An invocation's lines are buffered and written as one block, so concurrent invocations of a function never
interleave in its file; a very chatty invocation spills to the file early and keeps only its tail.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import BinaryIO

__all__ = ["FunctionLog", "InvocationLog", "LogDirectory", "report_line"]

TAIL_BYTES = 4096  # what Invoke's LogType=Tail returns
_SPILL_BYTES = 1 << 20


class FunctionLog:
    """Appends to ``<log_dir>/<function name>.log``; the file is opened on first use and reopened after close."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: BinaryIO | None = None

    def write(self, data: bytes) -> None:
        if self._file is None:
            self._file = open(self._path, "ab", buffering=0)  # noqa: SIM115 - kept open across writes
        self._file.write(data)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class LogDirectory:
    def __init__(self, log_dir: Path) -> None:
        self._dir = Path(log_dir)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._logs: dict[str, FunctionLog] = {}

    def get(self, function_name: str) -> FunctionLog:
        log = self._logs.get(function_name)
        if log is None:
            log = self._logs[function_name] = FunctionLog(self._dir / f"{function_name}.log")
        return log

    def close_all(self) -> None:
        for log in self._logs.values():
            log.close()
        self._logs.clear()


class InvocationLog:
    """Collects one invocation's block; anything fed after ``finish`` goes straight to the function log."""

    __slots__ = ("_done", "_log", "_parts", "_size", "_spilled")

    def __init__(self, log: FunctionLog) -> None:
        self._log = log
        self._parts: list[bytes] = []
        self._size = 0
        self._spilled = b""  # the tail of what was already spilled to the file
        self._done = False

    def feed(self, data: bytes) -> None:
        if self._done:
            self._log.write(data)
            return
        self._parts.append(data)
        self._size += len(data)
        if self._size > _SPILL_BYTES:
            block = b"".join(self._parts)
            self._log.write(block)
            self._spilled = block[-TAIL_BYTES:]
            self._parts.clear()
            self._size = 0

    def line(self, text: str) -> None:
        self.feed(text.encode() + b"\n")

    def finish(self) -> str:
        """Write the block out; return its last 4 KB for LogType=Tail."""
        block = b"".join(self._parts)
        self._log.write(block)
        self._parts.clear()
        self._done = True
        tail = block[-TAIL_BYTES:]
        if len(tail) < TAIL_BYTES and self._spilled:
            tail = (self._spilled + tail)[-TAIL_BYTES:]
        return tail.decode("utf-8", "replace")


def report_line(
    request_id: str,
    duration_ms: float,
    memory_size: int,
    max_rss_kb: int,
    init_duration_ms: float | None = None,
    status: str | None = None,
    error_type: str | None = None,
) -> str:
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
