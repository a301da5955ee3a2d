"""provided.al2023 / provided.al2: the function's own ``bootstrap`` behind a per-worker Lambda Runtime API.

The gateway starts this shim as it starts a Python worker (same frames, pipes, sandbox, limits, timeouts).
The shim serves the Runtime API (2018-06-01: invocation/next, invocation/ID/response, invocation/ID/error,
init/error) on a loopback port of its own, starts ``bootstrap`` from the task root with
``AWS_LAMBDA_RUNTIME_API`` naming that port, and translates: a request frame becomes the answer to the
bootstrap's pending ``next``, its response or error becomes the reply frame. The first ``next`` means the
init is done (READY); an init error, or a bootstrap that exits before asking, is the init error. A bootstrap
that exits later ends the shim, so the gateway sees a crashed worker and starts a new one, as Lambda does.
The bootstrap is in the shim's process group: a timeout's killpg ends both.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .frames import ERROR, INIT_ERROR, MAX_PAYLOAD_BYTES, READY, REPLY, REQUEST, RESULT
from .procfs import peak_rss_kb

_PREFIX = "/2018-06-01/runtime/"
_Invocation = tuple[str, str, int, bytes, str]  # request id, ARN, deadline (epoch ms), payload, trace header


class _Shim:
    def __init__(self) -> None:
        self.invocations: queue.Queue[_Invocation] = queue.Queue()
        self.outcomes: queue.Queue[tuple[int, bytes]] = queue.Queue()
        self.init: queue.Queue[tuple[int, bytes]] = queue.Queue()  # READY or INIT_ERROR, once
        self.current: str | None = None
        self.ready = False


def _handler_class(shim: _Shim) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the bootstrap's output is the function's log, not ours

        def _answer(self, status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            if self.path != _PREFIX + "invocation/next":
                self._answer(404, b'{"errorType":"InvalidRequest","errorMessage":"not found"}')
                return
            if not shim.ready:
                shim.ready = True
                shim.init.put((READY, b""))
            request_id, arn, deadline_ms, payload, trace = shim.invocations.get()
            shim.current = request_id
            self._answer(
                200,
                payload,
                {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": arn,
                    "Lambda-Runtime-Trace-Id": trace
                    or f"Root=1-{int(time.time()):08x}-{request_id.replace('-', '')[:24]}",
                },
            )

        def do_POST(self) -> None:
            body = self._body()
            if self.path == _PREFIX + "init/error":
                if not shim.ready:
                    shim.ready = True
                    shim.init.put((INIT_ERROR, _error_body(body, self.headers.get("Lambda-Runtime-Function-Error-Type"))))
                self._answer(202, b'{"status":"OK"}')
                return
            parts = self.path[len(_PREFIX) :].split("/") if self.path.startswith(_PREFIX) else []
            if len(parts) != 3 or parts[0] != "invocation" or parts[2] not in ("response", "error"):
                self._answer(404, b'{"errorType":"InvalidRequest","errorMessage":"not found"}')
                return
            if parts[1] != shim.current:
                self._answer(400, b'{"errorType":"InvalidRequestID","errorMessage":"Invalid request ID"}')
                return
            shim.current = None
            if parts[2] == "response":
                if len(body) > MAX_PAYLOAD_BYTES:
                    self._answer(413, b'{"errorType":"RequestEntityTooLarge","errorMessage":"payload too large"}')
                    body = json.dumps(
                        {
                            "errorType": "Function.ResponseSizeTooLarge",
                            "errorMessage": "Response payload size exceeded maximum allowed payload size "
                            "(6291556 bytes).",
                        }
                    ).encode()
                    shim.outcomes.put((ERROR, body))
                    return
                shim.outcomes.put((RESULT, body))
            else:
                shim.outcomes.put((ERROR, _error_body(body, self.headers.get("Lambda-Runtime-Function-Error-Type"))))
            self._answer(202, b'{"status":"OK"}')

    return Handler


def _error_body(body: bytes, error_type: str | None) -> bytes:
    try:
        document = json.loads(body)
        if isinstance(document, dict):
            return body
    except ValueError:
        pass
    return json.dumps({"errorType": error_type or "Runtime.Unknown", "errorMessage": body.decode(errors="replace")}).encode()


def main(argv: list[str]) -> int:
    reply_fd, request_fd = int(argv[1]), int(argv[2])
    for fd in (reply_fd, request_fd):
        os.set_inheritable(fd, False)  # the bootstrap must not hold the channel
    if "--sandboxed" in argv[3:]:
        from .worker import _not_dumpable

        _not_dumpable()

    def send(kind: int, body: bytes, duration_ms: float, child: int) -> None:
        data = memoryview(REPLY.pack(len(body), kind, peak_rss_kb(child), duration_ms) + body)
        while data:
            data = data[os.write(reply_fd, data) :]

    shim = _Shim()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(shim))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "_APIGATE_IMPORTS")}
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{server.server_address[1]}"
    # A sandboxed worker names its code through an open handle (sandbox.py): the bootstrap inherits it.
    handles = tuple(
        int(p.split("/")[4]) for p in {task_root, *env.get("LAMBDA_RUNTIME_DIR", "").split(":")}
        if p.startswith("/proc/self/fd/")
    )
    try:
        child = subprocess.Popen([os.path.join(task_root, "bootstrap")], cwd=task_root, env=env, pass_fds=handles)
    except OSError as e:
        document = {"errorType": "Runtime.InvalidEntrypoint", "errorMessage": f"Couldn't find valid bootstrap(s): {e}"}
        send(INIT_ERROR, json.dumps(document).encode(), 0.0, os.getpid())
        return 1

    def watch() -> None:
        status = child.wait()
        if not shim.ready:
            shim.ready = True
            message = f"Runtime exited with error: exit status {status}"
            shim.init.put((INIT_ERROR, json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()))
            return
        time.sleep(0.05)  # a reply the bootstrap posted just before exiting still goes out
        os._exit(1)  # the gateway sees the worker gone: a new environment next time

    threading.Thread(target=watch, daemon=True).start()
    kind, body = shim.init.get()
    send(kind, body, 0.0, child.pid)
    if kind == INIT_ERROR:
        child.kill()
        return 1
    with open(request_fd, "rb") as requests:
        while True:
            head = requests.read(REQUEST.size)
            if len(head) < REQUEST.size:
                return 0
            payload_len, id_len, arn_len, trace_len, deadline_ms = REQUEST.unpack(head)
            request_id = requests.read(id_len).decode()
            arn = requests.read(arn_len).decode()
            trace = requests.read(trace_len).decode()
            payload = requests.read(payload_len)
            started = time.perf_counter()
            shim.invocations.put((request_id, arn, deadline_ms, payload, trace))
            kind, body = shim.outcomes.get()
            send(kind, body, (time.perf_counter() - started) * 1000.0, child.pid)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
