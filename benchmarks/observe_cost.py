"""CPU cost of seeing (#19), in process: the MOCK request through ``Pipeline.run`` with a stage access log (the
CLF preset, to a log group), with tracing (sampled as served, and every request), and what writing the
queued lines costs in the drain tasks (access log -> log store, SQLite).

``PYTHONPATH=. python benchmarks/observe_cost.py`` prints µs of CPU per request (this thread's: the span export
and the log writes run here too, after each batch), the best of rounds that alternate between the cases.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from apigate.compile.access_log import compile_access_log
from apigate.dataplane.integrations import IntegrationServices, build
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.pipeline import Pipeline
from apigate.model import DeployedApi
from apigate.observe.access_log import AccessLogs
from apigate.observe.log_sink import LogSink
from apigate.observe.tracing import Tracing
from apigate.server.message import Request
from apigate.store.log_events import LogStore
from benchmarks.pipeline_cost import api

GROUP = "arn:aws:logs:us-east-1:000000000000:log-group:bench-access"


def batch(pipeline: Pipeline, deployed: DeployedApi, n: int, loop: asyncio.AbstractEventLoop) -> None:
    async def requests() -> None:
        for _ in range(n):
            headers = [("Host", "x"), ("Accept", "*/*"), ("User-Agent", "bench")]
            request = Request("GET", "/prod/constant", "", headers, b"", ("1.2.3.4", 1))
            invocation = Invocation(request, deployed, "/constant", "/prod/constant", "b.localhost")
            response = await pipeline.run(invocation)
            assert response.status == 200, response

    loop.run_until_complete(requests())


def _sink() -> str:
    class Sink(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


class Case:
    """One configuration: how the pipeline is set for it, which stage, what runs after each batch."""

    def __init__(self, name: str, deployed: DeployedApi, setup: Any, after: Any = None) -> None:
        self.name, self.deployed, self.setup, self.after = name, deployed, setup, after
        self.samples: list[float] = []


def main(rounds: int = 9, n: int = 3000) -> None:
    """Rounds alternate between the cases (a busy machine slows them alike); the fastest round of each is
    reported, as the least disturbed."""
    plain = api()
    pipeline = Pipeline(build(IntegrationServices(None, None)))  # type: ignore[arg-type]  # MOCK needs neither
    scratch = tempfile.TemporaryDirectory()
    store = LogStore(Path(scratch.name) / "logs.db")
    sink = LogSink(store)
    logs = AccessLogs(Path(scratch.name) / "groups")
    logs.sink = sink
    metrics = pipeline.state.metrics
    endpoint = _sink()
    # Exported in the measuring thread (after each batch), never by the tracer's own thread meanwhile.
    tracers = {ratio: Tracing(endpoint, ratio=ratio, delay_ms=10**9) for ratio in (0.0, 0.05, 1.0)}
    traced_api = dataclasses.replace(plain, tracing=True)

    def observe(access: AccessLogs | None = None, tracing: Tracing | None = None) -> Any:
        def setup() -> None:
            metrics.access_logs = access
            pipeline.tracing = metrics.tracing = tracing

        return setup

    cases = [Case("MOCK", plain, observe()), Case("MOCK, a copy of the stage", dataclasses.replace(plain), observe())]
    for preset in ("CLF", "JSON"):
        logged = dataclasses.replace(
            plain, access_log=compile_access_log({"destinationArn": GROUP, "format": preset})
        )
        cases.append(Case(f"access log {preset}, request path", logged, observe(logs), logs._values.clear))
        cases.append(
            Case(
                f"access log {preset}, with its writes",
                logged,
                observe(logs),
                lambda: (logs.drain(), sink.drain()),
            )
        )
    for ratio, tracing in tracers.items():
        cases.append(Case(f"tracing, ratio {ratio}", traced_api, observe(tracing=tracing), tracing._export))
    loop = asyncio.new_event_loop()
    try:
        for case in cases:  # warm up
            case.setup()
            batch(pipeline, case.deployed, n, loop)
            if case.after is not None:
                case.after()
        for _ in range(rounds):
            for case in cases:
                case.setup()
                gc.collect()  # the previous case's garbage is not this one's
                started = time.thread_time()
                batch(pipeline, case.deployed, n, loop)
                if case.after is not None:
                    case.after()
                case.samples.append((time.thread_time() - started) / n * 1e6)
    finally:
        loop.close()
        for tracing in tracers.values():
            tracing.close()
        store.close()
        scratch.cleanup()
    base = min(cases[0].samples)
    for case in cases:
        best = min(case.samples)
        print(f"{case.name:<34} {best:6.1f} µs  (+{best - base:4.1f}, {best / base:.2f}x)")


if __name__ == "__main__":
    main()
