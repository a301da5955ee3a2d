"""SQLite backend: one table of JSON documents, WAL journal, fsync on every commit.

A management call acknowledges only after its transaction committed, so a crash loses nothing acknowledged.
A write that fails for want of disk space is rolled back whole and raised as ``OSError(ENOSPC)`` naming the
data dir; reads, and so serving, go on, and writes work again once space is freed.

Uniqueness (see ``uniqueness``) lives in a second table, ``claims``, whose primary key is the claimed value:
a write checks and records its claims in its own ``BEGIN IMMEDIATE`` transaction, which holds SQLite's
write lock from its first statement, so two processes on one data dir cannot both pass the check.

The change feed (see ``feed``): a transaction that writes takes the next version from the one-row ``feed``
table and lists what it wrote in ``changes``; writers are serialised by that same lock, so versions commit
in order and a reader that saw version N has seen everything up to N.
"""

from __future__ import annotations

import errno
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from apigate.store import feed, uniqueness
from apigate.store.base import Change, Conflict, Document

_Claims = list[tuple[str, str]]  # (rule, value); named here because the class's own ``list`` shadows it
_Documents = list[Document]
_Changes = tuple[int, list[Change]]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    kind   TEXT NOT NULL,
    key    TEXT NOT NULL,
    parent TEXT NOT NULL DEFAULT '',
    body   BLOB NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX IF NOT EXISTS documents_by_parent ON documents (kind, parent);
CREATE TABLE IF NOT EXISTS claims (
    kind   TEXT NOT NULL,
    rule   TEXT NOT NULL,
    value  TEXT NOT NULL,
    key    TEXT NOT NULL,
    parent TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (kind, rule, value)
);
CREATE INDEX IF NOT EXISTS claims_by_owner ON claims (kind, key);
CREATE INDEX IF NOT EXISTS claims_by_parent ON claims (parent);
CREATE TABLE IF NOT EXISTS feed (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    seq    INTEGER NOT NULL,
    pruned INTEGER NOT NULL
);
INSERT OR IGNORE INTO feed (id, seq, pruned) VALUES (1, 0, 0);
CREATE TABLE IF NOT EXISTS changes (
    seq    INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    key    TEXT NOT NULL,
    parent TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_seq ON changes (seq);
CREATE TABLE IF NOT EXISTS hosts (
    host TEXT PRIMARY KEY,
    info BLOB NOT NULL,
    seen REAL NOT NULL
);
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
        self._seq: int | None = None  # the version the open transaction writes, once it wrote something
        self._migrate()

    def _migrate(self) -> None:
        """Bring the claims up to ``uniqueness.VERSION``: a data dir from before a rule existed (or before
        claims existed at all) gets every claim its documents make. Several processes may open one data dir
        at once: the version is read again under the write lock, so one of them does the work."""
        if self._version() == uniqueness.VERSION:
            return
        with self.transaction():
            if self._version() == uniqueness.VERSION:
                return
            self._db.execute("DELETE FROM claims")
            for kind in uniqueness.RULES:
                rows = self._db.execute(
                    "SELECT key, parent, body FROM documents WHERE kind=? ORDER BY rowid", (kind,)
                ).fetchall()
                for key, parent, body in rows:
                    # OR IGNORE: duplicates an older version let in keep the first (oldest) as the holder.
                    self._db.executemany(
                        "INSERT OR IGNORE INTO claims (kind, rule, value, key, parent) VALUES (?, ?, ?, ?, ?)",
                        [
                            (kind, rule, value, key, parent)
                            for rule, value in uniqueness.claims(kind, _decode(body), parent)
                        ],
                    )
            # PRAGMA takes no parameters; VERSION is our own integer.
            self._db.execute(f"PRAGMA user_version={int(uniqueness.VERSION)}")

    def _version(self) -> int:
        with self._lock:
            row = self._db.execute("PRAGMA user_version").fetchone()
        return int(row[0])

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
                try:
                    if self._seq is not None and self._seq % feed.PRUNE_EVERY == 0:
                        self._prune(self._seq)
                    self._run_write("COMMIT")
                finally:
                    self._seq = None

    def _run_write(self, statement: str) -> None:
        try:
            self._db.execute(statement)
        except sqlite3.Error as exc:
            self._rollback()
            if _disk_full(exc):
                raise self._disk_full_error() from exc
            raise

    def _record(self, kind: str, key: str, parent: str) -> None:
        if self._seq is None:
            self._seq = int(self._db.execute("UPDATE feed SET seq = seq + 1 RETURNING seq").fetchone()[0])
        self._db.execute(
            "INSERT INTO changes (seq, kind, key, parent) VALUES (?, ?, ?, ?)", (self._seq, kind, key, parent)
        )

    def _prune(self, seq: int) -> None:
        below = seq - feed.KEEP
        if below > 0:
            self._db.execute("DELETE FROM changes WHERE seq <= ?", (below,))
            self._db.execute("UPDATE feed SET pruned = ? WHERE pruned < ?", (below, below))

    def version(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT seq FROM feed").fetchone()[0])

    def changes_since(self, version: int) -> _Changes | None:
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, key, parent FROM changes WHERE seq > ? ORDER BY seq", (version,)
            ).fetchall()
            # Read after the rows: a prune that ran in between shows here, and the rows may be incomplete.
            if version < int(self._db.execute("SELECT pruned FROM feed").fetchone()[0]):
                return None
        return feed.collect(version, rows)

    def heartbeat(self, host: str, info: Document) -> None:
        # Not a transaction of ours: a heartbeat is no configuration change and takes no version.
        with self._lock:
            self._db.execute(
                "INSERT INTO hosts (host, info, seen) VALUES (?, ?, ?) "
                "ON CONFLICT (host) DO UPDATE SET info = excluded.info, seen = excluded.seen",
                (host, orjson.dumps(info), time.time()),
            )

    def hosts(self) -> _Documents:
        with self._lock:
            rows = self._db.execute("SELECT host, info, seen FROM hosts ORDER BY host").fetchall()
        now = time.time()
        return [
            {**_decode(info), "host": host, "seconds_ago": round(now - seen, 1)} for host, info, seen in rows
        ]

    def _rollback(self) -> None:
        self._seq = None
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

    def insert(self, kind: str, key: str, document: Document, parent: str = "") -> None:
        with self.transaction():
            exists = self._db.execute("SELECT 1 FROM documents WHERE kind=? AND key=?", (kind, key))
            if exists.fetchone() is not None:
                raise Conflict(kind, key, "key")
            self._write(kind, key, document, parent)

    def put(self, kind: str, key: str, document: Document, parent: str = "") -> None:
        with self.transaction():
            self._write(kind, key, document, parent)

    def _write(self, kind: str, key: str, document: Document, parent: str) -> None:
        """Check every claim before writing anything: a caller may catch ``Conflict`` and go on inside its
        own transaction, which must then hold no half of this write."""
        claimed = []
        for rule, value in uniqueness.claims(kind, document, parent):
            holder = self._db.execute(
                "SELECT key FROM claims WHERE kind=? AND rule=? AND value=?", (kind, rule, value)
            ).fetchone()
            if holder is None or holder[0] == key:
                claimed.append((rule, value))
            elif (rule, value) not in self._stored_claims(kind, key):
                raise Conflict(kind, key, rule)
            # else: a duplicate from before the rule existed (see _migrate) stays updatable, unclaimed.
        self._db.execute(
            "INSERT INTO documents (kind, key, parent, body) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (kind, key) DO UPDATE SET body=excluded.body, parent=excluded.parent",
            (kind, key, parent, orjson.dumps(document)),
        )
        self._record(kind, key, parent)
        if kind in uniqueness.RULES:
            self._db.execute("DELETE FROM claims WHERE kind=? AND key=?", (kind, key))
            self._db.executemany(
                "INSERT INTO claims (kind, rule, value, key, parent) VALUES (?, ?, ?, ?, ?)",
                [(kind, rule, value, key, parent) for rule, value in claimed],
            )

    def _stored_claims(self, kind: str, key: str) -> _Claims:
        row = self._db.execute(
            "SELECT parent, body FROM documents WHERE kind=? AND key=?", (kind, key)
        ).fetchone()
        return [] if row is None else uniqueness.claims(kind, _decode(row[1]), row[0])

    def delete(self, kind: str, key: str) -> bool:
        with self.transaction():
            row = self._db.execute(
                "DELETE FROM documents WHERE kind=? AND key=? RETURNING parent", (kind, key)
            ).fetchone()
            deleted = row is not None
            if deleted:
                self._record(kind, key, row[0])
            if kind in uniqueness.RULES:
                self._db.execute("DELETE FROM claims WHERE kind=? AND key=?", (kind, key))
        return deleted

    def delete_parent(self, parent: str) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM documents WHERE parent=?", (parent,))
            self._db.execute("DELETE FROM claims WHERE parent=?", (parent,))
            self._record("*", "*", parent)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _disk_full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


def _decode(raw: bytes) -> Document:
    document = orjson.loads(raw)
    assert isinstance(document, dict)
    return document
