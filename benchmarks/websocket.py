"""WebSocket APIs: messages per second echoed through ``$default`` to a function, and memory per idle connection.

    python benchmarks/websocket.py [--connections 50] [--duration 10] [--idle 10000]

Starts ``apigate serve`` on a free port with a fresh data dir and builds two WebSocket APIs through boto3: one
whose two-way ``$default`` route calls a Python function that returns the message (``AWS_PROXY``), one whose
``$default`` is a ``MOCK`` answering a fixed frame (the gateway alone, no worker round trip). Load comes from
separate processes, never from the gateway's:

- throughput: ``--connections`` clients (bare sockets with a hand-made handshake and frames, so that the load
  generator costs little), each sending a message and waiting for its echo, in a loop, for ``--duration``
  seconds after 2 s of warm-up;
  The gateway's own CPU time over that window, divided by the messages, is printed too: unlike messages per
  second it hardly depends on what else the machine is running;
- memory: ``--idle`` connections opened by a client process with bare sockets (a handshake, then nothing);
  the gateway's resident memory is read from /proc before and after, and divided by the count.

The file-descriptor limit is raised to its hard limit first (each process needs one per connection).
A script, not a test: it prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ECHO = """
def lambda_handler(event, context):
    return {"statusCode": 200, "body": event["body"]}
"""


def _raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (its own, not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# --- clients (run in their own processes) ---------------------------------------------------------------------


async def _open(
    host: str, port: int, path: str, index: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A bare WebSocket client: the handshake by hand, so the load generator costs little."""
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(index.to_bytes(16, "big")).decode()
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head.decode(errors="replace"))
    return reader, writer


def _text_frame(payload: bytes) -> bytes:
    """A client's text frame, masked with a zero key (valid, and the payload needs no masking work)."""
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + b"\x00\x00\x00\x00" + payload


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    return await reader.readexactly(length)


async def _echo_clients(url: str, connections: int, warmup: float, duration: float) -> dict[str, Any]:
    host, _, rest = url.removeprefix("ws://").partition(":")
    port, _, path = rest.partition("/")
    counts = [0] * connections
    measuring = asyncio.Event()
    stop = asyncio.Event()

    async def client(index: int) -> None:
        reader, writer = await _open(host, int(port), "/" + path, index)
        frame = _text_frame(json.dumps({"n": index, "text": "x" * 40}).encode())
        while not stop.is_set():
            writer.write(frame)
            await _read_frame(reader)
            if measuring.is_set():
                counts[index] += 1
        writer.close()

    tasks = [asyncio.create_task(client(i)) for i in range(connections)]
    await asyncio.sleep(warmup)
    measuring.set()
    started = time.perf_counter()
    await asyncio.sleep(duration)
    stop.set()
    elapsed = time.perf_counter() - started
    total = sum(counts)
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"messages": total, "seconds": elapsed}


async def _idle_clients(host: str, port: int, path: str, count: int) -> None:
    gate = asyncio.Semaphore(200)  # below the listen backlog
    writers: list[asyncio.StreamWriter] = []

    async def open_one(index: int) -> None:
        async with gate:
            writers.append((await _open(host, port, path, index))[1])

    await asyncio.gather(*(open_one(i) for i in range(count)))
    print(f"ready {len(writers)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
    for writer in writers:
        writer.close()


# --- the run -------------------------------------------------------------------------------------------------


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("lambda_function.py", source)
    return buffer.getvalue()


def _build(url: str) -> tuple[str, str]:
    import boto3

    aws = {
        "endpoint_url": url,
        "region_name": "us-east-1",
        "aws_access_key_id": "x",
        "aws_secret_access_key": "x",
    }
    lam, v2 = boto3.client("lambda", **aws), boto3.client("apigatewayv2", **aws)
    lam.create_function(
        FunctionName="echo",
        Runtime="python3.12",
        Role="arn:aws:iam::000000000000:role/lambda",
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": _zip(ECHO)},
    )
    arn = "arn:aws:lambda:us-east-1:000000000000:function:echo"
    ids = []
    for kind in ("AWS_PROXY", "MOCK"):
        api = v2.create_api(
            Name=f"bench-{kind}", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
        )
        if kind == "AWS_PROXY":
            integration = v2.create_integration(
                ApiId=api["ApiId"],
                IntegrationType="AWS_PROXY",
                IntegrationUri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations",
            )
        else:
            integration = v2.create_integration(ApiId=api["ApiId"], IntegrationType="MOCK")
            v2.create_integration_response(
                ApiId=api["ApiId"],
                IntegrationId=integration["IntegrationId"],
                IntegrationResponseKey="$default",
                ResponseTemplates={"$default": '{"ok": true}'},
            )
        route = v2.create_route(
            ApiId=api["ApiId"], RouteKey="$default", Target=f"integrations/{integration['IntegrationId']}"
        )
        v2.create_route_response(ApiId=api["ApiId"], RouteId=route["RouteId"], RouteResponseKey="$default")
        v2.create_stage(ApiId=api["ApiId"], StageName="bench", AutoDeploy=True)
        ids.append(api["ApiId"])
    return ids[0], ids[1]


def _client(args: list[str], stdin: Any = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, stdin=stdin, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--idle", type=int, default=10_000)
    parser.add_argument("--client-echo", nargs=2, metavar=("URL", "CONNECTIONS"), help=argparse.SUPPRESS)
    parser.add_argument("--client-idle", nargs=3, metavar=("URL", "PATH", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    limit = _raise_fd_limit()
    if args.client_echo:
        url, connections = args.client_echo
        import uvloop  # the load generator should cost as little as the gateway

        print(json.dumps(uvloop.run(_echo_clients(url, int(connections), 2.0, args.duration))), flush=True)
        return 0
    if args.client_idle:
        base, path, count = args.client_idle
        host, port = base.removeprefix("http://").split(":")
        import uvloop

        uvloop.run(_idle_clients(host, int(port), path, int(count)))
        return 0
    if limit < args.idle + 100:
        print(
            f"the file-descriptor limit is {limit}: use --idle {limit - 100} or raise the hard limit",
            file=sys.stderr,
        )
        return 2

    data = tempfile.mkdtemp(prefix="apigate-ws-bench-")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "apigate.cli",
            "serve",
            "--port",
            "0",
            "--data-dir",
            data,
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        url = line.split("ready on ", 1)[1].split()[0]
        function_api, mock_api = _build(url)
        ws_base = url.replace("http://", "ws://")
        rows = []
        for name, api in (("AWS_PROXY function (echo)", function_api), ("MOCK (gateway only)", mock_api)):
            client = _client(
                ["--client-echo", f"{ws_base}/_aws/execute-api/{api}/bench", str(args.connections),
                 "--duration", str(args.duration)]
            )  # fmt: skip
            time.sleep(2.0)  # the clients' warm-up
            cpu_before = _cpu_seconds(server.pid)
            out, _ = client.communicate(timeout=args.duration + 120)
            cpu = (
                _cpu_seconds(server.pid) - cpu_before
            )  # about the measured window (it ends with the clients)
            result = json.loads(out.strip().splitlines()[-1])
            rows.append(
                (name, result["messages"] / result["seconds"], cpu * 1e6 / max(1, result["messages"]))
            )

        before = _rss_kib(server.pid)
        idle = _client(
            ["--client-idle", url, f"/_aws/execute-api/{mock_api}/bench", str(args.idle)], subprocess.PIPE
        )
        assert idle.stdout is not None and idle.stdin is not None
        ready = idle.stdout.readline().strip()
        time.sleep(1.0)  # let the gateway settle its buffers
        after = _rss_kib(server.pid)
        idle.stdin.close()
        idle.wait(timeout=120)

        print(f"WebSocket echo, {args.connections} connections, {args.duration:g} s after 2 s of warm-up")
        print("| `$default` integration | messages/s | gateway CPU per message |")
        print("|---|---:|---:|")
        for name, rate, cpu_us in rows:
            print(f"| {name} | {rate:,.0f} | {cpu_us:.0f} µs |")
        opened = int(ready.split()[1]) if ready.startswith("ready") else 0
        print()
        print(
            f"Idle connections: {opened:,} open; gateway RSS {before / 1024:.1f} MiB -> {after / 1024:.1f} MiB"
        )
        if opened:
            print(f"Memory per idle connection: {(after - before) * 1024 / opened / 1024:.1f} KiB")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
