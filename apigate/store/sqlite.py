"""SQLite backend: one table of JSON documents, WAL journal, fsync on every commit.

A management call acknowledges only after its transaction committed, so a crash loses nothing acknowledged.
A write that fails for want of disk space is rolled back whole and raised as ``OSError(ENOSPC)`` naming the
data dir; reads, and so serving, go on, and writes work again once space is freed.
"""

from __future__ import annotations

import errno
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from apigate.store.base import Document

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    kind   TEXT NOT NULL,
    key    TEXT NOT NULL,
    parent TEXT NOT NULL DEFAULT '',
    body   BLOB NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX IF NOT EXISTS documents_by_parent ON documents (kind, parent);
"""


class SqliteStore:
    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves so that nesting is explicit.
        self._where = "memory" if str(path) == ":memory:" else str(Path(path).resolve().parent)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.RLock()
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            outermost = self._depth == 0
            if outermost:
                self._run_write("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException as exc:
                self._depth -= 1
                if outermost:
                    self._rollback()
                    if isinstance(exc, sqlite3.Error) and _disk_full(exc):
                        raise self._disk_full_error() from exc
                raise
            self._depth -= 1
            if outermost:
                self._run_write("COMMIT")

    def _run_write(self, statement: str) -> None:
        try:
            self._db.execute(statement)
        except sqlite3.Error as exc:
            self._rollback()
            if _disk_full(exc):
                raise self._disk_full_error() from exc
            raise

    def _rollback(self) -> None:
        # SQLite may already have rolled back on its own (a full disk does that): then there is nothing
        # to undo, and a ROLLBACK would fail and hide the original error.
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _disk_full_error(self) -> OSError:
        return OSError(errno.ENOSPC, f"No space left on the disk holding {self._where}")

    def get(self, kind: str, key: str) -> Document | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM documents WHERE kind=? AND key=?", (kind, key)
            ).fetchone()
        return None if row is None else _decode(row[0])

    def list(self, kind: str, parent: str | None = None) -> list[Document]:
        with self._lock:
            if parent is None:
                rows = self._db.execute("SELECT body FROM documents WHERE kind=? ORDER BY rowid", (kind,))
            else:
                rows = self._db.execute(
                    "SELECT body FROM documents WHERE kind=? AND parent=? ORDER BY rowid", (kind, parent)
                )
            return [_decode(row[0]) for row in rows.fetchall()]

    def put(self, kind: str, key: str, document: Document, parent: str = "") -> None:
        with self.transaction():
            self._db.execute(
                "INSERT INTO documents (kind, key, parent, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (kind, key) DO UPDATE SET body=excluded.body, parent=excluded.parent",
                (kind, key, parent, orjson.dumps(document)),
            )

    def delete(self, kind: str, key: str) -> bool:
        with self.transaction():
            cursor = self._db.execute("DELETE FROM documents WHERE kind=? AND key=?", (kind, key))
        return cursor.rowcount > 0

    def delete_parent(self, parent: str) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM documents WHERE parent=?", (parent,))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _disk_full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


def _decode(raw: bytes) -> Document:
    document = orjson.loads(raw)
    assert isinstance(document, dict)
    return document
