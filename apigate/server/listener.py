"""A listening HTTP/1.1 server: binds, accepts, and shuts down gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl

from apigate.server.message import Handler
from apigate.server.protocol import HttpProtocol, Limits, ServerState, UpgradeHandler

__all__ = ["Server"]

_DEFAULT_LIMITS = Limits()
_BACKLOG = 2048


class Server:
    """``await server.start(host, port, handler)``, later ``await server.shutdown()``.

    Runs on whatever loop is running; the hot path is tuned for uvloop.
    """

    def __init__(self) -> None:
        self._on_upgrade: UpgradeHandler | None = None
        self._server: asyncio.AbstractServer | None = None
        self._state: ServerState | None = None
        self._port = 0

    @property
    def on_upgrade(self) -> UpgradeHandler | None:
        """Called for requests with ``Upgrade: websocket`` (None: served as ordinary requests)."""
        return self._on_upgrade

    @on_upgrade.setter
    def on_upgrade(self, hook: UpgradeHandler | None) -> None:
        self._on_upgrade = hook
        if self._state is not None:
            self._state.on_upgrade = hook

    @property
    def port(self) -> int:
        """The bound port (the real one when started on port 0)."""
        return self._port

    async def start(
        self,
        host: str | None,
        port: int,
        handler: Handler,
        limits: Limits = _DEFAULT_LIMITS,
        *,
        sock: socket.socket | None = None,
        reuse_port: bool = False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """Bind ``host:port`` (``host`` None: all interfaces) or serve on a bound ``sock`` (host/port ignored);
        ``tls``: serve HTTPS (uvloop's TLS transport under the same protocol)."""
        if self._server is not None:
            raise RuntimeError("server already started")
        loop = asyncio.get_running_loop()
        state = ServerState(handler, limits, self._on_upgrade)
        if sock is not None:
            server = await loop.create_server(
                lambda: HttpProtocol(state), sock=sock, backlog=_BACKLOG, ssl=tls
            )
        else:
            server = await loop.create_server(
                lambda: HttpProtocol(state),
                host,
                port,
                backlog=_BACKLOG,
                reuse_address=True,
                reuse_port=reuse_port or None,
                ssl=tls,
            )
        state.start()
        self._server, self._state = server, state
        sockets = server.sockets
        self._port = sockets[0].getsockname()[1] if sockets else 0

    async def shutdown(self, grace: float = 10.0) -> None:
        """Stop accepting; let requests in flight finish (up to ``grace`` seconds); close everything."""
        server, state = self._server, self._state
        if server is None or state is None:
            return
        self._server = None
        server.close()  # new connections are refused from here on
        # A connection accepted before the close gets connection_made from a callback the loop has queued, not
        # at once: let those run, so that it is counted below and drained, not dropped unanswered at exit.
        await asyncio.sleep(0)
        state.begin_shutdown()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.wait_empty(), grace)
        await state.abort_all()
        state.stop()
        await server.wait_closed()
