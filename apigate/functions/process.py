"""The gateway's handle on one worker process: its channel, its output pipe and its exit.

Nothing here blocks the event loop: replies arrive through an asyncio protocol, output through a non-blocking
pipe read by ``add_reader``, and the exit through a pidfd (polled where pidfds do not exist).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import math
import os
import select
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, cast

from . import frames
from .boot import BOOT, BOOT_RUNTIME_API
from .interpreters import Interpreter
from .procfs import peak_rss_kb, runnable
from .sandbox import Sandbox

__all__ = ["Reply", "WorkerGone", "WorkerProcess"]

_EXIT_POLL_SECONDS = 0.05  # only where os.pidfd_open is missing
_CHANNEL_GRACE_SECONDS = 1.0  # after the exit, for a channel a stray grandchild keeps open
# A reply body the worker runtime never sends (it caps payloads at MAX_PAYLOAD_BYTES): a longer frame means
# user code wrote on the channel, and is refused before it is buffered.
_MAX_REPLY_BYTES = 2 * frames.MAX_PAYLOAD_BYTES
_DRAIN_CHUNKS = 16  # 64 KiB reads per wake-up of the output reader: a chatty worker cannot hog the loop
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
_PIPE_BYTES = 1 << 20  # Linux's default pipe-max-size
_KIND_MASK = ~frames.QUIET



def _exited(pid: int) -> bool:
    """Whether child ``pid`` has exited, without reaping it (its process group stays ours until it is reaped)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # reaped already
        return True

class WorkerGone(Exception):
    """The worker's channel closed: the process exited or was killed."""


class Reply(NamedTuple):
    kind: int
    max_rss_kb: int
    duration_ms: float
    body: bytes


class _Channel(asyncio.Protocol):
    """Length-prefixed reply frames from the worker's reply pipe (and the request pipe to write to); one request
    is in flight at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.ReadTransport | None = None  # the reply pipe
        self.writer: asyncio.WriteTransport | None = None  # the request pipe
        # Kept: get_running_loop() costs a getpid() system call each time (CPython checks for a fork).
        self.loop = asyncio.get_running_loop()
        self.lost: asyncio.Future[None] | None = None
        self._buffer = bytearray()
        self._replies: deque[Reply] = deque()
        self._waiter: asyncio.Future[Reply] | None = None
        self._closed = False
        self.violated = False  # the worker wrote something that is not a reply frame
        # While a batch is out: every reply (None: the channel closed) goes here, in order, at once.
        self.receiver: Callable[[Reply | None], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.ReadTransport, transport)  # uvloop's transports are not subclasses
        self.lost = self.loop.create_future()

    def data_received(self, data: bytes) -> None:
        head = frames.REPLY.size
        if not self._buffer and len(data) >= head:  # the usual case: exactly one whole reply
            length, kind, rss, duration = frames.REPLY.unpack_from(data)
            if len(data) == head + length and self._valid(kind):
                self._deliver(Reply(kind, rss, duration, data[head:]))
                return
        buffer = self._buffer
        buffer += data
        while len(buffer) >= head:
            length, kind, rss, duration = frames.REPLY.unpack_from(buffer)
            if length > _MAX_REPLY_BYTES or not self._valid(kind):
                self._violated()
                return
            end = head + length
            if len(buffer) < end:
                return
            reply = Reply(kind, rss, duration, bytes(buffer[head:end]))
            del buffer[:end]
            self._deliver(reply)

    def _valid(self, kind: int) -> bool:
        """A kind our runtime sends: QUIET and SKIPPED only to a batch (frames.py)."""
        if kind <= frames.OUT_OF_MEMORY:
            return True
        return self.receiver is not None and kind & _KIND_MASK <= frames.SKIPPED

    def _deliver(self, reply: Reply) -> None:
        if self.receiver is not None:
            self.receiver(reply)
            return
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._waiter = None
            waiter.set_result(reply)
        else:
            self._replies.append(reply)

    def _violated(self) -> None:
        """Not a frame our runtime writes: stop reading, and treat the worker as gone (it is killed)."""
        self.violated = True
        self._buffer.clear()
        self.close()  # connection_lost fails the waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        if self.writer is not None:
            self.writer.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self.writer is not None:
            self.writer.close()
        if self.receiver is not None:
            self.receiver(None)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(WorkerGone())
        if self.lost is not None and not self.lost.done():
            self.lost.set_result(None)

    @property
    def closed(self) -> bool:
        return self._closed

    def next_reply(self) -> asyncio.Future[Reply]:
        future: asyncio.Future[Reply] = self.loop.create_future()
        if self._replies:
            future.set_result(self._replies.popleft())
        elif self._closed:
            future.set_exception(WorkerGone())
        else:
            self._waiter = future
        return future


class WorkerProcess:
    """A started worker. Create with ``await WorkerProcess.spawn(...)``; end with ``kill()``."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        channel: _Channel,
        output_fd: int,
        sink: Callable[[bytes], None],
        log_stream_name: str,
    ) -> None:
        self._loop = self.loop = channel.loop  # see _Channel.loop
        self._proc = proc
        self._channel = channel
        self._output_fd = output_fd
        self._pidfd = -1
        self._killed = False
        self.sink = sink  # where the worker's stdout/stderr goes right now
        self.log_stream_name = log_stream_name
        self.on_exit: Callable[[WorkerProcess], None] | None = None
        self.init_duration_ms: float | None = None  # set by a cold start, reported by its first REPORT
        # The output reader stopped at its chunk limit with output left in the pipe. Otherwise everything the
        # worker wrote before its reply was read before the reply is seen: the worker writes its output
        # first, so one poll reports both, and the event loop runs I/O callbacks before the awaiting task.
        self.backlog = False
        self.pulling = False  # drain is taking a batch's replies: what they release is not waited for
        self.answered = False  # it has answered a call (recent_ms means something)
        self.recent_ms = 0.0  # the handler's recent duration (a moving average), for wait_reply's callers
        self._poll: select.poll | None = None  # wait_reply's, made on first use
        self._channel_fd = -1
        # Resolves to the exit status (negative: killed by that signal) once reaped and the channel closed.
        self.exited: asyncio.Future[int] = self._loop.create_future()
        os.set_blocking(output_fd, False)
        self._loop.add_reader(output_fd, self.drain, _DRAIN_CHUNKS)
        self._watch_exit()

    @classmethod
    async def spawn(
        cls,
        *,
        cwd: Path,
        env: dict[str, str],
        sink: Callable[[bytes], None],
        log_stream_name: str,
        sandbox: Sandbox | None = None,
        interpreter: Interpreter | None = None,
        packages: Path | None = None,
        layers: tuple[Path, ...] = (),
    ) -> WorkerProcess:
        """Start a worker in ``cwd``; with a ``sandbox``, as its unprivileged user (see sandbox.py)."""
        loop = asyncio.get_running_loop()
        # Two pipes, not a socket pair: a round trip on one core costs half as much (6 vs 12 µs measured here).
        request_read, request_write = os.pipe()  # gateway -> worker
        reply_read, reply_write = os.pipe()  # worker -> gateway
        ours, theirs = (request_write, reply_read), (reply_write, request_read)
        out_read, out_write = os.pipe()
        with contextlib.suppress(AttributeError, OSError):  # Linux only; the default 64 KiB works, slower
            # A larger pipe lets a chatty function write more per wake-up of the reader.
            fcntl.fcntl(out_read, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        try:
            with contextlib.ExitStack() as stack:
                options: dict[str, Any] = {}
                python = interpreter.executable if interpreter is not None else sys.executable
                # No site-packages: a function sees the runtime and the SDK by name only (boot.py).
                argv = [python, "-u", "-s", "-S", "-c", BOOT, *map(str, theirs)]
                if interpreter is not None and interpreter.language == "provided":
                    argv[5] = BOOT_RUNTIME_API  # the function's bootstrap behind a Runtime API (runtime_api.py)
                node = interpreter is not None and interpreter.language == "nodejs"
                if node:
                    # Module paths kept as given: a sandboxed worker names its code through a handle, and the
                    # real path behind it is out of its reach.
                    script = os.path.join(os.path.dirname(__file__), "node_worker.mjs")
                    argv = [python, "--preserve-symlinks", "--preserve-symlinks-main", script, *map(str, theirs)]
                if sandbox is not None:
                    options = stack.enter_context(sandbox.spawning(cwd, env, interpreter, packages, layers))
                    argv[0] = options.pop("argv0")
                    if node:
                        argv[3] = sandbox.runtime_path(script)
                    else:
                        argv.append("--sandboxed")
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out_write,
                    stderr=out_write,  # one pipe keeps prints and tracebacks in order
                    pass_fds=(*theirs, *options.pop("pass_fds", ())),
                    cwd=cwd,  # entered as the gateway's user, before the switch to the function's
                    env=env,
                    start_new_session=True,  # its own process group: one killpg ends its children too
                    **options,
                )
        except BaseException:
            for fd in (*ours, out_read):
                os.close(fd)
            raise
        finally:
            for fd in (*theirs, out_write):
                os.close(fd)
        replies = open(reply_read, "rb", buffering=0)  # noqa: SIM115 - the transport owns it
        requests = open(request_write, "wb", buffering=0)  # noqa: SIM115 - the transport owns it
        try:
            _, channel = await loop.connect_read_pipe(_Channel, replies)
            channel.writer, _ = await loop.connect_write_pipe(asyncio.Protocol, requests)
        except BaseException:
            replies.close()
            requests.close()
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()  # just SIGKILLed: returns at once
            os.close(out_read)
            raise
        return cls(proc, channel, out_read, sink, log_stream_name)

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return not self._killed and self._proc.returncode is None and not self._channel.closed

    def next_reply(self) -> asyncio.Future[Reply]:
        return self._channel.next_reply()

    @property
    def violated_protocol(self) -> bool:
        """The worker wrote garbage on its channel (user code did): it can no longer be trusted."""
        return self._channel.violated

    def request(
        self, request_id: bytes, arn: bytes, deadline_ms: int, payload: bytes, trace: bytes = b""
    ) -> asyncio.Future[Reply]:
        future = self._channel.next_reply()
        transport = self._channel.writer
        if transport is not None and not transport.is_closing():
            head = frames.REQUEST.pack(len(payload), len(request_id), len(arn), len(trace), deadline_ms)
            transport.write(head + request_id + arn + trace + payload)
        return future

    def send(self, data: bytes) -> None:
        """Write request frames as they are (a batch: see frames.py)."""
        transport = self._channel.writer
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def set_receiver(self, receiver: Callable[[Reply | None], None] | None) -> None:
        self._channel.receiver = receiver

    def wait_replies(self, timeout_ms: int, done: Callable[[], bool]) -> None:
        """``wait_reply`` for a batch: block until ``done()`` (its last reply was received) or ``timeout_ms``."""
        deadline = time.monotonic() + timeout_ms / 1000.0
        while not done() and timeout_ms > 0 and self.wait_reply(timeout_ms):
            timeout_ms = math.ceil((deadline - time.monotonic()) * 1000.0)

    def _pull_replies(self) -> bool:
        """Read the replies already in the channel (before output is drained during a batch: output that
        follows a QUIET reply is a later call's, see frames.py). Whether there were any."""
        channel = self._channel
        if channel.closed or channel.transport is None or channel.receiver is None:
            return False
        if self._channel_fd < 0:
            self._channel_fd = channel.transport.get_extra_info("pipe").fileno()
            os.set_blocking(self._channel_fd, False)
        try:
            data = os.read(self._channel_fd, 1 << 18)
        except OSError:  # nothing there (or broken: the transport will see)
            return False
        if not data:
            return False
        channel.data_received(data)
        return True

    def wait_reply(self, timeout_ms: int) -> bool:
        """Block up to ``timeout_ms`` for the reply to the request just sent, reading it (and any output
        before it) past the event loop: the request's future is done if a whole reply came. Meant for a worker that shares the
        gateway's only core: the worker runs while we block anyway, and taking its reply here saves a turn
        of the event loop. False once the channel is at its end (or broken)."""
        channel = self._channel
        if channel.closed or channel.transport is None:
            return False
        poll = self._poll
        if poll is None:
            poll = self._poll = select.poll()
            self._channel_fd = channel.transport.get_extra_info("pipe").fileno()
            # The channel first: poll checks in order, and output is written before the reply, so a ready
            # channel is seen with the output that preceded it.
            poll.register(self._channel_fd, select.POLLIN)
            if self._output_fd >= 0:
                poll.register(self._output_fd, select.POLLIN)
        channel_fd = self._channel_fd
        deadline = time.monotonic() + timeout_ms / 1000.0
        while True:
            events = poll.poll(timeout_ms)
            replied = False
            for fd, _ in events:
                if fd == channel_fd:
                    replied = True
                else:
                    self.drain()
            if replied:
                try:
                    data = os.read(channel_fd, 1 << 18)
                except BlockingIOError:  # nothing after all (a drain above took it)
                    return True
                except OSError:  # the channel broke: the transport will see
                    return False
                if not data:  # the worker is gone (the transport will see the end itself)
                    return False
                channel.data_received(data)
                return True
            timeout_ms = math.ceil((deadline - time.monotonic()) * 1000.0)
            if not events or timeout_ms <= 0:
                return True

    def drain(self, chunks: int = -1, *, pull: bool = True) -> None:
        """Move what the worker has written so far (or the next ``chunks`` reads of it) to the current sink,
        without blocking. During a batch, the replies already written are taken first (``pull``), so the
        sink is the call that printed; ``pull=False`` when the caller knows whose output it is."""
        fd = self._output_fd
        self.backlog = False
        while fd >= 0:
            if chunks == 0:
                self.backlog = True
                return
            if pull and self._channel.receiver is not None:
                # Before every read: a reply taken here may end the batch and send the next one, which the
                # worker may start at once (and print in).
                self.pulling = True
                try:
                    while self._pull_replies():  # until a read finds none: then no batch was sent since
                        pass
                finally:
                    self.pulling = False
                fd = self._output_fd
                if fd < 0:
                    return
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            if not chunk:  # every writer is gone
                self._close_output()
                return
            self.sink(chunk)
            chunks -= 1

    def peak_rss_kb(self) -> int:
        """The process's peak RSS so far (Linux), for REPORT lines of workers that never replied."""
        return peak_rss_kb(self._proc.pid)

    def reply_pending(self) -> bool:
        """A reply (or the end) waits in the reply pipe, not yet read by the event loop."""
        transport = self._channel.transport
        if transport is None or self._channel.closed:
            return False
        try:
            ready, _, _ = select.select((transport.get_extra_info("pipe").fileno(),), (), (), 0)
        except (OSError, ValueError):
            return False
        return bool(ready)

    def runnable(self) -> bool:
        """Running or waiting for a core, rather than blocked (sleeping, waiting for I/O)."""
        return runnable(self._proc.pid)

    def rss_kb(self) -> int:
        """The process's resident memory now (Linux; 0 where /proc is missing or the process is gone)."""
        try:
            with open(f"/proc/{self._proc.pid}/statm", "rb") as statm:
                return int(statm.read().split()[1]) * _PAGE_KB
        except (OSError, ValueError, IndexError):
            return 0

    def kill(self) -> None:
        """SIGKILL the worker's whole process group. Idempotent; ``exited`` resolves once reaped."""
        self._killed = True
        if self._proc.returncode is None:  # not reaped yet, so the pid (group) is still ours
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)

    def _watch_exit(self) -> None:
        try:
            self._pidfd = os.pidfd_open(self._proc.pid)
        except (AttributeError, OSError):
            self._loop.call_later(_EXIT_POLL_SECONDS, self._poll_exit)
            return
        self._loop.add_reader(self._pidfd, self._poll_exit)

    def _poll_exit(self) -> None:
        if self._proc.returncode is None:
            if self._pidfd < 0 and not _exited(self._proc.pid):  # polled, and still running
                self._loop.call_later(_EXIT_POLL_SECONDS, self._poll_exit)
                return
            # While the leader is a zombie its group id cannot be reused: end any children it left.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        if self._proc.poll() is None:
            return
        if self._pidfd >= 0:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = -1
        self.drain()
        self._close_output()
        lost = self._channel.lost
        if lost is None or lost.done():
            self._finish()
            return
        # Replies written just before the exit are still in the pipe: let the channel reach EOF itself.
        timer = self._loop.call_later(_CHANNEL_GRACE_SECONDS, self._close_channel)

        def on_lost(_: asyncio.Future[None]) -> None:
            timer.cancel()
            self._finish()

        lost.add_done_callback(on_lost)

    def _close_channel(self) -> None:
        self._channel.close()

    def _close_output(self) -> None:
        if self._output_fd >= 0:
            if self._poll is not None:
                self._poll.unregister(self._output_fd)
            self._loop.remove_reader(self._output_fd)
            os.close(self._output_fd)
            self._output_fd = -1

    def _finish(self) -> None:
        returncode = self._proc.returncode
        assert returncode is not None
        if not self.exited.done():
            self.exited.set_result(returncode)
        if self.on_exit is not None:
            self.on_exit(self)
