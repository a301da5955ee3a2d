"""The interface every store backend offers: documents by kind and key, grouped under a parent."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

Document = dict[str, Any]


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

    def close(self) -> None: ...
