"""Request lines on stderr while serving, as `sam local` shows them: one line per request, a failed function's
error and last traceback frames under it, and what functions print, prefixed with the function's name.

Off the hot path: a request appends one tuple to a deque (measured below 0.5 µs); a background task drains the
deque every ``interval`` seconds and does all the formatting, parsing and writing. A full queue drops the oldest
lines rather than grow (``maxlen``): a flood of requests cannot hold the gateway's memory.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO

import orjson

from apigate.observe.drain import PeriodicDrain

__all__ = ["RequestConsole", "colour_wanted", "describe_integration"]

_REQUEST, _FUNCTION_ERROR, _OUTPUT, _MESSAGE, _WEBSOCKET = range(5)
_FRAMES = 3  # traceback frames shown under a failed function's line (the last ones: where it raised)
_RUNTIME_LINES = (b"START RequestId:", b"END RequestId:", b"REPORT RequestId:", b"INIT_START ")


def describe_integration(integration: object) -> str:
    """``AWS_PROXY HelloFunction``, ``HTTP_PROXY https://…``, ``MOCK``; ``-`` when no integration was reached.
    Takes a REST or an HTTP API integration (both have ``type`` and ``uri``)."""
    if integration is None:
        return "-"
    kind = str(getattr(integration, "type", "?"))
    subtype = getattr(integration, "subtype", None)
    if subtype:
        return f"{kind} {subtype}"
    uri = getattr(integration, "uri", None) or ""
    if kind in ("AWS_PROXY", "AWS") and ":function:" in uri:
        from apigate.dataplane.http_api.targets import lambda_function

        return f"{kind} {lambda_function(uri) or uri}"
    if kind.startswith("HTTP") and uri:
        return f"{kind} {uri}"
    return kind


def colour_wanted(stream: TextIO) -> bool:
    """ANSI colour on a terminal, unless NO_COLOR is set (https://no-color.org); FORCE_COLOR forces it."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


class _Style:
    def __init__(self, on: bool) -> None:
        self.on = on

    def __call__(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.on else text

    def status(self, status: int) -> str:
        return self("32" if status < 400 else "33" if status < 500 else "31;1", str(status))


class RequestConsole(PeriodicDrain[tuple[Any, ...]]):
    """The console's queue and its renderer. ``request`` and ``function_error`` are called on the request path;
    everything else runs in the drain task."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        colour: bool | None = None,
        function_output: bool = True,
        interval: float = 0.05,
        capacity: int = 10_000,
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._style = _Style(colour_wanted(self._stream) if colour is None else colour)
        self.function_output = function_output
        super().__init__(interval=interval, capacity=capacity)
        self._skipping: dict[str, bool] = {}  # per function: inside an [ERROR] block of its log output

    # --- on the request path: one append each ---

    def request(
        self,
        api: str,
        stage: str,
        method: str,
        path: str,
        status: int,
        latency_ms: float,
        integration: object,
        request_id: str,
    ) -> None:
        self._queue.append(
            (_REQUEST, time.time(), api, stage, method, path, status, latency_ms, integration, request_id)
        )

    def websocket(
        self,
        api: str,
        stage: str,
        event: str,
        connection_id: str,
        status: int,
        latency_ms: float,
        integration: object,
        request_id: str,
    ) -> None:
        """A WebSocket API's ``$connect``, message (``event`` is its route key) or ``$disconnect`` (``status`` is
        then the close code)."""
        self._queue.append(
            (
                _WEBSOCKET,
                time.time(),
                api,
                stage,
                event,
                connection_id,
                status,
                latency_ms,
                integration,
                request_id,
            )
        )

    def function_error(self, function: str, request_id: str | None, document: bytes) -> None:
        self._queue.append((_FUNCTION_ERROR, function, request_id, document))

    def output(self, function: str, data: bytes) -> None:
        """What a function printed (a block of its log), shown with its name as prefix."""
        if self.function_output:
            self._queue.append((_OUTPUT, function, data))

    def message(self, text: str) -> None:
        self._queue.append((_MESSAGE, text))

    # --- the drain task (PeriodicDrain runs it) ---

    def drain(self) -> None:
        """Render and write everything queued, in one write."""
        queue = self._queue
        lines: list[str] = []
        while queue:
            item = queue.popleft()
            kind = item[0]
            if kind == _REQUEST:
                lines.append(self._request_line(*item[1:]))
            elif kind == _FUNCTION_ERROR:
                lines.extend(self._error_lines(*item[1:]))
            elif kind == _OUTPUT:
                lines.extend(self._output_lines(*item[1:]))
            elif kind == _WEBSOCKET:
                lines.append(self._websocket_line(*item[1:]))
            else:
                lines.append(item[1])
        if not lines:
            return
        try:
            self._stream.write("\n".join(lines) + "\n")
            self._stream.flush()
        except (OSError, ValueError):  # stderr closed or gone: the console is lost, never the request
            pass

    def _request_line(
        self,
        at: float,
        api: str,
        stage: str,
        method: str,
        path: str,
        status: int,
        latency_ms: float,
        integration: object,
        request_id: str,
    ) -> str:
        s = self._style
        clock = time.strftime("%H:%M:%S", time.localtime(at)) + f".{int(at * 1000) % 1000:03d}"
        return (
            f"{s('2', clock)} {s('36', f'{api}/{stage}')} {s('1', method)} {path} {s.status(status)} "
            f"{latency_ms:.1f} ms {describe_integration(integration)} {s('2', request_id)}"
        )

    def _websocket_line(
        self,
        at: float,
        api: str,
        stage: str,
        event: str,
        connection_id: str,
        status: int,
        latency_ms: float,
        integration: object,
        request_id: str,
    ) -> str:
        s = self._style
        clock = time.strftime("%H:%M:%S", time.localtime(at)) + f".{int(at * 1000) % 1000:03d}"
        outcome = f"closed {status}" if event == "$disconnect" else s.status(status)
        return (
            f"{s('2', clock)} {s('36', f'{api}/{stage}')} {s('1', 'WS')} {event} {connection_id} {outcome} "
            f"{latency_ms:.1f} ms {describe_integration(integration)}"
            + (f" {s('2', request_id)}" if request_id else "")
        )

    def _error_lines(self, function: str, request_id: str | None, document: bytes) -> list[str]:
        s = self._style
        try:
            error = orjson.loads(document)
        except orjson.JSONDecodeError:
            error = None
        if not isinstance(error, dict):
            return [s("31", f"  {function} failed: {document[:200].decode(errors='replace')}")]
        kind = str(error.get("errorType") or "Error")
        message = str(error.get("errorMessage") or "")
        lines = [
            s("31;1", f"  {function}: {kind}: {message}") + (f" {s('2', request_id)}" if request_id else "")
        ]
        trace = error.get("stackTrace")
        if isinstance(trace, list):
            frames = [
                line
                for frame in trace[-_FRAMES:]
                for line in str(frame).rstrip("\n").splitlines()
                if line.strip().strip("^~")  # Python's carets under the failing expression add nothing here
            ]
            lines.extend(
                s("31", ("    " if line.lstrip().startswith("File ") else "      ") + line.strip())
                for line in frames
            )
        return lines

    def _output_lines(self, function: str, data: bytes) -> list[str]:
        """The function's own lines; the runtime's START/END/REPORT and its [ERROR] block (shown by
        ``_error_lines`` already) are left out."""
        prefix = self._style("35", f"[{function}]")
        skipping = self._skipping.get(function, False)
        lines: list[str] = []
        for raw in data.splitlines():
            if raw.startswith(_RUNTIME_LINES):
                skipping = False
                continue
            if raw.startswith(b"[ERROR] "):
                skipping = True
                continue
            if skipping and (raw.startswith((b" ", b"\t")) or raw == b"Traceback (most recent call last):"):
                continue
            skipping = False
            lines.append(f"{prefix} {raw.decode(errors='replace')}")
        self._skipping[function] = skipping
        return lines
