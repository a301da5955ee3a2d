"""What a management write, a deployment and a start-up cost as the stored configuration grows.

    python benchmarks/write_cost.py [--apis 1,100,1000,10000] [--store postgresql://…] [--json out.json]

For each size N: one REST API with 10 methods (MOCK) is created and deployed through the management API;
N - 1 copies of its documents (fresh ids) are then written straight into the store with the gateway stopped,
so that 10,000 APIs / 100,000 methods take seconds to set up instead of hours. The gateway is started again
on that store and measured:

- start-up: from exec to "ready" (every stage compiled);
- memory: the gateway's VmRSS once ready;
- write: UpdateRestApi (a description) on one API, median of 40;
- deploy: CreateDeployment of one API's stage, median of 20;
- read: GetRestApi, median of 40;
- data plane: GET of a MOCK method, median of 200 over one keep-alive connection.

With ``--store postgresql://…/dbname`` every size gets a database of its own, created and dropped here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import requests

# --repo: measure another checkout of apigate (the code before a change, say) with this same script.
REPO = Path(__file__).resolve().parent.parent
METHODS = 10


def openapi(name: str) -> bytes:
    paths = {
        f"/r{i}": {
            "get": {
                "responses": {"200": {"description": "ok"}},
                "x-amazon-apigateway-integration": {
                    "type": "mock",
                    "requestTemplates": {"application/json": '{"statusCode": 200}'},
                    "responses": {
                        "default": {
                            "statusCode": "200",
                            "responseTemplates": {"application/json": f'{{"r": {i}}}'},
                        }
                    },
                },
            }
        }
        for i in range(METHODS)
    }
    return orjson.dumps({"openapi": "3.0.1", "info": {"title": name, "version": "1"}, "paths": paths})


class Gateway:
    def __init__(self, data_dir: Path, store: str | None) -> None:
        self.data_dir, self.store = data_dir, store
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.started_in = 0.0
        self.began = 0.0

    def start(self) -> None:
        argv = [sys.executable, "-m", "apigate.cli", "serve", "--port", "0", "--data-dir", str(self.data_dir)]
        argv += ["--log-level", "WARNING"] + (["--store", self.store] if self.store else [])
        begin = self.began = time.perf_counter()
        # cwd too: `python -m` puts the working directory first on sys.path.
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.started_in = time.perf_counter() - begin
        assert "ready on " in line, line
        self.url = line.split("ready on ", 1)[1].split()[0]
        # It prints a line per stage served: drain them, or a full pipe stops the gateway.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(30)


def timed(call: Any, count: int) -> float:
    samples = []
    for _ in range(count):
        begin = time.perf_counter()
        call()
        samples.append(time.perf_counter() - begin)
    return statistics.median(samples) * 1000


def clone(data_dir: Path, store_url: str | None, template: str, copies: int) -> None:
    """Write ``copies`` copies of the template API's documents into the store, each under fresh ids."""
    sys.path.insert(0, str(REPO))
    from apigate.store import SqliteStore

    store: Any
    if store_url:
        import psycopg

        from apigate.store.postgres import PostgresStore

        with psycopg.connect(store_url) as conn:
            rows = conn.execute(
                "SELECT kind, key, parent, body FROM documents WHERE parent=%s OR key=%s ORDER BY id",
                (template, template),
            ).fetchall()
        store = PostgresStore(store_url)
    else:
        store = SqliteStore(data_dir / "apigate.db")
        rows = store._db.execute(
            "SELECT kind, key, parent, body FROM documents WHERE parent=? OR key=? ORDER BY rowid",
            (template, template),
        ).fetchall()
    own = [(kind, key, parent, bytes(body)) for kind, key, parent, body in rows]
    batch = 200
    for start in range(0, copies, batch):
        with store.transaction():
            for i in range(start, min(copies, start + batch)):
                new = f"c{i:09d}"
                for kind, key, parent, raw in own:
                    store.put(
                        kind,
                        key.replace(template, new),
                        orjson.loads(raw.replace(template.encode(), new.encode())),
                        parent=parent.replace(template, new),
                    )
    store.close()


def measure(size: int, store_url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        gateway = Gateway(Path(tmp) / "data", store_url)
        gateway.start()
        session = requests.Session()
        created = session.post(
            f"{gateway.url}/restapis?mode=import",
            data=openapi("bench"),
            headers={"Content-Type": "application/json"},
        )
        created.raise_for_status()
        api_id = created.json()["id"]
        session.post(
            f"{gateway.url}/restapis/{api_id}/deployments", json={"stageName": "prod"}
        ).raise_for_status()
        gateway.stop()
        begin = time.perf_counter()
        clone(Path(tmp) / "data", store_url, api_id, size - 1)
        seeded = time.perf_counter() - begin
        gateway.start()
        result: dict[str, Any] = {
            "apis": size,
            "methods": size * METHODS,
            "seed_s": round(seeded, 1),
            "startup_s": round(gateway.started_in, 2),
            "rss_mb": round(gateway.rss_mb(), 1),
        }
        session = requests.Session()
        # Many stages: their compilation is deferred (apigate/registry.py); measure once it is done.
        while session.get(f"{gateway.url}/_apigate/health").json().get("deferred", 0):
            time.sleep(0.2)
        result["compiled_s"] = round(time.perf_counter() - gateway.began, 2)
        result["rss_compiled_mb"] = round(gateway.rss_mb(), 1)
        counter = iter(range(10**6))
        patch = {"patchOperations": [{"op": "replace", "path": "/description", "value": ""}]}

        def write() -> None:
            patch["patchOperations"][0]["value"] = f"d{next(counter)}"
            session.patch(f"{gateway.url}/restapis/{api_id}", json=patch).raise_for_status()

        def deploy() -> None:
            session.post(
                f"{gateway.url}/restapis/{api_id}/deployments", json={"stageName": "prod"}
            ).raise_for_status()

        def read() -> None:
            session.get(f"{gateway.url}/restapis/{api_id}").raise_for_status()

        invoke_url = f"{gateway.url}/_aws/execute-api/{api_id}/prod/r3"

        def invoke() -> None:
            answer = session.get(invoke_url)
            assert answer.status_code == 200, answer.text

        if size > 1:  # the copies are served too, not just stored
            copy = session.get(f"{gateway.url}/_aws/execute-api/c{size - 2:09d}/prod/r3")
            assert copy.status_code == 200 and copy.json() == {"r": 3}, copy.text
        timed(write, 5)  # warm
        result["write_ms"] = round(timed(write, 40), 2)
        result["deploy_ms"] = round(timed(deploy, 20), 2)
        result["read_ms"] = round(timed(read, 40), 2)
        result["invoke_ms"] = round(timed(invoke, 200), 3)
        gateway.stop()
        return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--apis", default="1,100,1000,10000")
    parser.add_argument("--store", help="a PostgreSQL server URL (a database per size is made on it)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--repo", type=Path, help="the apigate checkout to measure (default: this one)")
    args = parser.parse_args()
    if args.repo:
        global REPO
        REPO = args.repo.resolve()
    rows = []
    for size in [int(n) for n in args.apis.split(",")]:
        url = None
        if args.store:
            url = _scratch(args.store, size)
        try:
            row = measure(size, url)
        finally:
            if url:
                _drop(args.store, url)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print(
        "| APIs | methods | ready | all compiled | RSS ready / compiled | write | deploy | read | data plane GET |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['apis']:,} | {r['methods']:,} | {r['startup_s']} s | {r['compiled_s']} s "
            f"| {r['rss_mb']} / {r['rss_compiled_mb']} MB | {r['write_ms']} ms | {r['deploy_ms']} ms "
            f"| {r['read_ms']} ms | {r['invoke_ms']} ms |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


def _scratch(server: str, size: int) -> str:
    import psycopg

    name = f"apigate_bench_{size}_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.rsplit("/", 1)[0] + "/" + name


def _drop(server: str, url: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
