"""WebSocket connections on our own server: the ``websockets`` sans-I/O protocol inside an asyncio Protocol.

An upgrade request is taken over from the HTTP connection (``HttpProtocol``'s upgrade hook), checked as a
WebSocket handshake, and then held, with reading paused, until the application accepts or refuses it: AWS
runs ``$connect`` during the handshake, so the 101 is sent only once it succeeded. After that each complete
message (fragments joined) goes to the connection's ``handler``; pings are answered and closes completed by the
protocol object. One ticker per server closes idle connections and those past their maximum duration, so no
connection carries a timer of its own (memory per idle connection matters at 10,000 connections).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol

from websockets.frames import Close, CloseCode, Frame, Opcode
from websockets.http11 import Request as WsRequest
from websockets.http11 import Response as WsResponse
from websockets.protocol import State
from websockets.server import ServerProtocol

from apigate.server.message import Request, Response

__all__ = ["WebSocketConnection", "WebSocketHandler", "WebSocketLimits", "WebSocketServer", "write_response"]

_logger = logging.getLogger("apigate.websocket")
# websockets logs every open and close at INFO: far too chatty for a gateway; keep its warnings only.
_protocol_logger = logging.getLogger("apigate.websocket.protocol")
_protocol_logger.setLevel(logging.WARNING)

_CLOSE_GRACE = 5.0  # seconds a peer gets to answer our close frame before the TCP connection is dropped


@dataclass(frozen=True, slots=True)
class WebSocketLimits:
    """AWS's limits for WebSocket APIs: 32 KB frames, 128 KB messages, 10 minutes idle, 2 hours in all."""

    frame_size: int = 32 * 1024
    message_size: int = 128 * 1024
    idle_timeout: float = 600.0
    max_duration: float = 7200.0


class WebSocketHandler(Protocol):
    """What the application does with an accepted connection."""

    def on_message(self, data: str | bytes) -> None: ...

    def on_close(self, code: int, reason: str) -> None: ...


def write_response(transport: asyncio.Transport, response: Response) -> None:
    """An HTTP answer to an upgrade request that is not accepted, then close (the connection is not reused)."""
    phrase = HTTPStatus(response.status).phrase if response.status in HTTPStatus._value2member_map_ else ""
    head = [f"HTTP/1.1 {response.status} {phrase}"]
    head += [f"{k}: {v}" for k, v in response.headers if k.lower() not in ("content-length", "connection")]
    head += [f"Content-Length: {len(response.body)}", "Connection: close", "", ""]
    transport.write("\r\n".join(head).encode("latin-1") + response.body)
    transport.close()


class WebSocketConnection(asyncio.Protocol):
    """One WebSocket connection, from the handshake to the close."""

    __slots__ = (
        "_done",
        "_fragments",
        "_pending",
        "_protocol",
        "_response",
        "_server",
        "_text",
        "_transport",
        "close_deadline",
        "handler",
        "last_active",
        "opened_at",
    )

    def __init__(self, server: WebSocketServer, transport: asyncio.Transport, early: bytes) -> None:
        self._server = server
        self._transport = transport
        limits = server.limits
        self._protocol = ServerProtocol(
            max_size=(limits.message_size, limits.frame_size), logger=_protocol_logger
        )
        self._response: WsResponse | None = None
        self._pending = early  # bytes that arrived with (or after) the upgrade request, before the 101
        self._fragments: list[bytes] | None = None
        self._text = False
        self._done = False
        self.handler: WebSocketHandler | None = None
        self.opened_at = self.last_active = server.now
        self.close_deadline = math.inf

    # --- the handshake ------------------------------------------------------------------------------

    def check(self, request: Request) -> Response | None:
        """Validate the handshake; None if it is a proper WebSocket upgrade, else the HTTP answer to send."""
        target = request.raw_path + ("?" + request.query_string if request.query_string else "")
        # The protocol object expects to parse the request itself before it parses frames: hand it the request
        # our HTTP parser already read (once per connection; the cost of staying on its public API).
        lines = [f"GET {target} HTTP/1.1", *(f"{name}: {value}" for name, value in request.headers), "", ""]
        protocol = self._protocol
        protocol.receive_data("\r\n".join(lines).encode("latin-1", "replace"))
        parsed = [event for event in protocol.events_received() if isinstance(event, WsRequest)]
        if not parsed:
            return Response(400, [("Content-Type", "text/plain; charset=utf-8")], b"Invalid upgrade request")
        response = protocol.accept(parsed[0])
        if response.status_code == 101:
            self._response = response
            return None
        return Response(
            response.status_code, [("Content-Type", "text/plain; charset=utf-8")], bytes(response.body or b"")
        )

    def accept(self, handler: WebSocketHandler, headers: Sequence[tuple[str, str]] = ()) -> bool:
        """Send the 101 and start reading frames. False if the client left during the handshake."""
        response = self._response
        assert response is not None, "check() first"
        if self._transport.is_closing():
            return False
        for name, value in headers:
            response.headers[name] = value
        self.handler = handler
        self._response = None  # nothing of the handshake stays with an idle connection
        self._protocol.send_response(response)
        self._flush()
        self._server.connections.add(self)
        self.opened_at = self.last_active = self._server.now
        early, self._pending = self._pending, b""
        if early:
            self.data_received(early)
        self._transport.resume_reading()
        return True

    def reject(self, response: Response) -> None:
        self._done = True
        if not self._transport.is_closing():
            write_response(self._transport, response)

    # --- sending ---------------------------------------------------------------------------------------

    @property
    def open(self) -> bool:
        return self._protocol.state is State.OPEN

    def buffered(self) -> int:
        """Bytes written but not yet taken by the kernel (a client that does not read)."""
        return self._transport.get_write_buffer_size()

    def send(self, data: bytes, *, text: bool = True) -> bool:
        """One message, as a text frame (``data`` must be UTF-8) or a binary one. False once closing."""
        protocol = self._protocol
        if protocol.state is not State.OPEN:
            return False
        if text:
            protocol.send_text(data)
        else:
            protocol.send_binary(data)
        self._flush()
        return True

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake; the peer has a few seconds to answer before the connection drops."""
        if self._protocol.state is State.OPEN:
            self._protocol.send_close(code, reason)
            self.close_deadline = self._server.now + _CLOSE_GRACE
            self._flush()

    def abort(self) -> None:
        self._transport.abort()

    def hold(self, held: bool) -> None:
        """Stop (or resume) reading from the client: backpressure while its messages are being handled."""
        if self._transport.is_closing():
            return
        if held:
            self._transport.pause_reading()
        else:
            self._transport.resume_reading()

    # --- asyncio callbacks -----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # set_protocol does not call it
        pass

    def data_received(self, data: bytes) -> None:
        if self.handler is None:  # still in the handshake: keep it for after the 101
            self._pending += data
            return
        protocol = self._protocol
        protocol.receive_data(data)
        self.last_active = self._server.now
        for frame in protocol.events_received():
            if not isinstance(frame, Frame):
                continue  # a server's protocol yields frames only once the handshake is done
            opcode = frame.opcode
            if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
                if frame.fin:
                    self._deliver(bytes(frame.data), opcode is Opcode.TEXT)
                else:
                    self._fragments, self._text = [bytes(frame.data)], opcode is Opcode.TEXT
            elif opcode is Opcode.CONT and self._fragments is not None:
                self._fragments.append(bytes(frame.data))
                if frame.fin:
                    data, self._fragments = b"".join(self._fragments), None
                    self._deliver(data, self._text)
        self._flush()

    def _deliver(self, data: bytes, text: bool) -> None:
        handler = self.handler
        if handler is None or self._protocol.state is not State.OPEN:
            return
        if not text:
            handler.on_message(data)
            return
        try:
            message = data.decode()
        except UnicodeDecodeError:  # RFC 6455: a text message must be UTF-8, else close with 1007
            self._protocol.fail(CloseCode.INVALID_DATA, "invalid UTF-8")
            return
        handler.on_message(message)

    def eof_received(self) -> bool:
        self._protocol.receive_eof()
        self._flush()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        if self.handler is not None and not self._done:
            protocol = self._protocol
            if protocol.state is not State.CLOSED:
                protocol.receive_eof()  # lets the protocol settle its close code
            self._finish()

    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        pass

    # --- internals ----------------------------------------------------------------------------------

    def _flush(self) -> None:
        protocol = self._protocol
        chunks = protocol.data_to_send()
        if chunks:
            transport = self._transport
            eof = False
            for chunk in chunks:
                if chunk:
                    transport.write(chunk)
                else:
                    eof = True  # the protocol is done with the TCP connection: close once flushed
            if eof:
                transport.close()

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        self._server.connections.discard(self)
        protocol = self._protocol
        received, sent = protocol.close_rcvd, protocol.close_sent
        close: Close | None = received
        if sent is not None and (received is None or protocol.close_rcvd_then_sent is False):
            close = sent  # we started the close (idle timeout, DELETE, a message too big): our code
        if close is None:
            code, reason = int(CloseCode.ABNORMAL_CLOSURE), "Connection closed abnormally"
        elif close.code == CloseCode.NO_STATUS_RCVD:
            code, reason = int(close.code), "Client-side close frame status not set"
        else:
            code, reason = int(close.code), close.reason
        handler = self.handler
        if handler is not None:
            try:
                handler.on_close(code, reason)
            except Exception:
                _logger.exception("WebSocket close handler failed")


class WebSocketServer:
    """The live connections of one gateway process, and the ticker that enforces idle and duration limits."""

    def __init__(self, limits: WebSocketLimits | None = None) -> None:
        self.limits = limits or WebSocketLimits()
        self.connections: set[WebSocketConnection] = set()
        self.now = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ticker: asyncio.TimerHandle | None = None
        shortest = min(self.limits.idle_timeout, self.limits.max_duration)
        self._interval = min(1.0, max(0.05, shortest / 4))

    def take_over(
        self, request: Request, transport: asyncio.Transport, early: bytes
    ) -> tuple[WebSocketConnection, Response | None]:
        """The connection behind an upgrade request, and the answer to send if it is not a valid handshake."""
        if self._loop is None:
            self._start()
        connection = WebSocketConnection(self, transport, early)
        transport.set_protocol(connection)
        refusal = connection.check(request)
        if refusal is not None:
            connection.reject(refusal)
        return connection, refusal

    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.now = self._loop.time()
        self._tick()

    def _tick(self) -> None:
        assert self._loop is not None
        self.now = now = self._loop.time()
        limits = self.limits
        idle_before = now - limits.idle_timeout
        born_before = now - limits.max_duration
        for connection in [
            c
            for c in self.connections
            if c.last_active <= idle_before or c.opened_at <= born_before or c.close_deadline <= now
        ]:
            if connection.close_deadline <= now:
                connection.abort()
            else:
                connection.close(CloseCode.GOING_AWAY, "Going away")
        self._ticker = self._loop.call_later(self._interval, self._tick)

    def close_all(self) -> None:
        """Shutdown: every connection gets a close frame (1001, the server is going away)."""
        for connection in list(self.connections):
            connection.close(CloseCode.GOING_AWAY, "Going away")

    def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        for connection in list(self.connections):
            connection.abort()
