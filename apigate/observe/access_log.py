"""Access logs as API Gateway writes them: a stage's ``accessLogSettings.format`` (any ``$context`` variable)
compiled once per deployment, one line per request written to the stage's destination.

Off the hot path: a request appends (format, invocation, status, latency) to a deque; a background task
builds ``$context`` and renders the lines (AWS writes ``-`` for a variable with no value). Destinations:
``arn:aws:logs:…:log-group:NAME`` -> ``<data dir>/logs/access/NAME.log`` (one file per log group, until a
CloudWatch Logs API serves them), and two apigate extensions, ``file:///absolute/path`` and ``stdout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from apigate.model.access_log import AccessLogFormat

if TYPE_CHECKING:
    from apigate.dataplane.invocation import Invocation

__all__ = ["AccessLogs"]


def _context(inv: Invocation, status: int, latency_ms: float) -> dict[str, Any]:
    """``$context`` as access logs see it: the request's, plus what only the finished request knows."""
    from apigate.dataplane.lambda_proxy.rest import request_context

    context = request_context(inv)
    response = inv.response
    length = len(response.body) if response is not None and isinstance(response.body, bytes) else None
    integration_ms = None if inv.integration_ms is None else int(inv.integration_ms)
    context.update(
        status=status,
        responseLength=length,
        responseLatency=int(latency_ms),
        integrationLatency=integration_ms,
        xrayTraceId=inv.trace_id.removeprefix("Root="),
        error={"responseType": inv.error_type, "message": None},
        integration={"latency": integration_ms, "status": None, "error": None},
    )
    if inv.api_key_id is not None:
        context["identity"] = {**context.get("identity", {}), "apiKeyId": inv.api_key_id}
    return context


class AccessLogs:
    """The queue and the writer task of every stage's access log in this process."""

    def __init__(self, folder: Path, *, interval: float = 0.05, capacity: int = 100_000) -> None:
        self._folder = folder
        self._interval = interval
        self._queue: deque[tuple[AccessLogFormat, Invocation, int, float]] = deque(maxlen=capacity)
        self._files: dict[str, BinaryIO] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, fmt: AccessLogFormat, inv: Invocation, status: int, latency_ms: float) -> None:
        self._queue.append((fmt, inv, status, latency_ms))  # the request path's whole cost

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.drain()
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            if self._queue:
                self.drain()

    def drain(self) -> None:
        by_destination: dict[str, list[str]] = {}
        queue = self._queue
        while queue:
            fmt, inv, status, latency_ms = queue.popleft()
            try:
                line = fmt.render(_context(inv, status, latency_ms))
            except Exception:  # a log line is never worth a crash of the writer
                continue
            by_destination.setdefault(fmt.destination, []).append(line)
        for destination, lines in by_destination.items():
            data = ("\n".join(lines) + "\n").encode()
            try:
                if destination == "stdout":
                    sys.stdout.buffer.write(data)
                    sys.stdout.flush()
                else:
                    self._file(destination).write(data)
            except (OSError, ValueError):
                continue  # a full disk loses log lines, never requests

    def path_of(self, destination: str) -> Path:
        """Where a destination's lines go."""
        if destination.startswith("file://"):
            return Path(destination.removeprefix("file://"))
        name = destination.split(":log-group:", 1)[-1].removesuffix(":*")
        safe = re.sub(r"[^A-Za-z0-9_.\-]", "_", name.strip("/")) or "access"
        return self._folder / f"{safe}.log"

    def _file(self, destination: str) -> BinaryIO:
        handle = self._files.get(destination)
        if handle is None:
            path = self.path_of(destination)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle = self._files[destination] = open(path, "ab", buffering=0)  # noqa: SIM115 - kept open
        return handle
