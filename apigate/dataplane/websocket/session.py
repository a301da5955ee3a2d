"""One client's WebSocket connection as the data plane sees it: ids, identity, the authorizer's context."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl

from apigate.state.connections import ConnectionInfo

if TYPE_CHECKING:
    from apigate.server.websocket import WebSocketConnection


class SessionOwner(Protocol):
    """Where a session's messages and close go (WebSocketApis): named here so this module needs no import of
    the package that imports it."""

    def on_message(self, session: Session, data: str | bytes) -> None: ...

    def on_close(self, session: Session, code: int, reason: str) -> None: ...


def new_connection_id() -> str:
    """16 characters ending in ``=``, as AWS's connection ids look; random, since holding one lets a caller
    post to the connection."""
    return secrets.token_urlsafe(11)[:15] + "="


class Session:
    """Implements the server's ``WebSocketHandler``: messages and the close go to the data plane."""

    __slots__ = (
        "api_id",
        "apis",
        "authorizer",
        "connected_at",
        "connection",
        "connection_id",
        "domain",
        "in_flight",
        "info",
        "query_string",
        "raw_headers",
        "stage",
    )

    def __init__(
        self,
        apis: SessionOwner,
        connection: WebSocketConnection,
        api_id: str,
        stage: str,
        domain: str,
        raw_headers: list[tuple[str, str]],
        query_string: str,
        source_ip: str,
        connected_at: int,
    ) -> None:
        self.apis = apis
        self.connection = connection
        self.connection_id = new_connection_id()
        self.api_id = api_id
        self.stage = stage
        self.domain = domain
        self.raw_headers = raw_headers
        self.query_string = query_string
        self.connected_at = connected_at
        self.authorizer: dict[str, Any] | None = None
        self.in_flight = 0  # messages of this connection being handled
        user_agent = ""
        for name, value in raw_headers:
            if name.lower() == "user-agent":
                user_agent = value
        self.info = ConnectionInfo(
            self.connection_id, api_id, stage, connected_at, source_ip, user_agent, connected_at
        )

    @property
    def source_ip(self) -> str:
        return self.info.source_ip

    @property
    def user_agent(self) -> str:
        return self.info.user_agent

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.raw_headers)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        found = None
        for key, value in self.raw_headers:
            if key.lower() == wanted:
                found = value
        return found

    def multi_headers(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, value in self.raw_headers:
            out.setdefault(name, []).append(value)
        return out

    def query(self) -> tuple[dict[str, str], dict[str, list[str]]]:
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in parse_qsl(self.query_string, keep_blank_values=True):
            single[name] = value
            multi.setdefault(name, []).append(value)
        return single, multi

    # --- WebSocketHandler ------------------------------------------------------------------------------

    def on_message(self, data: str | bytes) -> None:
        self.apis.on_message(self, data)

    def on_close(self, code: int, reason: str) -> None:
        self.apis.on_close(self, code, reason)
