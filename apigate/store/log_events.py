"""Where log events are kept: CloudWatch Logs' groups, streams and events in a SQLite file of the data dir
(``<data dir>/logs.db``), apart from the configuration store so that a busy log never holds the lock a
management call waits for, and a log write never raises the configuration version.

Events are stored in chunks: each write (a drain's batch for one stream, a PutLogEvents call) is one row holding
its events as a JSON array, so a logged request costs a share of one insert rather than an insert and two index
entries of its own (measured: ~1 µs per access log line instead of ~8). An event's id is its chunk's id times
``2**20`` plus its place in the chunk. Reads fetch the chunks whose time span overlaps the window and order
the events by (timestamp, id).

Bounded: each group keeps at most ``EVENTS_PER_GROUP`` events and ``BYTES_PER_GROUP`` bytes of messages (the
oldest chunks go first), a message longer than ``MESSAGE_BYTES`` is cut, and a group's ``retentionInDays``
removes older chunks (``prune``) and hides older events at once. Commits are not fsynced one by one (WAL with
``synchronous=NORMAL``): a crash may lose the last moments of logs, never the database.
"""

from __future__ import annotations

import heapq
import operator
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

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
_CHUNK_BITS = 20  # an event's id: its chunk's id << 20 | its place in the chunk
_CHUNK_EVENTS = 10_000  # events per chunk at most (a PutLogEvents call's limit)
_READ_CHUNKS = 16  # chunk bodies read at once by a merge

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
CREATE TABLE IF NOT EXISTS log_chunks (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    grp      TEXT NOT NULL,
    stream   TEXT NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts  INTEGER NOT NULL,
    ingested INTEGER NOT NULL,
    count    INTEGER NOT NULL,
    bytes    INTEGER NOT NULL,
    body     BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS log_chunks_by_group ON log_chunks (grp, last_ts);
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
            self._db.execute("DELETE FROM log_chunks WHERE grp=?", (name,))
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
                "DELETE FROM log_chunks WHERE grp=? AND stream=? RETURNING count, bytes", (group, name)
            ).fetchall()
            self._count(group, -sum(row[0] for row in gone), -sum(row[1] for row in gone))
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
        """Store events, a chunk per stream; with ``create``, missing groups and streams are made (as Lambda
        and API Gateway make theirs), else the caller checked them. Then each touched group is trimmed."""
        by_stream: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for group, stream, ts, message in rows:
            by_stream.setdefault((group, stream), []).append((ts, message))
        self.append_streams(by_stream, now_ms, create)

    def append_streams(
        self,
        by_stream: dict[tuple[str, str], list[tuple[int, str]]],
        now_ms: int,
        create: bool = True,
        *,
        ordered: bool = False,
    ) -> None:
        """``append`` with the events already grouped by (group, stream), each list (timestamp, message);
        ``ordered``: each list is in timestamp order already."""
        if not by_stream:
            return
        chunks = []
        counts: dict[str, list[int]] = {}
        spans = []
        for (group, stream), events in by_stream.items():
            if max(map(len, map(_message, events))) > MESSAGE_BYTES // 4:  # maybe too long: look closer
                for place, (ts, message) in enumerate(events):
                    if len(message) > MESSAGE_BYTES // 4 and len(message.encode()) > MESSAGE_BYTES:
                        events[place] = (ts, message.encode()[:MESSAGE_BYTES].decode(errors="ignore"))
            if not ordered:
                events.sort(key=_timestamp)  # stable: equal timestamps keep their order
            for start in range(0, len(events), _CHUNK_EVENTS):
                part = events[start : start + _CHUNK_EVENTS]
                size = sum(map(len, map(_message, part)))
                first, last = part[0][0], part[-1][0]
                chunks.append((group, stream, first, last, now_ms, len(part), size, orjson.dumps(part)))
                count = counts.setdefault(group, [0, 0])
                count[0] += len(part)
                count[1] += size
                spans.append((first, first, last, last, now_ms, group, stream))
        with self._lock, self._transaction():
            if create:
                self._db.executemany(
                    "INSERT OR IGNORE INTO log_groups (name, created) VALUES (?, ?)",
                    [(group, now_ms) for group in counts],
                )
                self._db.executemany(
                    "INSERT OR IGNORE INTO log_streams (grp, name, created) VALUES (?, ?, ?)",
                    [(group, stream, now_ms) for group, stream in by_stream],
                )
            self._db.executemany(
                "INSERT INTO log_chunks (grp, stream, first_ts, last_ts, ingested, count, bytes, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                chunks,
            )
            self._db.executemany(
                "UPDATE log_streams SET first_ts = min(coalesce(first_ts, ?), ?), "
                "last_ts = max(coalesce(last_ts, ?), ?), last_seen = ? WHERE grp=? AND name=?",
                spans,
            )
            for group, (events_added, size) in counts.items():
                self._count(group, events_added, size)
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
    ) -> Iterator[Event]:
        """Events of ``group`` (of ``streams`` only, if given) with ``start <= timestamp < end``, strictly
        after ``after`` / before ``before``, in (timestamp, id) order or its reverse. Events older than the
        group's retention are not shown, whether or not ``prune`` removed them yet."""
        with self._lock:
            row = self._db.execute("SELECT retention FROM log_groups WHERE name=?", (group,)).fetchone()
        if row is not None and row[0] is not None:
            expired = int(time.time() * 1000) - int(row[0]) * _DAY_MS
            start = expired if start is None else max(start, expired)
        low = max(start or 0, after[0] if after else 0)
        high = min(end if end is not None else 2**62, before[0] + 1 if before else 2**62)
        where = ["grp = ?", "last_ts >= ?", "first_ts < ?"]
        args: list[Any] = [group, low, high]
        if streams is not None:
            if not streams:
                return
            where.append(f"stream IN ({','.join('?' * len(streams))})")
            args.extend(streams)
        # The chunks' time spans first (small rows); bodies are read and decoded only as the merge reaches
        # them, so a page of a large group decodes about the chunks it shows, not the whole group.
        with self._lock:
            spans = self._db.execute(
                "SELECT id, first_ts, last_ts FROM log_chunks WHERE " + " AND ".join(where), args
            ).fetchall()
        if newest_first:  # by last_ts, newest first: a chunk cannot hold anything newer than its last_ts
            spans.sort(key=lambda span: (-span[2], -span[0]))
        else:
            spans.sort(key=lambda span: (span[1], span[0]))
        sign = -1 if newest_first else 1
        heap: list[tuple[int, int, Event]] = []  # (sign * ts, sign * id, event): the merge's frontier
        for index in range(0, len(spans), _READ_CHUNKS):
            batch = spans[index : index + _READ_CHUNKS]
            with self._lock:
                bodies = {
                    row[0]: row[1:]
                    for row in self._db.execute(
                        f"SELECT id, stream, ingested, body FROM log_chunks WHERE id IN ({','.join('?' * len(batch))})",
                        [span[0] for span in batch],
                    )
                }
            for chunk_id, first_ts, last_ts in batch:
                # Everything on the frontier that is before this chunk's earliest possible event is final.
                bound = sign * (last_ts if newest_first else first_ts)
                while heap and heap[0][0] < bound:
                    event = heapq.heappop(heap)[2]
                    if _inside(event, after, before):
                        yield event
                found = bodies.get(chunk_id)
                if found is None:  # removed meanwhile (trimmed, pruned)
                    continue
                stream, ingested, body = found
                base = chunk_id << _CHUNK_BITS
                for place, (ts, message) in enumerate(orjson.loads(body)):
                    if low <= ts < high:
                        heapq.heappush(heap, (sign * ts, sign * (base + place), (base + place, stream, message, ts, ingested)))
        while heap:
            event = heapq.heappop(heap)[2]
            if _inside(event, after, before):
                yield event

    def last_written(self, group: str) -> int:
        """The number of the last event stored in ``group`` so far (0 if none): ``written_after`` it reads what
        comes next."""
        with self._lock:
            row = self._db.execute("SELECT max(id) FROM log_chunks WHERE grp=?", (group,)).fetchone()
        return 0 if row is None or row[0] is None else ((int(row[0]) + 1) << _CHUNK_BITS) - 1

    def written_after(self, group: str, last_id: int, start: int = 0) -> list[Event]:
        """Events stored after the one numbered ``last_id``, in the order they were stored (for following a
        group: an event may arrive late with an earlier timestamp, and is still shown once)."""
        with self._lock:
            chunks = self._db.execute(
                "SELECT id, stream, ingested, body FROM log_chunks WHERE grp=? AND id >= ? AND last_ts >= ? "
                "ORDER BY id LIMIT 100",
                (group, last_id >> _CHUNK_BITS, start),
            ).fetchall()
        found: list[Event] = []
        for chunk_id, stream, ingested, body in chunks:
            base = chunk_id << _CHUNK_BITS
            for place, (ts, message) in enumerate(orjson.loads(body)):
                if base + place > last_id and ts >= start:
                    found.append((base + place, stream, message, ts, ingested))
        return found

    def prune(self, now_ms: int, group: str | None = None) -> int:
        """Remove the chunks older than their group's retention; how many events went."""
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
                        "DELETE FROM log_chunks WHERE grp=? AND last_ts < ? RETURNING count, bytes",
                        (name, now_ms - int(days) * _DAY_MS),
                    ).fetchall()
                    if gone:
                        events = sum(row[0] for row in gone)
                        self._count(name, -events, -sum(row[1] for row in gone))
                        removed += events
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
        """Drop the oldest chunks while the group holds more than its bounds."""
        while True:
            row = self._db.execute("SELECT events, bytes FROM log_groups WHERE name=?", (group,)).fetchone()
            if row is None or (row[0] <= self.events_per_group and row[1] <= self.bytes_per_group):
                return
            gone = self._db.execute(
                "DELETE FROM log_chunks WHERE id = (SELECT id FROM log_chunks WHERE grp=? "
                "ORDER BY last_ts, id LIMIT 1) RETURNING count, bytes",
                (group,),
            ).fetchone()
            if gone is None:
                self._db.execute("UPDATE log_groups SET events=0, bytes=0 WHERE name=?", (group,))
                return
            self._count(group, -gone[0], -gone[1])


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


_timestamp = operator.itemgetter(0)  # of a (timestamp, message) pair
_message = operator.itemgetter(1)


def _inside(event: Event, after: Position | None, before: Position | None) -> bool:
    position = (event[3], event[0])
    return (after is None or position > after) and (before is None or position < before)


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
