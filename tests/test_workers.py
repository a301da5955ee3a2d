"""`apigate serve --workers N`: several processes on one port, graceful restart, draining, shared throttles."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from helpers import REDIS_URL, GatewayProcess, RestApi, require_redis, unique, wait_for

WORKERS = 2


def fresh_get(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """One GET on a new connection: the kernel picks the worker per connection, so each call may land anywhere."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def health_by_pid(gateway: GatewayProcess, tries: int = 40) -> dict[int, str]:
    """pid -> configuration digest, from `tries` health checks on fresh connections."""
    seen: dict[int, str] = {}
    for _ in range(tries):
        status, body = fresh_get(gateway.port, "/_apigate/health")
        assert status == 200
        health = orjson.loads(body)
        seen[health["pid"]] = health["config"]
    return seen


def in_step(gateway: GatewayProcess) -> bool:
    """Every worker answers, and all serve the same configuration (the store's sync poll is 0.5 s)."""
    seen = health_by_pid(gateway)
    return len(seen) == WORKERS and len(set(seen.values())) == 1


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie nobody reaped yet (an orphan's reaper is whatever init is here)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    require_redis()
    process = GatewayProcess(
        tmp_path_factory.mktemp("workers"), ["--workers", str(WORKERS), "--redis", REDIS_URL]
    )
    process.start()
    yield process
    assert process.stop() == 0


class _SlowHandler(BaseHTTPRequestHandler):
    """An upstream that takes a while: a request in flight while the gateway is told to stop or restart."""

    protocol_version = "HTTP/1.1"
    delay = 1.5

    def do_GET(self) -> None:
        time.sleep(self.delay)
        body = b'{"slow":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def slow_upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def slow_api(gateway: GatewayProcess, upstream: str) -> str:
    """A deployed stage `prod` with GET /slow proxied to the slow upstream and GET /fast a mock; its path."""
    apigw = gateway.client("apigateway")
    api = RestApi(apigw, unique("workers"))
    rid = api.resource("/slow")
    apigw.put_method(restApiId=api.id, resourceId=rid, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        type="HTTP_PROXY",
        integrationHttpMethod="GET",
        uri=upstream,
    )
    api.mock("/fast", "GET", '{"fast": true}')
    api.deploy("prod")
    wait_for(lambda: in_step(gateway), timeout=10)
    return f"/_aws/execute-api/{api.id}/prod"


def test_connections_are_spread_over_the_workers(workers: GatewayProcess) -> None:
    pids = health_by_pid(workers)
    assert len(pids) == WORKERS  # 40 connections all on one of two sockets: odds of 2^-39
    assert workers.proc is not None and workers.proc.pid not in pids  # the supervisor serves nothing itself


def test_a_throttle_holds_across_workers_with_redis(workers: GatewayProcess) -> None:
    apigw = workers.client("apigateway")
    api = RestApi(apigw, unique("shared-bucket"))
    api.mock("/t", "GET", '{"ok": true}')
    api.deploy("prod")
    apigw.update_stage(
        restApiId=api.id,
        stageName="prod",
        patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "0.001"},  # no refill meanwhile
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "4"},
        ],
    )
    wait_for(lambda: in_step(workers), timeout=10)
    # Fresh connections land on both workers (see above); one bucket in Redis lets 4 through in all, where
    # buckets per process would let 4 through each.
    statuses = [fresh_get(workers.port, f"/_aws/execute-api/{api.id}/prod/t")[0] for _ in range(20)]
    assert statuses.count(200) == 4, statuses
    assert statuses.count(429) == 16, statuses


def test_graceful_restart_replaces_every_worker_without_failing_a_request(
    workers: GatewayProcess, slow_upstream: str
) -> None:
    assert workers.proc is not None
    base = slow_api(workers, slow_upstream)
    before = set(health_by_pid(workers))
    failures: list[str] = []
    answered = 0
    stop = threading.Event()

    def hammer() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                status, body = fresh_get(workers.port, base + "/fast")
            except OSError as exc:
                failures.append(repr(exc))
                continue
            if status != 200 or orjson.loads(body) != {"fast": True}:
                failures.append(f"{status} {body!r}")
            answered += 1

    # Requests in flight on the old workers when they are told to go: each must still get its answer.
    slow_results: list[int] = []

    def slow_call() -> None:
        slow_results.append(fresh_get(workers.port, base + "/slow", 20)[0])

    hammers = [threading.Thread(target=hammer) for _ in range(3)]
    slow = [threading.Thread(target=slow_call) for _ in range(4)]
    for thread in hammers + slow:
        thread.start()
    time.sleep(0.3)
    workers.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: not before & set(health_by_pid(workers, tries=20)), timeout=30)
    time.sleep(0.5)
    stop.set()
    for thread in hammers + slow:
        thread.join(timeout=30)
    assert failures == []
    assert answered > 0
    assert slow_results == [200] * 4
    after = health_by_pid(workers)
    assert len(after) == WORKERS and not before & set(after)
    # The old workers drained and exited: no process of theirs is left.
    for pid in before:
        wait_for(lambda pid=pid: not alive(pid), timeout=15)


def test_sigterm_drains_the_requests_in_flight_on_every_worker(tmp_path: Path, slow_upstream: str) -> None:
    gateway = GatewayProcess(tmp_path, ["--workers", str(WORKERS)])
    gateway.start()
    try:
        base = slow_api(gateway, slow_upstream)
        pids = set(health_by_pid(gateway))
        results: list[int] = []
        calls = [
            threading.Thread(target=lambda: results.append(fresh_get(gateway.port, base + "/slow", 20)[0]))
            for _ in range(6)
        ]
        for call in calls:
            call.start()
        time.sleep(0.5)  # every call is in flight, spread over the workers
    finally:
        code = gateway.stop()
    for call in calls:
        call.join(timeout=20)
    assert code == 0
    assert results == [200] * 6
    assert not any(alive(pid) for pid in pids)
    with pytest.raises(OSError):
        fresh_get(gateway.port, "/_apigate/health", timeout=2)


def test_workers_do_not_outlive_a_killed_supervisor(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path, ["--workers", str(WORKERS)])
    gateway.start()
    assert gateway.proc is not None
    pids = set(health_by_pid(gateway))
    assert len(pids) == WORKERS
    gateway.proc.kill()  # SIGKILL: no chance to stop its workers itself
    gateway.proc.wait(timeout=10)
    if gateway.proc.stdout is not None:
        gateway.proc.stdout.close()
    wait_for(lambda: not any(alive(pid) for pid in pids), timeout=20)
