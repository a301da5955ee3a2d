"""The store interface, tested alike on SQLite (one file) and PostgreSQL (a fresh database per test).

``opened()`` opens another store on the same data, as a second process or host would: races between two of
them are what the cluster relies on (uniqueness, the change feed's order, migrations run once).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from apigate.store import Change, Conflict, DocumentStore, SqliteStore, feed
from apigate.store.postgres import PostgresStore, StoreUnavailable

from postgres_helpers import scratch_database

# Every test of the machine's PostgreSQL in one pytest-xdist process, one after another:
# tests/test_cluster_postgres.py restarts it.
pytestmark = pytest.mark.xdist_group("postgresql")

Opener = Callable[[], Any]  # a new store (SqliteStore | PostgresStore) on the test's data
RACERS = 8


@pytest.fixture(params=["sqlite", "postgresql"])
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    stores: list[Any] = []

    def keep(store: Any) -> Any:
        stores.append(store)
        return store

    if request.param == "sqlite":
        yield lambda: keep(SqliteStore(tmp_path / "apigate.db"))
    else:
        with scratch_database() as url:
            yield lambda: keep(PostgresStore(url))
            for store in stores:
                store.close()
            return
    for store in stores:
        store.close()


def key_doc(key_id: str, value: str) -> dict[str, Any]:
    return {"id": key_id, "value": value}


def test_both_backends_are_document_stores(opened: Opener) -> None:
    store: DocumentStore = opened()  # mypy checks the Protocol; this checks they open and answer
    assert store.version() == 0


def test_documents_round_trip_in_insertion_order(opened: Opener) -> None:
    store = opened()
    for i in range(5):
        store.put("resource", f"a/{i}", {"id": str(i), "é": "ü", "n": [1, 2.5, None]}, parent="a")
    store.put("resource", "b/9", {"id": "9"}, parent="b")
    store.put("resource", "a/2", {"id": "2", "changed": True}, parent="a")  # a replace keeps its place
    assert [d["id"] for d in store.list("resource", "a")] == ["0", "1", "2", "3", "4"]
    assert store.get("resource", "a/2") == {"id": "2", "changed": True}
    assert store.get("resource", "a/0") == {"id": "0", "é": "ü", "n": [1, 2.5, None]}
    assert len(store.list("resource")) == 6
    assert store.delete("resource", "a/0") and not store.delete("resource", "a/0")
    store.delete_parent("a")
    assert store.list("resource", "a") == [] and store.get("resource", "b/9") == {"id": "9"}


def test_insert_refuses_an_existing_key_and_writes_nothing(opened: Opener) -> None:
    store = opened()
    store.insert("function", "f", {"FunctionName": "f", "v": 1})
    with pytest.raises(Conflict) as caught:
        store.insert("function", "f", {"FunctionName": "f", "v": 2})
    assert (caught.value.kind, caught.value.key, caught.value.rule) == ("function", "f", "key")
    assert store.get("function", "f") == {"FunctionName": "f", "v": 1}


def test_claims_follow_puts_updates_and_deletes(opened: Opener) -> None:
    store = opened()
    store.put("apikey", "k1", key_doc("k1", "v" * 20))
    with pytest.raises(Conflict) as caught:
        store.put("apikey", "k2", key_doc("k2", "v" * 20))
    assert caught.value.rule == "value"
    assert store.get("apikey", "k2") is None
    with pytest.raises(Conflict):
        store.insert("apikey", "k2", key_doc("k2", "v" * 20))
    assert store.get("apikey", "k2") is None
    store.put("apikey", "k1", {**key_doc("k1", "v" * 20), "name": "renamed"})  # its own claim: no conflict
    store.put("apikey", "k1", key_doc("k1", "w" * 20))  # a new value frees the old one
    store.put("apikey", "k2", key_doc("k2", "v" * 20))
    assert store.delete("apikey", "k1")
    store.put("apikey", "k3", key_doc("k3", "w" * 20))
    store.put("v2route", "a/r1", {"RouteId": "r1", "RouteKey": "GET /"}, parent="a")
    store.put("v2route", "b/r1", {"RouteId": "r1", "RouteKey": "GET /"}, parent="b")  # another API: fine
    with pytest.raises(Conflict):
        store.put("v2route", "a/r2", {"RouteId": "r2", "RouteKey": "GET /"}, parent="a")
    store.delete_parent("a")  # claims scoped by the parent die with it
    store.put("v2route", "a/r2", {"RouteId": "r2", "RouteKey": "GET /"}, parent="a")


def test_a_conflict_caught_inside_a_transaction_leaves_nothing_half_written(opened: Opener) -> None:
    store = opened()
    store.put("resource", "a/1", {"id": "1", "parentId": "root", "pathPart": "{id}"}, parent="a")
    with store.transaction():
        store.put("apikey", "k1", key_doc("k1", "x" * 20))
        with pytest.raises(Conflict) as caught:  # its path part is free, its variable slot is not
            store.put("resource", "a/2", {"id": "2", "parentId": "root", "pathPart": "{name}"}, parent="a")
        assert caught.value.rule == "variablePathPart"
        store.put("apikey", "k2", key_doc("k2", "y" * 20))  # the transaction goes on
    assert store.get("resource", "a/2") is None
    assert store.get("apikey", "k1") is not None and store.get("apikey", "k2") is not None
    store.put("resource", "a/3", {"id": "3", "parentId": "root", "pathPart": "name"}, parent="a")


def test_a_failed_transaction_writes_nothing(opened: Opener) -> None:
    store = opened()
    with pytest.raises(RuntimeError), store.transaction():
        store.put("apikey", "k1", key_doc("k1", "x" * 20))
        raise RuntimeError("the handler failed")
    assert store.get("apikey", "k1") is None
    store.put("apikey", "k9", key_doc("k9", "x" * 20))  # and its claim was not kept either


def test_two_stores_racing_one_value_make_one_document(opened: Opener) -> None:
    stores = [opened(), opened()]
    for round_ in range(10):
        value = f"value-{round_}-" * 4
        assert _race(stores, value) == 1
        assert [d["value"] for d in stores[0].list("apikey")].count(value) == 1


def _race(stores: list[Any], value: str) -> int:
    """RACERS threads put a key with ``value`` at once, alternating between the stores: how many won."""
    barrier = threading.Barrier(RACERS)
    won: list[int] = []

    def run(i: int) -> None:
        barrier.wait()
        key = f"{value}{i}"
        try:
            stores[i % 2].put("apikey", key, key_doc(key, value))
            won.append(i)
        except Conflict:
            pass

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(won)


# --- the change feed -----------------------------------------------------------------------------------------


def test_each_writing_transaction_is_one_version_listing_what_it_changed(opened: Opener) -> None:
    store, reader = opened(), opened()
    assert reader.changes_since(0) == (0, [])
    store.put("restapi", "a", {"id": "a"})
    with store.transaction():
        store.put("stage", "a/prod", {"stageName": "prod"}, parent="a")
        store.put("stage", "a/prod", {"stageName": "prod", "v": 2}, parent="a")  # listed once
        store.put("apikey", "k", key_doc("k", "z" * 20))
    with store.transaction():
        store.get("restapi", "a")  # a transaction that writes nothing takes no version
    assert reader.version() == 2
    assert reader.changes_since(0) == (
        2,
        [Change("restapi", "a", ""), Change("stage", "a/prod", "a"), Change("apikey", "k", "")],
    )
    assert reader.changes_since(1) == (2, [Change("stage", "a/prod", "a"), Change("apikey", "k", "")])
    assert reader.changes_since(2) == (2, [])
    store.delete("stage", "a/prod")
    assert not store.delete("stage", "a/prod")  # deleting nothing changes nothing
    store.delete_parent("a")
    assert reader.changes_since(2) == (4, [Change("stage", "a/prod", "a"), Change("*", "*", "a")])


def test_a_rolled_back_transaction_takes_no_version(opened: Opener) -> None:
    store = opened()
    with pytest.raises(Conflict):
        store.insert("function", "f", {"FunctionName": "f"})
        store.insert("function", "f", {"FunctionName": "f"})
    assert store.version() == 1
    with pytest.raises(RuntimeError), store.transaction():
        store.put("function", "g", {"FunctionName": "g"})
        raise RuntimeError
    assert store.changes_since(1) == (1, [])
    store.put("function", "h", {"FunctionName": "h"})
    assert store.changes_since(1) == (2, [Change("function", "h", "")])


def test_a_reader_behind_the_kept_history_is_told_to_look_at_everything(
    opened: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed, "KEEP", 3)
    monkeypatch.setattr(feed, "PRUNE_EVERY", 2)
    store = opened()
    for i in range(8):
        store.put("function", f"f{i}", {"FunctionName": f"f{i}"})
    assert store.changes_since(0) is None  # versions up to 5 were pruned at version 8
    assert store.changes_since(5) == (8, [Change("function", f"f{i}", "") for i in (5, 6, 7)])


def test_writers_on_two_stores_commit_versions_in_order(opened: Opener) -> None:
    """Whatever interleaving, a reader following the feed sees every write exactly once."""
    writers, reader = [opened(), opened()], opened()
    seen: list[str] = []
    version = 0
    done = threading.Event()

    def write(which: int) -> None:
        for i in range(40):
            writers[which].put("function", f"w{which}-{i}", {"FunctionName": f"w{which}-{i}"})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    while not done.is_set():
        if not any(thread.is_alive() for thread in threads):
            done.set()
        answer = reader.changes_since(version)
        assert answer is not None
        version, changes = answer
        seen.extend(change.key for change in changes)
    assert sorted(seen) == sorted(f"w{w}-{i}" for w in range(2) for i in range(40))
    assert version == 80


def test_heartbeats_list_the_hosts(opened: Opener) -> None:
    store = opened()
    store.heartbeat("10.0.0.1:4566", {"version": 3, "status": "ok"})
    store.heartbeat("10.0.0.2:4566", {"version": 2, "status": "ok"})
    store.heartbeat("10.0.0.1:4566", {"version": 4, "status": "ok"})
    hosts = opened().hosts()
    assert [(h["host"], h["version"]) for h in hosts] == [("10.0.0.1:4566", 4), ("10.0.0.2:4566", 2)]
    assert all(0 <= h["seconds_ago"] < 60 for h in hosts)
    assert store.version() == 0  # a heartbeat is no configuration change


# --- PostgreSQL only ----------------------------------------------------------------------------------------


def test_hosts_starting_together_migrate_once() -> None:
    with scratch_database() as url:
        barrier = threading.Barrier(RACERS)
        opened: list[PostgresStore] = []
        failures: list[BaseException] = []

        def start() -> None:
            barrier.wait()
            try:
                opened.append(PostgresStore(url, pool_size=1))
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=start) for _ in range(RACERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        opened[0].put("apikey", "k", key_doc("k", "q" * 20))
        with pytest.raises(Conflict):
            opened[-1].put("apikey", "k2", key_doc("k2", "q" * 20))
        assert opened[-1].version() == 1
        for store in opened:
            store.close()


def test_an_unreachable_server_is_reported_as_such() -> None:
    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:1/"):
        PostgresStore("postgresql://postgres@127.0.0.1:1/nothing", timeout=1)


def test_blobs_are_kept_by_key() -> None:
    with scratch_database() as url:
        store = PostgresStore(url)
        store.put_blob("code/f/ab", b"\x00zip")
        store.put_blob("code/f/ab", b"\x00zip")  # the same content again: nothing to do
        store.put_blob("code/g/cd", b"other")
        assert store.get_blob("code/f/ab") == b"\x00zip" and store.get_blob("code/f/none") is None
        store.delete_blobs("code/f/")
        assert store.get_blob("code/f/ab") is None and store.get_blob("code/g/cd") == b"other"
        store.close()


def test_the_public_surface_is_pinned() -> None:
    import apigate.store
    import apigate.store.postgres

    assert sorted(apigate.store.__all__) == [
        "Change",
        "Conflict",
        "DocumentStore",
        "SqliteStore",
        "feed",
        "open_store",
    ]
    assert sorted(apigate.store.postgres.__all__) == ["CHANNEL", "PostgresStore", "StoreUnavailable"]


def test_open_store_picks_the_backend_by_url(tmp_path: Path) -> None:
    from apigate.store import open_store

    sqlite = open_store(None, tmp_path)
    assert isinstance(sqlite, SqliteStore) and (tmp_path / "apigate.db").exists()
    sqlite.close()
    with pytest.raises(ValueError, match="not a postgresql:// URL"):
        open_store("mysql://db/apigate", tmp_path)
    with scratch_database() as url:
        postgres = open_store(url, tmp_path)
        assert isinstance(postgres, PostgresStore)
        postgres.close()
