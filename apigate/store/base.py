"""The interface every store backend offers: documents by kind and key, grouped under a parent."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

Document = dict[str, Any]


class DocumentStore(Protocol):
    """Documents are the JSON objects AWS's Get* calls return, stored whole.

    ``parent`` groups documents that die together (everything of one REST API, say); writes inside one
    ``transaction()`` are committed together or not at all.
    """

    def get(self, kind: str, key: str) -> Document | None: ...

    def list(self, kind: str, parent: str | None = None) -> list[Document]: ...

    def put(self, kind: str, key: str, document: Document, parent: str = "") -> None: ...

    def delete(self, kind: str, key: str) -> bool: ...

    def delete_parent(self, parent: str) -> None: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def close(self) -> None: ...
