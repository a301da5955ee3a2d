"""Bad input at the front door: the client gets a clear error, the gateway keeps serving."""

from __future__ import annotations

import socket

import requests

from helpers import GatewayProcess


def _exchange(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return received


def test_body_over_10_mb_is_413(gateway: GatewayProcess) -> None:
    answer = requests.post(
        f"{gateway.url}/_aws/execute-api/none/test/x", data=b"x" * (10 * 1024 * 1024 + 1), timeout=30
    )
    assert answer.status_code == 413
    assert answer.json() == {"message": "Request Too Long"}
    assert requests.get(f"{gateway.url}/_apigate/health", timeout=5).status_code == 200


def test_headers_over_the_limit_are_refused(gateway: GatewayProcess) -> None:
    big = "v" * 11_000
    answer = requests.get(f"{gateway.url}/_apigate/health", headers={"X-Big": big}, timeout=10)
    assert answer.status_code == 431
    assert "message" in answer.json()
    assert requests.get(f"{gateway.url}/_apigate/health", timeout=5).status_code == 200


def test_malformed_request_line_is_400_and_others_are_unaffected(gateway: GatewayProcess) -> None:
    answer = _exchange(gateway.port, b"THIS IS NOT HTTP\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    assert requests.get(f"{gateway.url}/_apigate/health", timeout=5).status_code == 200


def test_keep_alive_and_pipelining_on_the_management_port(gateway: GatewayProcess) -> None:
    one = b"GET /_apigate/health HTTP/1.1\r\nHost: x\r\n\r\n"
    answer = _exchange(
        gateway.port, one + one + b"GET /_apigate/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert answer.count(b"HTTP/1.1 200") == 3
