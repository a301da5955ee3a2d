"""What one request costs the gateway's own request handling, in process, to compare checkouts (A/B).

    python benchmarks/gateway_cost.py [--rows mock,http_proxy,full,full_cached,mock_logged,mock_traced]
        [--requests 1000]
        [--against /path/to/other/checkout ...] [--time [--rounds 5]] [--profile PREFIX]

Socket benchmarks (run.py) on a shared 2-core machine move by ±10% with other load, and so does CPU time (other
processes share the caches and the cores' other hyperthreads), which hides a 5% change. This measures a change
to the data plane without the load generator or the HTTP parser in the way: each checkout configures a real
gateway through boto3 (run.py's setup: the same API as run.py's rows), the gateway stops, and a child process of
that checkout opens the same data dir, builds each row's request and calls ``Gateway(request)`` in a loop.

By default the child runs under ``valgrind --tool=callgrind`` and the figure is **instructions per request**,
which other load does not move (the same count twice, whatever else runs). Collection is limited to the measured
loop: the loop runs inside a ``qsort`` comparator called through ``ctypes``, and callgrind collects only inside
``qsort_r`` (glibc's qsort, ``--toggle-collect``); start-up and warm-up are not instrumented. Instructions are not time (a cache
miss costs more than an add), so confirm a real gain with run.py on a quiet machine; for choosing between two
versions of the same code they are what can be trusted here.

``--time``: CPU microseconds per request (``time.process_time``) instead, children of the checkouts alternating
round by round, each row reporting a checkout's fastest round. ``--profile PREFIX``: cProfile each row into
``PREFIX.<row>`` (the n-th ``--against`` checkout's into ``PREFIX.<n>.<row>``; times then inflated). The upstream nginx and the functions' workers run in
other processes and are not counted: waiting for an upstream costs the gateway nothing.

``mock_logged`` (run.py's stage with the CLF access log to a log group) and ``mock_traced`` (its stage with
``tracingEnabled``, the gateway given an ``--otlp-endpoint``, sampled as served) count the writes too: after the
loop, still inside the measured call, the access log and log store drains run and the queued spans are encoded
and posted, as the served gateway's tasks and export thread do on the same core. The export thread's own timer
and its per-second reservoir are stopped and the sampler seeded, so the sampled requests are the same each run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import run  # benchmarks/ is the script's directory, so on sys.path

ROWS = ("mock", "http_proxy", "full", "full_cached", "lambda", "mock_logged", "mock_traced")
DEFAULT_ROWS = ROWS[:5]


def configure(repo: Path, procs: run.Processes, upstream_port: int, rows: list[str]) -> tuple[Path, list[dict[str, Any]]]:
    """Start `repo`'s gateway, build the rows' API through boto3, stop it: its data dir and the rows' requests."""
    name = f"apigate-{len(list(procs.tmp.glob('apigate-*-data')))}"
    run.GATEWAY_REPO = repo
    endpoint, _ready = run.start_gateway(procs, name=name)
    planned = {row.key: row for row in run.plan_rows(rows) if row.baseline and row.key in rows}
    run.configure_gateway(endpoint, planned, upstream_port)
    if {"full", "full_cached"} & set(planned):
        # A worker forked by a process under valgrind starts with valgrind's peak memory on its books and is
        # killed by its 128 MB limit: give the authorizer room (its answer is cached; it runs once).
        _apigw, lam = run.boto_clients(endpoint)
        lam.update_function_configuration(FunctionName=run.AUTHORIZER_NAME, MemorySize=10240)
    for row in planned.values():
        run.verify(row)  # the row answers as expected before it is measured
    procs.stop(name)
    requests = []
    for row in planned.values():
        if row.error or row.url is None:
            raise RuntimeError(f"{row.key}: {row.error}")
        url = urlsplit(row.url)
        requests.append(
            {
                "key": row.key,
                "method": row.method,
                "path": url.path,
                "headers": [["Host", url.netloc], ["User-Agent", "bench"], *row.headers.items()],
                "body": row.body or "",
            }
        )
    return procs.tmp / f"{name}-data", requests


# ------------------------------------------------------------------------------------ the child process


def child(data_dir: str, spec: str) -> None:
    """In the checkout's own interpreter: measure each row, printing one JSON line per row."""
    import asyncio
    import ctypes
    import dataclasses

    import uvloop

    from apigate.app import Gateway
    from apigate.config import Settings
    from apigate.server.message import Request, Response

    plan = json.loads(spec)
    import logging

    logging.basicConfig(level=logging.DEBUG if os.environ.get("APIGATE_COST_DEBUG") else logging.WARNING)
    settings = Settings(data_dir=Path(data_dir), port=1, account_rate=1e12, account_burst=10**12)
    if "function_init_timeout" in {field.name for field in dataclasses.fields(Settings)}:
        # under valgrind the gateway's side of a worker's start is slow: the authorizer must not time out
        settings = dataclasses.replace(settings, function_init_timeout=120.0)
    if "function_user" in {field.name for field in dataclasses.fields(Settings)}:
        # workers as the gateway's own user: a root gateway's sandboxed start fails under valgrind, and the
        # sandbox is not what is measured (the authorizer runs once, then its answer is cached)
        settings = dataclasses.replace(settings, function_user="root")
    if os.environ.get("APIGATE_COST_DEBUG"):
        settings = dataclasses.replace(settings, function_output=True, console=True)
    if plan.get("otlp_endpoint"):
        settings = dataclasses.replace(settings, otlp_endpoint=plan["otlp_endpoint"])
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)

    async def start() -> Gateway:
        return Gateway(settings)

    gateway = loop.run_until_complete(start())
    tracing = getattr(gateway, "tracing", None)
    if tracing is not None:  # spans exported in the measured call (below), a repeatable sample
        tracing._next_export = float("inf")
        tracing._refill = lambda: None
        tracing._random.seed(19)
        tracing._reservoir = False

    def flush() -> None:
        """What the served gateway's drain tasks and export thread do with what the requests queued."""
        for name in ("access_logs", "log_sink"):
            drain = getattr(getattr(gateway, name, None), "drain", None)
            if drain is not None:
                drain()
        if tracing is not None:
            tracing._export()

    libc = ctypes.CDLL(None)
    comparator = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
    pair = (ctypes.c_int * 2)(1, 2)
    try:
        for row in plan["rows"]:
            headers = [(k, v) for k, v in row["headers"]]
            body = row["body"].encode()

            async def call(
                count: int, row: dict[str, Any] = row, headers: list[tuple[str, str]] = headers, body: bytes = body
            ) -> None:
                async def one() -> None:
                    request = Request(row["method"], row["path"], "", list(headers), body, ("127.0.0.1", 50000))
                    answer = gateway(request)
                    if not isinstance(answer, Response):
                        answer = await answer
                    if answer.status != 200:
                        raise RuntimeError(f"{row['key']}: {answer.status} {answer.body[:200]!r}")

                concurrency = plan.get("concurrency", 1)
                if concurrency == 1:
                    for _ in range(count):
                        await one()
                    return
                for _ in range(count // concurrency):  # as many requests arriving in one turn of the loop
                    await asyncio.gather(*(one() for _ in range(concurrency)))

            loop.run_until_complete(call(plan["warmup"]))
            flush()
            failure: list[BaseException] = []

            def measured(
                _a: Any, _b: Any, count: int = plan["requests"], failure: list[BaseException] = failure
            ) -> int:
                try:
                    loop.run_until_complete(call(count))
                    flush()
                except BaseException as exc:  # carried out of the C callback
                    failure.append(exc)
                return 0

            if plan["mode"] == "instructions":
                print(f"READY {row['key']}", flush=True)
                sys.stdin.readline()  # the parent turned instrumentation on
            profile = None
            if plan.get("profile"):
                import cProfile

                profile = cProfile.Profile(time.process_time)
                profile.enable()
            import function_cost  # (benchmarks/, the script's directory)

            tree_before = function_cost.cpu_ns(os.getpid())
            started = time.process_time()
            libc.qsort(pair, 2, ctypes.sizeof(ctypes.c_int), comparator(measured))  # 2 items: one comparison
            spent = (time.process_time() - started) / plan["requests"] * 1e6
            # With the function workers this process started (on-CPU time, /proc schedstat).
            tree = (function_cost.cpu_ns(os.getpid()) - tree_before) / plan["requests"] / 1e3
            if profile is not None:
                profile.disable()
                profile.dump_stats(f"{plan['profile']}.{row['key']}")
            if failure:
                raise failure[0]
            print(json.dumps({"row": row["key"], "us": spent, "tree_us": tree}), flush=True)
            if plan["mode"] == "instructions":
                sys.stdin.readline()  # the parent dumped this row's counts
    finally:
        loop.run_until_complete(gateway.close())


def _child_argv(data_dir: Path, spec: dict[str, Any]) -> list[str]:
    return [sys.executable, __file__, "--child", str(data_dir), json.dumps(spec)]


def measure_instructions(repo: Path, data_dir: Path, spec: dict[str, Any], tmp: Path) -> dict[str, float]:
    """Instructions per request of each row, from one child under callgrind."""
    out = tmp / f"callgrind.{abs(hash(repo))}"
    argv = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        "--collect-atstart=no",
        "--toggle-collect=qsort_r",
        f"--callgrind-out-file={out}",
        *_child_argv(data_dir, spec),
    ]
    env = {**os.environ, "PYTHONPATH": str(repo), "PYTHONHASHSEED": "0"}
    log = (tmp / f"{out.name}.stderr").open("w")
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=tmp)
    assert proc.stdin is not None and proc.stdout is not None
    counts: dict[str, float] = {}
    try:
        for line in proc.stdout:
            if line.startswith("READY "):
                subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
                subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True)
                proc.stdin.write("\n")
                proc.stdin.flush()
            elif line.startswith("{"):
                key = json.loads(line)["row"]
                before = set(tmp.glob(f"{out.name}*"))
                subprocess.run(["callgrind_control", "-d", key, str(proc.pid)], check=True, capture_output=True)
                dumped = set(tmp.glob(f"{out.name}*")) - before
                counts[key] = _total(dumped.pop()) / spec["requests"]
                proc.stdin.write("\n")
                proc.stdin.flush()
        proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    log.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{repo}: child failed:\n{(tmp / f'{out.name}.stderr').read_text()[-6000:]}")
    return counts


def _total(path: Path) -> int:
    found = re.search(r"^(?:summary|totals): (\d+)", path.read_text(), re.MULTILINE)
    if not found:
        raise RuntimeError(f"no totals in {path}")
    return int(found.group(1))


def measure_time(repo: Path, data_dir: Path, spec: dict[str, Any], tmp: Path) -> dict[str, float]:
    done = subprocess.run(
        ["taskset", "-c", run.SERVER_CORE, *_child_argv(data_dir, spec)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(repo)},
        cwd=tmp,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{repo}: {done.stderr[-3000:]}")
    found: dict[str, float] = {}
    for item in map(json.loads, done.stdout.splitlines()):
        if "row" in item:
            found[item["row"]] = item["us"]
            if item.get("tree_us", 0) > item["us"] * 1.05:  # workers of its own ran too
                found[f"{item['row']} + workers"] = item["tree_us"]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default=",".join(DEFAULT_ROWS), type=lambda text: text.split(","))
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--concurrency", type=int, default=1,
        help="requests started together (asyncio.gather), as a busy server reads several in one turn",
    )  # fmt: skip
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--time", action="store_true", help="CPU µs per request instead of instructions")
    parser.add_argument("--rounds", type=int, default=5, help="with --time")
    parser.add_argument("--profile", help="cProfile each row into PROFILE.<row> (PROFILE.<n>.<row>: --against's)")
    parser.add_argument("--against", action="append", default=[], type=Path, help="another checkout to compare")
    args = parser.parse_args()
    if unknown := set(args.rows) - set(ROWS):
        parser.error(f"unknown rows: {sorted(unknown)}")
    if {"mock_logged", "mock_traced"} & set(args.rows) and "mock" not in args.rows:
        args.rows.insert(0, "mock")  # their stages are made beside the MOCK row's, and compared with it
    repos = [run.REPO, *(path.resolve() for path in args.against)]
    results: dict[Path, dict[str, list[float]]] = {repo: {} for repo in repos}
    mode = "time" if args.time or args.profile else "instructions"
    with run.sigterm_as_exit(), tempfile.TemporaryDirectory(prefix="apigate-cost-") as tmp:
        procs = run.Processes(Path(tmp))
        try:
            upstream_port = run.free_port()
            procs.nginx(
                "upstream",
                run.CLIENT_CORE,
                {upstream_port: run.nginx_return_server(upstream_port, run.UPSTREAM_BODY)},
            )
            setups = {repo: configure(repo, procs, upstream_port, args.rows) for repo in repos}
            otlp_endpoint = None
            if "mock_traced" in args.rows:  # the spans' collector, on the load generator's core as in run.py
                sink_port = run.free_port()
                sink = [sys.executable, str(run.HERE / "otlp_sink.py"), str(sink_port)]
                started = procs.start("otlp-sink", sink, run.CLIENT_CORE, procs.tmp / "otlp-sink.log")
                run.wait_for_port(sink_port, started, "the OTLP sink")
                otlp_endpoint = f"http://127.0.0.1:{sink_port}"
            for number in range(args.rounds if mode == "time" else 1):
                for index, (repo, (data_dir, requests)) in enumerate(setups.items()):
                    spec = {
                        "rows": requests,
                        "requests": args.requests,
                        "warmup": args.warmup,
                        "mode": mode,
                        "concurrency": args.concurrency,
                        "otlp_endpoint": otlp_endpoint,
                    }
                    if args.profile:
                        spec["profile"] = args.profile if index == 0 else f"{args.profile}.{index}"
                    measure = measure_instructions if mode == "instructions" else measure_time
                    for key, value in measure(repo, data_dir, spec, Path(tmp)).items():
                        results[repo].setdefault(key, []).append(value)
                print(f"round {number + 1} done", file=sys.stderr, flush=True)
        finally:
            procs.stop_all()
    unit = "instructions" if mode == "instructions" else "µs"
    print(f"| row ({unit} per request) | " + " | ".join(str(repo) for repo in repos) + " |")
    print("|---|" + "---:|" * len(repos))
    keys = [key for row in args.rows for key in (row, f"{row} + workers") if key in results[repos[0]]]
    for key in keys:
        if not all(key in results[repo] for repo in repos):
            continue
        best = [min(results[repo][key]) for repo in repos]
        cells = [f"{best[0]:,.0f}"] + [f"{value:,.0f} ({value / best[0] - 1:+.1%})" for value in best[1:]]
        print(f"| {key} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(main())
