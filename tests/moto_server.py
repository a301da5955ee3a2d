"""A real AWS-compatible server for AWS service integrations: ``moto_server`` (moto[server]) in its own process
on a free loopback port, and the gateway arguments that point every service at it."""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

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
