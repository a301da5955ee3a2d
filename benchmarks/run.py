"""Load-test apigate against nginx on this machine and print the ratios.

    python benchmarks/run.py [--duration 10] [--connections 32] [--rows mock,lambda,http_proxy]

Core layout (two cores used, 0 and 1):

* core 0: the server under test, alone: nginx `return 200` (baseline A), nginx `proxy_pass` (baseline B) or
  apigate (with the function worker processes it spawns, which inherit its affinity).
* core 1: the load generator `wrk` and the upstream nginx the proxies forward to.

Every proxy row (nginx proxy_pass and apigate HTTP_PROXY) thus pays for its upstream on the load generator's core,
so the two are compared on equal terms. All load goes to 127.0.0.1. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import platform
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "latest.json"
GATEWAY_LOG = HERE / "results" / "apigate.stderr.log"

SERVER_CORE = "0"
CLIENT_CORE = "1"  # wrk and the upstream nginx
STAGE = "bench"
REGION = "us-east-1"
FUNCTION_NAME = "bench-hello"

UPSTREAM_BODY = '{"message":"hello from upstream"}'
BASELINE_BODY = '{"message":"hello from nginx","padding":"0123456789abcdefgh"}'  # ~60 bytes
MOCK_BODY = '{"message":"hello from mock"}'
LAMBDA_BODY = '{"message":"hello"}'
LAMBDA_SOURCE = (
    "def lambda_handler(event, context):\n"
    '    return {"statusCode": 200, "body": "{\\"message\\":\\"hello\\"}"}\n'
)

BUSY_WARNING = 10.0  # percent of cores 0-1 busy with other work before a row that makes it suspect
ALL_ROWS = ("mock", "lambda", "http_proxy", "http_api")


# --------------------------------------------------------------------------------------------- rows


@dataclass(slots=True)
class WrkResult:
    requests_per_sec: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx_3xx: int
    socket_errors: dict[str, int]

    @property
    def error_count(self) -> int:
        return self.non_2xx_3xx + sum(self.socket_errors.values())

    def error_text(self) -> str:
        parts = []
        if self.non_2xx_3xx:
            parts.append(f"{self.non_2xx_3xx} non-2xx/3xx")
        parts += [f"{count} socket {kind}" for kind, count in self.socket_errors.items() if count]
        return ", ".join(parts)


@dataclass(slots=True)
class Row:
    key: str
    label: str
    expected_body: str
    baseline: str | None = None  # key of the row the ratio is taken against
    target: float | None = None
    url: str | None = None
    result: WrkResult | None = None
    error: str | None = None
    ratio: float | None = None
    busy_before_pct: float = 0.0  # cores 0-1 busy with others just before the row
    busy_after_pct: float = 0.0  # and just after it: other load that started during the row

    @property
    def contended(self) -> bool:
        return max(self.busy_before_pct, self.busy_after_pct) > BUSY_WARNING

    @property
    def target_met(self) -> bool | None:
        if self.target is None or self.ratio is None:
            return None
        return self.ratio >= self.target


def plan_rows(selected: list[str]) -> list[Row]:
    rows: list[Row] = []
    if "mock" in selected or "lambda" in selected or "http_api" in selected:
        rows.append(Row("nginx_return", "nginx return 200 (baseline A)", BASELINE_BODY))
    if "http_proxy" in selected:
        rows.append(Row("nginx_proxy", "nginx proxy_pass (baseline B)", UPSTREAM_BODY))
    if "mock" in selected:
        rows.append(Row("mock", "apigate MOCK", MOCK_BODY, baseline="nginx_return", target=0.15))
    if "lambda" in selected:
        rows.append(Row("lambda", "apigate AWS_PROXY", LAMBDA_BODY, baseline="nginx_return"))
    if "http_proxy" in selected:
        rows.append(
            Row("http_proxy", "apigate HTTP_PROXY", UPSTREAM_BODY, baseline="nginx_proxy", target=0.25)
        )
    if "http_api" in selected:
        # HTTP APIs exist for low latency: at least the REST AWS_PROXY path's throughput, in the same run.
        if "lambda" in selected:
            rows.append(
                Row("http_api", "apigate HTTP API AWS_PROXY", LAMBDA_BODY, baseline="lambda", target=1.0)
            )
        else:
            rows.append(Row("http_api", "apigate HTTP API AWS_PROXY", LAMBDA_BODY, baseline="nginx_return"))
    return rows


# ------------------------------------------------------------------------------------- tools, facts


def ensure_tools() -> None:
    """Install wrk and nginx with apt when either is missing (we run as root on Debian)."""
    if len(os.sched_getaffinity(0)) < 2 or not {0, 1} <= os.sched_getaffinity(0):
        raise SystemExit("this benchmark needs cores 0 and 1 (server on 0, wrk and the upstream on 1)")
    if shutil.which("wrk") and shutil.which("nginx"):
        return
    print("installing wrk and nginx with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "wrk", "nginx"], check=True, env=env, stdout=subprocess.DEVNULL
    )
    # Debian's package may start a system nginx on port 80; it is not ours to manage and does not interfere.
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is still not on PATH after apt-get install")


def machine_facts() -> dict[str, Any]:
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    nginx_version = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nginx": nginx_version.removeprefix("nginx version: "),
        # Other load on the machine skews every row; look here first when numbers move.
        "loadavg_1m_5m_15m": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def _core_times() -> dict[str, tuple[int, int]]:
    """(busy, total) jiffies of cores 0 and 1, from /proc/stat."""
    times = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *values = line.split()
        if name in (f"cpu{SERVER_CORE}", f"cpu{CLIENT_CORE}"):
            numbers = [int(value) for value in values[:8]]
            idle = numbers[3] + numbers[4]  # idle + iowait
            times[name] = (sum(numbers) - idle, sum(numbers))
    return times


def busy_cores(seconds: float = 0.5) -> float:
    """Percent of cores 0 and 1 busy with something else while we are idle (other benchmarks, builds)."""
    before = _core_times()
    time.sleep(seconds)
    after = _core_times()
    busy = sum(after[name][0] - before[name][0] for name in after)
    total = sum(after[name][1] - before[name][1] for name in after)
    return round(100.0 * busy / total, 1) if total else 0.0


def wait_for_quiet(patience: float = 5.0) -> float:
    """Give other load on cores 0-1 up to `patience` seconds to stop; return how busy they still are."""
    deadline = time.monotonic() + patience
    busy = busy_cores()
    while busy > BUSY_WARNING and time.monotonic() < deadline:
        busy = busy_cores()
    return busy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f}s")


# --------------------------------------------------------------------------------------- processes


class Processes:
    """Everything the run starts, stopped in reverse order however the run ends."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self._started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self, name: str, argv: list[str], core: str, log: Path, stdout: Path | None = None, **popen: Any
    ) -> subprocess.Popen[bytes]:
        """Start `argv` pinned to `core`, stderr (and stdout unless given its own file) into `log`."""
        with contextlib.ExitStack() as files:
            err = files.enter_context(log.open("wb"))
            out = files.enter_context(stdout.open("wb")) if stdout else err
            # A session of its own: Ctrl-C reaches only us, and we stop the children in order.
            proc = subprocess.Popen(
                ["taskset", "-c", core, *argv],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
                **popen,
            )
        self._started.append((name, proc))
        return proc

    def process(self, name: str) -> subprocess.Popen[bytes]:
        return next(proc for started, proc in self._started if started == name)

    def nginx(self, name: str, core: str, servers: dict[int, str]) -> None:
        """One nginx process on `core` serving `servers` (port -> server block); return once all listen."""
        home = self.tmp / name
        home.mkdir()
        config = string.Template((HERE / "nginx.conf.template").read_text()).substitute(
            tmp=home, servers="\n".join(servers.values())
        )
        (home / "nginx.conf").write_text(config)
        test = subprocess.run(
            ["nginx", "-t", "-q", "-p", str(home), "-c", str(home / "nginx.conf")],
            capture_output=True,
            text=True,
        )
        if test.returncode != 0:
            raise RuntimeError(f"nginx config for {name} is invalid:\n{test.stderr}")
        proc = self.start(
            name, ["nginx", "-p", str(home), "-c", str(home / "nginx.conf")], core, home / "stderr.log"
        )
        for port in servers:
            wait_for_port(port, proc, f"nginx {name}")

    def stop_all(self) -> None:
        for name, proc in reversed(self._started):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    print(f"  {name} ignored SIGTERM for 15s: killing it", file=sys.stderr)
                    proc.kill()
                    proc.wait()
            # Anything it spawned and left behind (function workers) is still in its process group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self._started.clear()


def nginx_return_server(port: int, body: str) -> str:
    return string.Template((HERE / "nginx.return.template").read_text()).substitute(port=port, body=body)


def nginx_proxy_server(port: int, upstream_port: int) -> str:
    return string.Template((HERE / "nginx.proxy.template").read_text()).substitute(
        port=port, upstream_port=upstream_port
    )


def start_gateway(procs: Processes, timeout: float = 30.0) -> tuple[str, str]:
    """Start apigate on core 0; return its base URL and the ready line it printed."""
    data = procs.tmp / "apigate-data"
    stdout = procs.tmp / "apigate.stdout"
    stderr = procs.tmp / "apigate.stderr"
    argv = [
        sys.executable,
        "-m",
        "apigate.cli",
        "serve",
        "--port",
        "0",
        "--data-dir",
        str(data),
        "--log-level",
        "WARNING",
        # AWS's account-level default (10,000 rps) would throttle a load test: lift it, we measure speed.
        "--account-rate",
        "1000000000",
        "--account-burst",
        "1000000000",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    proc = procs.start("apigate", argv, SERVER_CORE, stderr, stdout=stdout, env=env, cwd=procs.tmp)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        first = stdout.read_text(errors="replace").partition("\n")
        if first[1]:
            found = re.search(r"ready on (http://127\.0\.0\.1:\d+)", first[0])
            if not found:
                raise RuntimeError(f"unexpected first line from apigate: {first[0]!r}")
            return found.group(1), first[0]
        if proc.poll() is not None:
            raise RuntimeError(f"apigate exited with status {proc.returncode}:\n{tail(stderr)}")
        time.sleep(0.05)
    raise RuntimeError(f"apigate printed no ready line within {timeout:.0f}s:\n{tail(stderr)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ----------------------------------------------------------------------------------- configuration


def boto_clients(endpoint: str) -> tuple[Any, Any]:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id="bench", aws_secret_access_key="bench", region_name=REGION
    )
    config = Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=60)
    return (
        session.client("apigateway", endpoint_url=endpoint, config=config),
        session.client("lambda", endpoint_url=endpoint, config=config),
    )


def configure_gateway(endpoint: str, rows: dict[str, Row], upstream_port: int) -> None:
    """Build the REST API (one resource per selected row) and deploy it; a row that fails keeps its error."""
    apigw, lam = boto_clients(endpoint)
    api_id = apigw.create_rest_api(name="apigate-bench")["id"]
    root_id = next(
        item["id"] for item in apigw.get_resources(restApiId=api_id)["items"] if item["path"] == "/"
    )

    setups = {"mock": _setup_mock, "lambda": _setup_lambda, "http_proxy": _setup_http_proxy}
    for key, setup in setups.items():
        row = rows.get(key)
        if row is None:
            continue
        resource_id = None
        try:
            resource_id = apigw.create_resource(restApiId=api_id, parentId=root_id, pathPart=_path_part(key))[
                "id"
            ]
            apigw.put_method(
                restApiId=api_id, resourceId=resource_id, httpMethod="GET", authorizationType="NONE"
            )
            setup(apigw, lam, api_id, resource_id, upstream_port)
        except Exception as exc:
            row.error = f"setup failed: {_describe(exc)}"
            if resource_id is not None:  # a method without an integration would make the deployment fail
                with contextlib.suppress(Exception):
                    apigw.delete_resource(restApiId=api_id, resourceId=resource_id)
            continue
        row.url = f"{endpoint}/_aws/execute-api/{api_id}/{STAGE}/{_path_part(key)}"
    apigw.create_deployment(restApiId=api_id, stageName=STAGE)
    row = rows.get("http_api")
    if row is not None:
        try:
            row.url = _setup_http_api(endpoint, lam)
        except Exception as exc:
            row.error = f"setup failed: {_describe(exc)}"


def _bench_function(lam: Any) -> str:
    """The trivial function both AWS_PROXY rows call, created once."""
    with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
        return str(lam.get_function(FunctionName=FUNCTION_NAME)["Configuration"]["FunctionName"])
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("lambda_function.py", LAMBDA_SOURCE)
    function = lam.create_function(
        FunctionName=FUNCTION_NAME,
        Runtime="python3.11",
        Role="arn:aws:iam::000000000000:role/bench",
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": archive.getvalue()},
    )
    return str(function["FunctionName"])


def _setup_http_api(endpoint: str, lam: Any) -> str:
    """An HTTP API quick-created with a GET /lambda route to the function (payload 2.0, $default stage)."""
    import boto3

    v2 = boto3.session.Session(
        aws_access_key_id="bench", aws_secret_access_key="bench", region_name=REGION
    ).client("apigatewayv2", endpoint_url=endpoint)
    function = _bench_function(lam)
    api_id = v2.create_api(
        Name="apigate-bench-http",
        ProtocolType="HTTP",
        Target=f"arn:aws:lambda:{REGION}:000000000000:function:{function}",
        RouteKey="GET /lambda",
    )["ApiId"]
    return f"{endpoint}/_aws/execute-api/{api_id}/lambda"


def _path_part(key: str) -> str:
    return {"mock": "mock", "lambda": "lambda", "http_proxy": "proxy"}[key]


def _setup_mock(apigw: Any, _lam: Any, api_id: str, resource_id: str, _upstream: int) -> None:
    ids = {"restApiId": api_id, "resourceId": resource_id, "httpMethod": "GET"}
    apigw.put_integration(**ids, type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_method_response(**ids, statusCode="200")
    apigw.put_integration_response(**ids, statusCode="200", responseTemplates={"application/json": MOCK_BODY})


def _setup_lambda(apigw: Any, lam: Any, api_id: str, resource_id: str, _upstream: int) -> None:
    function = _bench_function(lam)
    uri = (
        f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
        f"arn:aws:lambda:{REGION}:000000000000:function:{function}/invocations"
    )
    apigw.put_integration(
        restApiId=api_id,
        resourceId=resource_id,
        httpMethod="GET",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=uri,
    )


def _setup_http_proxy(apigw: Any, _lam: Any, api_id: str, resource_id: str, upstream: int) -> None:
    apigw.put_integration(
        restApiId=api_id,
        resourceId=resource_id,
        httpMethod="GET",
        type="HTTP_PROXY",
        integrationHttpMethod="GET",
        uri=f"http://127.0.0.1:{upstream}/",
    )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# ------------------------------------------------------------------------------------------ load


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, whatever the env says


def verify(row: Row) -> None:
    """One request before the load: it must answer 200 with the expected JSON body."""
    assert row.url is not None
    try:
        with _OPENER.open(row.url, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except OSError as exc:
        raise RuntimeError(f"GET {row.url} failed: {_describe(exc)}") from exc
    text = body.decode(errors="replace")
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if status != 200 or parsed != json.loads(row.expected_body):
        raise RuntimeError(
            f"GET {row.url} answered {status} {text[:300]!r}, expected 200 {row.expected_body}"
        )


def run_wrk(url: str, duration: int, connections: int) -> WrkResult:
    argv = [
        "taskset",
        "-c",
        CLIENT_CORE,
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return parse_wrk(done.stdout)


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(value: str, unit: str) -> float:
    return round(float(value) * _UNITS_MS[unit], 4)


def parse_wrk(out: str) -> WrkResult:
    def need(pattern: str) -> re.Match[str]:
        found = re.search(pattern, out, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"could not find {pattern!r} in wrk output:\n{out}")
        return found

    rps = float(need(r"^Requests/sec:\s+([\d.]+)").group(1))
    p50 = need(r"^\s+50%\s+([\d.]+)(us|ms|s|m|h)\b")
    p99 = need(r"^\s+99%\s+([\d.]+)(us|ms|s|m|h)\b")
    requests = int(need(r"^\s+(\d+) requests in").group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    if sockets:
        socket_errors = dict(zip(socket_errors, map(int, sockets.groups()), strict=True))
    return WrkResult(
        requests_per_sec=rps,
        p50_ms=_ms(*p50.groups()),
        p99_ms=_ms(*p99.groups()),
        requests=requests,
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=socket_errors,
    )


def measure(row: Row, args: argparse.Namespace, gateway: subprocess.Popen[bytes] | None) -> None:
    if row.error or row.url is None:
        return
    row.busy_before_pct = wait_for_quiet()
    busy = (
        f"  [cores 0-1 already {row.busy_before_pct:.0f}% busy]" if row.busy_before_pct > BUSY_WARNING else ""
    )
    print(f"  {row.label}: {row.url}{busy}", flush=True)
    try:
        verify(row)
        if args.warmup > 0:
            run_wrk(row.url, args.warmup, args.connections)
        row.result = run_wrk(row.url, args.duration, args.connections)
        row.busy_after_pct = busy_cores()
        verify(row)  # still healthy after the load
    except Exception as exc:
        row.error = _describe(exc)
    if gateway is not None and gateway.poll() is not None:
        row.error = (row.error or "") + f" (apigate exited with status {gateway.returncode})"
    if row.result:
        errors = f", errors: {row.result.error_text()}" if row.result.error_count else ""
        other = (
            f"  [other load after it: {row.busy_after_pct:.0f}%]" if row.busy_after_pct > BUSY_WARNING else ""
        )
        print(f"    {row.result.requests_per_sec:,.0f} req/s{errors}{other}", flush=True)
    if row.error:
        print(f"    FAILED: {row.error}", flush=True)


# ------------------------------------------------------------------------------------------ report


def keep_gateway_log(log: Path, notes: list[str]) -> None:
    """Copy the gateway's stderr next to the results; its last lines go into the report."""
    if not log.exists():
        return
    GATEWAY_LOG.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(log, GATEWAY_LOG)
    lines = log.read_text(errors="replace").splitlines()
    if lines:
        problems = sum(
            1 for line in lines if " ERROR " in line or " WARNING " in line or " CRITICAL " in line
        )
        notes.append(
            f"apigate logged {problems} warning/error records ({len(lines)} lines, full log in "
            f"{GATEWAY_LOG.relative_to(REPO)}); last lines:\n" + "\n".join(lines[-20:])
        )


def compute_ratios(rows: list[Row]) -> None:
    by_key = {row.key: row for row in rows}
    for row in rows:
        base = by_key.get(row.baseline) if row.baseline else None
        if row.result and base and base.result and base.result.requests_per_sec:
            row.ratio = round(row.result.requests_per_sec / base.result.requests_per_sec, 4)


def table(rows: list[Row]) -> str:
    labels = {row.key: row.label.split(" (")[0] for row in rows}
    lines = [
        "| path | req/s | p50 ms | p99 ms | baseline | ratio | target | errors |",
        "|---|---:|---:|---:|---|---:|---|---|",
    ]
    for row in rows:
        res = row.result
        target = "—"
        if row.target is not None:
            verdict = {True: "met", False: "MISSED", None: "n/a"}[row.target_met]
            target = f"≥ {row.target:.2f} ({verdict})"
        errors = "none"
        if row.error:
            short = row.error if len(row.error) <= 160 else row.error[:157] + "..."
            errors = f"FAILED: {short}".replace("|", "\\|").replace("\n", " ")
        elif res and res.error_count:
            errors = res.error_text()
        lines.append(
            "| "
            + " | ".join(
                [
                    row.label,
                    f"{res.requests_per_sec:,.0f}" if res else "—",
                    f"{res.p50_ms:.2f}" if res else "—",
                    f"{res.p99_ms:.2f}" if res else "—",
                    labels.get(row.baseline, "—") if row.baseline else "—",
                    f"{row.ratio:.3f}" if row.ratio is not None else "—",
                    target,
                    errors,
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def write_json(facts: dict[str, Any], args: argparse.Namespace, rows: list[Row], notes: list[str]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": facts,
        "parameters": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "threads": 1,
            "server_core": SERVER_CORE,
            "client_core": CLIENT_CORE,
        },
        "rows": [
            {
                **{k: v for k, v in asdict(row).items() if k not in ("result", "expected_body")},
                "target_met": row.target_met,
                "contended": row.contended,
                "result": asdict(row.result) if row.result else None,
            }
            for row in rows
        ],
        "notes": notes,
    }
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")


# -------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds of measured load per row")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load per row first")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--rows", default=",".join(ALL_ROWS), help=f"comma-separated, from {','.join(ALL_ROWS)}"
    )
    args = parser.parse_args(argv)
    args.rows = [name.strip() for name in args.rows.split(",") if name.strip()]
    unknown = set(args.rows) - set(ALL_ROWS)
    if unknown or not args.rows:
        parser.error(f"--rows takes a comma-separated subset of {','.join(ALL_ROWS)}; got {args.rows}")
    if args.duration <= 0 or args.connections <= 0:
        parser.error("--duration and --connections must be positive")
    return args


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Let `kill <pid>` run the same cleanup as Ctrl-C."""

    def _exit(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_tools()
    facts = machine_facts()
    print("## apigate benchmark\n")
    for name, value in facts.items():
        print(f"- {name}: {value}")
    print(
        f"- wrk: -t1 -c{args.connections} -d{args.duration:g}s (+{args.warmup:g}s warm-up), on core {CLIENT_CORE}"
    )
    print(f"- servers under test on core {SERVER_CORE}; upstream nginx on core {CLIENT_CORE}\n", flush=True)

    rows = plan_rows(args.rows)
    by_key = {row.key: row for row in rows}
    notes: list[str] = []
    with sigterm_as_exit(), tempfile.TemporaryDirectory(prefix="apigate-bench-") as tmp_name:
        procs = Processes(Path(tmp_name))
        try:
            upstream_port, return_port, proxy_port = free_port(), free_port(), free_port()
            procs.nginx(
                "upstream", CLIENT_CORE, {upstream_port: nginx_return_server(upstream_port, UPSTREAM_BODY)}
            )
            procs.nginx(
                "front",
                SERVER_CORE,
                {
                    return_port: nginx_return_server(return_port, BASELINE_BODY),
                    proxy_port: nginx_proxy_server(proxy_port, upstream_port),
                },
            )
            for row in rows:
                if row.key == "nginx_return":
                    row.url = f"http://127.0.0.1:{return_port}/"
                elif row.key == "nginx_proxy":
                    row.url = f"http://127.0.0.1:{proxy_port}/"
            gateway_url, ready = start_gateway(procs)
            notes.append(ready)
            print(f"{ready}\n", flush=True)
            configure_gateway(gateway_url, {k: r for k, r in by_key.items() if r.baseline}, upstream_port)

            print("measuring:", flush=True)
            gateway = procs.process("apigate")
            for row in rows:
                measure(row, args, gateway if row.baseline else None)
        finally:
            procs.stop_all()
            keep_gateway_log(procs.tmp / "apigate.stderr", notes)

    suspect = [row.label for row in rows if row.contended]
    if suspect:
        notes.append(
            f"WARNING: cores 0-1 were more than {BUSY_WARNING:.0f}% busy with other processes around: "
            + ", ".join(suspect)
            + ". Those numbers are low; re-run on a quiet machine."
        )
    notes.append(f"loadavg at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    compute_ratios(rows)
    print()
    print(table(rows))
    for note in notes[1:]:
        print(f"\n{note}")
    write_json(facts, args, rows, notes)
    print(f"\nresults: {RESULTS.relative_to(REPO)}")
    failed = any(row.error or (row.result and row.result.error_count) for row in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: everything started was stopped", file=sys.stderr)
        raise SystemExit(130) from None
