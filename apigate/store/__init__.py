"""Durable storage of AWS documents: SQLite by default, PostgreSQL for clusters (``store.postgres``)."""

from __future__ import annotations

from pathlib import Path

from apigate.store import feed
from apigate.store.base import Change, Conflict, DocumentStore
from apigate.store.sqlite import SqliteStore

__all__ = ["Change", "Conflict", "DocumentStore", "SqliteStore", "feed", "open_store"]


def open_store(url: str | None, data_dir: Path) -> DocumentStore:
    """``--store``: a ``postgresql://`` URL, or None for the SQLite file in the data dir."""
    if url is None:
        return SqliteStore(data_dir / "apigate.db")
    if not url.startswith(("postgresql://", "postgres://")):
        raise ValueError(f"--store: not a postgresql:// URL: {url.split('@')[-1]!r}")
    from apigate.store.postgres import PostgresStore  # psycopg is needed in cluster mode only

    return PostgresStore(url)
