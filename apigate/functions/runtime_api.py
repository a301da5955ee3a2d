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
import socketserver
import subprocess
import sys
import threading
import time
from typing import BinaryIO

from .frames import ERROR, INIT_ERROR, MAX_PAYLOAD_BYTES, READY, REPLY, REQUEST, RESULT
from .procfs import peak_rss_kb

_PREFIX = "/2018-06-01/runtime/"
_NEXT = _PREFIX + "invocation/next"
_REASONS = {100: "Continue", 200: "OK", 202: "Accepted", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large"}
_NOT_FOUND = b'{"errorType":"InvalidRequest","errorMessage":"not found"}'
_ACCEPTED = b'{"status":"OK"}'
_MAX_LINE = 65536


class _Shim:
    """The channel's two ends and the one invocation in flight. The connection thread that serves the
    bootstrap's ``next`` reads the gateway's request frame itself, and the one that takes its response writes
    the reply frame: no hand-off between threads inside an invocation."""

    def __init__(self, reply_fd: int, requests: BinaryIO) -> None:
        self.reply_fd = reply_fd
        self.requests = requests
        self.reading = threading.Lock()  # one next at a time reads the request pipe
        self.writing = threading.Lock()
        self.child = os.getpid()  # the bootstrap's, once started: its memory is what the replies report
        self.current: str | None = None
        self.started = 0.0
        self.ready = False
        self.finished = threading.Event()
        self.exit_code = 0

    def send(self, kind: int, body: bytes, duration_ms: float) -> None:
        data = memoryview(REPLY.pack(len(body), kind, peak_rss_kb(self.child), duration_ms) + body)
        with self.writing:
            while data:
                data = data[os.write(self.reply_fd, data) :]

    def finish(self, code: int) -> None:
        self.exit_code = code
        self.finished.set()

    def init_done(self, kind: int, body: bytes) -> bool:
        """The first of: the bootstrap's first ``next`` (READY), its init error, its exit. False if too late."""
        with self.writing:
            if self.ready:
                return False
            self.ready = True
        self.send(kind, body, 0.0)
        return True

    def next_invocation(self) -> tuple[str, str, int, bytes, str] | None:
        with self.reading:
            requests = self.requests
            head = requests.read(REQUEST.size)
            if len(head) < REQUEST.size:
                return None  # the gateway closed the channel
            payload_len, id_len, arn_len, trace_len, deadline_ms = REQUEST.unpack(head)
            request_id = requests.read(id_len).decode()
            arn = requests.read(arn_len).decode()
            trace = requests.read(trace_len).decode()  # the X-Ray header the gateway's span names, or ""
            payload = requests.read(payload_len)
        self.started = time.perf_counter()
        self.current = request_id
        return request_id, arn, deadline_ms, payload, trace


def _connection_class(shim: _Shim) -> type[socketserver.StreamRequestHandler]:
    class Connection(socketserver.StreamRequestHandler):
        """HTTP/1.1 with keep-alive, as much of it as Runtime API clients use (Content-Length or chunked
        bodies, ``Expect: 100-continue``). An answer leaves in one write, with Nagle's algorithm off (with it
        the client's delayed ACK held each answer 40 ms)."""

        disable_nagle_algorithm = True

        def _answer(self, status: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
            head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}", "Content-Type: application/json",
                    f"Content-Length: {len(body)}"]  # fmt: skip
            head += [f"{key}: {value}" for key, value in (headers or {}).items()]
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

        def _body(self, headers: dict[bytes, bytes]) -> bytes:
            if headers.get(b"expect", b"").lower() == b"100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
                chunks: list[bytes] = []
                while True:
                    size = int(self.rfile.readline(_MAX_LINE).split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline(_MAX_LINE)
            length = int(headers.get(b"content-length", b"0") or b"0")
            return self.rfile.read(length) if length > 0 else b""

        def handle(self) -> None:
            while True:
                line = self.rfile.readline(_MAX_LINE)
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    continue
                method, _, rest = line.partition(b" ")
                target = rest.split(b" ", 1)[0].decode("latin-1")
                headers: dict[bytes, bytes] = {}
                while True:
                    field = self.rfile.readline(_MAX_LINE)
                    if field in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = field.partition(b":")
                    headers[name.strip().lower()] = value.strip()
                try:
                    body = self._body(headers)
                except ValueError:
                    self._answer(400, b'{"errorType":"InvalidRequest","errorMessage":"bad body"}')
                    return
                if method == b"GET":
                    self._next(target)
                elif method == b"POST":
                    self._post(target, body, headers.get(b"lambda-runtime-function-error-type"))
                else:
                    self._answer(404, _NOT_FOUND)
                if headers.get(b"connection", b"").lower() == b"close":
                    return

        def _next(self, target: str) -> None:
            if target != _NEXT:
                self._answer(404, _NOT_FOUND)
                return
            shim.init_done(READY, b"")
            invocation = shim.next_invocation()
            if invocation is None:
                shim.finish(0)
                return
            request_id, arn, deadline_ms, payload, trace = invocation
            trace = trace or f"Root=1-{int(time.time()):08x}-{request_id.replace('-', '')[:24]}"
            self._answer(200, payload, {"Lambda-Runtime-Aws-Request-Id": request_id,
                                        "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                                        "Lambda-Runtime-Invoked-Function-Arn": arn,
                                        "Lambda-Runtime-Trace-Id": trace})  # fmt: skip

        def _post(self, target: str, body: bytes, error_type: bytes | None) -> None:
            kind = None if error_type is None else error_type.decode("latin-1")
            # The frame goes to the gateway before the answer: a bootstrap that exits once answered must not
            # have its exit reported first (the exit watcher is another thread).
            if target == _PREFIX + "init/error":
                finished = shim.init_done(INIT_ERROR, _error_body(body, kind))
                self._answer(202, _ACCEPTED)
                if finished:
                    shim.finish(1)
                return
            parts = target[len(_PREFIX) :].split("/") if target.startswith(_PREFIX) else []
            if len(parts) != 3 or parts[0] != "invocation" or parts[2] not in ("response", "error"):
                self._answer(404, _NOT_FOUND)
                return
            if parts[1] != shim.current:
                self._answer(400, b'{"errorType":"InvalidRequestID","errorMessage":"Invalid request ID"}')
                return
            shim.current = None
            duration_ms = (time.perf_counter() - shim.started) * 1000.0
            if parts[2] == "error":
                shim.send(ERROR, _error_body(body, kind), duration_ms)
                self._answer(202, _ACCEPTED)
            elif len(body) > MAX_PAYLOAD_BYTES:
                too_large = {
                    "errorType": "Function.ResponseSizeTooLarge",
                    "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                }
                shim.send(ERROR, json.dumps(too_large).encode(), duration_ms)
                self._answer(413, b'{"errorType":"RequestEntityTooLarge","errorMessage":"payload too large"}')
            else:
                shim.send(RESULT, body, duration_ms)
                self._answer(202, _ACCEPTED)

    return Connection


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


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

    shim = _Shim(reply_fd, open(request_fd, "rb"))  # noqa: SIM115 - read until the gateway closes it
    server = _Server(("127.0.0.1", 0), _connection_class(shim))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH", "_APIGATE_IMPORTS")}
    env["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{server.server_address[1]}"
    # A sandboxed worker names its code through an open handle (sandbox.py): the bootstrap inherits it.
    # So does it its layers' bin and lib (on PATH and LD_LIBRARY_PATH).
    named = {task_root, *(p for v in ("LAMBDA_RUNTIME_DIR", "PATH", "LD_LIBRARY_PATH") for p in env.get(v, "").split(":"))}
    handles = tuple({int(p.split("/")[4]) for p in named if p.startswith("/proc/self/fd/")})
    try:
        child = subprocess.Popen([os.path.join(task_root, "bootstrap")], cwd=task_root, env=env, pass_fds=handles)
    except OSError as e:
        document = {"errorType": "Runtime.InvalidEntrypoint", "errorMessage": f"Couldn't find valid bootstrap(s): {e}"}
        shim.send(INIT_ERROR, json.dumps(document).encode(), 0.0)
        return 1
    shim.child = child.pid

    def watch() -> None:
        status = child.wait()
        message = f"Runtime exited with error: exit status {status}"
        if shim.init_done(INIT_ERROR, json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode()):
            shim.finish(1)
            return
        time.sleep(0.05)  # a reply the bootstrap posted just before exiting still goes out
        os._exit(1)  # the gateway sees the worker gone: a new environment next time

    threading.Thread(target=watch, daemon=True).start()
    shim.finished.wait()
    if shim.exit_code:
        child.kill()
    return shim.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
