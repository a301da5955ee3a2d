"""Durable storage of AWS documents: SQLite by default, PostgreSQL for clusters (``store.postgres``)."""

from apigate.store import feed
from apigate.store.base import Change, Conflict, DocumentStore
from apigate.store.sqlite import SqliteStore

__all__ = ["Change", "Conflict", "DocumentStore", "SqliteStore", "feed"]
