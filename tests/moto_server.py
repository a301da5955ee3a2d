"""A real AWS-compatible server for AWS service integrations: ``moto_server`` (moto[server]) in its own process
on a free loopback port, and the gateway arguments that point every service at it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import boto3
import requests

from helpers import wait_for

SERVICES = ("kinesis", "sqs", "sns", "dynamodb", "events", "states", "s3", "appconfig", "appconfigdata")
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MotoServer:
    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def up() -> bool:
            assert self.proc is not None and self.proc.poll() is None, "moto_server exited"
            try:
                return requests.get(f"{self.url}/moto-api/data.json", timeout=2).ok
            except requests.ConnectionError:
                return False

        wait_for(up, timeout=60)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def gateway_args(self) -> list[str]:
        """`apigate serve` arguments that send every service integration to this server."""
        args: list[str] = []
        for service in SERVICES:
            args += ["--aws-endpoint", f"{service}={self.url}"]
        return args


class Recorder(BaseHTTPRequestHandler):
    """Step Functions' StartSyncExecution and AppConfig's GetConfiguration, which moto lacks."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[tuple[str, str, dict[str, str], bytes]]] = []

    def _answer(self, status: int, body: bytes, content_type: str = "application/x-amz-json-1.0") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append(("POST", self.path, dict(self.headers), body))
        if self.headers.get("X-Amz-Target") != "AWSStepFunctions.StartSyncExecution":
            self._answer(400, b'{"__type": "UnknownOperationException"}')
            return
        call = json.loads(body)
        self._answer(
            200,
            json.dumps(
                {
                    "executionArn": call["stateMachineArn"].replace(":stateMachine:", ":express:")
                    + ":sync-1",
                    "status": "SUCCEEDED",
                    "input": call["input"],
                    "output": call["input"],
                    "startDate": 1.0,
                    "stopDate": 2.0,
                }
            ).encode(),
        )

    def do_GET(self) -> None:
        self.seen.append(("GET", self.path, dict(self.headers), b""))
        self._answer(200, b'{"feature": true}', "application/json")

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def recorder_server() -> Iterator[str]:
    """A Recorder on a free loopback port: its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
