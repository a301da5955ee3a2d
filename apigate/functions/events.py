"""Asynchronous invocation (``InvocationType=Event``): queued, run in the background, retried, recorded.

Lambda answers an Event call with 202 at once and runs the function later. A function error is retried up to
``MaximumRetryAttempts`` times (2 by default), the first retry a minute after the error and the second two
minutes after the next (``retry_delay`` scales both: ``apigate serve --event-retry-delay``); a throttled call
(reserved concurrency in use) is retried with the same delays without counting as an attempt. An event older
than ``MaximumEventAgeInSeconds`` is not run again. The outcome goes, as Lambda's invocation record, to the
OnSuccess or OnFailure destination when one is configured (Lambda functions only here).

The queue is in memory: events still waiting when the gateway stops are lost (Lambda keeps them up to six
hours). Each event has one task; a retry waits in it with ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from .runtime import InvokeResult

__all__ = ["EventConfig", "EventInvoker"]

log = logging.getLogger("apigate")

Invoke = Callable[..., Awaitable[InvokeResult]]


class Throttled(Exception):
    """What ``is_throttle`` recognises: raised by the invoke callable when the function's concurrency is in use."""


@dataclass(frozen=True, slots=True)
class EventConfig:
    """A function's FunctionEventInvokeConfig, as an Event call needs it."""

    max_retries: int = 2
    max_age: float = 21600.0  # seconds
    on_success: str | None = None  # a destination function's ARN
    on_failure: str | None = None
    function_arn: str = ""  # qualified, for the record


class EventInvoker:
    def __init__(
        self,
        invoke: Invoke,
        *,
        retry_delay: float = 60.0,
        is_throttle: Callable[[BaseException], bool] = lambda exc: isinstance(exc, Throttled),
        destination_key: Callable[[str], str] = lambda arn: arn,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._invoke = invoke  # (key, payload, request_id=...) -> InvokeResult
        self._delay = retry_delay
        self._is_throttle = is_throttle
        self._destination_key = destination_key
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, key: str, payload: bytes, config: EventConfig) -> str:
        """Queue one event for the function ``key`` (``name`` or ``name:qualifier``); its request id."""
        request_id = str(uuid.uuid4())
        task = asyncio.get_running_loop().create_task(self._run(key, payload, config, request_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return request_id

    async def _run(self, key: str, payload: bytes, config: EventConfig, request_id: str) -> None:
        received = self._clock()
        attempts = 0
        waits = 0
        result: InvokeResult | None = None
        while True:
            try:
                result = await self._invoke(key, payload, request_id=request_id)
            except Exception as exc:
                if not self._is_throttle(exc):
                    log.warning("asynchronous invocation of %s failed: %s", key, exc)
                    return  # the function is gone: nothing to run, nothing to record (as a deleted function)
                result = None
            else:
                attempts += 1
                if result.function_error is None:
                    self._deliver(config.on_success, "Success", config, request_id, payload, attempts, result)
                    return
                if attempts > config.max_retries:
                    self._deliver(
                        config.on_failure, "RetriesExhausted", config, request_id, payload, attempts, result
                    )
                    return
            waits += 1
            delay = self._delay * min(waits, 2)  # a minute, then two, as Lambda
            if self._clock() - received + delay > config.max_age:
                self._deliver(
                    config.on_failure, "EventAgeExceeded", config, request_id, payload, attempts, result
                )
                return
            await asyncio.sleep(delay)

    def _deliver(
        self,
        destination: str | None,
        condition: str,
        config: EventConfig,
        request_id: str,
        payload: bytes,
        attempts: int,
        result: InvokeResult | None,
    ) -> None:
        if not destination:
            return
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "requestContext": {
                "requestId": request_id,
                "functionArn": config.function_arn,
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": _json(payload),
        }
        if result is not None:
            context: dict[str, Any] = {"statusCode": 200, "executedVersion": result.version}
            if result.function_error:
                context["functionError"] = result.function_error
            record["responseContext"] = context
            record["responsePayload"] = _json(result.payload)
        self.submit(self._destination_key(destination), orjson.dumps(record), EventConfig(max_retries=0))

    async def close(self) -> None:
        """Drop what is still queued or waiting for a retry."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")
