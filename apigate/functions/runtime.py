"""Invoking functions the way Lambda does: warm worker processes, one invocation each at a time.

Workers are pooled per function configuration (``FunctionSpec.worker_key``); a new configuration of a function
retires the old pool. A cold start (spawn + import) has its own init budget, separate from the handler timeout;
an init that overruns it is retried once as part of the invocation, against the function's timeout, as Lambda
does. A handler that overruns its timeout or its memory, or a worker that dies, costs that worker: it is killed
with its process group, and the next invocation starts a fresh one.

Memory is enforced on the worker's resident memory, as Lambda's cgroup does: polled while a call runs, and
checked against the peak the worker reports with its reply (which catches spikes between polls).

The hot path (issue #14), and why it looks like this. Core time per AWS_PROXY request, gateway and workers on
one core, trivial function, ``benchmarks/function_cost.py`` (wrk -c32, /proc schedstat of the process tree).
The machine was shared (load average 3-9), so each comparison was run back to back:

=====================================================  ===============  =========
design                                                 µs/request       workers
=====================================================  ===============  =========
before: a worker per concurrent call (up to 8),        176-235          8
wait_for task, timer, unbuffered log write, drain      (263-455 loaded)
one warm worker, queue, buffered logs, no wait_for     ~125-140         1
+ calls sent and finished by callbacks (no task)       ~124-140         1
+ on one core: wait for a short call's reply in place  94-115           1
+ the worker channel as two pipes, not a socket pair   (132-175 loaded) 1
+ batches: a turn's calls in one write (A/B, load 4-7) 68-86 vs 122-144  1
=====================================================  ===============  =========

(HTTP API, same function: 134-260 before, 81-97 after; MOCK, for scale: 22-31; nginx ``return 200``: 8-10.)

- One worker serves a busy function until its queue *stalls* (pool.py): eight warm workers round-robining on
  one core made every call ~3x dearer (cold caches), and Lambda's model is concurrency on demand, not by default.
- A warm call costs no task and no coroutine here: ``_dispatch`` sends it, ``_replied`` (a future callback)
  finishes it and hands the worker straight to the next queued call, and the caller's timeout rides on the
  call's one timer instead of ``asyncio.wait_for``.
- On one core the worker only runs when the gateway blocks, so for a worker whose recent calls were short
  (< 0.5 ms) the gateway blocks on the reply right after sending (``WorkerProcess.wait_reply``, at most
  1 ms, output pipe included): the answer comes back inside the same callback, with no turn of the loop.
  With several cores the worker runs in parallel and the gateway serves others meanwhile, as before.
- Logs: START/END/REPORT are buffered per function and written once per turn of the loop (logs.py).
- The channel is two pipes (process.py): a same-core round trip costs 6 µs against 12-13.5 µs for a socket
  pair here, and a call costs the gateway ~1.0 context switch instead of 1.5-1.8.
- Batches (one core, Python workers): while the last turn of the loop invoked more than one call, calls are
  queued and the turn's end (``_flush``) hands them to the idle worker in one write, up to 16; a reply's release
  does the same with what queued meanwhile. The worker runs them one after another and writes each reply as its
  call ends, so a timeout still counts from the call's own start (the timer is re-armed per reply) and kills
  only the running call; the calls behind it never started and are queued again. Output: the gateway reads the
  worker's output pipe only after taking the replies already written (``WorkerProcess.drain``), and the worker
  ends a batch at the first call that left output in the pipe (FIONREAD; the rest come back SKIPPED and are
  queued again), so what the pipe holds is always one call's. Head-of-line blocking is bounded by sending
  batches only to workers whose recent calls took under 0.5 ms. Context switches per call: 1.03 -> ~0.3.
- System calls that were per call: ``asyncio.get_running_loop()`` (a getpid() each time; the runtime keeps its
  loop), and the worker's getrusage for REPORT's peak memory (2-3 µs here; skipped after a call under 1 ms for
  up to 10 ms, worker.py ``_PeakMemory``).
- In-process calls (no isolation) are cheaper still and break crash isolation and memory limits. Worker
  processes with SCHED_BATCH: no measurable change.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from . import frames
from .environment import new_log_stream_name, worker_environment
from .logs import InvocationLog, LogDirectory, report_line
from .pool import WorkerPool
from .process import Reply, WorkerGone, WorkerProcess
from .sandbox import Sandbox
from .spec import FunctionSpec

__all__ = ["FunctionRuntime", "InvokeResult", "InvokeStatus", "WorkerStartError"]

INIT_TIMEOUT_SECONDS = 10.0  # Lambda's init phase limit for on-demand functions
_EXIT_WAIT_SECONDS = 2.0
_MEMORY_POLL_SECONDS = 0.05  # one timer for every busy worker, armed only while calls run

InvokeStatus = Literal["ok", "error", "timeout", "crashed"]


class WorkerStartError(RuntimeError):
    """The worker process could not be started at all (not the function's fault)."""


class _CallerTimeout(Exception):
    """The caller's timeout ran out before the function's own."""


class _OutOfMemory(Exception):
    """The memory poll found a busy worker over its function's MemorySize."""


@dataclass(frozen=True, slots=True)
class InvokeResult:
    payload: bytes  # the response document, or the error document when function_error is set
    function_error: str | None  # "Unhandled" on any error, as Lambda's X-Amz-Function-Error
    request_id: str
    duration_ms: float
    tail: bytes  # the last 4 KB of this invocation's log, as written
    status: InvokeStatus
    version: str = "$LATEST"  # the version that ran (Lambda's X-Amz-Executed-Version)

    @property
    def log_tail(self) -> str:
        """The last 4 KB of this invocation's log (LogType=Tail; base64 it for the header)."""
        return self.tail.decode("utf-8", "replace")


class FunctionRuntime:
    def __init__(
        self,
        log_dir: Path,
        endpoint_url: str,
        *,
        max_workers_per_function: int = 8,
        init_timeout: float = INIT_TIMEOUT_SECONDS,
        sandbox: Sandbox | None = None,
        service_endpoints: Mapping[str, str] | None = None,
    ) -> None:
        self._logs = LogDirectory(log_dir)
        # AWS_ENDPOINT_URL_<SERVICE>: the services the gateway reaches, for the functions' SDKs
        self._service_endpoints = dict(service_endpoints or {})
        self._sandbox = sandbox  # workers as an unprivileged user (a gateway running as root)
        self._endpoint_url = endpoint_url
        self._max_workers = max_workers_per_function
        self._init_timeout = init_timeout
        self._pools: dict[str, WorkerPool] = {}  # by function name: only its latest configuration
        self._workers: set[WorkerProcess] = set()  # every process not yet reaped
        self._closed = False
        self._in_flight = 0
        self._drained: asyncio.Event | None = None  # set when the last in-flight call ends after close()
        # Busy workers whose memory is polled: limit in KiB and the future their reply will resolve.
        self._watched: dict[WorkerProcess, tuple[int, Callable[[type[Exception]], bool]]] = {}
        self._watch_timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # cold starts, spares, failed calls' endings
        self._spares: set[asyncio.Task[None]] = set()  # background starts of a stalled queue's workers
        # On one core (the gateway pinned, its workers inheriting that), a worker runs only when the gateway
        # blocks: block on a short call's reply right after sending it, instead of in the event loop. The
        # answer comes back within the same callback, without a turn of the loop or a task wakeup
        # (measured: -25% of the core time of a trivial AWS_PROXY call). With more cores the worker runs in
        # parallel and the gateway serves others meanwhile.
        self._wait_ms = _SHORT_CALL_WAIT_MS if _one_core() else 0
        # Batching (one core only, where a round trip to a worker costs two context switches): on while the
        # last turn of the loop invoked more than one call.
        self._turn_calls = 0
        self._batching = False
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop it serves in (set by the first call)
        self._in_wait = False  # blocked on a worker's reply (wait_reply): what it releases is not waited for

    async def invoke(
        self,
        spec: FunctionSpec,
        payload: bytes,
        *,
        request_id: str | None = None,
        invoked_arn: str | None = None,
        timeout: float | None = None,
        trace: str | None = None,
    ) -> InvokeResult:
        """Run the handler once. Raises only for the runtime's own failures (closed, cannot spawn), and
        TimeoutError when the caller's ``timeout`` (an integration's, shorter than the function's own) runs
        out first: that costs the worker, as a cancelled call does, and spares the caller a ``wait_for``."""
        if self._closed:
            raise RuntimeError("the function runtime is closed")
        loop = self._loop
        if loop is None:  # kept: get_running_loop() costs a getpid() system call each time
            loop = self._loop = asyncio.get_running_loop()
        pool = self._pools.get(spec.pool_key)
        if pool is None or pool.key != spec.worker_key:
            pool = self._pool(spec)
        call = _Call(
            spec,
            pool,
            InvocationLog(self._logs.get(spec.name)),
            request_id or str(uuid.uuid4()),
            invoked_arn or spec.arn,
            payload or b"{}",
            None if timeout is None else loop.time() + timeout,
            loop.create_future(),
        )
        if trace:
            call.trace = trace.encode()
        if pool.batches and self._count_call(loop) and pool.started:
            # Others were invoked in this turn of the loop too: queue the call, and let the turn's end hand
            # the queue to the idle worker as one batch (frames.py) instead of a round trip per call.
            pool.enqueue(call, loop)
            if not pool.flushing:
                pool.flushing = True
                loop.call_soon(self._flush, pool)
        elif (worker := pool.take()) is not None:
            self._dispatch(worker, call, self._wait_ms)
            if call.result.done():  # answered while we waited: no suspension, no turn of the loop
                return call.result.result()
        elif pool.reserve():
            self._serve(None, call)
        else:
            pool.enqueue(call, loop)
        self._in_flight += 1
        try:
            return await call.result
        except asyncio.CancelledError:
            if call.worker is not None and not call.batched:
                call.worker.kill()  # cancelled mid-call: its reply would arrive for nobody
            # (A batch's replies go to their calls in order: one for nobody is dropped.)
            if call.task is not None:
                call.task.cancel()
            raise
        finally:
            self._in_flight -= 1
            if self._in_flight == 0 and self._drained is not None:
                self._drained.set()

    def _count_call(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Count the invocations of this turn of the loop; whether to batch (the last turn had several)."""
        if self._turn_calls == 0:
            loop.call_soon(self._end_turn)
        self._turn_calls += 1
        return self._batching

    def _end_turn(self) -> None:
        self._batching = self._turn_calls > 1
        self._turn_calls = 0

    def _flush(self, pool: WorkerPool) -> None:
        pool.flushing = False
        pool.flush()

    def _serve_batch(self, worker: WorkerProcess, calls: list[_Call]) -> None:
        """Send several queued calls to a warm worker in one write; it runs them one after another and
        replies to each as it ends (frames.py). Only a worker whose recent calls were short gets a batch:
        a slow call holds up the ones behind it."""
        if not worker.answered or worker.recent_ms >= _SHORT_CALL_MS:  # (a spare's speed is not known yet)
            calls[0].pool.requeue(calls[1:])
            self._dispatch(worker, calls[0])
            return
        parts: list[bytes] = []  # every frame's pieces, joined once
        size = 0
        deadline_s = time.time()
        for index, call in enumerate(calls):
            request_id, arn, payload, trace = call.request_id.encode(), call.arn.encode(), call.payload, call.trace
            head = frames.REQUEST.pack(
                len(payload), len(request_id), len(arn), len(trace), int((deadline_s + call.spec.timeout) * 1000)
            )
            size += len(head) + len(request_id) + len(arn) + len(trace) + len(payload)
            if size > frames.BATCH_BYTES and index:
                calls[0].pool.requeue(calls[index:])
                del calls[index:]
                break
            parts += (head, request_id, arn, trace, payload)
        if len(calls) == 1:
            self._dispatch(worker, calls[0])
            return
        first = calls[0]
        first.init_ms, worker.init_duration_ms = worker.init_duration_ms, None
        for call in calls:
            call.worker = worker
            call.batched = True
            call.log.line(f"START RequestId: {call.request_id} Version: {call.spec.version}")
        batch = _Batch(worker, calls)
        worker.sink = first.log.feed
        worker.set_receiver(functools.partial(self._batch_reply, batch))
        first.started = time.perf_counter()
        worker.send(b"".join(parts))
        if self._wait_ms and not self._in_wait and not worker.pulling:
            # Not when already inside a wait (a reply's release sent this batch): no recursion.
            self._in_wait = True
            try:
                worker.wait_replies(self._wait_ms * len(calls), batch.done)
            finally:
                self._in_wait = False
        if not batch.done():
            self._arm(batch)

    def _arm(self, batch: _Batch) -> None:
        """The timer and the memory watch of the batch's running call (its head)."""
        call = batch.calls[0]
        worker, spec = batch.worker, call.spec
        loop = worker.loop
        if batch.timer is not None:
            batch.timer.cancel()
        timeout = spec.timeout
        left = None if call.deadline is None else call.deadline - loop.time()
        if left is not None and left < timeout:
            batch.timer = loop.call_later(max(left, 0.0), self._batch_expired, batch, _CallerTimeout)
        else:
            batch.timer = loop.call_later(timeout, self._batch_expired, batch, TimeoutError)
        self._watch(loop, worker, spec.memory_size * 1024, functools.partial(self._batch_expired, batch))

    def _batch_expired(self, batch: _Batch, error: type[Exception]) -> bool:
        if batch.done():
            return False
        self._batch_failed(batch, error())
        return True

    def _batch_failed(self, batch: _Batch, error: BaseException) -> None:
        """The running call failed (timeout, memory, the worker's death): it ends as a single call's failure
        does; the calls behind it never ran, and are queued again."""
        worker = batch.worker
        worker.set_receiver(None)
        if batch.timer is not None:
            batch.timer.cancel()
            batch.timer = None
        self._watched.pop(worker, None)
        head, *rest = batch.calls
        batch.calls.clear()
        self._requeue(batch.skipped + rest)
        head.task = self._background(self._failed(head, worker, error))

    def _requeue(self, calls: list[_Call]) -> None:
        for call in calls:
            call.worker = None
            call.batched = False
            call.init_ms = None
            call.log = InvocationLog(self._logs.get(call.spec.name))  # its START was never written
        if calls:
            calls[0].pool.requeue(calls)

    def _batch_reply(self, batch: _Batch, reply: Reply | None) -> None:
        """One reply of a batch, in order (``None``: the worker is gone)."""
        if batch.done():
            return
        if reply is None:
            self._batch_failed(batch, WorkerGone())
            return
        worker = batch.worker
        call = batch.calls.popleft()
        kind = reply.kind
        if kind == frames.SKIPPED:
            batch.skipped.append(call)  # queued again, in order, when the batch ends
        else:
            spec = call.spec
            quiet = kind & frames.QUIET
            if quiet:
                kind &= ~frames.QUIET
                if batch.calls:  # (always: the worker says QUIET only when it goes on)
                    head = batch.calls[0]
                    worker.sink = head.log.feed  # what the pipe holds from now on is the next call's
                    head.started = time.perf_counter()
            worker.recent_ms += (reply.duration_ms - worker.recent_ms) * 0.25
            if kind == frames.OUT_OF_MEMORY or reply.max_rss_kb > spec.memory_size * 1024:
                # As a single call's: the worker is killed, the calls behind it queued again.
                rest = batch.skipped + list(batch.calls)
                batch.calls.clear()
                batch.skipped = []
                worker.set_receiver(None)
                self._requeue(rest)
                result = self._out_of_memory(
                    worker, spec, call.log, call.request_id, reply.duration_ms, call.init_ms
                )
            else:
                if not quiet:  # its output is in the pipe (and no later call's): take it before END
                    worker.drain(pull=False)
                    worker.sink = self._logs.get(spec.name).write
                result = self._answered(call, reply, kind)
            call.worker = None
            _settle(call.result, result)
        if batch.calls:
            if batch.timer is not None:  # armed: the wait for the batch went back to the loop
                self._arm(batch)
            return
        worker.set_receiver(None)
        if batch.timer is not None:
            batch.timer.cancel()
            batch.timer = None
            self._watched.pop(worker, None)
        self._requeue(batch.skipped)
        worker.sink = self._logs.get(call.spec.name).write  # stray output between calls
        call.pool.release(worker)  # may send the next batch at once

    def _serve(self, worker: WorkerProcess | None, call: _Call) -> None:
        """Run a call on a worker, or start one for it in the slot it was given."""
        if worker is not None:
            self._dispatch(worker, call, 0 if self._in_wait or worker.pulling else self._wait_ms)
        else:
            call.task = self._background(self._cold_call(call))

    def _background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _dispatch(self, worker: WorkerProcess, call: _Call, wait_ms: int = 0) -> None:
        """Send a call to a warm worker; ``_replied`` takes it from there. No task, no coroutine: the hot path.
        With ``wait_ms``, a worker whose calls are short is waited for right here (see ``_wait_ms``)."""
        call.worker = worker
        spec, log = call.spec, call.log
        log.line(f"START RequestId: {call.request_id} Version: {spec.version}")
        worker.sink = log.feed
        call.init_ms, worker.init_duration_ms = worker.init_duration_ms, None
        loop = worker.loop
        timeout = spec.timeout
        call.started = time.perf_counter()
        reply = worker.request(
            call.request_id.encode(),
            call.arn.encode(),
            int((time.time() + timeout) * 1000),
            call.payload,
            call.trace,
        )
        if wait_ms and worker.recent_ms < _SHORT_CALL_MS:
            self._in_wait = True
            try:
                worker.wait_reply(wait_ms)
            finally:
                self._in_wait = False
            if reply.done():
                self._replied(call, reply)
                return
        # One timer for both limits: the function's own (kills, a function error) and the caller's.
        left = None if call.deadline is None else call.deadline - loop.time()
        if left is not None and left < timeout:
            call.timer = loop.call_later(max(left, 0.0), _expire, reply, _CallerTimeout)
        else:
            call.timer = loop.call_later(timeout, _expire, reply, TimeoutError)
        self._watch(loop, worker, spec.memory_size * 1024, functools.partial(_expire, reply))
        reply.add_done_callback(functools.partial(self._replied, call))

    def _replied(self, call: _Call, reply_future: asyncio.Future[Reply]) -> None:
        worker = call.worker
        assert worker is not None
        if call.timer is not None:
            call.timer.cancel()
            self._watched.pop(worker, None)
        error = reply_future.exception()
        if error is not None:
            call.task = self._background(self._failed(call, worker, error))
            return
        reply: Reply = reply_future.result()
        spec = call.spec
        worker.recent_ms += (reply.duration_ms - worker.recent_ms) * 0.25
        worker.answered = True
        if reply.kind == frames.OUT_OF_MEMORY or reply.max_rss_kb > spec.memory_size * 1024:
            result = self._out_of_memory(
                worker, spec, call.log, call.request_id, reply.duration_ms, call.init_ms
            )
        else:
            if worker.backlog:  # the pipe's reader left output behind: take it before the END line
                worker.drain()
            worker.sink = self._logs.get(spec.name).write  # stray output between calls
            result = self._answered(call, reply, reply.kind)
        call.worker = None
        _settle(call.result, result)
        call.pool.release(worker)  # may send the next queued call at once

    def _answered(self, call: _Call, reply: Reply, kind: int) -> InvokeResult:
        """The result of a call its worker answered within its memory (``kind``: RESULT or an error)."""
        status: InvokeStatus = "ok" if kind == frames.RESULT else "error"
        return self._finished(
            call.spec,
            call.log,
            call.request_id,
            status,
            reply.body,
            reply.duration_ms,
            reply.max_rss_kb,
            call.init_ms,
        )

    async def _failed(self, call: _Call, worker: WorkerProcess, error: BaseException) -> None:
        """The reply did not come: a timeout, the memory limit, the worker's death, or the caller's timeout."""
        spec, log, request_id, init_ms = call.spec, call.log, call.request_id, call.init_ms
        outcome: InvokeResult | BaseException
        try:
            duration_ms = _ms_since(call.started)
            if isinstance(error, TimeoutError):
                rss = worker.peak_rss_kb()
                worker.kill()
                worker.drain()
                worker.sink = self._logs.get(spec.name).write
                outcome = self._timed_out(spec, log, request_id, spec.timeout, duration_ms, rss, init_ms)
            elif isinstance(error, _CallerTimeout):
                worker.kill()  # as a cancelled call: its reply would arrive for nobody
                worker.drain()
                worker.sink = self._logs.get(spec.name).write
                self._finished(
                    spec, log, request_id, "timeout", b"", duration_ms, worker.peak_rss_kb(), init_ms
                )
                outcome = TimeoutError()
            elif isinstance(error, _OutOfMemory):
                outcome = self._out_of_memory(worker, spec, log, request_id, duration_ms, init_ms)
            else:  # WorkerGone
                outcome = await self._crashed(worker, spec, log, request_id, duration_ms, init_ms)
        except BaseException as exc:
            worker.kill()
            outcome = exc
            raise
        finally:
            call.worker = None
            _settle(call.result, outcome)
            call.pool.release(worker)

    async def _cold_call(self, call: _Call) -> None:
        """The slow path: start a worker for this call (its own cold start), then run the call on it."""
        spec, log, pool = call.spec, call.log, call.pool
        worker: WorkerProcess | None = None
        outcome: InvokeResult | BaseException
        try:
            async with asyncio.timeout_at(call.deadline):
                started = await self._start(spec, pool, log, call.request_id)
                if isinstance(started, InvokeResult):
                    outcome = started
                else:
                    worker, budget = started
                    left = (
                        None if call.deadline is None else call.deadline - asyncio.get_running_loop().time()
                    )
                    outcome = await self._run(
                        worker, spec, log, call.request_id, call.arn, call.payload, budget, left, call.trace
                    )
        except Exception as exc:
            if worker is not None:
                worker.kill()
            outcome = exc
        except BaseException as exc:  # cancelled: the caller is gone
            if worker is not None:
                worker.kill()
            outcome = exc
            raise
        finally:
            _settle(call.result, outcome)
            pool.release(worker)

    async def retire(self, function_name: str, *, versions: bool = False) -> None:
        """Stop reusing the function's workers (``$LATEST``'s; with ``versions``, its published versions' too):
        idle ones die now, busy ones when their call ends."""
        keys = [function_name]
        if versions:
            keys += [key for key in self._pools if key.startswith(f"{function_name}:")]
        exiting: list[WorkerProcess] = []
        for key in keys:
            pool = self._pools.pop(key, None)
            if pool is not None:
                exiting += pool.retire()
        await _wait_exited(exiting)

    async def close(self) -> None:
        """Kill every worker and reap it; invocations still running end as crashed."""
        self._closed = True
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        for spare in list(self._spares):
            spare.cancel()
        for worker in list(self._workers):
            worker.kill()
        if self._in_flight:  # let the calls that lost their worker write their logs first
            self._drained = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_EXIT_WAIT_SECONDS * 2):
                    await self._drained.wait()
        remaining = list(self._workers)  # including any that finished spawning meanwhile
        for worker in remaining:
            worker.kill()
        await _wait_exited(remaining)
        if self._watch_timer is not None:
            self._watch_timer.cancel()
            self._watch_timer = None
        self._logs.close_all()
        if self._sandbox is not None:
            self._sandbox.close()

    def _pool(self, spec: FunctionSpec) -> WorkerPool:
        pool = self._pools.get(spec.pool_key)
        if pool is None or pool.key != spec.worker_key:
            if pool is not None:
                pool.retire()  # new code or configuration: old workers finish their call and go
            pool = self._pools[spec.pool_key] = WorkerPool(
                spec.worker_key,
                self._max_workers,
                self._serve,
                lambda started: self._start_spare(spec, started),
                self._serve_batch,
            )
            # Batches (frames.py): the Python runtime's workers, on one core, where a round trip to a worker
            # costs two context switches and batching saves them.
            python = spec.interpreter is None or spec.interpreter.language == "python"
            pool.batches = python and self._wait_ms > 0
        return pool

    def _start_spare(self, spec: FunctionSpec, pool: WorkerPool) -> None:
        """The pool's queue stalled: start one more worker in the background (see pool.py)."""
        spare = self._background(self._spare(spec, pool))
        self._spares.add(spare)
        spare.add_done_callback(self._spares.discard)

    async def _spare(self, spec: FunctionSpec, pool: WorkerPool) -> None:
        # No invocation owns this init: its lines and output go to the function log, and its duration to the
        # REPORT of the worker's first invocation, as Lambda reports a cold start.
        function_log = self._logs.get(spec.name)
        function_log.write(
            f"INIT_START Runtime Version: {_runtime_version(spec)}\n".encode()
        )
        started = time.perf_counter()
        worker: WorkerProcess | None = None
        try:
            worker = await self._spawn(spec, pool, function_log.write)
            async with asyncio.timeout(self._init_timeout):
                reply = await worker.next_reply()
            if reply.kind != frames.READY:
                raise WorkerGone()
            worker.init_duration_ms = _ms_since(started)
        except (Exception, asyncio.CancelledError):
            if worker is not None:
                worker.kill()
                worker.drain()
                worker = None
            if not self._closed:
                line = f"INIT_REPORT Init Duration: {_ms_since(started):.2f} ms\tPhase: init\tStatus: error\n"
                function_log.write(line.encode())
        finally:
            pool.spare_started(worker)

    async def _spawn(
        self, spec: FunctionSpec, pool: WorkerPool, sink: Callable[[bytes], None]
    ) -> WorkerProcess:
        stream = new_log_stream_name(spec.version)
        try:
            worker = await WorkerProcess.spawn(
                cwd=spec.code_dir,
                env=worker_environment(spec, self._endpoint_url, stream, self._service_endpoints),
                sink=sink,  # a cold start's init output opens its invocation's block
                log_stream_name=stream,
                sandbox=self._sandbox,
                interpreter=spec.interpreter,
                packages=spec.packages_dir,
                layers=spec.layer_dirs,
            )
        except OSError as e:
            raise WorkerStartError(f"cannot start a worker for {spec.name}: {e}") from e
        self._workers.add(worker)

        def on_exit(exited: WorkerProcess) -> None:
            self._workers.discard(exited)
            pool.forget(exited)

        worker.on_exit = on_exit
        if self._closed:  # close() ran while this one was spawning
            worker.kill()
            raise RuntimeError("the function runtime is closed")
        return worker

    async def _start(
        self, spec: FunctionSpec, pool: WorkerPool, log: InvocationLog, request_id: str
    ) -> tuple[WorkerProcess, float] | InvokeResult:
        """A cold start: spawn and import. Returns the ready worker with the seconds its handler may run
        (and START logged), or the invocation's failed result."""
        log.line(f"INIT_START Runtime Version: {_runtime_version(spec)}")
        started = time.perf_counter()
        worker = await self._spawn(spec, pool, log.feed)
        try:
            async with asyncio.timeout(self._init_timeout):
                reply = await worker.next_reply()
        except TimeoutError:
            init_ms = _ms_since(started)
            worker.kill()
            worker.drain()
            log.line(f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: timeout")
            log.line(f"START RequestId: {request_id} Version: {spec.version}")
            return await self._suppressed_init(spec, pool, log, request_id)
        except WorkerGone:  # exited during init (sys.exit at import, a crash in an extension)
            init_ms = _ms_since(started)
            log.line(f"START RequestId: {request_id} Version: {spec.version}")
            return await self._crashed(worker, spec, log, request_id, init_ms, init_ms)
        except BaseException:
            worker.kill()
            raise
        init_ms = _ms_since(started)
        if reply.kind != frames.READY:
            return self._init_failed(worker, spec, log, request_id, reply, init_ms, "init", 0.0)
        worker.init_duration_ms = init_ms
        log.line(f"START RequestId: {request_id} Version: {spec.version}")
        return worker, spec.timeout

    async def _suppressed_init(
        self, spec: FunctionSpec, pool: WorkerPool, log: InvocationLog, request_id: str
    ) -> tuple[WorkerProcess, float] | InvokeResult:
        """Lambda's retry of an init that overran its budget: once more, inside the invocation, where the
        init and the handler share the function's timeout. A module that hangs on import costs the caller
        the init budget plus the timeout, and its workers are killed."""
        started = time.perf_counter()
        worker = await self._spawn(spec, pool, log.feed)
        try:
            async with asyncio.timeout(spec.timeout):
                reply = await worker.next_reply()
        except TimeoutError:
            init_ms = _ms_since(started)
            rss = worker.peak_rss_kb()
            worker.kill()
            worker.drain()
            log.line(f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: invoke\tStatus: timeout")
            return self._timed_out(spec, log, request_id, spec.timeout, init_ms, rss, None)
        except WorkerGone:
            init_ms = _ms_since(started)
            return await self._crashed(worker, spec, log, request_id, init_ms, None)
        except BaseException:
            worker.kill()
            raise
        init_ms = _ms_since(started)
        if reply.kind != frames.READY:
            return self._init_failed(worker, spec, log, request_id, reply, init_ms, "invoke", init_ms)
        log.line(f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: invoke\tStatus: success")
        return worker, max(spec.timeout - init_ms / 1000.0, 0.001)

    def _init_failed(
        self,
        worker: WorkerProcess,
        spec: FunctionSpec,
        log: InvocationLog,
        request_id: str,
        reply: Reply,
        init_ms: float,
        phase: str,
        duration_ms: float,
    ) -> InvokeResult:
        worker.kill()  # it is exiting anyway, as AWS's runtime does after an init error
        worker.drain()
        error_type = json.loads(reply.body).get("errorType", "") if reply.body else ""
        log.line(
            f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: {phase}\tStatus: error\tError Type: {error_type}"
        )
        if phase == "init":
            log.line(f"START RequestId: {request_id} Version: {spec.version}")
        report_init = init_ms if phase == "init" else None
        return self._finished(
            spec,
            log,
            request_id,
            "error",
            reply.body,
            duration_ms,
            worker.peak_rss_kb(),
            report_init,
            error_type,
        )

    async def _run(
        self,
        worker: WorkerProcess,
        spec: FunctionSpec,
        log: InvocationLog,
        request_id: str,
        arn: str,
        payload: bytes,
        timeout: float,
        caller_timeout: float | None,
        trace: bytes = b"",
    ) -> InvokeResult:
        # Output from before this call was already logged by the pipe's reader; no drain needed here.
        worker.sink = log.feed
        init_ms, worker.init_duration_ms = worker.init_duration_ms, None
        loop = asyncio.get_running_loop()
        deadline_ms = int((time.time() + timeout) * 1000)
        started = time.perf_counter()
        reply_future = worker.request(request_id.encode(), arn.encode(), deadline_ms, payload, trace)
        # One timer for both limits: the function's own (kills, a function error) and the caller's.
        if caller_timeout is not None and caller_timeout < timeout:
            timer = loop.call_later(max(caller_timeout, 0.0), _expire, reply_future, _CallerTimeout)
        else:
            timer = loop.call_later(timeout, _expire, reply_future, TimeoutError)
        limit_kb = spec.memory_size * 1024
        self._watch(loop, worker, limit_kb, functools.partial(_expire, reply_future))
        try:
            reply: Reply = await reply_future
        except TimeoutError:
            rss = worker.peak_rss_kb()
            worker.kill()
            worker.drain()
            worker.sink = self._logs.get(spec.name).write
            return self._timed_out(spec, log, request_id, spec.timeout, _ms_since(started), rss, init_ms)
        except _CallerTimeout:
            worker.kill()  # as a cancelled call: its reply would arrive for nobody
            worker.drain()
            worker.sink = self._logs.get(spec.name).write
            self._finished(
                spec, log, request_id, "timeout", b"", _ms_since(started), worker.peak_rss_kb(), init_ms
            )
            raise TimeoutError() from None
        except _OutOfMemory:
            return self._out_of_memory(worker, spec, log, request_id, _ms_since(started), init_ms)
        except WorkerGone:
            return await self._crashed(worker, spec, log, request_id, _ms_since(started), init_ms)
        finally:
            timer.cancel()
            self._watched.pop(worker, None)
        # Its first call (a cold start's): counted as the warm path counts calls, for _dispatch and _serve_batch.
        worker.recent_ms += (reply.duration_ms - worker.recent_ms) * 0.25
        worker.answered = True
        if reply.kind == frames.OUT_OF_MEMORY or reply.max_rss_kb > limit_kb:
            return self._out_of_memory(worker, spec, log, request_id, reply.duration_ms, init_ms)
        if worker.backlog:  # the pipe's reader left output behind: take it before the END line
            worker.drain()
        worker.sink = self._logs.get(spec.name).write  # stray output between calls
        status: InvokeStatus = "ok" if reply.kind == frames.RESULT else "error"
        return self._finished(
            spec, log, request_id, status, reply.body, reply.duration_ms, reply.max_rss_kb, init_ms
        )

    def _watch(
        self,
        loop: asyncio.AbstractEventLoop,
        worker: WorkerProcess,
        limit_kb: int,
        fail: Callable[[type[Exception]], bool],
    ) -> None:
        self._watched[worker] = (limit_kb, fail)
        if self._watch_timer is None:
            self._watch_timer = loop.call_later(_MEMORY_POLL_SECONDS, self._poll_memory, loop)

    def _poll_memory(self, loop: asyncio.AbstractEventLoop) -> None:
        self._watch_timer = None
        for worker, (limit_kb, fail) in list(self._watched.items()):
            if worker.rss_kb() > limit_kb and fail(_OutOfMemory):
                worker.kill()  # at once, as the kernel would: the handler does not get to finish
        if self._watched and not self._closed:
            self._watch_timer = loop.call_later(_MEMORY_POLL_SECONDS, self._poll_memory, loop)

    def _out_of_memory(
        self,
        worker: WorkerProcess,
        spec: FunctionSpec,
        log: InvocationLog,
        request_id: str,
        duration_ms: float,
        init_ms: float | None,
    ) -> InvokeResult:
        # What Lambda reports when its cgroup kills an environment over MemorySize.
        worker.kill()
        return self._runtime_error(
            worker,
            spec,
            log,
            request_id,
            _exit_reason(-9),  # SIGKILL
            "Runtime.OutOfMemory",
            duration_ms,
            spec.memory_size * 1024,  # Max Memory Used: the whole allowance, as Lambda reports it
            init_ms,
        )

    def _timed_out(
        self,
        spec: FunctionSpec,
        log: InvocationLog,
        request_id: str,
        timeout: float,
        duration_ms: float,
        rss_kb: int,
        init_ms: float | None,
    ) -> InvokeResult:
        # Lambda's sandbox timeout: no errorType, the time and request id inside the message.
        message = f"{_iso_now()} {request_id} Task timed out after {timeout:.2f} seconds"
        log.line(message)
        body = json.dumps({"errorMessage": message}, separators=(",", ":")).encode()
        return self._finished(spec, log, request_id, "timeout", body, duration_ms, rss_kb, init_ms, None)

    async def _crashed(
        self,
        worker: WorkerProcess,
        spec: FunctionSpec,
        log: InvocationLog,
        request_id: str,
        duration_ms: float,
        init_ms: float | None,
    ) -> InvokeResult:
        rss = worker.peak_rss_kb()
        if worker.violated_protocol:
            worker.kill()  # it wrote garbage on its channel: nothing it does next can be trusted
        try:
            returncode = await asyncio.wait_for(asyncio.shield(worker.exited), _EXIT_WAIT_SECONDS)
        except TimeoutError:  # closed its channel but lives on: end it
            worker.kill()
            returncode = await worker.exited
        return self._runtime_error(
            worker,
            spec,
            log,
            request_id,
            _exit_reason(returncode),
            "Runtime.ExitError",
            duration_ms,
            rss,
            init_ms,
        )

    def _runtime_error(
        self,
        worker: WorkerProcess,
        spec: FunctionSpec,
        log: InvocationLog,
        request_id: str,
        reason: str,
        error_type: str,
        duration_ms: float,
        rss_kb: int,
        init_ms: float | None,
    ) -> InvokeResult:
        """The result of an invocation whose runtime died or was killed (``reason``, in Lambda's words)."""
        worker.drain()
        worker.sink = self._logs.get(spec.name).write
        message = f"RequestId: {request_id} Error: {reason}"
        log.line(f"{message}\n{error_type}")
        body = json.dumps({"errorMessage": message, "errorType": error_type}, separators=(",", ":"))
        return self._finished(
            spec, log, request_id, "crashed", body.encode(), duration_ms, rss_kb, init_ms, error_type
        )

    def _finished(
        self,
        spec: FunctionSpec,
        log: InvocationLog,
        request_id: str,
        status: InvokeStatus,
        body: bytes,
        duration_ms: float,
        rss_kb: int,
        init_ms: float | None,
        error_type: str | None = None,
    ) -> InvokeResult:
        report_status = "timeout" if status == "timeout" else ("error" if error_type else None)
        report = report_line(
            request_id, duration_ms, spec.memory_size, rss_kb, init_ms, report_status, error_type
        )
        log.line(f"END RequestId: {request_id}\n{report}")
        tail = log.finish()
        function_error = None if status == "ok" else "Unhandled"
        return InvokeResult(body, function_error, request_id, duration_ms, tail, status, spec.version)


class _Call:
    """One invocation on its way: queued, running on a worker, or being finished."""

    __slots__ = (
        "arn",
        "batched",
        "deadline",
        "init_ms",
        "log",
        "payload",
        "pool",
        "request_id",
        "result",
        "spec",
        "started",
        "task",
        "timer",
        "trace",
        "worker",
    )

    def __init__(
        self,
        spec: FunctionSpec,
        pool: WorkerPool,
        log: InvocationLog,
        request_id: str,
        arn: str,
        payload: bytes,
        deadline: float | None,
        result: asyncio.Future[InvokeResult],
    ) -> None:
        self.spec = spec
        self.pool = pool
        self.log = log
        self.request_id = request_id
        self.arn = arn
        self.payload = payload
        self.deadline = deadline  # the caller's, in loop time
        self.result = result
        self.worker: WorkerProcess | None = None  # while it runs on one
        self.task: asyncio.Task[None] | None = None  # its cold start, or the ending of a failed call
        self.timer: asyncio.TimerHandle | None = None
        self.init_ms: float | None = None
        self.started = 0.0
        self.trace = b""  # the X-Amzn-Trace-Id the function sees (_X_AMZN_TRACE_ID)
        self.batched = False  # sent in a batch (and not queued again since)


class _Batch:
    """Calls sent to one worker in one write; ``calls[0]`` is the one running."""

    __slots__ = ("calls", "skipped", "timer", "worker")

    def __init__(self, worker: WorkerProcess, calls: list[_Call]) -> None:
        self.worker = worker
        self.calls = deque(calls)
        self.skipped: list[_Call] = []  # not run by the worker: queued again when the batch ends
        self.timer: asyncio.TimerHandle | None = None

    def done(self) -> bool:
        return not self.calls


def _settle(result: asyncio.Future[InvokeResult], outcome: InvokeResult | BaseException) -> None:
    if result.done():
        return
    if isinstance(outcome, InvokeResult):
        result.set_result(outcome)
    elif isinstance(outcome, Exception):
        result.set_exception(outcome)
    else:
        result.cancel()


_SHORT_CALL_MS = 0.5  # a worker whose recent calls took less is waited for synchronously (on one core)
_SHORT_CALL_WAIT_MS = 1  # for at most this long; then the call goes on through the event loop


def _one_core() -> bool:
    return hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) == 1


def _expire(reply_future: asyncio.Future[Reply], error: type[Exception]) -> bool:
    if reply_future.done():
        return False
    reply_future.set_exception(error())
    return True


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _iso_now() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


_SIGNAL_NAMES = {6: "aborted", 9: "killed", 11: "segmentation fault", 15: "terminated"}


def _exit_reason(returncode: int) -> str:
    # The wording of Lambda's Runtime.ExitError (Go's ExitError strings).
    if returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode > 0:
        return f"Runtime exited with error: exit status {returncode}"
    return f"Runtime exited with error: signal: {_SIGNAL_NAMES.get(-returncode, f'signal {-returncode}')}"


async def _wait_exited(workers: list[WorkerProcess]) -> None:
    if workers:
        await asyncio.wait([w.exited for w in workers], timeout=_EXIT_WAIT_SECONDS * 2)


def _runtime_version(spec: FunctionSpec) -> str:
    """INIT_START's runtime version: the interpreter that really runs (python:3.12.1), as far as known."""
    if spec.interpreter is not None:
        return f"{spec.interpreter.language}:{spec.interpreter.version}"
    return spec.runtime.replace("python", "python:")
