"""`apigate serve --workers N`: N gateway processes serving one port (and the HTTPS port, with --https-port).

The supervisor binds one ``SO_REUSEPORT`` listening socket per worker *slot* and listener (HTTP, then HTTPS if
asked for) and keeps all of them open itself; each worker is a forked, complete gateway (its own event loop,
upstream pool and function workers) serving its slot's sockets, on the same data dir (the store's sync poll carries management changes between processes) and,
with ``--redis``, the same shared state. The kernel spreads new connections over the slots' sockets.

Why a socket per slot, held by the supervisor, rather than one socket per worker process:

- a worker that exits closes only its own copy of the descriptor: connections waiting in the slot's accept queue
  stay there for the worker that takes the slot over (closing the last reference of a ``SO_REUSEPORT`` socket
  resets what is queued on it);
- one shared socket would not spread the load: libuv accepts in a loop, so whichever process wakes first takes
  a whole burst of connections.

Signals (to the supervisor):

- ``SIGHUP``: graceful restart. Slot by slot, a new worker is forked on the slot's socket; once it is serving,
  the old one gets ``SIGTERM`` and drains (finishes the requests in flight, closes idle keep-alive connections).
  A new worker that fails to start leaves the old one in place. Forked workers import the application afresh,
  so a restart also picks up new code.
- ``SIGTERM`` / ``SIGINT``: every worker drains and exits, then the supervisor.
- A worker that dies on its own is replaced (at most once a second per slot).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import select
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from apigate import __version__
from apigate.config import Settings

__all__ = ["Slot", "Supervisor", "bind_slots"]

log = logging.getLogger("apigate.supervisor")

_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD}
_START_TIMEOUT = 60.0  # a worker must be serving within this (a template deployment can take a while)
_STOP_TIMEOUT = 30.0  # a draining worker has 10 s of grace for requests; after this it is killed
_RESPAWN_INTERVAL = 1.0

# The listening sockets one worker serves: HTTP first, then HTTPS when --https-port asks for it.
Slot = tuple[socket.socket, ...]
# Runs one worker in the forked child: settings, the slot's listening sockets, the slot number (0 deploys a
# template, if any) and a callback to call once it serves. Returns the exit status.
WorkerMain = Callable[[Settings, Slot, int, Callable[[], None]], int]


def bind_slots(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on one address with ``SO_REUSEPORT`` (port 0: the first one picks it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]
            # Listening now, not when a worker starts: connections queue on a slot whose worker is (re)starting
            # instead of being refused.
            sock.listen(2048)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


@dataclass(slots=True)
class _Worker:
    slot: int
    pid: int
    ready_fd: int  # the read end of the pipe the worker writes one byte to once it serves


class Supervisor:
    def __init__(self, settings: Settings, slots: list[Slot], worker_main: WorkerMain) -> None:
        self.settings = settings
        self._slots = slots
        self._main = worker_main
        self._workers: dict[int, _Worker] = {}  # slot -> the worker serving it
        self._retiring: set[int] = set()  # pids told to drain and exit
        self._last_spawn: dict[int, float] = {}
        self._stopping = False

    def run(self) -> int:
        # Signals are taken synchronously with sigtimedwait: no handler can interrupt a fork half-way.
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            for slot in range(len(self._slots)):
                worker = self._spawn(slot)
                if not self._await_ready(worker):
                    self._shutdown()
                    return 1
                self._workers[slot] = worker
            pids = ", ".join(str(w.pid) for w in self._workers.values())
            print(
                f"apigate {__version__} ready on {self.settings.base_url} (data in {self.settings.data_dir}; "
                f"{len(self._workers)} workers, pids {pids}; supervisor pid {os.getpid()})",
                flush=True,
            )
            if self.settings.https_port is not None:
                host = self.settings.base_url.replace("http:", "https:").rsplit(":", 1)[0]
                print(f"  https on {host}:{self.settings.https_port}", flush=True)
            while not self._stopping:
                info = signal.sigtimedwait(_SIGNALS, 1.0)
                if info is None:
                    self._respawn_missing()
                elif info.si_signo in (signal.SIGTERM, signal.SIGINT):
                    self._stopping = True
                elif info.si_signo == signal.SIGHUP:
                    self._restart()
                else:
                    self._reap()
                    self._respawn_missing()
            log.info("shutting down: every worker drains its requests in flight")
            self._shutdown()
            return 0
        finally:
            for sockets in self._slots:
                for sock in sockets:
                    sock.close()
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)

    # -- workers ------------------------------------------------------------------------------------------

    def _spawn(self, slot: int) -> _Worker:
        self._last_spawn[slot] = time.monotonic()
        read_fd, write_fd = os.pipe()
        supervisor = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                os.close(read_fd)
                _drain_when_orphaned(supervisor)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
                for other, sockets in enumerate(self._slots):
                    if other != slot:
                        for sock in sockets:
                            sock.close()

                def ready() -> None:
                    os.write(write_fd, b"1")
                    os.close(write_fd)

                code = self._main(self.settings, self._slots[slot], slot, ready)
            except BaseException:
                logging.getLogger("apigate").exception("worker %d failed", slot)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)  # never return into the supervisor's stack
        os.close(write_fd)
        return _Worker(slot, pid, read_fd)

    def _await_ready(self, worker: _Worker) -> bool:
        """Wait until ``worker`` serves; False (and the worker reaped) if it exits or stalls first."""
        deadline = time.monotonic() + _START_TIMEOUT
        try:
            while time.monotonic() < deadline:
                readable, _, _ = select.select([worker.ready_fd], [], [], 0.2)
                if readable:
                    if os.read(worker.ready_fd, 1):
                        return True
                    break  # EOF without the byte: it exited
                if self._exited(worker.pid):
                    log.error("worker for slot %d exited before it was serving", worker.slot)
                    return False
            log.error("worker for slot %d did not start: stopping it", worker.slot)
            self._kill(worker.pid)
            return False
        finally:
            os.close(worker.ready_fd)

    def _exited(self, pid: int) -> bool:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return True
        return done == pid

    def _kill(self, pid: int) -> None:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass

    def _reap(self) -> None:
        """Collect every child that exited; a slot whose worker died becomes empty."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self._retiring:
                self._retiring.discard(pid)
                continue
            for slot, worker in list(self._workers.items()):
                if worker.pid == pid:
                    del self._workers[slot]
                    if not self._stopping:
                        log.error(
                            "worker %d (slot %d) exited unexpectedly (status %d): replacing it",
                            pid,
                            slot,
                            os.waitstatus_to_exitcode(status),
                        )

    def _respawn_missing(self) -> None:
        for slot in range(len(self._slots)):
            if slot in self._workers or self._stopping:
                continue
            if time.monotonic() - self._last_spawn.get(slot, 0.0) < _RESPAWN_INTERVAL:
                continue  # a worker that dies at once must not turn into a fork loop
            worker = self._spawn(slot)
            if self._await_ready(worker):
                self._workers[slot] = worker

    def _restart(self) -> None:
        log.info("graceful restart: replacing %d workers one by one", len(self._workers))
        for slot in range(len(self._slots)):
            old = self._workers.get(slot)
            new = self._spawn(slot)
            if not self._await_ready(new):
                log.error(
                    "restart stopped at slot %d: its new worker did not start; the old ones serve on", slot
                )
                return
            self._workers[slot] = new
            if old is not None:
                self._retiring.add(old.pid)
                self._signal(old.pid, signal.SIGTERM)
            self._reap()  # keep the zombies of already drained workers from piling up

    def _signal(self, pid: int, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    def _shutdown(self) -> None:
        pids = {w.pid for w in self._workers.values()} | self._retiring
        for pid in pids:
            self._signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_TIMEOUT
        while pids and time.monotonic() < deadline:
            pids = {pid for pid in pids if not self._exited(pid)}
            if pids:
                time.sleep(0.05)
        for pid in pids:
            log.error("worker %d ignored SIGTERM for %.0f s: killing it", pid, _STOP_TIMEOUT)
            self._kill(pid)
        self._workers.clear()
        self._retiring.clear()


def _drain_when_orphaned(supervisor: int) -> None:
    """A worker gets SIGTERM (drains, exits) if the supervisor dies without stopping it, e.g. on SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG (Linux)
    if os.getppid() != supervisor:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def replace_port(settings: Settings, slots: list[Slot]) -> Settings:
    """The settings with the ports the sockets really got (``--port 0``, ``--https-port 0``)."""
    https = slots[0][1].getsockname()[1] if len(slots[0]) > 1 else None
    return dataclasses.replace(settings, port=slots[0][0].getsockname()[1], https_port=https)
