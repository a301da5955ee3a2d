"""The request and response objects that cross between the server core and the application."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from ssl import SSLObject


@dataclass(slots=True)
class Request:
    """One parsed HTTP request, body fully read.

    ``headers`` keeps every header in arrival order with its original case; lookups go through
    :meth:`header`, which builds a lower-cased index once, on first use.
    """

    method: str
    raw_path: str  # the path as sent, still percent-encoded, without the query
    query_string: str  # raw, without the leading '?'
    headers: list[tuple[str, str]]
    body: bytes
    client: tuple[str, int]
    http_version: str = "1.1"
    scheme: str = "http"
    vpce_id: str | None = None  # set by a private listener (`serve --private-listen`): the VPC endpoint it stands for
    vpc_id: str | None = None  # and the VPC it is in (`serve --vpc-id`)
    tls: SSLObject | None = None  # an HTTPS request's TLS session (SNI, the client's certificate)
    _index: dict[str, list[str]] | None = field(default=None, repr=False)
    _scans: int = field(default=0, repr=False)  # lookups answered by a scan, before the index is built

    def _lower_index(self) -> dict[str, list[str]]:
        index = self._index
        if index is None:
            index = {}
            for name, value in self.headers:
                index.setdefault(name.lower(), []).append(value)
            self._index = index
        return index

    def header(self, name: str) -> str | None:
        """The last value of header ``name`` (case-insensitive), or None."""
        index = self._index
        if index is None and self._scans < 2:
            # Most requests ask for one or two headers: a scan (names compared only when the lengths match)
            # costs less than building the index, which the third lookup builds.
            self._scans += 1
            size, wanted, found = len(name), name.lower(), None
            for key, value in self.headers:
                if len(key) == size and key.lower() == wanted:
                    found = value
            return found
        values = (index or self._lower_index()).get(name.lower())
        return values[-1] if values else None

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive), in arrival order."""
        return self._lower_index().get(name.lower(), [])


@dataclass(slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


@dataclass(slots=True)
class StreamedResponse(Response):
    """A response whose body is written as ``chunks`` yields it (chunked transfer coding), for streaming
    operations (StartLiveTail). The server stops iterating, and closes the iterator, when the client leaves or the
    server shuts down; ``body`` is ignored."""

    chunks: AsyncIterator[bytes] | None = None


# A handler answers with a Response, or with an awaitable of one (a coroutine): returning the data plane's coroutine
# instead of awaiting it inside an `async def` saves a coroutine level, paid on every suspension of a request.
Handler = Callable[[Request], Awaitable[Response] | Response]
