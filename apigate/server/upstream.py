"""Keep-alive HTTP/1.1 client pool for HTTP and HTTP_PROXY integrations.

Our own because the per-request CPU cost of aiohttp (~215 µs) and httpx (~1,700 µs) would dominate the proxy
path (see DESIGN.md). One asyncio ``Protocol`` per upstream connection, responses parsed by
``httptools.HttpResponseParser``, idle connections kept per (scheme, host, port) and reused LIFO (the most
recently used socket is the least likely to have been closed by the server).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import ssl
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import cast

import httptools

__all__ = [
    "ClientIdentity",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamPool",
    "UpstreamProtocolError",
    "UpstreamRequestError",
    "UpstreamResponse",
    "UpstreamTimeout",
    "end_to_end",
    "with_added",
]


@dataclass(slots=True)
class UpstreamResponse:
    """A complete upstream response.

    ``headers`` are exactly as received (original case, repeats kept, hop-by-hop headers such as
    ``Transfer-Encoding`` included): stripping them is the integration's job. ``body`` is de-chunked.
    """

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


class UpstreamError(Exception):
    """Base class of every error raised by :class:`UpstreamPool`."""


class UpstreamConnectError(UpstreamError):
    """Connection refused, DNS failure, unreachable host, TLS handshake failure."""


class UpstreamTimeout(UpstreamError):
    """Connect, write or response exceeded the request's timeout."""


class UpstreamProtocolError(UpstreamError):
    """Unparseable response, connection closed or reset mid-response, response too large."""


class UpstreamRequestError(UpstreamError):
    """The request cannot be sent as given: bad URL, CR/LF in a header (request smuggling)."""


class _StaleConnection(Exception):
    """A reused keep-alive connection died before any response byte: the server closed it while idle."""


# Hop-by-hop headers (RFC 9110 §7.6.1) plus the ones we always compute ourselves; integrations drop the
# same set from the upstream's answer before it goes back to the client.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# A name can only be hop-by-hop if it has one of these lengths: lower() only those (most headers are not).
HOP_BY_HOP_LENGTHS = frozenset(len(name) for name in HOP_BY_HOP)


def end_to_end(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A client's headers as a proxy forwards them: the headers its ``Connection`` names (RFC 9110 §7.6.1) and
    ``Connection`` itself removed. Integrations call this on the client's headers *before* they add the headers
    the API maps (``requestParameters``), so a client cannot name away a header the gateway adds; the pool would
    otherwise apply the client's ``Connection`` to the finished list. The list is returned as it is (no copy)
    when ``Connection`` names nothing beyond the fixed hop-by-hop set, which the pool drops anyway: the usual
    ``keep-alive`` or ``close``."""
    listed: set[str] | None = None
    for name, value in headers:
        if len(name) == 10 and name.lower() == "connection":
            for token in value.split(","):
                token = token.strip().lower()
                if token and token not in HOP_BY_HOP and token != "close":
                    listed = listed or {"connection"}
                    listed.add(token)
    if listed is None:
        return headers
    return [(k, v) for k, v in headers if k.lower() not in listed]


def with_added(headers: list[tuple[str, str]], added: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` (already :func:`end_to_end`) with ``added`` replacing any header of the same name. Added
    hop-by-hop names are left out: the pool computes those, and an added ``Connection`` would name headers away."""
    extra = [(k, v) for k, v in added if len(k) not in HOP_BY_HOP_LENGTHS or k.lower() not in HOP_BY_HOP]
    lowered = {name.lower() for name, _ in extra}
    return [(k, v) for k, v in headers if k.lower() not in lowered] + extra


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_WRITE_JOIN_MAX = 64 * 1024
_CACHED_URL_MAX = 512  # longer URLs are resolved every time: bounds the URL cache to ~2 MB  # below this, one bytes concat beats writelines' bookkeeping


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """A client certificate presented to HTTPS backends (a stage's ``clientCertificateId``): ``pem_file``
    holds the certificate and its private key. Connections presenting it are pooled apart."""

    name: str
    pem_file: str


@dataclass(slots=True, eq=False)
class _Origin:
    scheme: str
    host: str
    port: int
    host_header: str
    tls: bool
    idle: list[_Connection]  # LIFO stack; ascending idle_since, so the oldest are at the bottom
    identity: ClientIdentity | None = None


class _Connection(asyncio.Protocol):
    """One upstream socket. Parser callbacks are public methods because httptools looks them up by name."""

    __slots__ = (
        "_body",
        "_chunked",
        "_got_data",
        "_handoff",
        "_has_length",
        "_headers",
        "_headers_done",
        "_is_head",
        "_keep_alive",
        "_limit",
        "_message_done",
        "_parser",
        "_reason",
        "_reusable",
        "_size",
        "_status",
        "_waiter",
        "closed",
        "deadline",
        "idle_since",
        "loop",
        "lost",
        "origin",
        "pool",
        "reused",
        "transport",
    )

    def __init__(self, pool: UpstreamPool, origin: _Origin, loop: asyncio.AbstractEventLoop) -> None:
        self.pool = pool
        self.origin = origin
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False  # we, or the peer, ended it: no longer counted as open
        self.lost = False  # connection_lost has run: the transport is fully gone
        self.reused = False
        self.idle_since = 0.0
        self.deadline = math.inf  # of the request in flight; the pool's one timer checks it
        self._limit = pool._max_response_bytes
        self._waiter: asyncio.Future[UpstreamResponse] | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._reusable = False
        self._reset_message()
        self._is_head = False
        self._got_data = False
        # Set by UpstreamPool.send(): the request (for the keep-alive race's one retry) while nobody awaits a
        # coroutine of the pool's that would release the connection afterwards: it releases itself.
        self._handoff: tuple[bytes, bytes, float] | None = None

    def _reset_message(self) -> None:
        self._status = 0
        self._reason = ""
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._has_length = False
        self._chunked = False
        self._headers_done = False
        self._message_done = False
        self._keep_alive = False

    # -- asyncio.Protocol ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport does not subclass asyncio.Transport, hence a cast, not isinstance.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Requests are written in one go and then we wait: Nagle would only add latency.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self.closed:
            self.pool._open.add(self)

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None or self._waiter is None:
            # Bytes while idle (or after the response ended) mean we no longer know where the next
            # response starts: the connection is unusable.
            self.abort()
            return
        self._got_data = True
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(UpstreamProtocolError("upstream switched protocols, which is not supported"))
            return
        except httptools.HttpParserError as exc:
            self._fail(UpstreamProtocolError(f"invalid response from upstream: {exc}"))
            return
        if self._size > self._limit:
            self._fail(UpstreamProtocolError(f"upstream response exceeds {self._limit} bytes"))
        elif self._message_done and self._handoff is not None:
            # After feed_data, not in on_message_complete: bytes past the response in the same chunk have been
            # seen (they make the connection unusable), and the caller wakes only on a later loop turn.
            self._handoff = None
            self.pool._finish(self, self.loop)

    def eof_received(self) -> bool | None:
        return None  # let the transport close; connection_lost decides what EOF meant

    def connection_lost(self, exc: Exception | None) -> None:
        self._mark_closed()
        self.lost = True
        self.pool._closing.discard(self)
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if (
            exc is None
            and self._headers_done
            and not self._message_done
            and not self._has_length
            and not self._chunked
        ):
            # Neither Content-Length nor chunked: a clean EOF ends the body (HTTP/1.0 style); a reset does not.
            self._keep_alive = False
            self.on_message_complete()
            return
        self._waiter = None
        self._parser = None
        handoff, self._handoff = self._handoff, None
        if not self._got_data and self.reused and handoff is not None:
            self.pool._resend(self.origin, handoff, self._is_head, waiter)
        elif not self._got_data and self.reused:
            waiter.set_exception(_StaleConnection())
        elif not self._got_data:
            waiter.set_exception(UpstreamProtocolError("upstream closed the connection without a response"))
        else:
            waiter.set_exception(UpstreamProtocolError("upstream closed the connection mid-response"))

    # -- httptools callbacks ------------------------------------------------------------------------------

    # No on_message_begin: httptools calls only the callbacks a protocol defines, and each costs a call from C into
    # Python. Every response has a status line, so on_status also sees where a response begins.

    def on_status(self, status: bytes) -> None:
        if self._message_done:
            # A second response nobody asked for: never reuse this connection.
            self._reusable = False
            return
        # Otherwise the message state is fresh: start() and a skipped 1xx response both reset it.
        self._size += len(status)
        self._reason += status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._message_done:
            return
        self._size += len(name) + len(value)
        n = len(name)
        if n == 14 or n == 17:
            lname = name.lower()
            if lname == b"content-length":
                self._has_length = True
            elif lname == b"transfer-encoding":
                # llhttp frames by chunks only if chunked is the final coding; otherwise read-until-close.
                self._chunked = value.rstrip().lower().endswith(b"chunked")
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        if self._message_done:
            return
        parser = self._parser
        assert parser is not None
        status = parser.get_status_code()
        self._status = status
        self._headers_done = True
        if status < 200:
            return  # interim (1xx): llhttp completes it without a body; on_message_complete skips it
        self._keep_alive = parser.should_keep_alive()
        if self._is_head:
            # httptools cannot tell llhttp to skip the body, so a HEAD response ends here by our say-so.
            # HEAD without Content-Length looks like read-until-close to llhttp (keep_alive False): we
            # then close the connection, which is always safe.
            self.on_message_complete()

    def on_body(self, body: bytes) -> None:
        if self._message_done:
            return
        self._size += len(body)
        if self._size <= self._limit:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self._message_done:
            return
        if self._status < 200:
            self._reset_message()  # skip 1xx; the final response follows on the same parser
            return
        self._message_done = True
        if self._size > self._limit:
            return  # data_received fails the waiter right after feed_data returns
        waiter = self._waiter
        self._waiter = None
        # The parser is kept for the connection's next response (creating one per response costs
        # ~0.3 us) only where llhttp itself ended this one on a keep-alive connection: after a HEAD we
        # ended it early, and llhttp still expects a body.
        if self._is_head or not self._keep_alive:
            self._parser = None
        self._reusable = self._keep_alive
        if waiter is not None and not waiter.done():
            waiter.set_result(UpstreamResponse(self._status, self._reason, self._headers, _join(self._body)))

    # -- used by the pool ---------------------------------------------------------------------------------

    def start(self, waiter: asyncio.Future[UpstreamResponse], is_head: bool) -> None:
        self._reset_message()
        self._handoff = None
        self._waiter = waiter
        self._is_head = is_head
        self._got_data = False
        self._reusable = False
        if self._parser is None:
            self._parser = httptools.HttpResponseParser(self)

    def timed_out(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._waiter = None
            waiter.set_exception(UpstreamTimeout("upstream did not answer within the timeout"))
        self.abort()

    def _fail(self, exc: UpstreamError) -> None:
        waiter = self._waiter
        self._waiter = None
        self._parser = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.abort()

    def abort(self) -> None:
        self._mark_closed()
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        self._mark_closed()
        if self.transport is not None:
            self.transport.close()

    def _mark_closed(self) -> None:
        # Idempotent; counts the connection as gone as soon as we decide so, not a loop turn later.
        if self.closed:
            return
        self.closed = True
        self._parser = None  # breaks the parser <-> protocol cycle
        pool = self.pool
        pool._open.discard(self)
        if not self.lost:
            pool._closing.add(self)
        idle = self.origin.idle
        if idle and self in idle:
            idle.remove(self)


class UpstreamPool:
    """Keep-alive connection pool; one per event loop (create it inside the loop that uses it)."""

    def __init__(
        self,
        *,
        max_idle_per_host: int = 64,
        idle_timeout: float = 30.0,
        max_response_bytes: int = 10 * 1024 * 1024,
        ssl_verify: bool = True,
    ) -> None:
        self._max_idle = max_idle_per_host
        self._idle_timeout = idle_timeout
        self._max_response_bytes = max_response_bytes
        self._ssl_verify = ssl_verify
        self._ssl_context: ssl.SSLContext | None = None  # built on first https use: it costs milliseconds
        self._identity_contexts: dict[ClientIdentity, ssl.SSLContext] = {}  # one per client certificate
        self._origins: dict[str, _Origin] = {}
        # Whole URL -> (origin, target): an integration calls the same few URLs over and over, and a dict
        # hit is ~20x cheaper than splitting the URL again. Bounded; cleared whenever _origins is pruned, so
        # it never holds an origin the sweeper no longer sees.
        self._targets: dict[str, tuple[_Origin, str]] = {}
        self._open: set[_Connection] = set()
        self._closing: set[_Connection] = set()  # closed by us, connection_lost not yet run
        self._sweep_handle: asyncio.TimerHandle | None = None
        # One timer for every request in flight instead of one per request (call_at + cancel cost ~1.5 us
        # a request): it is armed for the earliest deadline it knows of and, when it fires, times out the
        # connections past theirs and re-arms for the earliest one left. Deadlines later than the armed
        # one (the usual case: same timeout, later start) need no timer call at all.
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        self._closed = False
        self._resends: set[asyncio.Task[None]] = set()  # send()'s retries after the keep-alive race

    def stats(self) -> dict[str, int]:
        """Connection counts, for tests and metrics: ``open`` = ``idle`` + ``in_use``."""
        idle = sum(len(origin.idle) for origin in self._origins.values())
        return {"open": len(self._open), "idle": idle, "in_use": len(self._open) - idle}

    async def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        timeout: float = 29.0,
        identity: ClientIdentity | None = None,
    ) -> UpstreamResponse:
        """Send one request and read the whole response.

        ``Host`` is always the upstream's host[:port]; caller ``Host``, ``Content-Length`` and hop-by-hop
        headers are dropped; ``Content-Length`` is computed. ``timeout`` covers connect, write and the full
        response.
        """
        if self._closed:
            raise UpstreamError("the upstream pool is closed")
        origin, target = self._resolve(url, identity)
        head = _build_head(method, target, origin.host_header, headers, body)
        is_head = method == "HEAD"
        conn = self._pop_idle(origin)
        # A pooled connection knows its loop: asyncio.get_running_loop() costs a getpid() system call
        # on Python 3.11.
        loop = asyncio.get_running_loop() if conn is None else conn.loop
        deadline = loop.time() + timeout

        # The exchange is inlined here rather than in a coroutine of its own: every level of await is
        # paid twice per request (suspend and resume), and this one sits under the whole handler chain.
        if conn is not None:
            try:
                waiter = self._start(loop, conn, head, body, is_head, deadline)
                try:
                    response = await waiter
                except BaseException:
                    conn.abort()  # response state unknown (timeout, error, cancellation): never reuse
                    raise
                self._finish(conn, loop)
                return response
            except _StaleConnection:
                pass  # the keep-alive race: the server closed it as we wrote; once more on a fresh socket
        conn = await self._connect(loop, origin, deadline)
        # A fresh connection is never `reused`, so it cannot raise _StaleConnection: no second retry.
        waiter = self._start(loop, conn, head, body, is_head, deadline)
        try:
            response = await waiter
        except BaseException:
            conn.abort()
            raise
        self._finish(conn, loop)
        return response

    def send(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        timeout: float = 29.0,
        identity: ClientIdentity | None = None,
    ) -> Awaitable[UpstreamResponse]:
        """:meth:`request`, for a caller that awaits the result at once (errors may also raise from the call).

        With an idle keep-alive connection at hand (the steady state), this writes the request and returns the
        response's future itself: the caller awaits it directly, with no coroutine of the pool's in between, and
        the connection releases itself when the response is complete. Measured on the HTTP_PROXY path: one
        coroutine level less on every request. Otherwise it returns :meth:`request`'s coroutine.

        A caller cancelled while waiting leaves the connection to finish its response (then it is reused) or
        to time out; :meth:`request` aborts it instead.
        """
        if self._closed:
            return self.request(method, url, headers, body, timeout=timeout, identity=identity)
        origin, target = self._resolve(url, identity)
        conn = self._pop_idle(origin)
        if conn is None:
            return self.request(method, url, headers, body, timeout=timeout, identity=identity)
        loop = conn.loop
        head = _build_head(method, target, origin.host_header, headers, body)
        deadline = loop.time() + timeout
        try:
            waiter = self._start(loop, conn, head, body, method == "HEAD", deadline)
        except _StaleConnection:
            return self.request(method, url, headers, body, timeout=timeout, identity=identity)
        conn._handoff = (head, body, deadline)
        return waiter

    def _resend(
        self,
        origin: _Origin,
        request: tuple[bytes, bytes, float],
        is_head: bool,
        waiter: asyncio.Future[UpstreamResponse],
    ) -> None:
        """send()'s request met the keep-alive race (the server closed the idle connection as we wrote): once
        more on a fresh connection, the outcome going to the caller's future."""
        head, body, deadline = request
        loop = waiter.get_loop()

        async def again() -> None:
            try:
                conn = await self._connect(loop, origin, deadline)
                inner = self._start(loop, conn, head, body, is_head, deadline)
                try:
                    response = await inner
                except BaseException:
                    conn.abort()
                    raise
                self._finish(conn, loop)
            except Exception as exc:
                if not waiter.done():
                    waiter.set_exception(exc)
                return
            if not waiter.done():
                waiter.set_result(response)

        task = loop.create_task(again())
        self._resends.add(task)
        task.add_done_callback(self._resends.discard)

    async def close(self) -> None:
        """Close every connection, idle or in use, and wait until the transports are gone."""
        self._closed = True
        if self._sweep_handle is not None:
            self._sweep_handle.cancel()
            self._sweep_handle = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_at = math.inf
        for conn in list(self._open):
            conn._fail(UpstreamError("the upstream pool was closed"))
        # abort() runs connection_lost on a later loop turn; wait for it so no transport outlives the pool.
        for _ in range(100):
            if not self._closing:
                break
            await asyncio.sleep(0)

    # -- internals ----------------------------------------------------------------------------------------

    def _start(
        self,
        loop: asyncio.AbstractEventLoop,
        conn: _Connection,
        head: bytes,
        body: bytes,
        is_head: bool,
        deadline: float,
    ) -> asyncio.Future[UpstreamResponse]:
        """Write the request on ``conn``; the returned future gets the response (or the error)."""
        transport = conn.transport
        assert transport is not None
        if conn.closed or transport.is_closing():
            conn.abort()
            if conn.reused:
                raise _StaleConnection()
            raise UpstreamProtocolError("upstream closed the connection without a response")
        waiter: asyncio.Future[UpstreamResponse] = loop.create_future()
        conn.start(waiter, is_head)
        conn.deadline = deadline
        if deadline < self._timer_at:
            self._arm(loop, deadline)
        try:
            if len(body) < _WRITE_JOIN_MAX:
                transport.write(head + body if body else head)
            else:
                transport.writelines((head, body))
        except BaseException:
            conn.abort()
            raise
        return waiter

    def _finish(self, conn: _Connection, loop: asyncio.AbstractEventLoop) -> None:
        if conn._reusable and not conn.closed:
            self._release(conn, loop)
        else:
            conn.close()

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(when, self._expire, loop)
        self._timer_at = when

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        """The timer fired: time out requests past their deadline, re-arm for the earliest one left."""
        self._timer = None
        self._timer_at = math.inf
        # Timers may fire up to a clock tick early; the per-request timer this replaces did the same.
        now = loop.time() + 0.001
        earliest = math.inf
        for conn in list(self._open):
            if conn._waiter is None:
                continue  # idle, or its response is complete
            if conn.deadline <= now:
                conn.timed_out()
            elif conn.deadline < earliest:
                earliest = conn.deadline
        if earliest < math.inf and not self._closed:
            self._arm(loop, earliest)

    def _pop_idle(self, origin: _Origin) -> _Connection | None:
        idle = origin.idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    def _release(self, conn: _Connection, loop: asyncio.AbstractEventLoop) -> None:
        idle = conn.origin.idle
        if self._closed or len(idle) >= self._max_idle:
            conn.close()
            return
        conn.reused = True
        conn.idle_since = loop.time()
        idle.append(conn)
        if self._sweep_handle is None:
            self._sweep_handle = loop.call_later(max(self._idle_timeout / 2, 0.05), self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close connections idle longer than idle_timeout (they sit at the bottom of each LIFO stack)."""
        self._sweep_handle = None
        expired_before = loop.time() - self._idle_timeout
        remaining = 0
        for origin in self._origins.values():
            idle = origin.idle
            while idle and idle[0].idle_since <= expired_before:
                idle[0].close()  # _mark_closed removes it from the stack
            remaining += len(idle)
        if remaining and not self._closed:
            self._sweep_handle = loop.call_later(max(self._idle_timeout / 2, 0.05), self._sweep, loop)

    async def _connect(
        self, loop: asyncio.AbstractEventLoop, origin: _Origin, deadline: float
    ) -> _Connection:
        ssl_context = self._get_ssl_context(origin.identity) if origin.tls else None
        try:
            async with asyncio.timeout_at(deadline):
                transport, conn = await loop.create_connection(
                    lambda: _Connection(self, origin, loop),
                    origin.host,
                    origin.port,
                    ssl=ssl_context,
                    server_hostname=origin.host if ssl_context is not None else None,
                )
        except TimeoutError:
            raise UpstreamTimeout(f"connecting to {origin.host}:{origin.port} timed out") from None
        except OSError as exc:  # refused, unreachable, DNS (gaierror), TLS handshake (SSLError)
            raise UpstreamConnectError(f"cannot connect to {origin.host}:{origin.port}: {exc}") from exc
        # uvloop may return before connection_made has run: adopt the transport here (idempotent).
        conn.transport = transport
        if not conn.lost:
            self._open.add(conn)
        if self._closed:
            conn.abort()
            raise UpstreamError("the upstream pool is closed")
        return conn

    def _get_ssl_context(self, identity: ClientIdentity | None = None) -> ssl.SSLContext:
        context = self._ssl_context if identity is None else self._identity_contexts.get(identity)
        if context is None:
            context = ssl.create_default_context()
            if not self._ssl_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if identity is None:
                self._ssl_context = context
            else:
                try:
                    context.load_cert_chain(identity.pem_file)
                except (OSError, ssl.SSLError) as exc:
                    raise UpstreamConnectError(
                        f"cannot load client certificate {identity.name}: {exc}"
                    ) from exc
                self._identity_contexts[identity] = context
        return context

    def _resolve(self, url: str, identity: ClientIdentity | None = None) -> tuple[_Origin, str]:
        """Split an absolute URL into its (cached) origin and the request target; with a client identity,
        an origin of its own (its connections present the certificate)."""
        cached = url if identity is None else f"{identity.name}\n{url}"
        hit = self._targets.get(cached)
        if hit is not None:
            return hit
        scheme, sep, rest = url.partition("://")
        if not sep:
            raise UpstreamRequestError(f"not an absolute URL: {url!r}")
        # Fragments are never sent.
        rest = rest.partition("#")[0]
        cut = len(rest)
        for ch in "/?":
            i = rest.find(ch)
            if 0 <= i < cut:
                cut = i
        authority, target = rest[:cut], rest[cut:]
        if not target.startswith("/"):
            target = "/" + target
        key = scheme + "://" + authority if identity is None else f"{identity.name}\n{scheme}://{authority}"
        origin = self._origins.get(key)
        if origin is None:
            origin = _parse_origin(scheme.lower(), authority)
            origin.identity = identity
            if len(self._origins) >= 4096:
                # Bound the cache; origins holding idle connections stay reachable for reuse and sweeping.
                self._origins = {k: o for k, o in self._origins.items() if o.idle}
                self._targets.clear()
            self._origins[key] = origin
        if len(url) <= _CACHED_URL_MAX:
            if len(self._targets) >= 4096:
                self._targets.clear()
            self._targets[cached] = (origin, target)
        return origin, target


def _join(chunks: list[bytes]) -> bytes:
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _parse_origin(scheme: str, authority: str) -> _Origin:
    if scheme not in _DEFAULT_PORTS:
        raise UpstreamRequestError(f"unsupported URL scheme: {scheme!r}")
    if not authority or "@" in authority:
        raise UpstreamRequestError(f"invalid URL authority: {authority!r}")
    default_port = _DEFAULT_PORTS[scheme]
    if authority.startswith("["):  # IPv6 literal
        end = authority.find("]")
        if end < 0:
            raise UpstreamRequestError(f"invalid URL authority: {authority!r}")
        host, port_text = authority[1:end], authority[end + 1 :].removeprefix(":")
        host_display = authority[: end + 1]
    else:
        host, _, port_text = authority.partition(":")
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise UpstreamRequestError(f"invalid host name: {host!r}") from None
        host_display = host
    if port_text:
        if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
            raise UpstreamRequestError(f"invalid port in URL: {authority!r}")
        port = int(port_text)
    else:
        port = default_port
    if not host:
        raise UpstreamRequestError(f"invalid URL authority: {authority!r}")
    host_header = host_display if port == default_port else f"{host_display}:{port}"
    return _Origin(scheme, host, port, host_header, scheme == "https", [])


def _build_head(
    method: str, target: str, host_header: str, headers: list[tuple[str, str]], body: bytes
) -> bytes:
    """The request line and headers as one bytes object (one allocation, one write)."""
    lines = [f"{method} {target} HTTP/1.1\r\nHost: {host_header}\r\n"]
    listed: set[str] | None = None
    for name, value in headers:
        if len(name) in HOP_BY_HOP_LENGTHS and (lname := name.lower()) in HOP_BY_HOP:
            if lname == "connection":
                # Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
                # Usually just "keep-alive" or "close": only other tokens cost the rebuild below.
                for token in value.split(","):
                    token = token.strip().lower()
                    if token not in HOP_BY_HOP and token != "close":
                        listed = listed or set()
                        listed.add(token)
            continue
        lines.append(f"{name}: {value}\r\n")
    if listed:
        lines = lines[:1] + [line for line in lines[1:] if line.partition(":")[0].lower() not in listed]
    if body or method in _BODY_METHODS:
        lines.append(f"Content-Length: {len(body)}\r\n")
    lines.append("\r\n")
    head = "".join(lines)
    # Every element carries exactly one CRLF (the first two): any other CR or LF came from a caller's
    # method, target or header and would let it inject headers or a second request.
    expected = len(lines) + 1
    if head.count("\n") != expected or head.count("\r") != expected:
        raise UpstreamRequestError("CR or LF in the request line or a header")
    try:
        return head.encode("latin-1")
    except UnicodeEncodeError:
        return head.encode("utf-8")
