"""The last requests the data plane answered (REST, HTTP and WebSocket APIs), one short line each, for the
console's live view.

A ring of tuples in this process (a deque append per request, ~0.2 µs): enough to watch an API while testing
it, not a log store. Read with a sequence number so that a poller gets each line once.
"""

from __future__ import annotations

import time
from collections import deque

import orjson

__all__ = ["RequestLines"]

_Line = tuple[int, float, str, str, str, str, int, float, str, str]
_FIELDS = ("seq", "time", "apiId", "stage", "method", "path", "status", "latencyMs", "error", "kind")


class RequestLines:
    __slots__ = ("_lines", "_seq")

    def __init__(self, size: int = 500) -> None:
        self._lines: deque[_Line] = deque(maxlen=size)
        self._seq = 0

    def add(
        self,
        api_id: str,
        stage: str,
        method: str,
        path: str,
        status: int,
        latency_ms: float,
        error: str,
        kind: str = "REST",
    ) -> None:
        """``kind``: REST, HTTP or WEBSOCKET. A WebSocket line's ``method`` is its event (CONNECT, MESSAGE,
        DISCONNECT) and its ``path`` the route key, as AWS's ``$context.eventType`` and ``$context.routeKey``."""
        self._seq += 1
        self._lines.append(
            (self._seq, time.time(), api_id, stage, method, path, status, latency_ms, error, kind)
        )

    def since(self, after: int) -> bytes:
        """JSON: the lines numbered above ``after`` (oldest first) and the latest number."""
        lines = [  # the latency rounded when read, not on every request
            dict(zip(_FIELDS, (*line[:7], round(line[7], 2), *line[8:]), strict=True))
            for line in self._lines
            if line[0] > after
        ]
        return orjson.dumps({"seq": self._seq, "lines": lines})
