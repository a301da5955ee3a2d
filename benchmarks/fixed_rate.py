"""Fixed-rate HTTP load with latency measured from each request's *scheduled* time (as wrk2 does).

    python benchmarks/fixed_rate.py URL [--rate 1000] [--duration 10] [--connections 16]

Prints one JSON object: requests sent, errors, and latency percentiles in ms. Request i is due at
``start + i / rate``; it goes out on the first idle keep-alive connection. A request that had to wait for a free
connection counts its latency from when it was due, so a stall shows up in the percentiles instead of slowing the
load (coordinated omission); one sent at once counts from when it was sent (the loop's timers tick in whole
milliseconds, which would otherwise add up to 1 ms of our own to every latency). wrk has no rate mode and wrk2 is not packaged in Debian, hence this script; its own cost
(~30 µs a request on uvloop) is the same whether it calls the gateway or the upstream, so differences between two
runs are the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import urllib.parse
from collections import deque
from collections.abc import Callable

import httptools


class _Conn(asyncio.Protocol):
    def __init__(self, on_response: Callable[[_Conn], None]) -> None:
        self._on_response = on_response
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.due = 0.0
        self.status = 0
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True

    def on_message_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self._on_response(self)


async def run(url: str, rate: float, duration: float, connections: int) -> dict[str, object]:
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    loop = asyncio.get_running_loop()
    clock = time.perf_counter  # uvloop's loop.time() has millisecond resolution
    latencies: list[float] = []
    errors = 0
    idle: deque[_Conn] = deque()
    waiting: deque[float] = deque()  # due times of requests no connection was free for

    def on_response(conn: _Conn) -> None:
        nonlocal errors
        latencies.append(clock() - conn.due)
        if conn.status not in (0, 200):
            errors += 1
        conn.status = 0
        # A request already due goes out on this connection at once, not at the sender's next timer tick.
        if waiting:
            send(conn, waiting.popleft())
        else:
            idle.append(conn)

    conns = []
    for _ in range(connections):
        _, conn = await loop.create_connection(lambda: _Conn(on_response), host, port)
        conns.append(conn)
        idle.append(conn)

    def send(conn: _Conn, due: float) -> None:
        conn.due = due
        assert conn.transport is not None
        conn.transport.write(request)

    total = int(rate * duration)
    start = clock() + 0.05
    sent = 0
    while sent < total or waiting:
        now = clock()
        while sent < total and start + sent / rate <= now:
            # Due now, and a connection is free: latency from this moment. Otherwise from when it was due.
            waiting.append(now if idle and not waiting else start + sent / rate)
            sent += 1
        while waiting and idle:
            conn = idle.popleft()
            if not conn.lost:
                send(conn, waiting.popleft())
        await asyncio.sleep(max(0.0, start + sent / rate - clock()) if sent < total else 0.0005)
        if clock() - start > duration + 10:
            break
    deadline = clock() + 5
    while len(latencies) < total and clock() < deadline:
        await asyncio.sleep(0.001)
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return float("nan")
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000, 3)

    return {
        "rate": rate,
        "sent": sent,
        "answered": len(latencies),
        "errors": errors + (sent - len(latencies)),
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "p999_ms": pct(99.9),
        "max_ms": round(latencies[-1] * 1000, 3) if latencies else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    try:
        import uvloop

        result = uvloop.run(run(args.url, args.rate, args.duration, args.connections))
    except ImportError:
        result = asyncio.run(run(args.url, args.rate, args.duration, args.connections))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
