"""The HTTP/1.1 server core, seen from a client on a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
import uvloop

from apigate.server import listener
from apigate.server.listener import Server
from apigate.server.message import Handler, Request, Response
from apigate.server.protocol import HttpProtocol, Limits

JSON = [("Content-Type", "application/json")]
DEFAULT_LIMITS = Limits()


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(asyncio.wait_for(test(), 10))


@contextlib.asynccontextmanager
async def serving(handler: Handler, limits: Limits = DEFAULT_LIMITS) -> AsyncIterator[Server]:
    server = Server()
    await server.start("127.0.0.1", 0, handler, limits)
    try:
        yield server
    finally:
        await server.shutdown(grace=1.0)


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, server: Server) -> Client:
        return cls(*await asyncio.open_connection("127.0.0.1", server.port))

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def response(self, *, head: bool = False) -> tuple[int, dict[str, str], bytes]:
        """Read one response; header names lower-cased."""
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *lines = raw.decode("latin-1").split("\r\n")[:-2]
        version, status, _ = status_line.split(" ", 2)
        assert version == "HTTP/1.1"
        headers: dict[str, str] = {}
        for line in lines:
            name, value = line.split(": ", 1)
            assert name.lower() not in headers, f"duplicate header {name}"
            headers[name.lower()] = value
        length = int(headers.get("content-length", "0"))
        body = b"" if head else await self.reader.readexactly(length)
        return int(status), headers, body

    async def closed(self) -> bool:
        """True when the server has closed the connection (nothing more to read)."""
        try:
            return await self.reader.read(1) == b""
        except ConnectionResetError:
            return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def get(path: str = "/", extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode()


def post(path: str, body: bytes, extra: str = "") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


async def echo(request: Request) -> Response:
    """Describes the request it got; a few paths behave specially."""
    if request.raw_path == "/boom":
        raise RuntimeError("handler bug")
    if request.raw_path.startswith("/sleep/"):
        await asyncio.sleep(float(request.raw_path.rsplit("/", 1)[1]))
    text = f"{request.method} {request.raw_path} ?{request.query_string} {len(request.body)}:".encode()
    return Response(200, [*JSON, ("Content-Length", "999"), ("X-Seen", "yes")], text + request.body)


# --- keep-alive and pipelining ----------------------------------------------------------------------


def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    async def test() -> None:
        async with serving(echo) as server:
            client = await Client.connect(server)
            for i in range(3):
                client.send(post(f"/items/{i}?a=1&b=%20", b"x" * i))
                status, headers, body = await client.response()
                assert status == 200
                assert body == f"POST /items/{i} ?a=1&b=%20 {i}:".encode() + b"x" * i
                assert headers["content-length"] == str(len(body))  # ours, not the handler's 999
                assert headers["x-seen"] == "yes"
                assert headers["date"].endswith(" GMT")
                assert "connection" not in headers
            await client.close()

    run(test)


def test_http10_closes_unless_keep_alive_is_asked_for() -> None:
    async def test() -> None:
        async with serving(echo) as server:
            client = await Client.connect(server)
            client.send(b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            status, headers, _ = await client.response()
            assert (status, headers["connection"]) == (200, "keep-alive")
            client.send(b"GET /b HTTP/1.0\r\n\r\n")
            status, headers, body = await client.response()
            assert (status, headers["connection"], body) == (200, "close", b"GET /b ? 0:")
            assert await client.closed()
            await client.close()

    run(test)


def test_connection_close_from_the_client_is_honoured() -> None:
    async def test() -> None:
        async with serving(echo) as server:
            client = await Client.connect(server)
            client.send(get("/", "Connection: close\r\n") + get("/never"))
            status, headers, _ = await client.response()
            assert (status, headers["connection"]) == (200, "close")
            assert await client.closed()
            await client.close()

    run(test)


def test_handlers_run_inside_a_task() -> None:
    async def timed(request: Request) -> Response:
        async with asyncio.timeout(5):  # needs asyncio.current_task(), on the very first step too
            assert asyncio.current_task() is not None
            return Response(200, [], b"ok")

    async def test() -> None:
        async with serving(timed) as server:
            client = await Client.connect(server)
            client.send(get())
            assert (await client.response())[::2] == (200, b"ok")
            await client.close()

    run(test)


def test_pipelined_requests_are_answered_in_order() -> None:
    async def test() -> None:
        async with serving(echo) as server:
            client = await Client.connect(server)
            # the first handler sleeps, the later ones answer at once: order must still hold
            client.send(get("/sleep/0.2") + get("/fast") + post("/echo", b"hello"))
            bodies = [(await client.response())[2] for _ in range(3)]
            assert bodies == [b"GET /sleep/0.2 ? 0:", b"GET /fast ? 0:", b"POST /echo ? 5:hello"]
            await client.close()

    run(test)


def test_deep_pipelining_with_backpressure_loses_nothing() -> None:
    async def test() -> None:
        async with serving(echo, Limits(max_pipelined=4)) as server:
            client = await Client.connect(server)
            client.send(b"".join(get(f"/sleep/0?n={i}") for i in range(200)))
            for i in range(200):
                assert (await client.response())[2] == f"GET /sleep/0 ?n={i} 0:".encode()
            await client.close()

    run(test)


def test_large_responses_to_a_slow_reader_arrive_whole_and_in_order() -> None:
    async def big(request: Request) -> Response:
        return Response(200, [], request.raw_path.encode() * 500_000)  # a few MB each

    async def test() -> None:
        async with serving(big) as server:
            client = await Client.connect(server)
            client.send(b"".join(get(f"/{i}") for i in range(5)))
            await asyncio.sleep(0.1)  # let the server fill its buffers and pause
            for i in range(5):
                assert (await client.response())[2] == f"/{i}".encode() * 500_000
            await client.close()

    run(test)


def test_handler_escaping_cancelled_error_is_a_500_not_a_hang() -> None:
    async def cancelled(request: Request) -> Response:
        if request.raw_path == "/later":
            await asyncio.sleep(0)
        raise asyncio.CancelledError

    async def test() -> None:
        async with serving(cancelled) as server:
            client = await Client.connect(server)
            client.send(get("/now") + get("/later"))
            assert (await client.response())[0] == 500
            assert (await client.response())[0] == 500
            await client.close()

    logging.getLogger("apigate.server").disabled = True
    try:
        run(test)
    finally:
        logging.getLogger("apigate.server").disabled = False


# --- request bodies ---------------------------------------------------------------------------------


def test_chunked_request_body_is_decoded() -> None:
    async def test() -> None:
        async with serving(echo) as server:
            client = await Client.connect(server)
            client.send(b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            await asyncio.sleep(0.01)  # the body arrives in pieces
            client.send(b"6\r\n world\r\n0\r\n\r\n")
            assert (await client.response())[::2] == (200, b"POST /c ? 11:hello world")
            await client.close()

    run(test)


def test_expect_100_continue_is_answered_before_the_body() -> None:
    async def test() -> None:
        async with serving(echo) as server:
            client = await Client.connect(server)
            client.send(b"PUT /up HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            assert await client.reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
            client.send(b"data")
            assert (await client.response())[::2] == (200, b"PUT /up ? 4:data")
            await client.close()

    run(test)


def test_expect_100_continue_with_too_large_a_body_gets_413_instead() -> None:
    async def test() -> None:
        async with serving(echo) as server:
            client = await Client.connect(server)
            client.send(
                b"PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 10485761\r\nExpect: 100-continue\r\n\r\n"
            )
            status, headers, body = await client.response()
            assert status == 413
            assert headers["x-amzn-errortype"] == "RequestTooLargeException"
            assert body == b'{"message":"Request Too Long"}'
            assert await client.closed()
            await client.close()

    run(test)


def test_head_sends_the_length_but_no_body() -> None:
    async def test() -> None:
        async with serving(echo) as server:
            client = await Client.connect(server)
            client.send(b"HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n" + get("/after"))
            status, headers, body = await client.response(head=True)
            assert (status, headers["content-length"], body) == (200, str(len(b"HEAD /h ? 0:")), b"")
            # had any body bytes been sent, this response would not parse
            assert (await client.response())[2] == b"GET /after ? 0:"
            await client.close()

    run(test)


def test_no_content_responses_have_no_length() -> None:
    async def no_content(request: Request) -> Response:
        return Response(204, [], b"ignored")

    async def test() -> None:
        async with serving(no_content) as server:
            client = await Client.connect(server)
            client.send(get() + get())
            for _ in range(2):
                status, headers, body = await client.response()
                assert (status, body) == (204, b"")
                assert "content-length" not in headers
            await client.close()

    run(test)


# --- limits -----------------------------------------------------------------------------------------


def test_chunked_body_over_the_limit_gets_413_and_close() -> None:
    async def test() -> None:
        async with serving(echo, Limits(max_body_size=100)) as server:
            client = await Client.connect(server)
            client.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(3):
                client.send(b"40\r\n" + b"x" * 64 + b"\r\n")
            status, _, body = await client.response()
            assert (status, body) == (413, b'{"message":"Request Too Long"}')
            assert await client.closed()
            await client.close()

    run(test)


def test_headers_over_10_kib_get_431_and_close() -> None:
    async def test() -> None:
        async with serving(echo) as server:
            client = await Client.connect(server)
            client.send(get("/", "".join(f"X-H{i}: {'v' * 1000}\r\n" for i in range(11))))
            status, _, body = await client.response()
            assert (status, body) == (431, b'{"message":"Request Header Fields Too Large"}')
            assert await client.closed()
            await client.close()
            # just under the limit is fine
            client = await Client.connect(server)
            client.send(get("/", f"X-Big: {'v' * 9000}\r\n"))
            assert (await client.response())[0] == 200
            await client.close()

    run(test)


def test_url_over_10_kib_gets_414() -> None:
    async def test() -> None:
        async with serving(echo) as server:
            client = await Client.connect(server)
            client.send(get("/" + "a" * 10_240))
            status, _, body = await client.response()
            assert (status, body) == (414, b'{"message":"Request-URI Too Long"}')
            assert await client.closed()
            await client.close()

    run(test)


def test_malformed_request_gets_400_and_other_connections_carry_on() -> None:
    async def test() -> None:
        async with serving(echo) as server:
            bystander = await Client.connect(server)
            bystander.send(get("/before"))
            assert (await bystander.response())[0] == 200
            for garbage in (b"NOT HTTP AT ALL\r\n\r\n", b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"):
                client = await Client.connect(server)
                client.send(garbage)
                status, _, body = await client.response()
                assert (status, body) == (400, b'{"message":"Bad Request"}')
                assert await client.closed()
                await client.close()
            bystander.send(get("/after"))
            assert (await bystander.response())[2] == b"GET /after ? 0:"
            await bystander.close()

    run(test)


def test_malformed_request_behind_a_pipelined_one_is_answered_after_it() -> None:
    async def test() -> None:
        async with serving(echo) as server:
            client = await Client.connect(server)
            client.send(get("/sleep/0.05") + b"BROKEN\r\n\r\n")
            assert (await client.response())[::2] == (200, b"GET /sleep/0.05 ? 0:")
            assert (await client.response())[0] == 400
            assert await client.closed()
            await client.close()

    run(test)


# --- timeouts ---------------------------------------------------------------------------------------


def test_slow_headers_get_408_and_close() -> None:
    async def test() -> None:
        async with serving(echo, Limits(header_timeout=0.2)) as server:
            client = await Client.connect(server)
            client.send(b"GET / HTTP/1.1\r\nHost: t\r\n")  # and never the end of the headers
            status, _, body = await client.response()
            assert (status, body) == (408, b'{"message":"Request Timeout"}')
            assert await client.closed()
            await client.close()

    run(test)


def test_slow_body_gets_408_and_close() -> None:
    async def test() -> None:
        async with serving(echo, Limits(body_timeout=0.2)) as server:
            client = await Client.connect(server)
            client.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
            assert (await client.response())[0] == 408
            assert await client.closed()
            await client.close()

    run(test)


def test_idle_keep_alive_connection_is_closed_silently() -> None:
    async def test() -> None:
        async with serving(echo, Limits(idle_timeout=0.2)) as server:
            client = await Client.connect(server)
            client.send(get())
            assert (await client.response())[0] == 200
            assert await client.closed()  # no 408: nothing was in flight
            await client.close()

    run(test)


# --- handler failures and disconnects ---------------------------------------------------------------


def test_handler_exception_gives_500_and_the_connection_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def test() -> None:
        async with serving(echo) as server:
            client = await Client.connect(server)
            client.send(get("/boom"))
            status, _, body = await client.response()
            assert (status, body) == (500, b'{"message":"Internal server error"}')
            client.send(get("/fine"))
            assert (await client.response())[::2] == (200, b"GET /fine ? 0:")
            await client.close()

    with caplog.at_level(logging.ERROR, logger="apigate.server"):
        run(test)
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [RuntimeError]


def test_invalid_response_from_handler_gives_500() -> None:
    async def bad(request: Request) -> Response:
        if request.raw_path == "/split":
            return Response(200, [("X-Evil", "a\r\nSet-Cookie: x=1")], b"")
        return Response(2000, [], b"")

    async def test() -> None:
        async with serving(bad) as server:
            client = await Client.connect(server)
            client.send(get("/split") + get("/status"))
            for _ in range(2):
                status, headers, _ = await client.response()
                assert status == 500
                assert "set-cookie" not in headers
            await client.close()

    logging.getLogger("apigate.server").disabled = True  # expected tracebacks, not test noise
    try:
        run(test)
    finally:
        logging.getLogger("apigate.server").disabled = False


def test_client_disconnect_mid_body_or_mid_handler_breaks_nothing(caplog: pytest.LogCaptureFixture) -> None:
    started, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def waiting(request: Request) -> Response:
        if request.raw_path == "/wait":
            started.set()
            await release.wait()
            finished.set()
        return Response(200, [], b"ok")

    async def test() -> None:
        async with serving(waiting) as server:
            client = await Client.connect(server)
            client.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
            await client.close()
            client = await Client.connect(server)
            client.send(get("/wait") + get("/queued"))
            await started.wait()
            await client.close()
            await asyncio.sleep(0.05)
            release.set()  # the handler finishes; its response goes nowhere
            await finished.wait()
            client = await Client.connect(server)
            client.send(get("/later"))
            assert (await client.response())[::2] == (200, b"ok")
            await client.close()

    with caplog.at_level(logging.WARNING):
        run(test)
    assert caplog.records == []


# --- shutdown ---------------------------------------------------------------------------------------


def test_graceful_shutdown_drains_in_flight_requests_and_refuses_new_ones() -> None:
    started = asyncio.Event()

    async def slow(request: Request) -> Response:
        if request.raw_path == "/slow":
            started.set()
            await asyncio.sleep(0.3)
        return Response(200, JSON, b'{"done":true}')

    async def test() -> None:
        server = Server()
        await server.start("127.0.0.1", 0, slow)
        idle = await Client.connect(server)
        idle.send(get("/quick"))
        assert (await idle.response())[0] == 200
        busy = await Client.connect(server)
        busy.send(get("/slow"))
        await started.wait()
        shutdown = asyncio.create_task(server.shutdown(grace=5.0))
        assert await idle.closed()  # idle keep-alive connections go at once
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", server.port)
        status, headers, body = await busy.response()
        assert (status, headers["connection"], body) == (200, "close", b'{"done":true}')
        assert await busy.closed()
        await shutdown
        await idle.close()
        await busy.close()

    run(test)


def test_a_connection_whose_first_request_is_on_the_way_at_shutdown_is_answered() -> None:
    async def test() -> None:
        server = Server()
        await server.start("127.0.0.1", 0, echo)
        client = await Client.connect(server)
        silent = await Client.connect(server)
        await asyncio.sleep(0.05)  # both accepted, nothing sent yet
        shutdown = asyncio.create_task(server.shutdown(grace=5.0))
        await asyncio.sleep(0.05)
        client.send(get("/late"))  # a graceful restart must not drop it
        status, headers, _ = await client.response()
        assert (status, headers["connection"]) == (200, "close")
        assert await client.closed()
        # One that sends nothing is closed after a short grace, long before the drain's own deadline.
        assert await silent.closed()
        await asyncio.wait_for(shutdown, 4.0)
        await client.close()
        await silent.close()

    run(test)


def test_a_connection_accepted_as_shutdown_begins_is_answered_before_it_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """uvloop calls connection_made from a callback it queues at the accept: a connection accepted just before
    the listener closes is made after shutdown began, and is still drained (the process exits when shutdown
    returns: in a graceful restart, its request would be dropped unanswered)."""
    answered: list[str] = []

    async def handler(request: Request) -> Response:
        await asyncio.sleep(0.05)
        answered.append(request.raw_path)
        return Response(200, JSON, b"{}")

    async def test() -> None:
        accepted = asyncio.get_running_loop().create_future()

        class Accepted(HttpProtocol):
            def __init__(self, state: Any) -> None:  # at the accept, before connection_made is queued
                super().__init__(state)
                if not accepted.done():
                    accepted.set_result(None)  # so shutdown starts ahead of connection_made

        monkeypatch.setattr(listener, "HttpProtocol", Accepted)
        server = Server()
        await server.start("127.0.0.1", 0, handler)

        async def stop_at_the_accept() -> None:
            await accepted
            await server.shutdown(grace=5.0)

        stopping = asyncio.create_task(stop_at_the_accept())
        client = await Client.connect(server)
        client.send(get("/at-shutdown"))
        await stopping
        assert answered == ["/at-shutdown"]
        status, headers, _ = await client.response()
        assert (status, headers["connection"]) == (200, "close")
        await client.close()

    run(test)


def test_shutdown_grace_expiry_cuts_off_stuck_handlers() -> None:
    started = asyncio.Event()

    async def stuck(request: Request) -> Response:
        started.set()
        await asyncio.sleep(60)
        return Response(200)

    async def test() -> None:
        server = Server()
        await server.start("127.0.0.1", 0, stuck)
        client = await Client.connect(server)
        client.send(get())
        await started.wait()
        await server.shutdown(grace=0.1)
        assert await client.closed()
        await client.close()

    run(test)


# --- upgrades ---------------------------------------------------------------------------------------


def test_upgrade_request_without_a_hook_is_an_ordinary_request() -> None:
    async def test() -> None:
        async with serving(echo) as server:
            client = await Client.connect(server)
            upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            client.send(get("/ws", upgrade) + get("/next"))
            assert (await client.response())[2] == b"GET /ws ? 0:"
            assert (await client.response())[2] == b"GET /next ? 0:"
            await client.close()

    run(test)


def test_upgrade_hook_takes_over_the_transport() -> None:
    class Echo(asyncio.Protocol):
        def __init__(self, transport: asyncio.Transport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.transport.write(data.upper())

    def on_upgrade(request: Request, transport: asyncio.Transport, protocol: HttpProtocol) -> None:
        transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        )
        transport.write(request.raw_path.encode() + b":" + protocol.upgrade_data.upper())
        transport.set_protocol(Echo(transport))
        transport.resume_reading()

    async def test() -> None:
        server = Server()
        server.on_upgrade = on_upgrade
        await server.start("127.0.0.1", 0, echo)
        client = await Client.connect(server)
        upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        client.send(get("/first") + get("/ws", upgrade) + b"early")
        assert (await client.response())[2] == b"GET /first ? 0:"
        assert (await client.reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101 ")
        assert await client.reader.readexactly(len(b"/ws:EARLY")) == b"/ws:EARLY"
        client.send(b"later")
        assert await client.reader.readexactly(5) == b"LATER"
        await client.close()
        await server.shutdown(grace=1.0)

    run(test)


def test_port_zero_binds_a_real_port() -> None:
    async def test() -> None:
        async with serving(echo) as server:
            assert server.port > 0

    run(test)
