"""Durable storage of AWS documents (SQLite by default)."""

from apigate.store.base import Conflict, DocumentStore
from apigate.store.sqlite import SqliteStore

__all__ = ["Conflict", "DocumentStore", "SqliteStore"]
