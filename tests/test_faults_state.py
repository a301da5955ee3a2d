"""State that fails under the gateway: Redis going away and coming back, the gateway killed mid-write, the data
dir's disk filling up. Requests see what ``--on-state-error`` promises, acknowledged writes survive, and
serving goes on.

Redis here is a private ``redis-server`` on a free port (the machine's own one is shared by other tests), so it
can be killed and restarted at will.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from helpers import ECHO_EVENT, GatewayProcess, RestApi, create_function, wait_for

TINY_RATE = "0.001"  # tokens per second: buckets do not refill during a test
BURST = 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    """A throwaway redis-server, without persistence: a restart starts it empty, as a replaced node would."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for(self._answers)

    def _answers(self) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn,
        ):
            conn.sendall(b"PING\r\n")
            return conn.recv(16) == b"+PONG\r\n"
        return False

    def kill(self) -> None:
        assert self._proc is not None
        self._proc.kill()
        self._proc.wait(timeout=10)
        self._proc = None

    def stop(self) -> None:
        if self._proc is not None:
            self.kill()


class _Load:
    """Requests in a loop from another thread, for as long as the test runs: their statuses, and any failure
    to get one at all."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._stop = threading.Event()
        self.statuses: list[int] = []
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def _run(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                try:
                    self.statuses.append(session.get(self._url, timeout=5).status_code)
                except requests.RequestException as exc:
                    self.errors.append(repr(exc))


def _status(url: str) -> int:
    return requests.get(url, timeout=5).status_code


@pytest.mark.parametrize("mode", ["allow", "deny"])
def test_redis_killed_and_restarted_under_load(tmp_path: Path, mode: str) -> None:
    redis = PrivateRedis()
    redis.start()
    gateway = GatewayProcess(tmp_path, ["--redis", redis.url, "--on-state-error", mode])
    gateway.start()
    try:
        apigw = gateway.client("apigateway")
        api = RestApi(apigw, "shared-state")
        api.mock("/hot", "GET", '{"hot": true}')
        api.mock("/cold", "GET", '{"cold": true}')
        api.deploy("prod")
        apigw.update_stage(
            restApiId=api.id,
            stageName="prod",
            patchOperations=[
                {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": TINY_RATE},
                {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(BURST)},
            ],
        )
        hot, cold = gateway.invoke_url(api.id, "prod", "/hot"), gateway.invoke_url(api.id, "prod", "/cold")
        pid = gateway.proc.pid if gateway.proc else 0
        with _Load(hot) as load:
            wait_for(lambda: 429 in load.statuses)  # Redis counts: the load emptied /hot's bucket
            assert [_status(cold) for _ in range(BURST + 1)] == [200] * BURST + [429]

            redis.kill()
            during = [_status(cold) for _ in range(5)]
            expected = 200 if mode == "allow" else 429
            assert during == [expected] * 5  # --on-state-error decides, and nothing hangs or fails
            load_seen = len(load.statuses)
            wait_for(lambda: len(load.statuses) > load_seen + 5)

            redis.start()  # empty: every bucket starts full again
            # No gateway restart: the next requests reach the new server. Allowing, only Redis can refuse one;
            # denying, only Redis can admit one. Then its buckets throttle as before.
            wait_for(lambda: _status(cold) == (429 if mode == "allow" else 200))
            assert 429 in [_status(cold) for _ in range(BURST + 1)]
        assert not load.errors, load.errors[:3]
        assert set(load.statuses) <= {200, 429}  # never a 5xx, whatever Redis did
        assert gateway.proc is not None and gateway.proc.pid == pid
    finally:
        gateway.stop()
        redis.stop()


def _unretried(gateway: GatewayProcess, service: str) -> Any:
    """A client that sends each call once: an answer means the gateway acknowledged that very call."""
    return boto3.client(
        service,
        endpoint_url=gateway.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=10),
    )


def test_kill_9_during_a_burst_of_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path / "data")
    gateway.start()
    apigw = gateway.client("apigateway")
    api = RestApi(apigw, "burst")
    api.mock("/served", "GET", '{"served": true}')
    api.deploy("prod")
    root = api.ids["/"]

    acknowledged: list[tuple[str, str, bool]] = []  # (resource id, path part, method acknowledged too)
    lock = threading.Lock()
    stop = threading.Event()

    def writer(number: int) -> None:
        client = _unretried(gateway, "apigateway")
        for i in range(10_000):
            if stop.is_set():
                return
            part = f"w{number}-{i}"
            try:
                rid = client.create_resource(restApiId=api.id, parentId=root, pathPart=part)["id"]
            except (BotoCoreError, ClientError):
                return  # the gateway is gone
            with lock:
                acknowledged.append((rid, part, False))
            try:
                client.put_method(
                    restApiId=api.id, resourceId=rid, httpMethod="GET", authorizationType="NONE"
                )
            except (BotoCoreError, ClientError):
                return
            with lock:
                acknowledged[acknowledged.index((rid, part, False))] = (rid, part, True)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(acknowledged) >= 12, timeout=60)
    gateway.kill()  # mid-burst: writes are in flight
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    with sqlite3.connect(gateway.data_dir / "apigate.db") as db:  # recovers the WAL like the gateway would
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    gateway.start()
    try:
        apigw = gateway.client("apigateway")
        items = apigw.get_resources(restApiId=api.id, limit=500)["items"]
        by_id = {item["id"]: item for item in items}
        for rid, part, with_method in acknowledged:
            assert by_id[rid]["path"] == f"/{part}"
            if with_method:
                assert (
                    apigw.get_method(restApiId=api.id, resourceId=rid, httpMethod="GET")["httpMethod"]
                    == "GET"
                )
        # Whatever was not acknowledged is either whole or absent: every resource hangs off the root.
        assert all(item.get("parentId") == root for item in items if item["path"] != "/")
        assert requests.get(gateway.invoke_url(api.id, "prod", "/served"), timeout=5).json() == {
            "served": True
        }
        apigw.create_resource(restApiId=api.id, parentId=root, pathPart="after")  # the store takes writes
    finally:
        gateway.stop()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs for the data dir, unmounted afterwards."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        block = b"\0" * 65536
        while True:
            try:
                os.write(fd, block)
            except OSError:
                if len(block) == 1:
                    break
                block = block[: len(block) // 2]  # fill the last partial block too
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_fails_writes_clearly_and_serving_continues(small_disk: Path) -> None:
    data_dir = small_disk / "data"
    gateway = GatewayProcess(data_dir)
    gateway.start()
    try:
        # Sent once each: boto3 would retry a 500 four times, with back-off.
        apigw, lam = _unretried(gateway, "apigateway"), _unretried(gateway, "lambda")
        function = create_function(lam, ECHO_EVENT)
        api = RestApi(apigw, "full-disk")
        api.mock("/mock", "GET", '{"mock": true}')
        api.lambda_proxy("/fn", "GET", function)
        api.deploy("prod")
        mock, fn = gateway.invoke_url(api.id, "prod", "/mock"), gateway.invoke_url(api.id, "prod", "/fn")
        assert requests.get(fn, timeout=10).status_code == 200  # a warm worker, and a log file

        filler = _fill(small_disk)
        message = f"No space left on the disk holding the data dir ({data_dir}): the change was not saved"
        with pytest.raises(ClientError) as refused:
            apigw.create_model(
                restApiId=api.id,
                name="Big",
                contentType="application/json",
                schema='{"description": "%s"}' % ("d" * 2_000_000),
            )
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert refused.value.response["Error"]["Message"] == message
        with pytest.raises(ClientError) as code_refused:
            create_function(lam, ECHO_EVENT + "# " + "c" * 500_000)
        assert code_refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert code_refused.value.response["Error"]["Message"] == message

        # Deployed stages keep serving, functions included (their log lines are lost, not their answers).
        for _ in range(3):
            assert requests.get(mock, timeout=5).json() == {"mock": True}
            assert requests.get(fn, timeout=10).status_code == 200
        assert requests.get(f"{gateway.url}/_apigate/health", timeout=5).status_code == 200
        assert "Big" not in [
            m["name"] for m in apigw.get_models(restApiId=api.id)["items"]
        ]  # nothing half-saved

        filler.unlink()  # space again: writes work, without a restart
        apigw.create_model(restApiId=api.id, name="Big", contentType="application/json", schema='{"type": "object"}')
        assert "Big" in [m["name"] for m in apigw.get_models(restApiId=api.id)["items"]]
        create_function(lam, ECHO_EVENT)
    finally:
        gateway.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
