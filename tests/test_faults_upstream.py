"""Upstreams that misbehave behind HTTP_PROXY: the client gets AWS's 5xx, and the gateway's connection pool keeps
no socket it should not.

The upstream is a scripted loopback server (raw sockets, a thread per connection) whose answer is chosen by the
last path segment. It counts the connections the gateway holds open to it: after a fault the gateway must have
closed the one that carried it, and a normal request must still find (or make) a working one.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from helpers import GatewayProcess, RestApi, wait_for

_OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class ScriptedUpstream:
    """An HTTP/1.1 server that answers each request as its path says: ok, reset, reset-early, stall, garbage,
    slow."""

    def __init__(self, port: int = 0) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def open(self) -> int:
        """Connections the gateway holds open to us right now."""
        with self._lock:
            return len(self._open)

    def stop(self) -> None:
        # shutdown first: a plain close leaves the thread blocked in accept() still accepting
        self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for conn in self._open:
                conn.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # stopped
            with self._lock:
                self._open.add(conn)
                self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            buffered = b""
            while True:
                while b"\r\n\r\n" not in buffered:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return  # the gateway closed the connection
                    buffered += chunk
                head, _, buffered = buffered.partition(b"\r\n\r\n")
                behaviour = head.split(b" ", 2)[1].split(b"?")[0].rsplit(b"/", 1)[-1].decode()
                if not self._answer(conn, behaviour):
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._open.discard(conn)
            conn.close()

    def _answer(self, conn: socket.socket, behaviour: str) -> bool:
        """Answer one request; False when the connection is done with."""
        if behaviour == "ok":
            conn.sendall(_OK)
            return True
        if behaviour in ("reset", "reset-early"):
            if behaviour == "reset":  # half a response, then a reset
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 300)
                time.sleep(0.1)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if behaviour == "garbage":
            conn.sendall(b"SURPRISE! this is not HTTP\r\n\r\n")
        elif behaviour == "slow":  # a valid response, one byte every 100 ms: 10 s in all
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            for _ in range(100):
                conn.sendall(b"x")
                time.sleep(0.1)
            return True
        # stall (and after garbage): say nothing more, until the gateway gives up and closes
        while conn.recv(65536):
            pass
        return False


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    server = ScriptedUpstream()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy(gateway: GatewayProcess, apigw: Any, upstream: ScriptedUpstream) -> str:
    api = RestApi(apigw, "faulty-upstream")
    api.http_proxy("/{what}", "GET", f"http://127.0.0.1:{upstream.port}/{{what}}", timeoutInMillis=1000)
    api.deploy()
    return gateway.invoke_url(api.id, "test")


def _fault_while_serving(proxy: str, what: str) -> requests.Response:
    """Call ``what`` while another client keeps being answered through the same upstream."""
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(requests.get, f"{proxy}{what}", timeout=15)
        while True:
            answer = requests.get(f"{proxy}ok", timeout=5)
            assert (answer.status_code, answer.text) == (200, "ok")
            if pending.done():
                return pending.result()


@pytest.mark.parametrize(
    ("what", "status", "message"),
    [
        ("reset", 500, "Internal server error"),  # reset mid-response
        ("reset-early", 500, "Internal server error"),  # reset before a byte of the response
        ("garbage", 500, "Internal server error"),
        ("stall", 504, "Endpoint request timed out"),  # past the integration's 1 s
        ("slow", 504, "Endpoint request timed out"),  # answering, but too slowly to finish in 1 s
    ],
)
def test_faulty_upstream_gives_aws_5xx_and_leaks_no_connection(
    proxy: str, upstream: ScriptedUpstream, what: str, status: int, message: str
) -> None:
    assert requests.get(f"{proxy}ok", timeout=5).status_code == 200
    answer = _fault_while_serving(proxy, what)
    assert answer.status_code == status
    assert answer.json() == {"message": message}
    # Every connection that carried a fault is closed by the gateway; what is left are idle keep-alive
    # connections the healthy calls used, and they still work.
    wait_for(lambda: upstream.open <= 1)
    accepted = upstream.accepted
    for _ in range(5):
        assert requests.get(f"{proxy}ok", timeout=5).text == "ok"
    assert upstream.accepted - accepted <= 1  # sequential calls reuse one kept-alive connection
    assert upstream.open == 1


def test_upstream_restart_is_500_while_down_then_served_again(gateway: GatewayProcess, apigw: Any) -> None:
    server = ScriptedUpstream()
    api = RestApi(apigw, "restarting-upstream")
    api.http_proxy("/x", "GET", f"http://127.0.0.1:{server.port}/ok")
    api.deploy()
    url = gateway.invoke_url(api.id, "test", "/x")
    assert requests.get(url, timeout=5).text == "ok"
    assert server.open == 1  # kept alive in the gateway's pool
    server.stop()  # closes the kept-alive connection too, and refuses new ones
    down = requests.get(url, timeout=5)
    assert down.status_code == 500
    assert down.json() == {"message": "Internal server error"}
    restarted = ScriptedUpstream(server.port)
    try:
        assert requests.get(url, timeout=5).text == "ok"
        assert restarted.open == 1
    finally:
        restarted.stop()
