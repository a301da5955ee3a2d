"""The interface every store backend offers: documents by kind and key, grouped under a parent."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Change:
    """One document written or deleted by a committed transaction; ``kind`` and ``key`` are ``"*"`` when
    ``delete_parent`` removed everything under ``parent``."""

    kind: str
    key: str
    parent: str


_Documents = list[Document]  # named here because the Protocol's own ``list`` shadows the builtin
_Changes = tuple[int, list[Change]]


class Conflict(Exception):
    """A write would break uniqueness: ``insert`` of a key that exists (``rule`` is ``"key"``), or a value
    another document claims under one of ``uniqueness.RULES`` (``rule`` names it). Nothing was written."""

    def __init__(self, kind: str, key: str, rule: str) -> None:
        super().__init__(f"{kind} {key}: {rule} already taken")
        self.kind = kind
        self.key = key
        self.rule = rule


class DocumentStore(Protocol):
    """Documents are the JSON objects AWS's Get* calls return, stored whole.

    ``parent`` groups documents that die together (everything of one REST API, say); writes inside one
    ``transaction()`` are committed together or not at all. ``insert`` and ``put`` raise ``Conflict``
    (having written nothing) when the write would break uniqueness; the check and the write are one
    transaction, so this holds between processes sharing the store.
    """

    def get(self, kind: str, key: str) -> Document | None: ...

    def list(self, kind: str, parent: str | None = None) -> list[Document]: ...

    def insert(self, kind: str, key: str, document: Document, parent: str = "") -> None:
        """Create: ``Conflict`` (rule ``"key"``) if ``kind``/``key`` exists."""
        ...

    def put(self, kind: str, key: str, document: Document, parent: str = "") -> None:
        """Create or replace."""
        ...

    def delete(self, kind: str, key: str) -> bool: ...

    def delete_parent(self, parent: str) -> None: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def version(self) -> int:
        """The configuration version: raised by one by every committed transaction that wrote something."""
        ...

    def changes_since(self, version: int) -> _Changes | None:
        """What committed transactions after ``version`` changed, and the version that brings the reader
        to; None when that history is no longer kept (the reader must then look at everything)."""
        ...

    def heartbeat(self, host: str, info: Document) -> None:
        """Record that ``host`` is alive and what it serves (``apigate cluster status`` lists them)."""
        ...

    def hosts(self) -> _Documents:
        """Every host's last heartbeat, with ``seconds_ago`` (by the store's clock)."""
        ...

    def close(self) -> None: ...
