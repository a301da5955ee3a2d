"""A soak run: steady load through the whole REST pipeline for a long time; is memory flat, is every answer right?

    python benchmarks/soak.py [--minutes 10] [--rate 200] [--clients 16] [--sample-seconds 10]

Starts an upstream (a small threaded HTTP server in its own process) and ``apigate serve`` on free loopback
ports, builds one REST API method that uses every step of the pipeline (an API key in a usage plan with a
throttle and a quota, a request validator with a JSON Schema model, a VTL request template, a non-proxy HTTP
integration, a VTL response template), then sends ``--rate`` requests a second from ``--clients`` keep-alive
clients, paced to a schedule. One request in ten has an invalid body (the validator's 400) and one in fifty no
API key (403): those are expected answers too. Anything else, or no answer, is an unexpected error.

The gateway's resident memory is sampled every ``--sample-seconds``; the slope (least squares over the samples
after the first fifth of the run, which includes warm-up and the allocator settling) is reported in MB/min.
A script, not a test: exit status 1 if there was any unexpected error.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import requests

_SCHEMA = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "type": "object",
    "required": ["name", "qty"],
    "properties": {"name": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
}
_REQUEST_TEMPLATE = (
    '{"customer": "$util.escapeJavaScript($input.path(\'$.name\'))", "qty": $input.json(\'$.qty\'), '
    '"key": "$context.identity.apiKeyId", "stage": "$context.stage"}'
)
_RESPONSE_TEMPLATE = '{"ok": true, "order": $input.json(\'$\')}'


class _Upstream(BaseHTTPRequestHandler):
    """Answers every POST with the JSON it was sent, wrapped."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answer = b'{"received": ' + (body or b"null") + b"}"
        # One write for head and body: written apart, Nagle holds the body back until the gateway's delayed
        # ACK of the head (40 ms), which would be measured as the gateway's latency.
        self.wfile.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (len(answer), answer)
        )

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve_upstream(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Upstream)
    server.daemon_threads = True
    server.serve_forever()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _start_gateway(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "apigate.cli",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "ready on " not in line:
        raise SystemExit(f"the gateway did not start: {line!r}")
    threading.Thread(target=lambda: [None for _ in proc.stdout or []], daemon=True).start()
    return proc, line.split("ready on ", 1)[1].split()[0]


def _build_api(endpoint: str, upstream: str) -> tuple[str, str]:
    """The API, deployed; returns its invoke URL and the API key's value."""
    apigw = boto3.client(
        "apigateway",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="soak",
        aws_secret_access_key="soak",
    )
    api = apigw.create_rest_api(name="soak")["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    orders = apigw.create_resource(restApiId=api, parentId=root, pathPart="orders")["id"]
    apigw.create_model(
        restApiId=api, name="Order", contentType="application/json", schema=json.dumps(_SCHEMA)
    )
    validator = apigw.create_request_validator(restApiId=api, name="body", validateRequestBody=True)["id"]
    apigw.put_method(
        restApiId=api,
        resourceId=orders,
        httpMethod="POST",
        authorizationType="NONE",
        apiKeyRequired=True,
        requestValidatorId=validator,
        requestModels={"application/json": "Order"},
    )
    apigw.put_integration(
        restApiId=api,
        resourceId=orders,
        httpMethod="POST",
        type="HTTP",
        integrationHttpMethod="POST",
        uri=f"{upstream}/orders",
        passthroughBehavior="NEVER",
        requestTemplates={"application/json": _REQUEST_TEMPLATE},
    )
    apigw.put_method_response(restApiId=api, resourceId=orders, httpMethod="POST", statusCode="200")
    apigw.put_integration_response(
        restApiId=api,
        resourceId=orders,
        httpMethod="POST",
        statusCode="200",
        selectionPattern="",
        responseTemplates={"application/json": _RESPONSE_TEMPLATE},
    )
    apigw.create_deployment(restApiId=api, stageName="soak")
    plan = apigw.create_usage_plan(
        name="soak",
        throttle={"rateLimit": 100_000, "burstLimit": 100_000},
        quota={"limit": 1_000_000_000, "period": "DAY"},
        apiStages=[{"apiId": api, "stage": "soak"}],
    )
    key = apigw.create_api_key(name="soak", enabled=True)
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    return f"{endpoint}/_aws/execute-api/{api}/soak/orders", key["value"]


class _Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.expected: Counter[int] = Counter()
        self.unexpected: Counter[str] = Counter()
        self.latencies_ms: list[float] = []


def _client(
    url: str, key: str, first: int, step: int, rate: float, start: float, end: float, tally: _Tally
) -> None:
    """Requests number first, first + step, ... of the schedule (``rate`` a second from ``start``)."""
    session = requests.Session()
    n = first
    while True:
        due = start + n / rate
        if due >= end:
            return
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        headers = {"Content-Type": "application/json"}
        if n % 50 != 7:
            headers["x-api-key"] = key
        body = {"name": "Ada"} if n % 10 == 3 else {"name": f"Ada {n}", "qty": 1 + n % 9}
        wanted = 403 if n % 50 == 7 else (400 if n % 10 == 3 else 200)
        began = time.perf_counter()
        try:
            answer = session.post(url, json=body, headers=headers, timeout=10)
            ok = answer.status_code == wanted and (
                wanted != 200 or answer.json()["order"]["received"]["qty"] == body["qty"]
            )
            outcome = (
                answer.status_code if ok else f"{answer.status_code} (wanted {wanted}): {answer.text[:80]}"
            )
        except (requests.RequestException, ValueError, KeyError) as exc:
            outcome = f"{type(exc).__name__}: {exc}"[:120]
        elapsed = (time.perf_counter() - began) * 1000
        with tally.lock:
            tally.latencies_ms.append(elapsed)
            if isinstance(outcome, int):
                tally.expected[outcome] += 1
            else:
                tally.unexpected[outcome] += 1
        n += step


def _slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    if len(samples) < 2:
        return 0.0
    xs = [t / 60 for t, _ in samples]
    ys = [rss for _, rss in samples]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second, in all")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument(
        "--upstream-port", type=int, help=argparse.SUPPRESS
    )  # the upstream process's own mode
    args = parser.parse_args()
    if args.upstream_port:
        _serve_upstream(args.upstream_port)
        return 0

    port = _free_port()
    upstream = subprocess.Popen([sys.executable, __file__, "--upstream-port", str(port)])
    with tempfile.TemporaryDirectory(prefix="apigate-soak-") as data_dir:
        gateway, endpoint = _start_gateway(Path(data_dir))
        try:
            for _ in range(50):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            url, key = _build_api(endpoint, f"http://127.0.0.1:{port}")
            return _soak(args, gateway.pid, url, key)
        finally:
            gateway.terminate()
            gateway.wait(timeout=30)
            upstream.terminate()
            upstream.wait(timeout=10)


def _soak(args: argparse.Namespace, pid: int, url: str, key: str) -> int:
    duration = args.minutes * 60
    tally = _Tally()
    start = time.time() + 0.5
    end = start + duration
    clients = [
        threading.Thread(
            target=_client, args=(url, key, i, args.clients, args.rate, start, end, tally), daemon=True
        )
        for i in range(args.clients)
    ]
    for client in clients:
        client.start()
    samples: list[tuple[float, float]] = []
    print(f"soak: {args.rate:g} req/s for {args.minutes:g} min against {url}", flush=True)
    print(f"{'minute':>7} {'rss MB':>8} {'answers':>8} {'unexpected':>10}", flush=True)
    while time.time() < end:
        time.sleep(min(args.sample_seconds, max(end - time.time(), 0)))
        elapsed = time.time() - start
        rss = _rss_mb(pid)
        samples.append((elapsed, rss))
        with tally.lock:
            answers = sum(tally.expected.values())
            unexpected = sum(tally.unexpected.values())
        print(f"{elapsed / 60:7.2f} {rss:8.1f} {answers:8d} {unexpected:10d}", flush=True)
    for client in clients:
        client.join(timeout=30)

    settled = [s for s in samples if s[0] >= duration / 5]
    slope = _slope_mb_per_min(settled)
    latencies = sorted(tally.latencies_ms)
    total = sum(tally.expected.values()) + sum(tally.unexpected.values())
    print()
    print(f"requests        {total} ({total / duration:.1f}/s; wanted {args.rate:g}/s)")
    print(f"expected        {dict(sorted(tally.expected.items()))}")
    print(f"unexpected      {sum(tally.unexpected.values())}")
    for what, count in tally.unexpected.most_common(5):
        print(f"                {count} x {what}")
    if latencies:
        p50 = latencies[len(latencies) // 2]
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"latency         p50 {p50:.1f} ms, p99 {p99:.1f} ms (client side, Python requests)")
    if samples:
        print(
            f"gateway RSS     {samples[0][1]:.1f} MB -> {samples[-1][1]:.1f} MB (min {min(r for _, r in samples):.1f}, "
            f"max {max(r for _, r in samples):.1f})"
        )
    print(f"RSS slope       {slope:+.3f} MB/min over the last {len(settled)} samples (after the first fifth)")
    return 1 if tally.unexpected else 0


if __name__ == "__main__":
    raise SystemExit(main())
