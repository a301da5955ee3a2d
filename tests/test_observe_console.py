"""Seeing what happens (#19): request lines and function errors on a real `apigate serve TEMPLATE`'s stderr,
start-up errors as one line with cause and fix, --help with defaults, request ids on responses."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers import GatewayProcess, RestApi, function_writable_dir, unique, wait_for

TEMPLATE = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Events:
        Ok: {Type: Api, Properties: {Path: /hello, Method: get}}
        Boom: {Type: Api, Properties: {Path: /boom, Method: get}}
        Http: {Type: HttpApi, Properties: {Path: /h, Method: get}}
"""

SOURCE = """
def helper(path):
    if path.endswith("boom"):
        raise ValueError("it went boom")
    return path


def handler(event, context):
    print("handling", event.get("path") or event.get("rawPath"))
    return {"statusCode": 200, "body": helper(event.get("path") or event.get("rawPath"))}
"""


@pytest.fixture
def app() -> Iterator[Path]:
    with function_writable_dir("console-app") as folder:
        (folder / "src").mkdir()
        (folder / "src" / "app.py").write_text(SOURCE)
        (folder / "template.yaml").write_text(TEMPLATE)
        for path in (folder / "src", folder / "src" / "app.py", folder / "template.yaml"):
            path.chmod(0o755)
        yield folder / "template.yaml"


def _serve(tmp_path: Path, *args: str) -> GatewayProcess:
    gateway = GatewayProcess(tmp_path / "data", [*args, "--no-watch"], capture_stderr=True)
    gateway.start()
    return gateway


def _stage_url(gateway: GatewayProcess) -> str:
    wait_for(lambda: any("stage Prod: " in line for line in gateway.output))
    line = next(line for line in gateway.output if "stage Prod: " in line)
    return line.split("stage Prod: ", 1)[1].split()[0]


def _http_api_url(gateway: GatewayProcess) -> str:
    pattern = re.compile(r"(http://\S+/_aws/execute-api/\w+/h)\s")
    wait_for(lambda: any(pattern.search(line) for line in gateway.output))
    return next(m.group(1) for line in gateway.output if (m := pattern.search(line)))


def test_request_lines_errors_and_output_on_stderr(tmp_path: Path, app: Path) -> None:
    gateway = _serve(tmp_path, str(app))
    try:
        base = _stage_url(gateway)
        ok = requests.get(base + "hello", timeout=30)
        assert ok.status_code == 200
        boom = requests.get(base + "boom", timeout=30)
        assert boom.status_code == 502
        http = requests.get(_http_api_url(gateway), timeout=30)
        assert http.status_code == 200
        ok_id, boom_id = ok.headers["x-amzn-RequestId"], boom.headers["x-amzn-RequestId"]
        http_id = http.headers["apigw-requestid"]

        def seen(*parts: str) -> bool:
            return any(all(p in line for p in parts) for line in gateway.errors)

        wait_for(lambda: seen(http_id))
        assert seen(" GET /hello 200 ", "AWS_PROXY Hello", ok_id)
        assert seen(" GET /boom 502 ", "AWS_PROXY Hello", boom_id)
        assert seen("/$default GET /h 200 ", http_id)
        # The failed function: its error, message and last frames, under its request id.
        assert seen("Hello: ValueError: it went boom", boom_id)
        assert seen('raise ValueError("it went boom")')
        assert seen("in helper")
        # What the function printed, prefixed with its name; the runtime's own lines are left out.
        assert seen("[Hello] handling /hello")
        assert not seen("REPORT RequestId")
        assert not any(line.startswith("[Hello] [ERROR]") for line in gateway.errors)
        # Piped stderr: no colour codes.
        assert not any("\033[" in line for line in gateway.errors)
        # A time on each request line.
        line = next(line for line in gateway.errors if ok_id in line)
        assert re.match(r"\d\d:\d\d:\d\d\.\d{3} ", line)
    finally:
        gateway.stop()


def test_quiet_stops_request_lines(tmp_path: Path, app: Path) -> None:
    gateway = _serve(tmp_path, str(app), "--quiet")
    try:
        response = requests.get(_stage_url(gateway) + "hello", timeout=30)
        assert response.status_code == 200
    finally:
        gateway.stop()
    assert not any(response.headers["x-amzn-RequestId"] in line for line in gateway.errors)
    assert not any("[Hello]" in line for line in gateway.errors)


def _apigate(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "apigate.cli", *args], capture_output=True, text=True, timeout=60, **kwargs
    )


def test_port_in_use_names_its_owner(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = _apigate("serve", "--port", str(port), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"apigate: error: port {port} is in use (pid {os.getpid()}: {_comm()}) — pick another with --port, "
        "or stop that process"
    ]


def _comm() -> str:
    return Path("/proc/self/comm").read_text().strip()


def test_data_dir_problems_are_one_line(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    result = _apigate("serve", "--port", "0", "--data-dir", str(a_file))
    assert result.returncode == 2
    assert result.stderr == (
        f"apigate: error: the data dir {a_file} is a file, not a folder — pass --data-dir with a folder's path\n"
    )
    below = _apigate("serve", "--port", "0", "--data-dir", str(a_file / "sub"))
    assert below.returncode == 2
    assert below.stderr.startswith(
        f"apigate: error: cannot make the data dir {a_file / 'sub'}: {a_file} is a file"
    )
    assert "Traceback" not in below.stderr
    # The traceback is there under --log-level debug.
    debug = _apigate("serve", "--port", "0", "--data-dir", str(a_file), "--log-level", "debug")
    assert debug.returncode != 0
    assert "Traceback (most recent call last)" in debug.stderr


def test_log_level_is_checked() -> None:
    result = _apigate("serve", "--log-level", "loud")
    assert result.returncode == 2
    assert "'loud' is not a log level (pick one of debug, info, warning, error, critical)" in result.stderr


@pytest.mark.parametrize("command", ["serve", "apis", "invoke", "import", "export", "sdk", "docs", "logs"])
def test_help_shows_each_option_and_its_default(command: str) -> None:
    result = _apigate(command, "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    lines = result.stdout.split("options:", 1)[1].splitlines()
    for i, line in enumerate(lines):  # every option says what it does: on its line, or on the next, indented
        if re.match(r"  -", line) and not re.match(r"  \S.*\s{2,}\S", line):
            assert i + 1 < len(lines) and re.match(r" {10,}\S", lines[i + 1]), line
    if command == "serve":
        assert "(default: 4566)" in text
        assert "(default: 127.0.0.1)" in text
        assert "(default: INFO)" in text
    if command != "logs" and command != "serve":
        assert "(default: http://127.0.0.1:4566)" in text


def test_closed_pipe_ends_quietly(gateway: GatewayProcess) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written, as `| head -0`
    try:
        result = subprocess.run(
            [sys.executable, "-m", "apigate.cli", "apis", "--endpoint", gateway.url],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write)
    assert result.stderr == ""
    assert result.returncode == 0


def test_request_ids_on_responses(gateway: GatewayProcess, apigw: Any) -> None:
    api = RestApi(apigw, unique("ids"))
    api.mock("/ping", "GET", '{"ok": true}')
    api.deploy("test")
    url = gateway.invoke_url(api.id, "test", "/ping")
    first = requests.get(url, timeout=10)
    assert first.status_code == 200
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        first.headers["x-amzn-RequestId"],
    )
    assert re.fullmatch(r"[A-Za-z0-9+/]{15}=", first.headers["x-amz-apigw-id"])
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", first.headers["X-Amzn-Trace-Id"])
    second = requests.get(url, timeout=10)
    assert second.headers["X-Amzn-Trace-Id"] != first.headers["X-Amzn-Trace-Id"]
    # A caller's trace is continued.
    root = "Root=1-5759e988-bd862e3fe1be46a994272793"
    continued = requests.get(url, headers={"X-Amzn-Trace-Id": f"{root};Sampled=1"}, timeout=10)
    assert continued.headers["X-Amzn-Trace-Id"] == root


def test_websocket_lines(tmp_path: Path) -> None:
    import websockets

    from websocket_helpers import ECHO, SocketApi, run

    gateway = GatewayProcess(tmp_path / "data", ["--access-log"], capture_stderr=True)
    gateway.start()
    try:
        api = SocketApi(gateway)
        echo = api.integration(api.function(ECHO))
        api.route("$connect", echo)
        api.route("send", echo, two_way=True)
        api.route("$default", None)  # no integration: an error frame
        api.deploy("live")

        async def session() -> None:
            async with websockets.connect(api.url("live")) as socket:
                await socket.send('{"action": "send"}')
                await socket.recv()
                await socket.send('{"action": "other"}')
                await socket.recv()

        run(session())

        def seen(*parts: str) -> bool:
            return any(all(p in line for p in parts) for line in gateway.errors)

        wait_for(lambda: seen(" WS $disconnect "))
        assert seen("sockets/live WS $connect ", " 200 ", "AWS_PROXY fn-")
        assert seen("sockets/live WS send ", " 200 ", "AWS_PROXY fn-")
        assert seen("sockets/live WS $default ", " 500 ")
        assert seen("sockets/live WS $disconnect ", " closed 1000 ")
        connection = next(line for line in gateway.errors if " WS $connect " in line).split()[4]
        assert all(connection in line for line in gateway.errors if " WS " in line)
    finally:
        gateway.stop()
