"""Many idle keep-alive connections held open against one server: memory per connection, and that it copes.

    python benchmarks/connections.py URL --pid PID [--steps 1000,10000] [--hold 5]

Opens connections in batches up to each step's count, sends one request on each (so every connection has been
through a full request and sits idle in keep-alive, as a browser's would), reads the server's resident memory
(VmRSS of PID) once the step is reached, checks that a request on a new connection is still answered, and holds the
connections ``--hold`` seconds before the next step. Prints one JSON object. The resident memory is the process's
user-space memory only; the kernel's socket buffers for idle connections are not in it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
import urllib.parse
from pathlib import Path

_BATCH = 500  # connections opened at once: below the server's accept backlog


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def _request(
    host: str, port: int, request: bytes
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int]:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return reader, writer, status


async def run(url: str, pid: int, steps: list[int], hold: float) -> dict[str, object]:
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    held: list[asyncio.StreamWriter] = []
    failed = 0
    # Warm the server up (first-request allocations) before the baseline reading.
    for _ in range(50):
        _, writer, _ = await _request(host, port, request)
        writer.close()
    await asyncio.sleep(0.5)
    baseline = rss_bytes(pid)
    results = []
    for step in steps:
        while len(held) < step:
            batch = min(_BATCH, step - len(held))
            answers = await asyncio.gather(
                *(_request(host, port, request) for _ in range(batch)), return_exceptions=True
            )
            for answer in answers:
                if isinstance(answer, BaseException) or answer[2] != 200:
                    failed += 1
                    if not isinstance(answer, BaseException):
                        answer[1].close()
                else:
                    held.append(answer[1])
            if failed > step // 10:
                break
        await asyncio.sleep(0.5)
        rss = rss_bytes(pid)
        started = time.perf_counter()
        _, probe, status = await _request(host, port, request)
        probe_ms = (time.perf_counter() - started) * 1000
        probe.close()
        results.append(
            {
                "connections": len(held),
                "rss_mb": round(rss / 1e6, 1),
                "bytes_per_connection": round((rss - baseline) / max(1, len(held))),
                "new_request_status": status,
                "new_request_ms": round(probe_ms, 2),
            }
        )
        await asyncio.sleep(hold)
        alive = sum(1 for writer in held if not writer.is_closing())
        results[-1]["still_open_after_hold"] = alive
    for writer in held:
        writer.close()
    return {"baseline_rss_mb": round(baseline / 1e6, 1), "failed": failed, "steps": results}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url")
    parser.add_argument("--pid", type=int, required=True, help="the server process whose memory is read")
    parser.add_argument("--steps", default="1000,10000")
    parser.add_argument("--hold", type=float, default=5.0)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    steps = [int(step) for step in args.steps.split(",")]
    if max(steps) + 100 > hard:
        raise SystemExit(f"the open file limit ({hard}) is too low for {max(steps)} connections")
    try:
        import uvloop

        result = uvloop.run(run(args.url, args.pid, steps, args.hold))
    except ImportError:
        result = asyncio.run(run(args.url, args.pid, steps, args.hold))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
