"""What the tests share: the gateway as a process, function zips, a builder for REST APIs, a token issuer."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from shapes import check_answers

# A function that answers with the event it received.
ECHO_EVENT = """
import json
def lambda_handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}
"""


class GatewayProcess:
    """``apigate serve`` started the way the README says, on a free loopback port."""

    def __init__(
        self,
        data_dir: Path,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        *,
        capture_stderr: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.args = list(args or [])  # extra arguments for `apigate serve` (a template, its options)
        self.env = env  # the gateway's environment, when not this process's
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.port = 0
        self.output: list[str] = []  # what the gateway prints, line by line
        self.capture_stderr = capture_stderr
        self.errors: list[str] = []  # its stderr, line by line, when captured
        self._errors_thread: threading.Thread | None = None

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
            stderr=subprocess.PIPE if self.capture_stderr else None,
            text=True,
            env=self.env,
        )
        self._errors_thread = None
        if self.proc.stderr is not None:
            self._errors_thread = threading.Thread(
                target=self._collect_errors, args=(self.proc.stderr,), daemon=True
            )
            self._errors_thread.start()
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

    def _collect_errors(self, stream: Any) -> None:
        with stream:  # closed here, at the gateway's end: its last lines are read first
            for line in stream:
                self.errors.append(line.rstrip("\n"))

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=20)
        if self.proc.stdout:
            self.proc.stdout.close()
        if self._errors_thread is not None:
            self._errors_thread.join(timeout=20)
        self.proc = None
        return code

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: no draining, no shutdown code runs."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=20)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def client(self, service: str, region: str = "us-east-1") -> Any:
        """A boto3 client for this gateway; every successful answer is checked against botocore's model."""
        return check_answers(
            boto3.client(
                service,
                endpoint_url=self.url,
                region_name=region,
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )
        )

    def invoke_url(self, api_id: str, stage: str, path: str = "/") -> str:
        return f"{self.url}/_aws/execute-api/{api_id}/{stage}{path}"


def zip_code(files: dict[str, str], executable: set[str] | frozenset[str] = frozenset()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in files.items():
            if name in executable:  # made on Unix, mode 755: a bootstrap
                info = zipfile.ZipInfo(name)
                info.create_system = 3
                info.external_attr = 0o100755 << 16
                archive.writestr(info, source)
            else:
                archive.writestr(name, source)
    return buffer.getvalue()


_counter = iter(range(10**6))


@contextmanager
def function_writable_dir(prefix: str) -> Iterator[Path]:
    """A folder functions may write to: a gateway running as root runs them as an unprivileged user, who cannot
    enter pytest's private temporary directories."""
    folder = Path(tempfile.mkdtemp(prefix=f"apigate-{prefix}-"))
    folder.chmod(0o777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{next(_counter)}"


def create_function(lam: Any, source: str, *, name: str | None = None, **extra: Any) -> str:
    name = name or unique("fn")
    extra.setdefault("Runtime", "python3.11")
    lam.create_function(
        FunctionName=name,
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": zip_code({"lambda_function.py": source})},
        **extra,
    )
    return name


def lambda_uri(function_name: str) -> str:
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
    return f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"


def rss_mb(pid: int) -> float:
    """A process's resident memory now, in MiB (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


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

    def http_proxy(self, path: str, verb: str, uri: str, **integration: Any) -> None:
        rid = self.resource(path)
        self.apigw.put_method(restApiId=self.id, resourceId=rid, httpMethod=verb, authorizationType="NONE")
        self.apigw.put_integration(
            restApiId=self.id,
            resourceId=rid,
            httpMethod=verb,
            type="HTTP_PROXY",
            integrationHttpMethod=verb,
            uri=uri,
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

    def validated_mock(self, path: str, model: str, schema: dict[str, Any] | str) -> str:
        """``POST path``: a body validated against ``model`` (created here from ``schema``), then a MOCK 200."""
        document = schema if isinstance(schema, str) else json.dumps(schema)
        self.apigw.create_model(
            restApiId=self.id, name=model, contentType="application/json", schema=document
        )
        validator = self.apigw.create_request_validator(
            restApiId=self.id, name=f"{model}-body", validateRequestBody=True
        )["id"]
        rid = self.resource(path)
        self.apigw.put_method(
            restApiId=self.id,
            resourceId=rid,
            httpMethod="POST",
            authorizationType="NONE",
            requestValidatorId=validator,
            requestModels={"application/json": model},
        )
        self.apigw.put_integration(
            restApiId=self.id,
            resourceId=rid,
            httpMethod="POST",
            type="MOCK",
            requestTemplates={"application/json": '{"statusCode": 200}'},
        )
        self.apigw.put_method_response(restApiId=self.id, resourceId=rid, httpMethod="POST", statusCode="200")
        self.apigw.put_integration_response(
            restApiId=self.id, resourceId=rid, httpMethod="POST", statusCode="200", selectionPattern=""
        )
        return rid

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

        # Not the backends' default 1 s wait for a pooled connection: the tests of 200 concurrent calls queue on
        # its 32 connections, and on a busy machine (the suite's own parallel workers) a wait past 1 s fails open,
        # which those tests would count as admitted. Outages are tested with a client of their own.
        client = connect(REDIS_URL, timeout=30.0)
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


def signed_request(
    method: str,
    url: str,
    credentials: tuple[str, str] | tuple[str, str, str | None],
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    service: str = "execute-api",
    in_query: bool = False,
    **kwargs: Any,
) -> requests.Response:
    """A ``requests`` call signed with SigV4 by botocore's own signer (the Authorization header, or the
    presigned query-string form), as a client of an AWS_IAM method sends it."""
    from botocore.auth import SigV4Auth, SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key, secret, *rest = credentials
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    signer_credentials = Credentials(key, secret, rest[0] if rest else None)
    if in_query:
        SigV4QueryAuth(signer_credentials, service, "us-east-1", expires=300).add_auth(request)
    else:
        SigV4Auth(signer_credentials, service, "us-east-1").add_auth(request)
    prepared = request.prepare()
    return requests.request(
        method, prepared.url, headers=dict(prepared.headers), data=body, timeout=10, **kwargs
    )


class TokenIssuer:
    """A token issuer on loopback, as an OpenID provider or a Cognito user pool publishes one: RSA signing
    keys by kid (add one to rotate), their JWKS at ``{url}/.well-known/jwks.json``, the discovery document at
    ``{url}/.well-known/openid-configuration``, and a count of JWKS fetches (``path``: the URL's path)."""

    def __init__(self, path: str = "") -> None:
        self.keys: dict[str, Any] = {}
        self.jwks_fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body: dict[str, Any]
                if self.path == f"{path}/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/.well-known/jwks.json"}
                elif self.path == f"{path}/.well-known/jwks.json":
                    issuer.jwks_fetches += 1
                    body = {"keys": [issuer.public_jwk(kid) for kid in list(issuer.keys)]}
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.add_key("k1")

    def add_key(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def public_jwk(self, kid: str) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
        return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}

    def sign(self, claims: dict[str, Any], kid: str = "k1", key: Any = None) -> str:
        """The claims (those not None) as an RS256 token under ``kid``, signed by its key or by ``key``."""
        body = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(body, key or self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def log_events(gateway: GatewayProcess, group: str, **filters: Any) -> list[dict[str, Any]]:
    """A log group's events through the gateway's CloudWatch Logs API (none while the group does not exist)."""
    logs = gateway.client("logs")
    try:
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, **filters)
        return [event for page in pages for event in page["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []


def log_lines(gateway: GatewayProcess, group: str, **filters: Any) -> list[str]:
    return [event["message"] for event in log_events(gateway, group, **filters)]
