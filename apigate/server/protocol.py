"""HTTP/1.1 on one connection: an asyncio Protocol driving the httptools parser.

This is the hot path (see DESIGN.md, "Why the server core is our own"). Habits kept here on purpose:

- one ``transport.write`` per response, head and (small) body joined;
- no timers per request: a connection only stores a deadline, and one ticker per server sweeps the
  connections and refreshes the cached ``Date`` header;
- one worker Task per connection, started by its first request and parked on a future between
  requests: it runs the handlers one at a time, pipelined requests queue for it, so responses leave
  in request order. Handlers must run inside a Task (``asyncio.timeout()`` and ``TaskGroup`` need
  ``current_task()``); waking a parked Task costs ~0.6 us here, creating one per request ~1 us.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import cast
from urllib.parse import quote_from_bytes

import httptools

from apigate.server.message import Handler, Request, Response, StreamedResponse
from apigate.server.tls import below_policy

__all__ = ["HttpProtocol", "Limits", "ServerState", "UpgradeHandler"]

_logger = logging.getLogger("apigate.server")


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-request and per-connection limits (AWS API Gateway's where it has one)."""

    max_body_size: int = 10 * 1024 * 1024  # AWS: 10 MB payload
    # AWS limits the total size of header *values* to 10,240 bytes; we count names and values, which is
    # simpler to reason about and stricter by a few hundred bytes at most.
    max_header_bytes: int = 10_240
    max_url_length: int = 10_240
    header_timeout: float = 10.0  # first byte of a request -> end of its headers (slowloris)
    body_timeout: float = 30.0  # end of headers -> end of body
    idle_timeout: float = 60.0  # keep-alive connection with nothing in flight
    max_pipelined: int = 16  # parsed requests waiting for the handler before we stop reading


# Called with the request, the transport and the HttpProtocol that parsed it; takes over the transport
# (``transport.set_protocol(...)``, ``resume_reading()``); bytes already read past the request are in
# ``protocol.upgrade_data``.
UpgradeHandler = Callable[[Request, asyncio.Transport, "HttpProtocol"], None]

# Flags of a parsed request, fixed when its headers are complete.
_KEEP_ALIVE = 1
_HEAD = 2
_HTTP10 = 4
_UPGRADE = 8

_LINGER = 2.0  # seconds we keep reading (and discarding) after an error response, so the client sees it
# At shutdown, a connection accepted moments ago whose first request has not arrived yet gets this long for it,
# instead of being closed at once: its client has sent the request (or is about to), and closing would drop it.
# Found by tests/test_workers.py's graceful restart (a worker told to drain while connections land on it).
_FRESH_GRACE = 1.0
_LARGE_BODY = 64 * 1024  # above this, head and body are written separately instead of copied together
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_MANAGED_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "date"})
_MANAGED_LENGTHS = frozenset(len(name) for name in _MANAGED_HEADERS)  # lower() only names that may match
_SPECIAL_HEADER_LENGTHS = frozenset({6, 7, 14})  # expect, upgrade, content-length: cheap pre-check
_STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n" for s in HTTPStatus}
_METHODS = {m.encode(): m for m in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")}
# Everything printable in ASCII stays as sent; other bytes of the target are percent-encoded so that
# raw_path is always ASCII and percent-encoded, whatever the client sent.
_URL_SAFE = bytes(range(0x21, 0x7F)).decode()


def _error(status: int, message: str, *extra: tuple[str, str]) -> Response:
    body = b'{"message":"' + message.encode() + b'"}'
    return Response(status, [("Content-Type", "application/json"), *extra], body)


_BAD_REQUEST = _error(400, "Bad Request")
_REQUEST_TIMEOUT = _error(408, "Request Timeout")
_BODY_TOO_LARGE = _error(413, "Request Too Long", ("x-amzn-ErrorType", "RequestTooLargeException"))
_URL_TOO_LONG = _error(414, "Request-URI Too Long")
_HEADERS_TOO_LARGE = _error(431, "Request Header Fields Too Large")
_INTERNAL_ERROR = _error(500, "Internal server error")


def _status_line(status: int) -> str:
    if type(status) is not int or not 100 <= status <= 999:
        raise ValueError(f"invalid status {status!r}")
    return f"HTTP/1.1 {status} Unknown\r\n"


class _Reject(Exception):
    """Raised from a parser callback to stop parsing; the response to send is in ``HttpProtocol._reject``."""


class ServerState:
    """What all connections of one listening server share: handler, limits, live connections, clock."""

    def __init__(self, handler: Handler, limits: Limits, on_upgrade: UpgradeHandler | None = None) -> None:
        self.handler = handler
        self.limits = limits
        self.on_upgrade = on_upgrade
        self.connections: set[HttpProtocol] = set()
        self.closing = False
        self.date_line = f"Date: {formatdate(usegmt=True)}\r\n"
        self.now = 0.0  # loop.time() at the last tick: deadlines are set from it, without a call per request
        self._interval = min(
            1.0, max(0.005, min(limits.header_timeout, limits.body_timeout, limits.idle_timeout) / 4)
        )
        self._ticker: asyncio.TimerHandle | None = None
        self._empty: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.now = self._loop.time()
        self._tick()

    def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def _tick(self) -> None:
        # One timer per server instead of one per request: expire deadlines, refresh the Date header.
        # Deadlines come from the clock of the previous tick, so they expire one interval late rather
        # than early: timeouts are accurate to within two intervals (<= 2 s, <= half the shortest one).
        assert self._loop is not None
        self.date_line = f"Date: {formatdate(usegmt=True)}\r\n"
        self.now = now = self._loop.time()
        expired = now - self._interval
        for conn in [c for c in self.connections if c.deadline <= expired]:
            conn.on_deadline()
        self._ticker = self._loop.call_later(self._interval, self._tick)

    def add(self, conn: HttpProtocol) -> None:
        self.connections.add(conn)
        if self._empty is not None:  # shutting down, and one more to drain (see HttpProtocol.connection_made)
            self._empty.clear()

    def forget(self, conn: HttpProtocol) -> None:
        self.connections.discard(conn)
        if self._empty is not None and not self.connections:
            self._empty.set()

    def begin_shutdown(self) -> None:
        """Stop taking requests: idle connections close now, busy ones after their current response."""
        self.closing = True
        self._empty = asyncio.Event()
        if not self.connections:
            self._empty.set()
        for conn in list(self.connections):
            conn.shutdown()

    async def wait_empty(self) -> None:
        assert self._empty is not None, "begin_shutdown() first"
        await self._empty.wait()

    async def abort_all(self) -> None:
        """Close every remaining connection now and cancel the handlers still running for them."""
        tasks = [t for t in (conn.abort() for conn in list(self.connections)) if t is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)  # a handler may swallow the cancellation: don't hang
        await asyncio.sleep(0)  # let the transports deliver connection_lost


class HttpProtocol(asyncio.Protocol):
    """One HTTP/1.1 connection: keep-alive, pipelining, chunked bodies, 100-continue, limits, timeouts."""

    # Slots: no per-connection __dict__ (~1 KB of the ~7 KB an idle keep-alive connection cost; see the
    # benchmark's held-connections row), and a misspelt attribute fails loudly.
    __slots__ = (
        "_backlog_paused",
        "_body",
        "_body_size",
        "_body_timeout",
        "_busy",
        "_client",
        "_closed",
        "_closing",
        "_content_length",
        "_continue_pending",
        "_drain_waiter",
        "_eof",
        "_expect_continue",
        "_flags",
        "_fresh",
        "_handler",
        "_header_bytes",
        "_header_timeout",
        "_headers",
        "_idle_timeout",
        "_in_request",
        "_limits",
        "_lingering",
        "_loop",
        "_max_body",
        "_max_header_bytes",
        "_max_pipelined",
        "_max_url",
        "_method",
        "_parser",
        "_queue",
        "_reject",
        "_ssl",
        "_state",
        "_stopped",
        "_transport",
        "_upgrade_websocket",
        "_upgrading",
        "_url",
        "_version",
        "_wakeup",
        "_worker",
        "_write_paused",
        "deadline",
        "upgrade_data",
    )

    _transport: asyncio.Transport

    def __init__(self, state: ServerState) -> None:
        self._state = state
        self._handler = state.handler
        self._limits = limits = state.limits
        self._header_timeout = limits.header_timeout
        self._body_timeout = limits.body_timeout
        self._idle_timeout = limits.idle_timeout
        self._max_body = limits.max_body_size
        self._max_url = limits.max_url_length
        self._max_header_bytes = limits.max_header_bytes
        self._max_pipelined = limits.max_pipelined
        self._loop = asyncio.get_running_loop()
        self._parser = httptools.HttpRequestParser(self)
        self._client: tuple[str, int] = ("", 0)
        self._ssl: ssl.SSLObject | None = None  # an HTTPS connection's TLS session
        self.deadline = math.inf  # when on_deadline() should run; the server's ticker checks it
        self.upgrade_data = b""  # bytes read past an upgrade request, for the upgrade handler
        # the request being parsed
        self._in_request = False
        self._url = b""
        self._headers: list[tuple[str, str]] = []
        self._header_bytes = 0
        self._body: list[bytes] = []
        self._body_size = 0
        self._content_length = -1
        self._expect_continue = False
        self._upgrade_websocket = False
        self._method = "GET"
        self._version = ""  # of the first request; see on_headers_complete
        self._flags = 0
        self._fresh = True  # no request begun yet on this connection
        self._reject: Response | None = None
        # requests parsed and waiting for their turn, with their flags; a Response is a rejection to send
        self._queue: deque[tuple[Request | Response, int]] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Future[None] | None = None  # the worker waits on it when the queue is empty
        self._busy = False  # a request is queued or being answered
        self._continue_pending = False
        # connection state
        self._closed = False  # transport closed (by us or the peer): write nothing more
        self._stopped = False  # parse nothing more
        self._closing = False  # server shutting down: close after the current response
        self._eof = False  # peer sent EOF: answer what was received, then close
        self._lingering = False
        self._upgrading = False
        self._backlog_paused = False
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None

    # --- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its interface
        self._transport = transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self._client = (str(peer[0]), int(peer[1]))
        self._ssl = transport.get_extra_info("ssl_object")
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):  # the peer may already be gone
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._state.add(self)
        self.deadline = self._state.now + self._idle_timeout
        if self._state.closing:  # accepted before the listener closed, made after: drained like the others
            self.shutdown()
        if self._ssl is not None and below_policy(self._ssl):
            transport.abort()  # a custom domain's TLS policy refuses the version the handshake settled on

    def connection_lost(self, exc: Exception | None) -> None:
        # A handler still running finishes on its own; its response is dropped (see _respond).
        self._closed = self._stopped = True
        self.deadline = math.inf
        self._queue.clear()
        self._state.forget(self)
        self._wake_writer()
        self._wake_worker()  # an idle worker exits; a busy one drops its response when done

    def eof_received(self) -> bool:
        self._eof = True
        # True keeps the write side open until the queued requests are answered; False closes now
        return not self._lingering and self._busy

    def data_received(self, data: bytes) -> None:
        if self._stopped:
            if self._upgrading:
                self.upgrade_data += data
            return  # lingering after an error, or closed: discard
        while True:
            try:
                self._parser.feed_data(data)
                return
            except httptools.HttpParserUpgrade as exc:
                data = data[exc.args[0] :]
                if self._upgrading:  # the upgrade handler gets the rest, when the request's turn comes
                    self._stopped = True
                    self.upgrade_data = data
                    self._transport.pause_reading()
                    return
                if not data:  # nobody takes upgrades: it was an ordinary request, go on parsing
                    return
            except httptools.HttpParserError:
                self._fail(self._reject or _BAD_REQUEST)
                return

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_writer()

    # --- httptools callbacks ----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._stopped:
            raise _Reject  # closing: ignore the rest of what was pipelined
        self._in_request = True
        self._fresh = False
        self.deadline = self._state.now + self._header_timeout
        self._url = b""
        self._headers = []
        self._header_bytes = 0
        self._content_length = -1
        self._expect_continue = self._upgrade_websocket = False

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self._max_url:
            self._reject = _URL_TOO_LONG
            raise _Reject

    def on_header(self, name: bytes, value: bytes) -> None:
        size = self._header_bytes + len(name) + len(value)
        if size > self._max_header_bytes:
            self._reject = _HEADERS_TOO_LARGE
            raise _Reject
        self._header_bytes = size
        if len(name) in _SPECIAL_HEADER_LENGTHS:
            lower = name.lower()
            if lower == b"content-length":
                self._content_length = int(value)  # llhttp has checked it is all digits
            elif lower == b"expect":
                self._expect_continue = value.lower() == b"100-continue"
            elif lower == b"upgrade":
                self._upgrade_websocket = b"websocket" in value.lower()
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        parser = self._parser
        self.deadline = self._state.now + self._body_timeout
        if self._content_length > self._max_body:
            self._reject = _BODY_TOO_LARGE  # before the body is sent, and instead of 100 Continue
            raise _Reject
        raw_method = parser.get_method()
        method = _METHODS.get(raw_method) or raw_method.decode("latin-1")
        # get_http_version() formats a new string each time (~0.25 us, a few % of a request): ask once
        # per connection. Clients do not change HTTP version on a kept-alive connection.
        version = self._version or parser.get_http_version()
        flags = _KEEP_ALIVE if parser.should_keep_alive() else 0
        if method == "HEAD":
            flags |= _HEAD
        if version == "1.0":
            flags |= _HTTP10
        if self._upgrade_websocket and self._state.on_upgrade is not None and parser.should_upgrade():
            flags |= _UPGRADE
        self._method = method
        self._version = version
        self._flags = flags
        if self._expect_continue and version == "1.1":
            if not self._busy:
                self._transport.write(_CONTINUE)
            else:  # earlier responses must leave first; sent when the queue drains
                self._continue_pending = True

    def on_body(self, body: bytes) -> None:
        size = self._body_size + len(body)
        if size > self._max_body:  # chunked bodies have no Content-Length to check up front
            self._reject = _BODY_TOO_LARGE
            raise _Reject
        self._body_size = size
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._in_request = self._continue_pending = False
        self.deadline = math.inf
        chunks = self._body
        if chunks:
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            chunks.clear()
            self._body_size = 0
        else:
            body = b""
        url = self._url
        if url[:1] == b"/" and url.isascii():  # origin form, the usual case
            path, _, query = url.decode("latin-1").partition("?")
        else:
            path, query = _split_target(url)
        request = Request(self._method, path, query, self._headers, body, self._client, self._version)
        if self._ssl is not None:
            request.scheme, request.tls = "https", self._ssl
        flags = self._flags
        if flags & _UPGRADE:
            self._upgrading = True  # data_received stops parsing at the upgrade point
        self._queue.append((request, flags))
        if len(self._queue) >= self._max_pipelined and not self._backlog_paused:
            self._backlog_paused = True  # the client pipelines faster than we answer
            self._transport.pause_reading()
        self._dispatch()

    # --- running the handler ----------------------------------------------------------------------

    def _dispatch(self) -> None:
        """Something was queued: wake the worker, or start it."""
        self._busy = True
        if self._wakeup is not None:
            self._wake_worker()
        elif self._worker is None:
            self._worker = self._loop.create_task(self._work())

    def _wake_worker(self) -> None:
        waiter = self._wakeup
        if waiter is not None:
            self._wakeup = None
            if not waiter.done():
                waiter.set_result(None)

    async def _work(self) -> None:
        """Answer queued requests one at a time, in order, for as long as the connection lives."""
        queue = self._queue
        handler = self._handler
        try:
            while not self._closed:
                if not queue:
                    self._busy = False
                    self._idle()
                    if self._closed:
                        return
                    waiter = self._wakeup = self._loop.create_future()
                    await waiter
                    continue
                if self._write_paused:  # the client reads slower than we answer: wait for it
                    waiter = self._drain_waiter = self._loop.create_future()
                    self.deadline = self._state.now + self._idle_timeout  # but not forever
                    await waiter
                    continue
                item, flags = queue.popleft()
                if isinstance(item, Response):  # a rejection found while parsing ahead
                    self._send(item, 0)
                    self._linger()
                    return
                if flags & _UPGRADE:
                    self._hand_over(item)
                    return
                # The handler runs here, not in a coroutine of its own: each level of await between the
                # Task and the handler's innermost await is paid on every suspend and every resume.
                try:
                    answer = handler(item)
                    response = answer if isinstance(answer, Response) else await answer
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if task is None or task.cancelling():
                        raise  # we are being cancelled (shutdown ran out of grace)
                    _logger.exception("handler failed: %s %s", item.method, item.raw_path)
                    response = _INTERNAL_ERROR  # the handler let a CancelledError of its own escape
                except Exception:
                    _logger.exception("handler failed: %s %s", item.method, item.raw_path)
                    response = _INTERNAL_ERROR
                if self._closed:
                    return  # the client left: drop the response
                if type(response) is StreamedResponse:
                    if not await self._stream(response, flags):
                        self._close()
                        return
                    continue
                if not self._send(response, flags):
                    self._close()
                    return
        finally:
            self._worker = self._wakeup = None

    def _idle(self) -> None:
        """Nothing is queued or running any more."""
        if self._closed:
            return
        if self._eof or (self._closing and not self._in_request):
            self._close()
            return
        if self._backlog_paused:
            self._backlog_paused = False
            self._transport.resume_reading()
        if not self._in_request:
            self.deadline = self._state.now + self._idle_timeout
        elif self._continue_pending:
            self._continue_pending = False
            self._transport.write(_CONTINUE)

    def _hand_over(self, request: Request) -> None:
        hook = self._state.on_upgrade
        self._state.forget(self)  # from now on the connection belongs to the upgrade handler
        self.deadline = math.inf
        self._closed = True
        try:
            assert hook is not None
            hook(request, self._transport, self)
        except Exception:
            _logger.exception("upgrade handler failed: %s", request.raw_path)
            self._transport.close()

    # --- writing ----------------------------------------------------------------------------------

    def _send(self, response: Response, flags: int) -> bool:
        """Write one response. Returns whether the connection stays open afterwards."""
        try:
            head, body, keep_alive = self._render(response, flags)
        except Exception:
            _logger.exception("invalid response from handler: %r", response)
            head, body, keep_alive = self._render(_INTERNAL_ERROR, flags)
        if len(body) <= _LARGE_BODY:
            self._transport.write(head + body)
        else:
            self._transport.write(head)
            self._transport.write(body)
        return keep_alive

    async def _stream(self, response: StreamedResponse, flags: int) -> bool:
        """Write a streamed response as its chunks come, in the chunked coding (to an HTTP/1.0 client: unframed,
        then close). Stops at a client that left or a server shutting down. Returns whether the connection stays
        open afterwards."""
        chunks = response.chunks
        bodiless = flags & _HEAD or response.status < 200 or response.status in (204, 304) or chunks is None
        chunked = not (flags & _HTTP10 or bodiless)
        try:
            head, _, keep_alive = self._render(
                Response(response.status, response.headers), flags if chunked or bodiless else 0
            )
        except Exception:
            _logger.exception("invalid response from handler: %r", response)
            head, _, keep_alive = self._render(_INTERNAL_ERROR, flags)
            bodiless = True
        if not bodiless:  # our Content-Length is the last one in the head: the framing replaces it
            before, found, after = head.rpartition(b"\r\nContent-Length: 0\r\n")
            if found:
                head = before + (b"\r\nTransfer-Encoding: chunked\r\n" if chunked else b"\r\n") + after
        transport = self._transport
        transport.write(head)
        if bodiless or chunks is None:
            if chunks is not None:
                await _close_chunks(chunks)
            return keep_alive
        complete = False
        try:
            async for chunk in chunks:
                if self._closed or self._closing:
                    break
                if not chunk:
                    continue
                transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
                if self._write_paused:  # the client reads slower than the stream comes: wait for it, not forever
                    waiter = self._drain_waiter = self._loop.create_future()
                    self.deadline = self._state.now + self._idle_timeout
                    await waiter
                    self.deadline = math.inf
            complete = True
        except Exception:
            _logger.exception("response stream failed")  # the client sees a body cut short
        finally:
            await _close_chunks(chunks)
        if self._closed or not complete:
            return False
        if chunked:
            transport.write(b"0\r\n\r\n")
            return keep_alive and not self._closing
        return False

    def _render(self, response: Response, flags: int) -> tuple[bytes, bytes, bool]:
        keep_alive = flags & _KEEP_ALIVE != 0 and not self._closing
        status = response.status
        head = _STATUS_LINES.get(status) or _status_line(status)
        head += self._state.date_line
        lines = 3  # status line, Date, and the empty line that ends the head
        declared = ""
        for name, value in response.headers:
            if len(name) in _MANAGED_LENGTHS:
                lower = name.lower()
                if lower in _MANAGED_HEADERS:  # framing is ours; a handler's "Connection: close" is honoured
                    if lower == "connection" and "close" in value.lower():
                        keep_alive = False
                    elif lower == "content-length":
                        declared = value
                    continue
            head += f"{name}: {value}\r\n"
            lines += 1
        body = response.body
        if status < 200 or status == 204 or status == 304:
            body = b""  # these never carry content (RFC 9110 §6.4.1)
        elif flags & _HEAD:
            # a HEAD answer keeps the length of the GET body; a handler that proxied a HEAD has no body
            # to measure, so its declared length stands
            length = len(body) if body or not (declared.isascii() and declared.isdigit()) else int(declared)
            head += f"Content-Length: {length}\r\n"
            lines += 1
            body = b""
        else:
            head += f"Content-Length: {len(body)}\r\n"
            lines += 1
        if not keep_alive:
            head += "Connection: close\r\n"
            lines += 1
        elif flags & _HTTP10:
            head += "Connection: keep-alive\r\n"
            lines += 1
        head += "\r\n"
        # every line ends with exactly one CRLF: any other CR or LF came from a header (response splitting)
        if head.count("\n") != lines or head.count("\r") != lines:
            raise ValueError("CR or LF in a response header")
        try:
            return head.encode("latin-1"), body, keep_alive
        except UnicodeEncodeError:
            return head.encode(), body, keep_alive  # values outside latin-1 go out as UTF-8

    def _wake_writer(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # --- closing ----------------------------------------------------------------------------------

    def _fail(self, response: Response) -> None:
        """Answer a broken request with ``response`` (after those before it) and close."""
        if self._stopped:
            return
        self._stopped = True
        self._in_request = False
        self.deadline = math.inf
        if not self._busy:
            self._send(response, 0)
            self._linger()
        else:
            self._queue.append((response, 0))
            self._dispatch()

    def _linger(self) -> None:
        # Closing with unread input makes the kernel send RST, which can destroy the response we just
        # wrote before the client reads it. So: half-close, read and discard for a while, then close.
        self._stopped = True
        if self._closed or not self._transport.can_write_eof():
            self._close()
            return
        self._lingering = True
        self._transport.write_eof()
        self._transport.resume_reading()
        self.deadline = self._state.now + _LINGER

    def _close(self) -> None:
        self._stopped = True
        self.deadline = math.inf
        if not self._closed:
            self._closed = True
            self._transport.close()

    def on_deadline(self) -> None:
        """Called by the server's ticker once ``deadline`` has passed."""
        self.deadline = math.inf
        if self._in_request and not self._lingering and self._drain_waiter is None:
            self._fail(_REQUEST_TIMEOUT)  # too slow sending headers or body
        else:
            self._close()  # idle keep-alive connection, a client that stopped reading, lingering done

    def shutdown(self) -> None:
        """Server shutdown: close now if idle, otherwise after the response in progress."""
        self._closing = True
        if not self._busy and not self._in_request and not self._lingering:
            if self._fresh:  # its first request may be on the way: the ticker closes it if none comes
                self.deadline = min(self.deadline, self._state.now + _FRESH_GRACE)
            else:
                self._close()

    def abort(self) -> asyncio.Task[None] | None:
        """Close at once; returns the worker task, cancelled, if there was one."""
        self._stopped = True
        if not self._closed:
            self._closed = True
            self._transport.abort()
        task = self._worker
        if task is not None:
            task.cancel()
        return task


async def _close_chunks(chunks: object) -> None:
    """Let a streamed body's generator clean up (its ``finally`` blocks run now, not at collection)."""
    close = getattr(chunks, "aclose", None)
    if close is not None:
        await close()


def _split_target(url: bytes) -> tuple[str, str]:
    """(raw path, raw query) from an unusual request target: non-ASCII, absolute form, or ``*``."""
    if not url.isascii():
        url = quote_from_bytes(url, safe=_URL_SAFE).encode("ascii")
    if url[:1] != b"/" and url != b"*":  # absolute form, as sent to proxies
        parsed = httptools.parse_url(url)
        return (parsed.path or b"/").decode("latin-1"), (parsed.query or b"").decode("latin-1")
    path, _, query = url.decode("latin-1").partition("?")
    return path, query
