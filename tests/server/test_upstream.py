"""UpstreamPool against tiny raw asyncio servers on 127.0.0.1 that answer in specific (mis)ways."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import struct
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvloop

from apigate.server.upstream import (
    UpstreamConnectError,
    UpstreamError,
    UpstreamPool,
    UpstreamProtocolError,
    UpstreamRequestError,
    UpstreamTimeout,
)

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop, the loop the gateway serves on."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


@dataclass
class ServerState:
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)  # raw heads, in arrival order


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, ServerState, int], Awaitable[None]]


@asynccontextmanager
async def serve(
    handler: Handler, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[int, ServerState]]:
    state = ServerState()
    tasks: set[asyncio.Task[Any]] = set()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer, state, state.connections)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0, ssl=ssl_context)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, state
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader, state: ServerState) -> tuple[bytes, bytes] | None:
    """One request: (head, body), or None at a clean EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    state.requests.append(head)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return head, body


def target_of(head: bytes) -> bytes:
    return head.split(b" ", 2)[1]


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def answer_path(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
) -> None:
    """Keep-alive server answering every request with its own target."""
    while (req := await read_request(reader, state)) is not None:
        writer.write(ok(target_of(req[0])))


def stats(pool: UpstreamPool) -> tuple[int, int, int]:
    s = pool.stats()
    assert s["open"] == s["idle"] + s["in_use"]
    return s["open"], s["idle"], s["in_use"]


async def until(predicate: Callable[[], bool], limit: float = 2.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


# -- keep-alive and framing ------------------------------------------------------------------------------


async def _keep_alive_reuse() -> None:
    async with serve(answer_path) as (port, state):
        pool = UpstreamPool()
        first = await pool.request("GET", f"http://127.0.0.1:{port}/a?x=1", [], b"")
        second = await pool.request("GET", f"http://127.0.0.1:{port}/b", [], b"")
        assert (first.status, first.reason, first.body) == (200, "OK", b"/a?x=1")
        assert second.body == b"/b"
        assert state.connections == 1
        assert stats(pool) == (1, 1, 0)
        await pool.close()
        assert stats(pool) == (0, 0, 0)
        with pytest.raises(UpstreamError):
            await pool.request("GET", f"http://127.0.0.1:{port}/", [], b"")


def test_keep_alive_reuse_on_uvloop() -> None:
    run(_keep_alive_reuse())


def test_keep_alive_reuse_on_stock_asyncio() -> None:
    asyncio.run(_keep_alive_reuse())


def test_content_length_body_and_request_body() -> None:
    payload = bytes(range(256)) * 1024  # 256 KiB: arrives in several reads

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        while (req := await read_request(reader, state)) is not None:
            writer.write(ok(req[1][::-1] if req[1] else payload))

    async def main() -> None:
        async with serve(handler) as (port, _):
            pool = UpstreamPool()
            got = await pool.request("GET", f"http://127.0.0.1:{port}/", [], b"")
            assert got.body == payload
            sent = b"x" * 100_000 + b"end"  # above the join threshold: takes the writelines path
            echoed = await pool.request("POST", f"http://127.0.0.1:{port}/", [], sent)
            assert echoed.body == sent[::-1]
            await pool.close()

    run(main())


def test_chunked_body_is_dechunked_and_connection_reused() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        while await read_request(reader, state) is not None:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n")
            await asyncio.sleep(0.01)  # the rest in a later TCP segment
            writer.write(b"6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")

    async def main() -> None:
        async with serve(handler) as (port, state):
            pool = UpstreamPool()
            for _ in range(2):
                got = await pool.request("GET", f"http://127.0.0.1:{port}/", [], b"")
                assert got.body == b"hello world"
                assert ("Transfer-Encoding", "chunked") in got.headers
            assert state.connections == 1
            await pool.close()

    run(main())


def test_read_until_close_body() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        await read_request(reader, state)
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst part, ")
        await asyncio.sleep(0.01)
        writer.write(b"second part")
        await writer.drain()

    async def main() -> None:
        async with serve(handler) as (port, state):
            pool = UpstreamPool()
            for _ in range(2):
                got = await pool.request("GET", f"http://127.0.0.1:{port}/", [], b"")
                assert got.body == b"first part, second part"
            assert state.connections == 2
            await until(lambda: stats(pool) == (0, 0, 0))
            await pool.close()

    run(main())


def test_connection_close_is_not_reused() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        # Says close but keeps the socket open: the client must be the one to close it.
        while await read_request(reader, state) is not None:
            writer.write(ok(b"bye", b"Connection: close\r\n"))

    async def main() -> None:
        async with serve(handler) as (port, state):
            pool = UpstreamPool()
            for _ in range(2):
                got = await pool.request("GET", f"http://127.0.0.1:{port}/", [], b"")
                assert got.body == b"bye"
                assert stats(pool) == (0, 0, 0)
            assert state.connections == 2
            await pool.close()

    run(main())


def test_http10_keep_alive_is_reused() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        while await read_request(reader, state) is not None:
            writer.write(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok")

    async def main() -> None:
        async with serve(handler) as (port, state):
            pool = UpstreamPool()
            for _ in range(3):
                assert (await pool.request("GET", f"http://127.0.0.1:{port}/", [], b"")).body == b"ok"
            assert state.connections == 1
            await pool.close()

    run(main())


def test_head_204_304_have_no_body_and_keep_the_connection() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        while (req := await read_request(reader, state)) is not None:
            path = target_of(req[0])
            if req[0].startswith(b"HEAD "):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nETag: x\r\n\r\n")
            elif path == b"/204":
                writer.write(b"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n")
            elif path == b"/304":
                writer.write(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n")
            else:
                writer.write(ok(b"after"))

    async def main() -> None:
        async with serve(handler) as (port, state):
            pool = UpstreamPool()
            url = f"http://127.0.0.1:{port}"
            head = await pool.request("HEAD", url + "/", [], b"")
            assert (head.status, head.body) == (200, b"")
            assert ("Content-Length", "1234") in head.headers
            assert (await pool.request("GET", url + "/204", [], b"")).body == b""
            assert (await pool.request("GET", url + "/304", [], b"")).status == 304
            assert (await pool.request("GET", url + "/", [], b"")).body == b"after"
            assert state.connections == 1
            assert not any(h.startswith(b"HEAD") and b"Content-Length" in h for h in state.requests)
            await pool.close()

    run(main())


def test_interim_1xx_responses_are_skipped() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        while await read_request(reader, state) is not None:
            writer.write(
                b"HTTP/1.1 100 Continue\r\n\r\n"
                b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                + ok(b"final", b"X-Final: yes\r\n")
            )

    async def main() -> None:
        async with serve(handler) as (port, state):
            pool = UpstreamPool()
            for _ in range(2):
                got = await pool.request("POST", f"http://127.0.0.1:{port}/", [], b"data")
                assert (got.status, got.reason, got.body) == (200, "OK", b"final")
                assert got.headers == [("Content-Length", "5"), ("X-Final", "yes")]
            assert state.connections == 1
            await pool.close()

    run(main())


def test_repeated_headers_kept_in_order_with_original_case() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        await read_request(reader, state)
        writer.write(
            b"HTTP/1.1 201 Created Here\r\nSet-Cookie: a=1\r\nx-lower: v\r\nSet-Cookie: b=2\r\n"
            b"X-Latin: caf\xe9\r\nContent-Length: 0\r\n\r\n"
        )
        await reader.read()

    async def main() -> None:
        async with serve(handler) as (port, _):
            pool = UpstreamPool()
            got = await pool.request("GET", f"http://127.0.0.1:{port}/", [], b"")
            assert (got.status, got.reason) == (201, "Created Here")
            assert got.headers == [
                ("Set-Cookie", "a=1"),
                ("x-lower", "v"),
                ("Set-Cookie", "b=2"),
                ("X-Latin", "café"),
                ("Content-Length", "0"),
            ]
            await pool.close()

    run(main())


# -- what we send ----------------------------------------------------------------------------------------


def test_request_head_hop_by_hop_dropped_host_rewritten_length_computed() -> None:
    async def main() -> None:
        async with serve(answer_path) as (port, state):
            pool = UpstreamPool()
            forwarded = [
                ("Host", "client-facing.example.com"),
                ("Connection", "keep-alive, X-Per-Hop"),
                ("Keep-Alive", "timeout=5"),
                ("Proxy-Connection", "keep-alive"),
                ("TE", "trailers"),
                ("Trailer", "X-T"),
                ("Transfer-Encoding", "chunked"),
                ("Upgrade", "websocket"),
                ("Content-Length", "999"),
                ("X-Per-Hop", "named in Connection"),
                ("X-Custom", "kept"),
                ("accept", "a/b"),
                ("X-Custom", "twice"),
            ]
            await pool.request("POST", f"http://127.0.0.1:{port}/p", forwarded, b"body!")
            await pool.request("GET", f"http://127.0.0.1:{port}/g", [("X-Custom", "1")], b"")
            await pool.request("PUT", f"http://127.0.0.1:{port}/empty", [], b"")
            await pool.request("DELETE", f"http://127.0.0.1:{port}/d", [], b"x")
            await pool.request("GET", f"http://localhost:{port}/h#fragment", [], b"")
            post, get, put, delete, by_name = state.requests
            assert post == (
                b"POST /p HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Custom: kept\r\naccept: a/b\r\n"
                b"X-Custom: twice\r\nContent-Length: 5\r\n\r\n" % port
            )
            assert get == b"GET /g HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Custom: 1\r\n\r\n" % port
            assert put.endswith(b"\r\nContent-Length: 0\r\n\r\n")
            assert delete.endswith(b"\r\nContent-Length: 1\r\n\r\n")
            assert by_name == b"GET /h HTTP/1.1\r\nHost: localhost:%d\r\n\r\n" % port
            await pool.close()

    run(main())


def test_header_injection_and_bad_urls_are_refused_before_sending() -> None:
    async def main() -> None:
        async with serve(answer_path) as (port, state):
            pool = UpstreamPool()
            base = f"http://127.0.0.1:{port}"
            for args in [
                ("GET", base + "/", [("X-A", "v\r\nX-Injected: 1")]),
                ("GET", base + "/", [("X-A\r\n", "v")]),
                ("GET", base + "/a b\r\nX: 1", []),
                ("GET", "ftp://example.com/", []),
                ("GET", "/relative", []),
                ("GET", "http://user:pw@127.0.0.1/", []),
                ("GET", "http://127.0.0.1:99999/", []),
            ]:
                with pytest.raises(UpstreamRequestError):
                    await pool.request(*args, b"")
            assert state.connections == 0
            await pool.close()

    run(main())


def test_query_without_path_and_default_port_host_header() -> None:
    pool = UpstreamPool()
    origin, target = pool._resolve("http://Example.COM?q=1")
    assert (origin.host, origin.port, origin.host_header, target) == (
        "example.com",
        80,
        "example.com",
        "/?q=1",
    )
    origin, target = pool._resolve("https://[::1]:8443/x")
    assert (origin.host, origin.port, origin.host_header, target) == ("::1", 8443, "[::1]:8443", "/x")
    origin, _ = pool._resolve("https://example.com:443/")
    assert (origin.port, origin.host_header, origin.tls) == (443, "example.com", True)


# -- failures --------------------------------------------------------------------------------------------


def test_server_closing_idle_connection_is_detected() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        req = await read_request(reader, state)
        assert req is not None
        writer.write(ok(b"once"))  # keep-alive response, then the server's idle timeout closes it

    async def main() -> None:
        async with serve(handler) as (port, state):
            pool = UpstreamPool()
            assert (await pool.request("GET", f"http://127.0.0.1:{port}/", [], b"")).body == b"once"
            await until(lambda: stats(pool) == (0, 0, 0))  # connection_lost dropped it from the pool
            assert (await pool.request("GET", f"http://127.0.0.1:{port}/", [], b"")).body == b"once"
            assert state.connections == 2
            await pool.close()

    run(main())


def test_stale_reused_connection_is_retried_once_on_a_fresh_one() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        # Answers the first request of each connection; the second arrives as the server's idle timer
        # fires: closed unanswered (the keep-alive race, made deterministic).
        req = await read_request(reader, state)
        assert req is not None
        writer.write(ok(b"conn %d" % n))
        await read_request(reader, state)

    async def main() -> None:
        async with serve(handler) as (port, state):
            pool = UpstreamPool()
            url = f"http://127.0.0.1:{port}/"
            assert (await pool.request("GET", url, [], b"")).body == b"conn 1"
            assert (await pool.request("POST", url, [], b"x")).body == b"conn 2"  # retried on a new socket
            assert state.connections == 2
            assert len(state.requests) == 3
            assert stats(pool) == (1, 1, 0)
            await pool.close()

    run(main())


def test_stale_retry_happens_only_once_and_never_on_fresh_connections() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        await read_request(reader, state)
        if n == 1:
            writer.write(ok(b"only"))
            await read_request(reader, state)
        # every other request: closed without an answer

    async def main() -> None:
        async with serve(handler) as (port, state):
            pool = UpstreamPool()
            url = f"http://127.0.0.1:{port}/"
            assert (await pool.request("GET", url, [], b"")).body == b"only"
            with pytest.raises(UpstreamProtocolError):
                await pool.request("GET", url, [], b"")  # reused -> stale -> fresh -> closed: give up
            assert state.connections == 2
            with pytest.raises(UpstreamProtocolError):
                await pool.request("GET", url, [], b"")  # fresh connection: no retry
            assert state.connections == 3
            assert stats(pool) == (0, 0, 0)
            await pool.close()

    run(main())


def test_refused_port_is_a_connect_error() -> None:
    async def main() -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # bound, never listening: connections are refused
            pool = UpstreamPool()
            with pytest.raises(UpstreamConnectError):
                await pool.request("GET", f"http://127.0.0.1:{port}/", [], b"")
            with pytest.raises(UpstreamConnectError):
                await pool.request("GET", "http://name.invalid/", [], b"")  # DNS failure
            assert stats(pool) == (0, 0, 0)
            await pool.close()

    run(main())


def test_stalled_upstream_times_out_and_leaves_no_connection() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        await read_request(reader, state)
        if n == 2:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")  # then the body stalls
        await reader.read()

    async def main() -> None:
        async with serve(handler) as (port, state):
            pool = UpstreamPool()
            for _ in range(2):
                started = time.monotonic()
                with pytest.raises(UpstreamTimeout):
                    await pool.request("GET", f"http://127.0.0.1:{port}/", [], b"", timeout=0.2)
                assert 0.19 < time.monotonic() - started < 1.0
                assert stats(pool) == (0, 0, 0)
            assert state.connections == 2
            await pool.close()

    run(main())


def test_cancelled_request_closes_its_connection() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        await read_request(reader, state)
        await reader.read()

    async def main() -> None:
        async with serve(handler) as (port, state):
            pool = UpstreamPool()
            task = asyncio.ensure_future(pool.request("GET", f"http://127.0.0.1:{port}/", [], b""))
            await until(lambda: len(state.requests) == 1)
            assert stats(pool) == (1, 0, 1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert stats(pool) == (0, 0, 0)
            await pool.close()

    run(main())


@pytest.mark.parametrize(
    "start",
    [b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly ten b", b"HTTP/1.0 200 OK\r\n\r\nuntil close"],
    ids=["content-length", "until-close"],
)
def test_reset_mid_response_is_a_protocol_error(start: bytes) -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        await read_request(reader, state)
        writer.write(start)
        await writer.drain()
        await asyncio.sleep(0.02)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        writer.transport.abort()

    async def main() -> None:
        async with serve(handler) as (port, _):
            pool = UpstreamPool()
            with pytest.raises(UpstreamProtocolError):
                await pool.request("GET", f"http://127.0.0.1:{port}/", [], b"")
            assert stats(pool) == (0, 0, 0)
            await pool.close()

    run(main())


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    ],
    ids=["not-http", "bad-status", "double-length", "bad-chunk", "upgrade"],
)
def test_garbage_response_is_a_protocol_error(answer: bytes) -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        await read_request(reader, state)
        writer.write(answer)
        await reader.read()

    async def main() -> None:
        async with serve(handler) as (port, _):
            pool = UpstreamPool()
            with pytest.raises(UpstreamProtocolError):
                await pool.request("GET", f"http://127.0.0.1:{port}/", [], b"")
            assert stats(pool) == (0, 0, 0)
            await pool.close()

    run(main())


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 5000\r\n\r\n" + b"x" * 5000,
        b"Transfer-Encoding: chunked\r\n\r\n",  # four 1000-byte chunks
        b"\r\n" + b"x" * 5000,  # read-until-close
        b"X-Big: " + b"h" * 5000 + b"\r\nContent-Length: 0\r\n\r\n",
    ],
    ids=["content-length", "chunked", "until-close", "headers"],
)
def test_oversize_response_is_a_protocol_error_and_closes(framing: bytes) -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        await read_request(reader, state)
        if framing.startswith(b"Transfer"):
            writer.write(b"HTTP/1.1 200 OK\r\n" + framing)
            for _ in range(4):
                writer.write(b"3e8\r\n" + b"y" * 1000 + b"\r\n")
            writer.write(b"0\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\n" + framing)
        await reader.read()

    async def main() -> None:
        async with serve(handler) as (port, _):
            pool = UpstreamPool(max_response_bytes=3000)
            with pytest.raises(UpstreamProtocolError, match="exceeds"):
                await pool.request("GET", f"http://127.0.0.1:{port}/", [], b"")
            assert stats(pool) == (0, 0, 0)
            await pool.close()

    run(main())


# -- the pool --------------------------------------------------------------------------------------------


def test_hundred_concurrent_requests_all_correct() -> None:
    async def main() -> None:
        async with serve(answer_path) as (port, state):
            pool = UpstreamPool(max_idle_per_host=10)
            for _ in range(2):
                responses = await asyncio.gather(
                    *(pool.request("GET", f"http://127.0.0.1:{port}/r/{i}", [], b"") for i in range(100))
                )
                assert [r.body for r in responses] == [b"/r/%d" % i for i in range(100)]
                open_, idle, in_use = stats(pool)
                assert (open_, idle, in_use) == (10, 10, 0)  # the rest were closed, not kept
            assert state.connections <= 200
            await pool.close()

    run(main())


def test_idle_connections_expire() -> None:
    async def main() -> None:
        async with serve(answer_path) as (port, _):
            pool = UpstreamPool(idle_timeout=0.1)
            await pool.request("GET", f"http://127.0.0.1:{port}/", [], b"")
            assert stats(pool) == (1, 1, 0)
            await until(lambda: stats(pool) == (0, 0, 0))
            await pool.close()

    run(main())


def test_close_fails_in_flight_requests() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        await read_request(reader, state)
        await reader.read()

    async def main() -> None:
        async with serve(handler) as (port, state):
            pool = UpstreamPool()
            task = asyncio.ensure_future(pool.request("GET", f"http://127.0.0.1:{port}/", [], b""))
            await until(lambda: len(state.requests) == 1)
            await pool.close()
            with pytest.raises(UpstreamError):
                await task
            assert stats(pool) == (0, 0, 0)

    run(main())


# -- TLS -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl CLI not available")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            *(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_https_with_and_without_verification(self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)

    async def main() -> None:
        async with serve(answer_path, ssl_context=server_context) as (port, state):
            url = f"https://localhost:{port}/secure"
            verifying = UpstreamPool()
            with pytest.raises(UpstreamConnectError):
                await verifying.request("GET", url, [], b"")  # self-signed: rejected by default
            await verifying.close()
            pool = UpstreamPool(ssl_verify=False)
            for _ in range(2):
                got = await pool.request("GET", url, [], b"")
                assert got.body == b"/secure"
            assert state.requests[-1].split(b"\r\n")[1] == b"Host: localhost:%d" % port
            assert stats(pool) == (1, 1, 0)
            await pool.close()

    run(main())


# -- send(): the response future handed to the caller, the connection releasing itself ---------------------


def test_send_reuses_a_kept_alive_connection_which_releases_itself() -> None:
    async def main() -> None:
        async with serve(answer_path) as (port, state):
            pool = UpstreamPool()
            url = f"http://127.0.0.1:{port}"
            first = await pool.send("GET", f"{url}/a", [], b"")  # no idle connection yet: request()'s way
            pending = pool.send("POST", f"{url}/b", [], b"x")
            assert isinstance(pending, asyncio.Future)  # the fast path: no coroutine of the pool's
            second = await pending
            assert (first.body, second.body) == (b"/a", b"/b")
            assert state.connections == 1
            assert stats(pool) == (1, 1, 0)  # back in the pool by the time the caller sees the answer
            await pool.close()

    run(main())


def test_send_never_reuses_a_connection_that_sent_bytes_past_its_response() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        while (req := await read_request(reader, state)) is not None:
            body = target_of(req[0])
            # the second answer comes with a response nobody asked for, in the same write
            writer.write(ok(body) + (ok(b"unsolicited") if body == b"/2" else b""))

    async def main() -> None:
        async with serve(handler) as (port, state):
            pool = UpstreamPool()
            url = f"http://127.0.0.1:{port}"
            assert (await pool.send("GET", f"{url}/1", [], b"")).body == b"/1"
            assert (await pool.send("GET", f"{url}/2", [], b"")).body == b"/2"
            await until(lambda: stats(pool) == (0, 0, 0))
            assert (await pool.send("GET", f"{url}/3", [], b"")).body == b"/3"
            assert state.connections == 2
            await pool.close()

    run(main())


def test_send_retries_the_keep_alive_race_once_on_a_fresh_connection() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        req = await read_request(reader, state)
        assert req is not None
        if n <= 2:
            writer.write(ok(b"conn %d" % n))
            await read_request(reader, state)  # the next request on this connection: closed unanswered
        # a third connection: closed unanswered at once

    async def main() -> None:
        async with serve(handler) as (port, state):
            pool = UpstreamPool()
            url = f"http://127.0.0.1:{port}/"
            assert (await pool.send("GET", url, [], b"")).body == b"conn 1"
            assert (await pool.send("POST", url, [], b"x")).body == b"conn 2"  # retried on a new socket
            assert state.connections == 2 and len(state.requests) == 3
            assert stats(pool) == (1, 1, 0)
            with pytest.raises(UpstreamProtocolError):
                await pool.send("GET", url, [], b"")  # reused -> stale -> fresh -> closed: give up
            assert state.connections == 3
            assert stats(pool) == (0, 0, 0)
            await pool.close()

    run(main())


def test_send_times_out_on_a_reused_connection() -> None:
    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        await read_request(reader, state)
        writer.write(ok(b"first"))
        await read_request(reader, state)
        await reader.read()  # the second request is never answered

    async def main() -> None:
        async with serve(handler) as (port, _state):
            pool = UpstreamPool()
            url = f"http://127.0.0.1:{port}/"
            assert (await pool.send("GET", url, [], b"")).body == b"first"
            with pytest.raises(UpstreamTimeout):
                await pool.send("GET", url, [], b"", timeout=0.2)
            assert stats(pool) == (0, 0, 0)
            await pool.close()

    run(main())


def test_a_cancelled_send_lets_its_connection_finish_the_response_and_serve_again() -> None:
    release = asyncio.Event()

    async def handler(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: ServerState, n: int
    ) -> None:
        while (req := await read_request(reader, state)) is not None:
            if len(state.requests) == 2:
                await release.wait()
            writer.write(ok(target_of(req[0])))

    async def main() -> None:
        async with serve(handler) as (port, state):
            pool = UpstreamPool()
            url = f"http://127.0.0.1:{port}"
            assert (await pool.send("GET", f"{url}/1", [], b"")).body == b"/1"

            async def call() -> bytes:
                return (await pool.send("GET", f"{url}/2", [], b"")).body

            task = asyncio.ensure_future(call())
            await until(lambda: len(state.requests) == 2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert stats(pool) == (1, 0, 1)  # still reading its response
            release.set()
            await until(lambda: stats(pool) == (1, 1, 0))
            assert (await pool.send("GET", f"{url}/3", [], b"")).body == b"/3"
            assert state.connections == 1
            await pool.close()

    run(main())
