"""Fixtures shared by the whole suite: a real gateway process, boto3 clients, a real upstream."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from moto_server import MotoServer, free_port

from helpers import GatewayProcess, function_writable_dir


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: `-p no:xdist` runs without it
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: a process per core, and at least 4. The tests mostly wait on gateway processes, sockets and
    timers, so a 2-core machine still gains from 4."""
    return max(4, len(os.sched_getaffinity(0)))


def _shared_fixture_scope(item: pytest.Item) -> str | None:
    """The group ``item`` goes with: one a module names (``xdist_group``, for tests that must not overlap), else
    the module (its node id) if its tests share a module- or class-scoped fixture, else none."""
    named = item.get_closest_marker("xdist_group")
    if named is not None:
        return str(named.args[0] if named.args else named.kwargs["name"])
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.values() if info is not None else ()
    if any(d.scope in ("module", "class", "package") for defs in definitions for d in defs):
        return item.nodeid.split("::", 1)[0]
    return None


@pytest.hookimpl(trylast=True)  # after tests/property/conftest.py has marked its items
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The order pytest-xdist deals tests out in (``--no-loadscope-reorder``: this one), and what goes together.

    The long runs (marked ``slow``) first, each on its own: spread over the workers, they overlap everything else
    rather than start last and be waited for alone. Then the tests of a module that share a module- or
    class-scoped fixture, as one unit (``xdist_group``): one worker builds that fixture once, instead of every
    worker rebuilding it each time its tests alternate with other modules'; largest units first. Then the rest,
    one test at a time, in collection order. In one process (``-n 0``) the same order runs."""
    groups = {item: _shared_fixture_scope(item) for item in items}
    slow = {item: item.get_closest_marker("slow") is not None for item in items}
    sizes: dict[str, int] = {}
    for item in items:
        group = groups[item]
        if group is not None and not slow[item]:
            sizes[group] = sizes.get(group, 0) + 1
    grouping = config.pluginmanager.hasplugin("xdist")  # the marker is xdist's
    for item in items:
        group = groups[item]
        if grouping and group is not None and not slow[item] and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))

    def place(item: pytest.Item) -> tuple[int, int]:
        if slow[item]:
            return (0, 0)
        group = groups[item]
        return (1, -sizes[group]) if group is not None else (2, 0)

    items.sort(key=place)  # stable: collection order within each place


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("gateway-data"))
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def faults_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """A gateway for the fault tests: a short function init budget and short client timeouts, so that a
    module hanging on import or a slow client is cut off in seconds. (The init budget still leaves a
    healthy cold start on a busy host ample time.)"""
    process = GatewayProcess(
        tmp_path_factory.mktemp("faults-data"),
        ["--function-init-timeout", "3", "--header-timeout", "1", "--body-timeout", "1"],
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """A real AWS-compatible server (moto_server) for AWS service integrations, on a free loopback port."""
    server = MotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def aws_gateway(tmp_path_factory: pytest.TempPathFactory, moto: MotoServer) -> Iterator[GatewayProcess]:
    """A gateway whose AWS service integrations reach the moto server (and firehose a port nobody serves)."""
    dead = f"http://127.0.0.1:{free_port()}"
    process = GatewayProcess(
        tmp_path_factory.mktemp("aws-data"), [*moto.gateway_args(), "--aws-endpoint", f"firehose={dead}"]
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def function_dir() -> Iterator[Path]:
    """A temporary folder functions may write to (pytest's own are closed to the unprivileged function user)."""
    with function_writable_dir("test") as folder:
        yield folder


@pytest.fixture(scope="session")
def apigw(gateway: GatewayProcess) -> Any:
    return gateway.client("apigateway")


@pytest.fixture(scope="session")
def lam(gateway: GatewayProcess) -> Any:
    return gateway.client("lambda")


class _EchoHandler(BaseHTTPRequestHandler):
    """An upstream that answers with what it received, as JSON."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status = int(self.path.split("/status/")[1].split("?")[0]) if "/status/" in self.path else 200
        payload = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": body.decode("utf-8", errors="replace"),
            }
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Upstream", "echo")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def page_server() -> Iterator[tuple[str, dict[str, str]]]:
    """A web server of another origin, for browser tests: ``pages[path] = html`` publishes a page."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = pages.get(self.path, "").encode()
            self.send_response(200 if data else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", pages
    server.shutdown()
    server.server_close()
