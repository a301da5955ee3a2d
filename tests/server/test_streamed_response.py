"""Streamed responses (StartLiveTail's event stream): chunks leave as the handler's iterator yields them, framed
in the chunked coding; the iterator is closed when the client leaves or the server shuts down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from test_protocol import Client, get, run, serving

from apigate.server.message import Request, Response, StreamedResponse


async def _read_chunk(client: Client) -> bytes:
    size = int((await client.reader.readuntil(b"\r\n"))[:-2], 16)
    data = await client.reader.readexactly(size + 2)
    assert data.endswith(b"\r\n")
    return data[:-2]


class Gate:
    """A stream that yields a chunk each time the test opens the gate, and records that it was closed."""

    def __init__(self) -> None:
        self.next = asyncio.Queue[bytes | None]()
        self.closed = asyncio.Event()

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            while (chunk := await self.next.get()) is not None:
                yield chunk
        finally:
            self.closed.set()

    def handler(self, request: Request) -> Response:
        if request.raw_path == "/plain":
            return Response(200, [], b"plain")
        return StreamedResponse(
            200, [("Content-Type", "application/vnd.amazon.eventstream")], b"", self.chunks()
        )


def test_chunks_leave_as_they_are_yielded_and_the_connection_is_kept() -> None:
    async def scenario() -> None:
        gate = Gate()
        async with serving(gate.handler) as server:
            client = await Client.connect(server)
            client.send(get("/stream"))
            head = (await client.reader.readuntil(b"\r\n\r\n")).decode()
            assert head.startswith("HTTP/1.1 200 OK\r\n")
            assert "Transfer-Encoding: chunked\r\n" in head and "Content-Length" not in head
            assert "Content-Type: application/vnd.amazon.eventstream\r\n" in head
            for part in (b"first", b"second"):  # each arrives before the next is even produced
                gate.next.put_nowait(part)
                assert await _read_chunk(client) == part
            gate.next.put_nowait(None)
            assert await _read_chunk(client) == b""  # the last chunk: the body is complete
            assert gate.closed.is_set()
            client.send(get("/plain"))  # the same connection serves the next request
            status, _, body = await client.response()
            assert (status, body) == (200, b"plain")
            await client.close()

    run(scenario)


def test_an_http10_client_gets_the_stream_unframed_then_the_close() -> None:
    async def scenario() -> None:
        gate = Gate()
        async with serving(gate.handler) as server:
            client = await Client.connect(server)
            client.send(b"GET /stream HTTP/1.0\r\n\r\n")
            head = (await client.reader.readuntil(b"\r\n\r\n")).decode()
            assert "Transfer-Encoding" not in head and "Content-Length" not in head
            assert "Connection: close\r\n" in head
            gate.next.put_nowait(b"abc")
            assert await client.reader.readexactly(3) == b"abc"
            gate.next.put_nowait(None)
            assert await client.closed()
            await client.close()

    run(scenario)


def test_a_client_that_leaves_closes_the_stream() -> None:
    async def scenario() -> None:
        gate = Gate()
        async with serving(gate.handler) as server:
            client = await Client.connect(server)
            client.send(get("/stream"))
            await client.reader.readuntil(b"\r\n\r\n")
            gate.next.put_nowait(b"one")
            assert await _read_chunk(client) == b"one"
            await client.close()
            while not gate.closed.is_set():  # the server notices at the stream's next chunk
                gate.next.put_nowait(b"more")
                await asyncio.wait([asyncio.ensure_future(gate.closed.wait())], timeout=0.05)
            assert gate.closed.is_set()

    run(scenario)


def test_shutdown_ends_a_stream_with_its_last_chunk() -> None:
    async def scenario() -> None:
        gate = Gate()
        async with serving(gate.handler) as server:
            client = await Client.connect(server)
            client.send(get("/stream"))
            await client.reader.readuntil(b"\r\n\r\n")
            shutdown = asyncio.ensure_future(server.shutdown(grace=5.0))
            await asyncio.sleep(0)
            gate.next.put_nowait(b"ignored")  # the stream's next step sees the server closing
            assert await _read_chunk(client) == b""
            await shutdown
            assert gate.closed.is_set()
            assert await client.closed()
            await client.close()

    run(scenario)
