"""Core time per request of the function path: gateway and its workers, in CPU microseconds.

    python benchmarks/function_cost.py [--duration 5] [--connections 32] [--rounds 3] [--rows lambda,http_api,mock]
        [--runtime python3.12] [--runtimes python3.11,python3.12,nodejs20.x,provided.al2023] [--rows …,alias]

``--runtimes`` adds a row per runtime (a REST API AWS_PROXY method each, the same trivial function), measured in
the same run; ``provided.*`` is a Python ``bootstrap`` with a keep-alive Runtime API client (the machine's
``python3``), so its row is the Runtime API's cost plus a small client's. The ``alias`` row calls the ``lambda``
function through an alias routing 50/50 between two published versions (a choice per request).

Throughput on a shared machine moves with other load; the CPU time the gateway's process tree spends per
request moves far less. The gateway (and the workers it spawns) run on core 0, ``wrk`` on core 1, as in
``run.py``. For each row: warm up, read the on-CPU time of the gateway and every process it started
(``/proc/PID/task/*/schedstat``, nanoseconds, user and system), run ``wrk``, read it again, and divide by the
requests wrk completed. Each row prints the median of its rounds.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = Path(os.environ.get("APIGATE_REPO", HERE.parent))  # another checkout, to compare against
REGION = "us-east-1"
SOURCE = (
    "def lambda_handler(event, context):\n"
    '    return {"statusCode": 200, "body": "{\\"message\\":\\"hello\\"}"}\n'
)

NODE_SOURCE = 'exports.handler = async () => ({ statusCode: 200, body: \'{"message":"hello"}\' });\n'

# provided.*: one keep-alive connection to the Runtime API, next -> response, as a compiled runtime client does.
BOOTSTRAP = """#!{python} -S
import http.client, json, os
conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
body = json.dumps({{"statusCode": 200, "body": json.dumps({{"message": "hello"}})}}).encode()
while True:
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    answer = conn.getresponse()
    answer.read()
    request_id = answer.getheader("Lambda-Runtime-Aws-Request-Id")
    conn.request("POST", "/2018-06-01/runtime/invocation/%s/response" % request_id, body)
    conn.getresponse().read()
"""


def function_zip(runtime: str) -> tuple[bytes, str]:
    """A trivial function for ``runtime``, and its handler."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        if runtime.startswith("nodejs"):
            zf.writestr("index.js", NODE_SOURCE)
            handler = "index.handler"
        elif runtime.startswith("provided"):
            # Reachable by the unprivileged user functions run as under a root gateway (not a pyenv in /root).
            python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or sys.executable
            info = zipfile.ZipInfo("bootstrap")
            info.create_system = 3
            info.external_attr = 0o100755 << 16
            zf.writestr(info, BOOTSTRAP.format(python=python))
            handler = "bootstrap"
        else:
            zf.writestr("lambda_function.py", SOURCE)
            handler = "lambda_function.lambda_handler"
    return archive.getvalue(), handler


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def cpu_ns(root: int, *, alone: bool = False) -> int:
    """On-CPU nanoseconds of ``root`` and its descendants (threads included), or of ``root`` ``alone``."""
    total = 0
    for pid in [root] if alone else _tree(root):
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/schedstat", "rb") as stat:
                    total += int(stat.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue
    return total


def _counters(pid: int) -> tuple[int, int, int]:
    """utime and stime (clock ticks) and context switches (voluntary + not) of one process."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        fields = stat.read().rsplit(b")", 1)[1].split()
    switches = 0
    with open(f"/proc/{pid}/status", "rb") as status:
        for line in status:
            if line.endswith(b"ctxt_switches:") or b"ctxt_switches:" in line:
                switches += int(line.split()[1])
    return int(fields[11]), int(fields[12]), switches


def start_gateway(tmp: Path, extra: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    stdout = tmp / "gateway.stdout"
    profile = [os.environ["PROFILE"]] if os.environ.get("PROFILE") else ["-m"]
    argv = [
        "taskset", "-c", "0", sys.executable, *profile, "apigate.cli", "serve", "--port", "0",
        "--data-dir", str(tmp / "data"), "--log-level", "WARNING",
        "--account-rate", "1000000000", "--account-burst", "1000000000", *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open(stdout, "wb") as out, open(tmp / "gateway.stderr", "wb") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=tmp)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"ready on (http://127\.0\.0\.1:\d+)", stdout.read_text())
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            raise RuntimeError((tmp / "gateway.stderr").read_text())
        time.sleep(0.05)
    raise RuntimeError("no ready line")


def configure(endpoint: str, runtime: str = "python3.11", runtimes: tuple[str, ...] = ()) -> dict[str, str]:
    import boto3

    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION)
    lam = session.client("lambda", endpoint_url=endpoint)
    apigw = session.client("apigateway", endpoint_url=endpoint)
    v2 = session.client("apigatewayv2", endpoint_url=endpoint)

    def function(name: str, runtime: str) -> str:
        code, handler = function_zip(runtime)
        return str(lam.create_function(
            FunctionName=name, Runtime=runtime, Role="arn:aws:iam::000000000000:role/cost", Handler=handler,
            Code={"ZipFile": code},
        )["FunctionArn"])  # fmt: skip

    arn = function("cost", runtime)
    api = apigw.create_rest_api(name="cost")["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]

    def proxy(path: str, target: str) -> str:
        res = apigw.create_resource(restApiId=api, parentId=root, pathPart=path)["id"]
        apigw.put_method(restApiId=api, resourceId=res, httpMethod="GET", authorizationType="NONE")
        apigw.put_integration(
            restApiId=api, resourceId=res, httpMethod="GET", type="AWS_PROXY", integrationHttpMethod="POST",
            uri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{target}/invocations",
        )  # fmt: skip
        return f"{endpoint}/_aws/execute-api/{api}/bench/{path}"

    urls = {"lambda": proxy("lambda", arn)}
    for extra in runtimes:
        urls[extra] = proxy(re.sub(r"[^a-z0-9]", "-", extra), function(re.sub(r"[^a-z0-9]", "-", f"cost-{extra}"), extra))
    # Two versions of the same function and an alias splitting calls between them (not with a checkout that
    # has no versions: APIGATE_REPO=…).
    try:
        lam.publish_version(FunctionName="cost")
    except lam.exceptions.ClientError:
        pass
    else:
        lam.update_function_configuration(FunctionName="cost", Description="second")
        lam.publish_version(FunctionName="cost")
        alias = lam.create_alias(
            FunctionName="cost", Name="split", FunctionVersion="1",
            RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
        )["AliasArn"]  # fmt: skip
        urls["alias"] = proxy("alias", alias)
    mock = apigw.create_resource(restApiId=api, parentId=root, pathPart="mock")["id"]
    ids = {"restApiId": api, "resourceId": mock, "httpMethod": "GET"}
    apigw.put_method(**ids, authorizationType="NONE")
    apigw.put_integration(**ids, type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'})
    apigw.put_method_response(**ids, statusCode="200")
    apigw.put_integration_response(**ids, statusCode="200", responseTemplates={"application/json": '{"m":1}'})
    apigw.create_deployment(restApiId=api, stageName="bench")
    http = v2.create_api(Name="cost", ProtocolType="HTTP", Target=arn, RouteKey="GET /lambda")["ApiId"]
    urls["mock"] = f"{endpoint}/_aws/execute-api/{api}/bench/mock"
    urls["http_api"] = f"{endpoint}/_aws/execute-api/{http}/lambda"
    return urls


def wrk(url: str, seconds: float, connections: int) -> int:
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(out)
    found = re.search(r"(\d+) requests in", out)
    assert found, out
    return int(found.group(1))


def measure(pid: int, url: str, args: argparse.Namespace) -> dict[str, Any]:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as answer:  # a cold start, alone, as run.py's check does
        assert answer.status == 200
    wrk(url, args.warmup, args.connections)
    costs, gateway, rates, split = [], [], [], []
    for _ in range(args.rounds):
        before, alone, started = cpu_ns(pid), cpu_ns(pid, alone=True), time.monotonic()
        counters = _counters(pid)
        requests = wrk(url, args.duration, args.connections)
        elapsed, used = time.monotonic() - started, cpu_ns(pid) - before
        after = _counters(pid)
        user, system, switches = (b - a for a, b in zip(counters, after, strict=True))
        split.append(f"user {user / (user + system or 1):.0%}, {switches / requests:.2f} switches/request")
        costs.append(used / requests / 1000)
        gateway.append((cpu_ns(pid, alone=True) - alone) / requests / 1000)
        rates.append(requests / elapsed)
    return {
        "us": statistics.median(costs),
        "gateway": statistics.median(gateway),
        "all": costs,
        "rps": statistics.median(rates),
        "split": split[-1],
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", default="lambda,http_api")
    parser.add_argument("--runtime", default="python3.11", help="the function's runtime (e.g. python3.12)")
    parser.add_argument("--runtimes", default="", help="a row each for these runtimes too (comma-separated)")
    parser.add_argument("gateway_args", nargs="*", help="extra `apigate serve` arguments (after --)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, endpoint = start_gateway(Path(tmp), args.gateway_args)
        try:
            runtimes = tuple(r for r in args.runtimes.split(",") if r)
            urls = configure(endpoint, args.runtime, runtimes)
            for row in [*args.rows.split(","), *runtimes]:
                result = measure(proc.pid, urls[row], args)
                spread = ", ".join(f"{c:.0f}" for c in result["all"])
                print(
                    f"{row:15} {result['us']:6.1f} us CPU/request (rounds: {spread}; gateway process "
                    f"{result['gateway']:.0f}: {result['split']}), "
                    f"{result['rps']:,.0f} req/s, processes: {len(_tree(proc.pid))}",
                    flush=True,
                )
        finally:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
