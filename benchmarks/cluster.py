"""Three apigate hosts behind nginx against one host, in the same run (issue #22).

    python benchmarks/cluster.py [--store postgresql://postgres@127.0.0.1:5432/postgres] [--redis URL]
                                 [--duration 10] [--connections 32]

The hosts listen on 127.0.0.2-4 (loopback aliases), each with a data dir of its own, sharing a PostgreSQL
database made for the run (and dropped after) and Redis. The route is a MOCK method; with ``--redis`` the
throttle buckets live in Redis, so every request also makes a Redis round trip, as a cluster's requests do.

Rows (``wrk -t1 -c{connections}``, keep-alive):

- one host, direct;
- one host behind nginx (nginx's own cost, to separate it from the cluster's);
- three hosts behind nginx (round robin, keep-alive upstreams);

then a stage throttle (``--rate``, ``--burst``) over the three hosts behind nginx, offered far more than it
admits: how close the sum admitted by all three is to the configured rate.

On a 2-core machine the three hosts, nginx and wrk share the same two cores: the figure shows the overhead of
the cluster (nginx hop, Redis, three processes competing), not scaling. On N machines each host has its own
cores: there the row to compare is one host against one host behind the balancer.
"""

from __future__ import annotations

import argparse
import os
import re
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import requests

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")

_NGINX = """
daemon off;
master_process off;
worker_processes 1;
error_log $tmp/error.log warn;
pid $tmp/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $tmp/client_body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    keepalive_requests 100000;
    upstream one { server $first; keepalive 64; }
    upstream three { $servers keepalive 64; }
    server {
        listen 127.0.0.1:$port_one;
        location / { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://one; }
    }
    server {
        listen 127.0.0.1:$port_three;
        location / { proxy_http_version 1.1; proxy_set_header Connection ""; proxy_pass http://three; }
    }
}
"""


class Host:
    def __init__(self, address: str, data_dir: Path, store: str, redis: str) -> None:
        argv = [sys.executable, "-m", "apigate.cli", "serve", "--host", address, "--port", "0"]
        argv += ["--data-dir", str(data_dir), "--store", store, "--redis", redis, "--log-level", "WARNING"]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert "ready on " in line, line
        self.url = line.split("ready on ", 1)[1].split()[0]
        self.address = self.url.removeprefix("http://")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def wrk(url: str, duration: int, connections: int) -> float:
    rate, _, refused, out = wrk_counts(url, duration, connections)
    if refused:
        raise RuntimeError(f"{url}: {refused} error responses under load:\n{out}")
    return rate


def wrk_counts(url: str, duration: int, connections: int) -> tuple[float, tuple[int, float], int, str]:
    """req/s, (requests, seconds), non-2xx answers, wrk's output."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", url], capture_output=True, text=True, check=True
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = re.search(r"(\d+) requests in ([\d.]+)s", out)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match and total, out
    return (
        float(match.group(1)),
        (int(total.group(1)), float(total.group(2))),
        int(errors.group(1)) if errors else 0,
        out,
    )


def wait_served(url: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.ConnectionError:  # not listening yet
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} not served")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=200.0, help="the stage throttle of the accuracy row")
    parser.add_argument("--burst", type=int, default=50)
    args = parser.parse_args()
    name = f"apigate_cluster_bench_{os.getpid()}"
    with psycopg.connect(args.store, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    store = args.store.rsplit("/", 1)[0] + "/" + name
    hosts: list[Host] = []
    nginx = None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            hosts.append(Host(HOSTS[0], Path(tmp) / "h0", store, args.redis))
            session = requests.Session()
            api = session.post(f"{hosts[0].url}/restapis", json={"name": "bench"}).json()
            root = session.get(f"{hosts[0].url}/restapis/{api['id']}/resources").json()["item"][0]["id"]
            base = f"{hosts[0].url}/restapis/{api['id']}/resources/{root}/methods/GET"
            session.put(base, json={"authorizationType": "NONE"}).raise_for_status()
            session.put(
                f"{base}/integration",
                json={"type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": 200}'}},
            ).raise_for_status()
            session.put(f"{base}/responses/200", json={}).raise_for_status()
            session.put(
                f"{base}/integration/responses/200",
                json={
                    "selectionPattern": "",
                    "responseTemplates": {"application/json": '{"hello": "cluster"}'},
                },
            ).raise_for_status()
            session.post(
                f"{hosts[0].url}/restapis/{api['id']}/deployments", json={"stageName": "bench"}
            ).raise_for_status()
            path = f"/_aws/execute-api/{api['id']}/bench/"
            wait_served(hosts[0].url + path)
            for i, address in enumerate(HOSTS[1:], 1):
                hosts.append(Host(address, Path(tmp) / f"h{i}", store, args.redis))
                wait_served(hosts[-1].url + path)
            ports = [_free_port() for _ in range(2)]
            config = string.Template(_NGINX).substitute(
                tmp=tmp,
                first=hosts[0].address,
                servers=" ".join(f"server {h.address};" for h in hosts),
                port_one=ports[0],
                port_three=ports[1],
            )
            (Path(tmp) / "nginx.conf").write_text(config)
            nginx = subprocess.Popen(["nginx", "-p", tmp, "-c", str(Path(tmp) / "nginx.conf")])
            for port in ports:
                wait_served(f"http://127.0.0.1:{port}{path}")
            rows: list[tuple[str, float]] = [
                ("one host, direct", wrk(hosts[0].url + path, args.duration, args.connections)),
                (
                    "one host behind nginx",
                    wrk(f"http://127.0.0.1:{ports[0]}{path}", args.duration, args.connections),
                ),
                (
                    "three hosts behind nginx",
                    wrk(f"http://127.0.0.1:{ports[1]}{path}", args.duration, args.connections),
                ),
            ]
            # One stage throttle over the three hosts (its bucket in Redis): how close the sum admitted by all
            # three is to the configured rate, with far more offered than admitted.
            session.patch(
                f"{hosts[0].url}/restapis/{api['id']}/stages/bench",
                json={
                    "patchOperations": [
                        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(args.rate)},
                        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(args.burst)},
                    ]
                },
            ).raise_for_status()
            _in_step(hosts)
            _, (total, seconds), refused, _ = wrk_counts(
                f"http://127.0.0.1:{ports[1]}{path}", args.duration, args.connections
            )
            admitted = (total - refused - args.burst) / seconds
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        for host in hosts:
            host.stop()
        with psycopg.connect(args.store, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"| setup ({os.cpu_count()} cores, wrk -c{args.connections}) | req/s | relative to one host |")
    print("|---|---:|---:|")
    for label, rate in rows:
        print(f"| {label} | {rate:,.0f} | {rate / rows[0][1]:.2f} |")
    print()
    print(
        f"stage throttle {args.rate:g} req/s, burst {args.burst}, over the three hosts: {total:,} requests in "
        f"{seconds:.1f} s, {total - refused:,} admitted: (admitted - burst) / seconds = {admitted:.1f} req/s, "
        f"{(admitted / args.rate - 1) * 100:+.1f}% of the configured rate"
    )
    return 0


def _in_step(hosts: list[Host]) -> None:
    """Every host serves the same configuration version."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        versions = {requests.get(f"{h.url}/_apigate/health", timeout=5).json()["config"] for h in hosts}
        if len(versions) == 1:
            return
        time.sleep(0.05)
    raise RuntimeError("hosts did not converge")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    sys.exit(main())
