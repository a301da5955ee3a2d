"""PostgreSQL backend, for several gateway hosts serving one configuration (``--store postgresql://…``).

The same tables as SQLite (documents, claims, the change feed) behind the same interface, through a psycopg
connection pool. Calls block, as SQLite's do: a management call is one short transaction on loopback or LAN.

- Every write is a transaction; a management call acknowledges only after PostgreSQL committed it.
- Uniqueness: ``claims`` has the claimed value as its primary key, so of two hosts writing the same value at
  once one insert waits for the other and then finds it taken (``Conflict``), whatever the isolation level.
  Inside an enclosing transaction a write runs in a savepoint, so a ``Conflict`` the caller catches leaves no
  half write and no aborted transaction behind.
- The change feed: a writing transaction bumps the one-row ``feed`` table (its row lock orders writers, so
  versions commit in order) and sends ``NOTIFY apigate_changes`` with its version, delivered on commit.
- Migrations run under an advisory lock: hosts starting together create the schema once, one at a time.
- Function code lives in ``blobs`` so any host can start any function (see ``functions.code_store``).

When PostgreSQL cannot be reached, calls raise ``StoreUnavailable`` (an ``OSError``): the management call
fails, nothing is half written, and serving goes on with what each host compiled last.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from apigate.store import feed, uniqueness
from apigate.store.base import Change, Conflict, Document

_Claims = list[tuple[str, str]]  # named here because the class's own ``list`` shadows it
_Documents = list[Document]
_Changes = tuple[int, list[Change]]

__all__ = ["CHANNEL", "PostgresStore", "StoreUnavailable"]

CHANNEL = "apigate_changes"  # LISTEN/NOTIFY channel; the payload is the committed version
_MIGRATION_LOCK = 0x61706967  # pg_advisory_lock key ("apig"): one host migrates at a time
_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    schema_version  INTEGER NOT NULL,
    claims_version  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    id     BIGSERIAL,
    kind   TEXT NOT NULL,
    key    TEXT NOT NULL,
    parent TEXT NOT NULL DEFAULT '',
    body   BYTEA NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX IF NOT EXISTS documents_by_parent ON documents (kind, parent, id);
CREATE INDEX IF NOT EXISTS documents_by_parent_only ON documents (parent);
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
    seq    BIGINT NOT NULL,
    pruned BIGINT NOT NULL
);
INSERT INTO feed (id, seq, pruned) VALUES (1, 0, 0) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS changes (
    seq    BIGINT NOT NULL,
    kind   TEXT NOT NULL,
    key    TEXT NOT NULL,
    parent TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_seq ON changes (seq);
CREATE TABLE IF NOT EXISTS hosts (
    host TEXT PRIMARY KEY,
    info BYTEA NOT NULL,
    seen TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (
    key  TEXT PRIMARY KEY,
    data BYTEA NOT NULL
);
"""


class StoreUnavailable(ConnectionError):
    """PostgreSQL could not be reached or dropped the connection: nothing was written."""


class PostgresStore:
    def __init__(self, url: str, *, pool_size: int = 4, timeout: float = 5.0) -> None:
        self.url = url
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            # connect_timeout: a host cut off from PostgreSQL fails its reads in seconds, not minutes.
            kwargs={"autocommit": True, "connect_timeout": max(1, int(timeout))},
            # A connection PostgreSQL dropped (a restart) is noticed when taken, not by the caller's query.
            check=ConnectionPool.check_connection,
            timeout=timeout,
            open=False,
            name="apigate-store",
        )
        try:
            self._pool.open(wait=True, timeout=timeout)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreUnavailable(f"PostgreSQL is not answering at {_where(url)}") from exc
        self._lock = threading.RLock()
        self._conn: psycopg.Connection[Any] | None = None  # the open transaction's connection
        self._depth = 0
        self._seq: int | None = None
        self._migrate()

    # --- connections and transactions -------------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """The open transaction's connection (reads inside a transaction see its writes, as on SQLite),
        or one from the pool."""
        with self._lock:
            if self._conn is not None:
                yield self._conn
                return
            try:
                with self._pool.connection() as conn:
                    yield conn
            except (psycopg.OperationalError, PoolTimeout) as exc:
                raise StoreUnavailable(f"PostgreSQL is not answering at {_where(self.url)}") from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            if self._depth > 0:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            try:
                with self._pool.connection() as conn:
                    self._conn, self._depth = conn, 1
                    try:
                        with conn.transaction():
                            yield
                            if self._seq is not None and self._seq % feed.PRUNE_EVERY == 0:
                                self._prune(conn, self._seq)
                    finally:
                        self._conn, self._depth, self._seq = None, 0, None
            except (psycopg.OperationalError, PoolTimeout) as exc:
                raise StoreUnavailable(f"PostgreSQL is not answering at {_where(self.url)}") from exc

    def _migrate(self) -> None:
        """Create or upgrade the schema, one host at a time: the others wait on the advisory lock, then find
        the work done."""
        with self._connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
            try:
                with conn.transaction():
                    conn.execute(_SCHEMA)
                    conn.execute(
                        "INSERT INTO meta (id, schema_version, claims_version) VALUES (1, %s, 0) "
                        "ON CONFLICT (id) DO NOTHING",
                        (_SCHEMA_VERSION,),
                    )
                    row = conn.execute("SELECT claims_version FROM meta").fetchone()
                    if row is not None and int(row[0]) != uniqueness.VERSION:
                        self._rebuild_claims(conn)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))

    @staticmethod
    def _rebuild_claims(conn: psycopg.Connection[Any]) -> None:
        conn.execute("DELETE FROM claims")
        for kind in uniqueness.RULES:
            rows = conn.execute(
                "SELECT key, parent, body FROM documents WHERE kind=%s ORDER BY id", (kind,)
            ).fetchall()
            for key, parent, body in rows:
                for rule, value in uniqueness.claims(kind, _decode(body), parent):
                    # DO NOTHING: duplicates an older version let in keep the first (oldest) as the holder.
                    conn.execute(
                        "INSERT INTO claims (kind, rule, value, key, parent) VALUES (%s, %s, %s, %s, %s) "
                        "ON CONFLICT DO NOTHING",
                        (kind, rule, value, key, parent),
                    )
        conn.execute("UPDATE meta SET claims_version=%s", (uniqueness.VERSION,))

    # --- documents ------------------------------------------------------------------------------------

    def get(self, kind: str, key: str) -> Document | None:
        with self._connection() as conn:
            row = conn.execute("SELECT body FROM documents WHERE kind=%s AND key=%s", (kind, key)).fetchone()
        return None if row is None else _decode(row[0])

    def list(self, kind: str, parent: str | None = None) -> _Documents:
        with self._connection() as conn:
            if parent is None:
                rows = conn.execute("SELECT body FROM documents WHERE kind=%s ORDER BY id", (kind,))
            else:
                rows = conn.execute(
                    "SELECT body FROM documents WHERE kind=%s AND parent=%s ORDER BY id", (kind, parent)
                )
            return [_decode(row[0]) for row in rows.fetchall()]

    def insert(self, kind: str, key: str, document: Document, parent: str = "") -> None:
        self._write(kind, key, document, parent, create=True)

    def put(self, kind: str, key: str, document: Document, parent: str = "") -> None:
        self._write(kind, key, document, parent, create=False)

    def _write(self, kind: str, key: str, document: Document, parent: str, *, create: bool) -> None:
        with self.transaction():
            conn = self._conn
            assert conn is not None
            # A savepoint inside an enclosing transaction: a Conflict leaves that transaction usable.
            with conn.transaction() if self._depth > 1 else _nothing():
                body = orjson.dumps(document)
                before: _Claims = []
                if not create and kind in uniqueness.RULES:
                    stored = conn.execute(
                        "SELECT parent, body FROM documents WHERE kind=%s AND key=%s", (kind, key)
                    ).fetchone()
                    if stored is not None:
                        before = uniqueness.claims(kind, _decode(stored[1]), stored[0])
                if create:
                    inserted = conn.execute(
                        "INSERT INTO documents (kind, key, parent, body) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (kind, key) DO NOTHING",
                        (kind, key, parent, body),
                    )
                    if inserted.rowcount == 0:
                        raise Conflict(kind, key, "key")
                if kind in uniqueness.RULES:
                    self._claim(conn, kind, key, document, parent, before)
                if not create:
                    conn.execute(
                        "INSERT INTO documents (kind, key, parent, body) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (kind, key) DO UPDATE SET body=excluded.body, parent=excluded.parent",
                        (kind, key, parent, body),
                    )
                self._record(conn, kind, key, parent)

    @staticmethod
    def _claim(
        conn: psycopg.Connection[Any],
        kind: str,
        key: str,
        document: Document,
        parent: str,
        before: _Claims,
    ) -> None:
        """Replace the document's claims with its new ones; a value another document holds is a Conflict
        (a concurrent holder's insert is waited for by the primary key, then seen). ``before``: the claims
        the stored version of the document made."""
        conn.execute("DELETE FROM claims WHERE kind=%s AND key=%s", (kind, key))
        for rule, value in uniqueness.claims(kind, document, parent):
            taken = conn.execute(
                "INSERT INTO claims (kind, rule, value, key, parent) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (kind, rule, value) DO NOTHING",
                (kind, rule, value, key, parent),
            )
            # A duplicate from before the rule existed (see _rebuild_claims) stays updatable, unclaimed.
            if taken.rowcount == 0 and (rule, value) not in before:
                raise Conflict(kind, key, rule)

    def delete(self, kind: str, key: str) -> bool:
        with self.transaction():
            conn = self._conn
            assert conn is not None
            row = conn.execute(
                "DELETE FROM documents WHERE kind=%s AND key=%s RETURNING parent", (kind, key)
            ).fetchone()
            if row is None:
                return False
            if kind in uniqueness.RULES:
                conn.execute("DELETE FROM claims WHERE kind=%s AND key=%s", (kind, key))
            self._record(conn, kind, key, row[0])
        return True

    def delete_parent(self, parent: str) -> None:
        with self.transaction():
            conn = self._conn
            assert conn is not None
            conn.execute("DELETE FROM documents WHERE parent=%s", (parent,))
            conn.execute("DELETE FROM claims WHERE parent=%s", (parent,))
            self._record(conn, "*", "*", parent)

    # --- change feed --------------------------------------------------------------------------------

    def _record(self, conn: psycopg.Connection[Any], kind: str, key: str, parent: str) -> None:
        if self._seq is None:
            # The row lock taken here is held to commit: writers of every host commit versions in order.
            row = conn.execute("UPDATE feed SET seq = seq + 1 RETURNING seq").fetchone()
            assert row is not None
            self._seq = int(row[0])
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(self._seq)))
        conn.execute(
            "INSERT INTO changes (seq, kind, key, parent) VALUES (%s, %s, %s, %s)",
            (self._seq, kind, key, parent),
        )

    @staticmethod
    def _prune(conn: psycopg.Connection[Any], seq: int) -> None:
        below = seq - feed.KEEP
        if below > 0:
            conn.execute("DELETE FROM changes WHERE seq <= %s", (below,))
            conn.execute("UPDATE feed SET pruned = %s WHERE pruned < %s", (below, below))

    def version(self) -> int:
        with self._connection() as conn:
            row = conn.execute("SELECT seq FROM feed").fetchone()
        assert row is not None
        return int(row[0])

    def changes_since(self, version: int) -> _Changes | None:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT seq, kind, key, parent FROM changes WHERE seq > %s ORDER BY seq", (version,)
            ).fetchall()
            # Read after the rows: a prune that ran in between shows here, and the rows may be incomplete.
            pruned = conn.execute("SELECT pruned FROM feed").fetchone()
        assert pruned is not None
        if version < int(pruned[0]):
            return None
        return feed.collect(version, rows)

    # --- hosts and blobs ------------------------------------------------------------------------------

    def heartbeat(self, host: str, info: Document) -> None:
        with self._connection() as conn:
            conn.execute(
                "INSERT INTO hosts (host, info, seen) VALUES (%s, %s, now()) "
                "ON CONFLICT (host) DO UPDATE SET info = excluded.info, seen = excluded.seen",
                (host, orjson.dumps(info)),
            )

    def hosts(self) -> _Documents:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT host, info, extract(epoch FROM now() - seen) FROM hosts ORDER BY host"
            ).fetchall()
        return [
            {**_decode(info), "host": host, "seconds_ago": round(float(ago), 1)} for host, info, ago in rows
        ]

    def put_blob(self, key: str, data: bytes) -> None:
        """Content-addressed: writing a key that exists is a no-op (same key, same bytes)."""
        with self._connection() as conn:
            conn.execute("INSERT INTO blobs (key, data) VALUES (%s, %s) ON CONFLICT DO NOTHING", (key, data))

    def get_blob(self, key: str) -> bytes | None:
        with self._connection() as conn:
            row = conn.execute("SELECT data FROM blobs WHERE key=%s", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def delete_blobs(self, prefix: str) -> None:
        with self._connection() as conn:
            conn.execute("DELETE FROM blobs WHERE starts_with(key, %s)", (prefix,))

    async def listen(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever a host commits a change (``NOTIFY``), until cancelled. A dropped connection
        (PostgreSQL restarting) is opened again, with backoff; ``wake`` is called on every (re)connection,
        since commits made while nobody listened were not announced."""
        delay = 0.25
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    wake()
                    delay = 0.25
                    async for _ in conn.notifies():
                        wake()
            except (psycopg.OperationalError, OSError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def close(self) -> None:
        self._pool.close()


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _where(url: str) -> str:
    """The URL without its password, for messages."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


def _decode(raw: bytes | memoryview) -> Document:
    document = orjson.loads(bytes(raw))
    assert isinstance(document, dict)
    return document
