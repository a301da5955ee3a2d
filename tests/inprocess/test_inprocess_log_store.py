"""The log store's bounds (events and bytes per group, retention) and the log sink's events, in process."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from apigate.aws.log_filter import FilterPatternError, compile_filter
from apigate.observe.log_sink import LogSink
from apigate.store.log_events import MESSAGE_BYTES, LogStore

DAY_MS = 86_400_000


def _messages(store: LogStore, group: str) -> list[str]:
    return [event[2] for event in store.events(group)]


def test_a_group_keeps_its_newest_events_within_the_cap(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db", events_per_group=250)
    now = int(time.time() * 1000)
    for batch in range(4):
        store.append([("g", "s", now + batch * 100 + i, f"event {batch * 100 + i}") for i in range(100)], now)
    store.append([("other", "s", now, "untouched")], now)
    kept = _messages(store, "g")
    # Whole writes (chunks) go, the oldest first: 200 of the 400 are left, the newest.
    assert kept == [f"event {i}" for i in range(200, 400)]
    group = store.group("g")
    assert group is not None and group["storedEvents"] == 200
    assert group["storedBytes"] == sum(len(m) for m in kept)
    assert _messages(store, "other") == ["untouched"]
    store.close()


def test_bytes_per_group_and_long_messages(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db", bytes_per_group=10_000)
    now = int(time.time() * 1000)
    store.append([("g", "s", now + i, "x" * 1000) for i in range(30)], now)
    group = store.group("g")
    assert group is not None and group["storedBytes"] <= 10_000
    store.close()
    roomy = LogStore(tmp_path / "roomy.db")
    roomy.append([("big", "s", now, "é" * MESSAGE_BYTES)], now)
    (message,) = _messages(roomy, "big")
    assert len(message.encode()) <= MESSAGE_BYTES
    roomy.close()


def test_retention_prunes_old_events(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    now = int(time.time() * 1000)
    store.append([("g", "s", now - 10 * DAY_MS, "old")], now)
    store.append([("g", "s", now - 10 * DAY_MS, "hidden"), ("g", "s", now, "new")], now)
    store.append([("forever", "s", now - 10 * DAY_MS, "old")], now)
    assert store.prune(now) == 0  # no retention set: nothing expires
    store.set_retention("g", 7)
    assert _messages(store, "g") == ["new"]  # hidden at once, removed by the next prune
    assert store.prune(now) == 1  # the chunk wholly past retention; the other holds "new" too
    assert _messages(store, "g") == ["new"] and _messages(store, "forever") == ["old"]
    group = store.group("g")
    assert group is not None and group["storedEvents"] == 2
    store.close()


def test_the_sink_writes_function_output_as_events(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    sink = LogSink(store)
    sink.function_output(
        "fn",
        b"START RequestId: r1 Version: $LATEST\nhello\n\n[ERROR] KeyError: 'x'\nTraceback (most recent call last):\n"
        b'  File "/var/task/app.py", line 3, in handler\nEND RequestId: r1\n',
    )
    sink.lines("API-Gateway-Execution-Logs_abc/prod", 1234, ["(r2) one", "(r2) two"])
    asyncio.run(sink.close())  # close() drains what is queued
    assert _messages(store, "/aws/lambda/fn") == [
        "START RequestId: r1 Version: $LATEST",
        "hello",
        "[ERROR] KeyError: 'x'\nTraceback (most recent call last):\n  File \"/var/task/app.py\", line 3, in handler",
        "END RequestId: r1",
    ]
    (stream,) = store.streams("/aws/lambda/fn")
    assert "/[$LATEST]" in stream["logStreamName"]
    assert [(e[3], e[2]) for e in store.events("API-Gateway-Execution-Logs_abc/prod")] == [
        (1234, "(r2) one"),
        (1234, "(r2) two"),
    ]
    store.close()


def test_filter_patterns() -> None:
    assert compile_filter("") is None and compile_filter('""') is None
    terms = compile_filter('ERROR "timed out" -retry')
    assert terms is not None
    assert terms("ERROR: Task timed out") and not terms("ERROR: timed out, retry") and not terms("timed out")
    either = compile_filter("?WARN ?ERROR")
    assert either is not None and either("a WARN") and not either("INFO")
    json_pattern = compile_filter('{ $.a.b[1] = "x*" && $.n >= 2 }')
    assert json_pattern is not None
    assert json_pattern('{"a": {"b": [0, "xyz"]}, "n": 2}') and not json_pattern(
        '{"a": {"b": [0, "y"]}, "n": 2}'
    )
    assert not json_pattern("not json")
    for bad in ("[a, b]", "{ $.a = 1", "{ a = 1 }", '{ $.a > "x" }'):
        with pytest.raises(FilterPatternError):
            compile_filter(bad)


def test_reads_merge_overlapping_writes_in_time_order(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    store.append([("g", "a", ts, f"a{ts}") for ts in (1, 3, 5)], 10)
    store.append([("g", "b", ts, f"b{ts}") for ts in (2, 3, 4)], 10)
    store.append([("g", "a", 0, "late")], 11)  # written last, oldest in time
    oldest_first = [event[2] for event in store.events("g")]
    assert oldest_first == ["late", "a1", "b2", "a3", "b3", "b4", "a5"]
    assert [event[2] for event in store.events("g", newest_first=True)] == oldest_first[::-1]
    events = list(store.events("g"))
    middle = (events[3][3], events[3][0])  # a3
    assert [e[2] for e in store.events("g", after=middle)] == ["b3", "b4", "a5"]
    assert [e[2] for e in store.events("g", before=middle, newest_first=True)] == ["b2", "a1", "late"]
    assert [e[2] for e in store.events("g", ["b"], start=3, end=5)] == ["b3", "b4"]
    store.close()


class _HeldStore(LogStore):
    """A store whose first write waits until the test lets it go (the sink writes in a thread)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.entered = threading.Event()
        self.release = threading.Event()

    def append_streams(self, *args: Any, **kwargs: Any) -> None:
        if not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(timeout=30)
        super().append_streams(*args, **kwargs)


def test_close_waits_for_a_write_in_its_thread_and_loses_nothing(tmp_path: Path) -> None:
    store = _HeldStore(tmp_path / "logs.db")
    sink = LogSink(store, interval=0.01)

    async def scenario() -> None:
        sink.start()
        sink.lines("g", 1000, ["first"])
        await asyncio.to_thread(store.entered.wait, 30)  # the task's drain is writing, in its thread
        sink.lines("g", 1000, ["second"])  # queued meanwhile (the loop was not held), at the same time
        closing = asyncio.ensure_future(sink.close())
        for _ in range(20):  # loop turns (not time): enough for close() to finish if it did not wait
            await asyncio.sleep(0)
        assert not closing.done()  # it waits for the write in the thread
        store.release.set()
        await closing

    asyncio.run(scenario())
    assert [event[2] for event in store.events("g")] == ["first", "second"]
    store.close()
