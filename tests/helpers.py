"""What the tests share: the gateway as a process, function zips, and a builder for REST APIs."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import boto3
import requests

# A function that answers with the event it received.
ECHO_EVENT = """
import json
def lambda_handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}
"""


class GatewayProcess:
    """``apigate serve`` started the way the README says, on a free loopback port."""

    def __init__(self, data_dir: Path, args: list[str] | None = None) -> None:
        self.data_dir = data_dir
        self.args = list(args or [])  # extra arguments for `apigate serve` (a template, its options)
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.port = 0
        self.output: list[str] = []  # what the gateway prints, line by line

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "apigate.cli",
                "serve",
                "--port",
                "0",
                "--data-dir",
                str(self.data_dir),
                "--log-level",
                "WARNING",
                *self.args,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert "ready on " in line, f"gateway did not start: {line!r}"
        self.url = line.split("ready on ", 1)[1].split()[0]
        self.port = int(self.url.rsplit(":", 1)[1])
        # Keep draining stdout so the gateway never blocks on a full pipe; keep the lines for tests.
        threading.Thread(target=self._collect, args=(self.proc.stdout,), daemon=True).start()
        requests.get(f"{self.url}/_apigate/health", timeout=5).raise_for_status()

    def _collect(self, stream: Any) -> None:
        for line in stream:
            self.output.append(line.rstrip("\n"))

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=20)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None
        return code

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def invoke_url(self, api_id: str, stage: str, path: str = "/") -> str:
        return f"{self.url}/_aws/execute-api/{api_id}/{stage}{path}"


def zip_code(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in files.items():
            archive.writestr(name, source)
    return buffer.getvalue()


_counter = iter(range(10**6))


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{next(_counter)}"


def create_function(lam: Any, source: str, *, name: str | None = None, **extra: Any) -> str:
    name = name or unique("fn")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": zip_code({"lambda_function.py": source})},
        **extra,
    )
    return name


def lambda_uri(function_name: str) -> str:
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
    return f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


class RestApi:
    """A small builder over boto3 so each test reads as the API it builds."""

    def __init__(self, apigw: Any, name: str, **kwargs: Any) -> None:
        self.apigw = apigw
        self.id = apigw.create_rest_api(name=name, **kwargs)["id"]
        self.ids = {"/": next(r["id"] for r in apigw.get_resources(restApiId=self.id)["items"])}

    def resource(self, path: str) -> str:
        if path in self.ids:
            return self.ids[path]
        parent, _, part = path.rpartition("/")
        parent_id = self.resource(parent or "/")
        self.ids[path] = self.apigw.create_resource(restApiId=self.id, parentId=parent_id, pathPart=part)[
            "id"
        ]
        return self.ids[path]

    def lambda_proxy(self, path: str, verb: str, function: str, **integration: Any) -> None:
        rid = self.resource(path)
        self.apigw.put_method(restApiId=self.id, resourceId=rid, httpMethod=verb, authorizationType="NONE")
        self.apigw.put_integration(
            restApiId=self.id,
            resourceId=rid,
            httpMethod=verb,
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=lambda_uri(function),
            **integration,
        )

    def mock(self, path: str, verb: str, body: str, status: str = "200") -> None:
        rid = self.resource(path)
        self.apigw.put_method(restApiId=self.id, resourceId=rid, httpMethod=verb, authorizationType="NONE")
        self.apigw.put_integration(
            restApiId=self.id,
            resourceId=rid,
            httpMethod=verb,
            type="MOCK",
            requestTemplates={"application/json": f'{{"statusCode": {status}}}'},
        )
        self.apigw.put_method_response(restApiId=self.id, resourceId=rid, httpMethod=verb, statusCode=status)
        self.apigw.put_integration_response(
            restApiId=self.id,
            resourceId=rid,
            httpMethod=verb,
            statusCode=status,
            selectionPattern="",
            responseTemplates={"application/json": body},
        )

    def deploy(self, stage: str = "test", **kwargs: Any) -> None:
        self.apigw.create_deployment(restApiId=self.id, stageName=stage, **kwargs)


REDIS_URL = "redis://127.0.0.1:6379/0"


def require_redis() -> None:
    """The Redis backend is tested against the machine's real Redis (.ci/run starts it): fail loudly if absent."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError as exc:
        raise AssertionError(f"Redis is not answering on {REDIS_URL}: start it (see .ci/run)") from exc


class RedisScratch:
    """Redis clients for state backend tests: keys live under a prefix of their own, deleted afterwards."""

    def __init__(self) -> None:
        self.prefix = f"apigate-test:{uuid.uuid4().hex}:"

    @asynccontextmanager
    async def client(self) -> AsyncIterator[Any]:
        from apigate.state.redis import connect

        client = connect(REDIS_URL)
        try:
            yield client
        finally:
            keys = [key async for key in client.scan_iter(match=self.prefix + "*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()


def backend_gateway(kind: str, memory_gateway: GatewayProcess, data_dir: Path) -> Iterator[GatewayProcess]:
    """The session's gateway for the memory backend; a gateway of its own with ``--redis`` for Redis."""
    if kind == "memory":
        yield memory_gateway
        return
    require_redis()
    process = GatewayProcess(data_dir, ["--redis", REDIS_URL])
    process.start()
    yield process
    process.stop()
