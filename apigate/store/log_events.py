"""Where log events are kept: CloudWatch Logs' groups, streams and events in a SQLite file of the data dir
(``<data dir>/logs.db``), apart from the configuration store so that a busy log never holds the lock a
management call waits for, and a log write never raises the configuration version.

Bounded: each group keeps at most ``EVENTS_PER_GROUP`` events and ``BYTES_PER_GROUP`` bytes of messages (the
oldest go first), a message longer than ``MESSAGE_BYTES`` is cut, and a group's ``retentionInDays`` removes
older events (``prune``). Commits are not fsynced one by one (WAL with ``synchronous=NORMAL``): a crash may
lose the last moments of logs, never the database.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "BYTES_PER_GROUP",
    "EVENTS_PER_GROUP",
    "MESSAGE_BYTES",
    "Event",
    "LogStore",
    "Position",
]

EVENTS_PER_GROUP = 100_000
BYTES_PER_GROUP = 64 * 1024 * 1024
MESSAGE_BYTES = 256 * 1024  # CloudWatch's own limit on one event's size
_DAY_MS = 86_400_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log_groups (
    name      TEXT PRIMARY KEY,
    created   INTEGER NOT NULL,
    retention INTEGER,
    events    INTEGER NOT NULL DEFAULT 0,
    bytes     INTEGER NOT NULL DEFAULT 0,
    class     TEXT NOT NULL DEFAULT 'STANDARD'
);
CREATE TABLE IF NOT EXISTS log_streams (
    grp       TEXT NOT NULL,
    name      TEXT NOT NULL,
    created   INTEGER NOT NULL,
    first_ts  INTEGER,
    last_ts   INTEGER,
    last_seen INTEGER,
    PRIMARY KEY (grp, name)
);
CREATE TABLE IF NOT EXISTS log_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    grp      TEXT NOT NULL,
    stream   TEXT NOT NULL,
    ts       INTEGER NOT NULL,
    ingested INTEGER NOT NULL,
    message  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_events_by_group ON log_events (grp, ts, id);
CREATE INDEX IF NOT EXISTS log_events_by_stream ON log_events (grp, stream, ts, id);
"""

Event = tuple[int, str, str, int, int]  # id, stream, message, timestamp, ingestion time
Position = tuple[int, int]  # (timestamp, id): events are ordered by both
Row = tuple[str, str, int, str]  # what ``append`` takes: group, stream, timestamp (ms), message


class LogStore:
    def __init__(
        self,
        path: Path | str,
        *,
        events_per_group: int = EVENTS_PER_GROUP,
        bytes_per_group: int = BYTES_PER_GROUP,
        read_only: bool = False,
    ) -> None:
        self.events_per_group = events_per_group
        self.bytes_per_group = bytes_per_group
        if read_only:
            self._db = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
            )
        else:
            if str(path) != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        # Several processes (`serve --workers N`) may share the file: wait a little for another's write.
        self._db.execute("PRAGMA busy_timeout=2000")
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- groups and streams ---

    def create_group(self, name: str, now_ms: int, group_class: str = "STANDARD") -> bool:
        """False when the group exists."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO log_groups (name, created, class) VALUES (?, ?, ?)",
                (name, now_ms, group_class),
            )
            return cursor.rowcount == 1

    def delete_group(self, name: str) -> bool:
        with self._lock, self._transaction():
            cursor = self._db.execute("DELETE FROM log_groups WHERE name=?", (name,))
            self._db.execute("DELETE FROM log_streams WHERE grp=?", (name,))
            self._db.execute("DELETE FROM log_events WHERE grp=?", (name,))
            return cursor.rowcount == 1

    def group(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT name, created, retention, events, bytes, class FROM log_groups WHERE name=?", (name,)
            ).fetchone()
        return None if row is None else _group(row)

    def groups(self, prefix: str = "", after: str = "", limit: int = 50) -> list[dict[str, Any]]:
        """Groups by name, from the first after ``after`` whose name starts with ``prefix``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT name, created, retention, events, bytes, class FROM log_groups "
                "WHERE name > ? AND substr(name, 1, ?) = ? ORDER BY name LIMIT ?",
                (after, len(prefix), prefix, limit),
            ).fetchall()
        return [_group(row) for row in rows]

    def set_retention(self, name: str, days: int | None) -> bool:
        with self._lock:
            cursor = self._db.execute("UPDATE log_groups SET retention=? WHERE name=?", (days, name))
            return cursor.rowcount == 1

    def create_stream(self, group: str, name: str, now_ms: int) -> bool:
        """False when the stream exists (the caller checked the group)."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO log_streams (grp, name, created) VALUES (?, ?, ?)",
                (group, name, now_ms),
            )
            return cursor.rowcount == 1

    def delete_stream(self, group: str, name: str) -> bool:
        with self._lock, self._transaction():
            cursor = self._db.execute("DELETE FROM log_streams WHERE grp=? AND name=?", (group, name))
            if cursor.rowcount != 1:
                return False
            gone = self._db.execute(
                "DELETE FROM log_events WHERE grp=? AND stream=? RETURNING length(CAST(message AS BLOB))",
                (group, name),
            ).fetchall()
            self._count(group, -len(gone), -sum(row[0] for row in gone))
            return True

    def stream(self, group: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT name, created, first_ts, last_ts, last_seen FROM log_streams WHERE grp=? AND name=?",
                (group, name),
            ).fetchone()
        return None if row is None else _stream(row)

    def streams(self, group: str, prefix: str = "", by_last_event: bool = False) -> list[dict[str, Any]]:
        """Every stream of ``group`` by name (or by its last event's time), oldest or A first."""
        order = "coalesce(last_ts, 0), name" if by_last_event else "name"
        with self._lock:
            rows = self._db.execute(
                "SELECT name, created, first_ts, last_ts, last_seen FROM log_streams "
                f"WHERE grp=? AND substr(name, 1, ?) = ? ORDER BY {order}",
                (group, len(prefix), prefix),
            ).fetchall()
        return [_stream(row) for row in rows]

    # --- events ---

    def append(self, rows: Iterable[Row], now_ms: int, create: bool = True) -> None:
        """Store events; with ``create``, missing groups and streams are made (as Lambda and API Gateway make
        theirs), else the caller checked them. Then each touched group is trimmed to its bounds."""
        touched: dict[tuple[str, str], list[int]] = {}
        counts: dict[str, list[int]] = {}
        values = []
        for group, stream, ts, message in rows:
            if len(message) > MESSAGE_BYTES // 4 and len(message.encode()) > MESSAGE_BYTES:
                message = message.encode()[:MESSAGE_BYTES].decode(errors="ignore")
            values.append((group, stream, ts, now_ms, message))
            span = touched.get((group, stream))
            if span is None:
                touched[(group, stream)] = [ts, ts]
            else:
                span[0] = min(span[0], ts)
                span[1] = max(span[1], ts)
            count = counts.setdefault(group, [0, 0])
            count[0] += 1
            count[1] += len(message.encode())
        if not values:
            return
        with self._lock, self._transaction():
            if create:
                self._db.executemany(
                    "INSERT OR IGNORE INTO log_groups (name, created) VALUES (?, ?)",
                    [(group, now_ms) for group in counts],
                )
                self._db.executemany(
                    "INSERT OR IGNORE INTO log_streams (grp, name, created) VALUES (?, ?, ?)",
                    [(group, stream, now_ms) for group, stream in touched],
                )
            self._db.executemany(
                "INSERT INTO log_events (grp, stream, ts, ingested, message) VALUES (?, ?, ?, ?, ?)", values
            )
            self._db.executemany(
                "UPDATE log_streams SET first_ts = min(coalesce(first_ts, ?), ?), "
                "last_ts = max(coalesce(last_ts, ?), ?), last_seen = ? WHERE grp=? AND name=?",
                [(lo, lo, hi, hi, now_ms, group, stream) for (group, stream), (lo, hi) in touched.items()],
            )
            for group, (events, size) in counts.items():
                self._count(group, events, size)
                self._trim(group)

    def events(
        self,
        group: str,
        streams: list[str] | None = None,
        *,
        start: int | None = None,
        end: int | None = None,
        after: Position | None = None,
        before: Position | None = None,
        newest_first: bool = False,
        batch: int = 500,
    ) -> Iterator[Event]:
        """Events of ``group`` (of ``streams`` only, if given) with ``start <= timestamp < end``, strictly
        after ``after`` / before ``before``, in (timestamp, id) order or its reverse; read in batches."""
        where = ["grp = ?"]
        args: list[Any] = [group]
        if streams is not None:
            if not streams:
                return
            where.append(f"stream IN ({','.join('?' * len(streams))})")
            args.extend(streams)
        if start is not None:
            where.append("ts >= ?")
            args.append(start)
        if end is not None:
            where.append("ts < ?")
            args.append(end)
        order = "DESC" if newest_first else "ASC"
        cursor_position = before if newest_first else after
        while True:
            clauses = list(where)
            page_args = list(args)
            if cursor_position is not None:
                clauses.append("(ts, id) < (?, ?)" if newest_first else "(ts, id) > (?, ?)")
                page_args.extend(cursor_position)
            if after is not None and newest_first:
                clauses.append("(ts, id) > (?, ?)")
                page_args.extend(after)
            with self._lock:
                rows = self._db.execute(
                    "SELECT id, stream, message, ts, ingested FROM log_events WHERE "
                    + " AND ".join(clauses)
                    + f" ORDER BY ts {order}, id {order} LIMIT ?",
                    (*page_args, batch),
                ).fetchall()
            for row in rows:
                yield (row[0], row[1], row[2], row[3], row[4])
            if len(rows) < batch:
                return
            cursor_position = (rows[-1][3], rows[-1][0])

    def written_after(self, group: str, last_id: int, start: int = 0, limit: int = 1000) -> list[Event]:
        """Events stored after the one numbered ``last_id``, in the order they were stored (for following a
        group: an event may arrive late with an earlier timestamp, and is still shown once)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, stream, message, ts, ingested FROM log_events WHERE grp=? AND id > ? AND ts >= ? "
                "ORDER BY id LIMIT ?",
                (group, last_id, start, limit),
            ).fetchall()
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def prune(self, now_ms: int, group: str | None = None) -> int:
        """Remove events older than their group's retention; how many went."""
        with self._lock:
            if group is None:
                groups = self._db.execute(
                    "SELECT name, retention FROM log_groups WHERE retention IS NOT NULL"
                ).fetchall()
            else:
                groups = self._db.execute(
                    "SELECT name, retention FROM log_groups WHERE name=? AND retention IS NOT NULL", (group,)
                ).fetchall()
            removed = 0
            for name, days in groups:
                with self._transaction():
                    gone = self._db.execute(
                        "DELETE FROM log_events WHERE grp=? AND ts < ? RETURNING length(CAST(message AS BLOB))",
                        (name, now_ms - int(days) * _DAY_MS),
                    ).fetchall()
                    if gone:
                        self._count(name, -len(gone), -sum(row[0] for row in gone))
                        removed += len(gone)
            return removed

    # --- inside ---

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _count(self, group: str, events: int, size: int) -> None:
        self._db.execute(
            "UPDATE log_groups SET events = max(events + ?, 0), bytes = max(bytes + ?, 0) WHERE name=?",
            (events, size, group),
        )

    def _trim(self, group: str) -> None:
        """Drop the oldest events while the group holds more than its bounds."""
        while True:
            row = self._db.execute("SELECT events, bytes FROM log_groups WHERE name=?", (group,)).fetchone()
            if row is None:
                return
            events, size = row
            excess = events - self.events_per_group
            if excess <= 0 and size <= self.bytes_per_group:
                return
            step = excess if excess > 0 else 100  # over in bytes only: the oldest hundred at a time
            gone = self._db.execute(
                "DELETE FROM log_events WHERE id IN (SELECT id FROM log_events WHERE grp=? "
                "ORDER BY ts, id LIMIT ?) RETURNING length(CAST(message AS BLOB))",
                (group, step),
            ).fetchall()
            if not gone:
                self._db.execute("UPDATE log_groups SET events=0, bytes=0 WHERE name=?", (group,))
                return
            self._count(group, -len(gone), -sum(r[0] for r in gone))


class _Transaction:
    """BEGIN IMMEDIATE .. COMMIT, or nothing when one is open already (the caller holds the lock)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._outer = False

    def __enter__(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")
            self._outer = True

    def __exit__(self, kind: object, exc: object, trace: object) -> None:
        if not self._outer:
            return
        if kind is None:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:
            self._db.execute("ROLLBACK")


def _group(row: tuple[Any, ...]) -> dict[str, Any]:
    name, created, retention, events, size, group_class = row
    found: dict[str, Any] = {
        "logGroupName": name,
        "creationTime": created,
        "storedBytes": size,
        "storedEvents": events,  # ours: shown by apigate's own tools, dropped from AWS's answers
        "logGroupClass": group_class,
    }
    if retention is not None:
        found["retentionInDays"] = retention
    return found


def _stream(row: tuple[Any, ...]) -> dict[str, Any]:
    name, created, first_ts, last_ts, last_seen = row
    found: dict[str, Any] = {"logStreamName": name, "creationTime": created, "storedBytes": 0}
    if first_ts is not None:
        found["firstEventTimestamp"] = first_ts
        found["lastEventTimestamp"] = last_ts
        found["lastIngestionTime"] = last_seen
    return found
