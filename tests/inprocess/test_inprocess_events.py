"""Asynchronous invocation's retry policy (functions/events.py), with a fake function and a fake clock."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from apigate.functions.events import EventConfig, EventInvoker, Throttled
from apigate.functions.runtime import InvokeResult


def _result(error: bool) -> InvokeResult:
    body = b'{"errorMessage":"no"}' if error else b'{"ok":true}'
    return InvokeResult(body, "Unhandled" if error else None, "r", 1.0, b"", "error" if error else "ok", "3")


class _Function:
    """Fails ``failures`` times (or is throttled ``throttles`` times first); each call takes ``seconds`` of the
    fake clock. Destination calls (keys starting with ``dest``) are recorded, not run."""

    def __init__(self, failures: int, *, throttles: int = 0, seconds: float = 0.0) -> None:
        self.failures = failures
        self.throttles = throttles
        self.seconds = seconds
        self.now = 1000.0
        self.calls: list[str] = []
        self.records: list[tuple[str, Any]] = []
        self.done = asyncio.Event()

    async def __call__(self, key: str, payload: bytes, *, request_id: str) -> InvokeResult:
        if key.startswith("dest"):
            self.records.append((key, orjson.loads(payload)))
            self.done.set()
            return _result(False)
        self.now += self.seconds
        self.calls.append(request_id)
        if self.throttles:
            self.throttles -= 1
            raise Throttled()
        if len(self.calls) <= self.failures:
            return _result(True)
        return _result(False)


def _run(function: _Function, config: EventConfig) -> None:
    async def main() -> None:
        invoker = EventInvoker(function, retry_delay=0.001, clock=lambda: function.now)
        invoker.submit("fn", b'{"n":1}', config)
        async with asyncio.timeout(30):
            await function.done.wait()
        await invoker.close()

    asyncio.run(main())


FAILURE = EventConfig(on_failure="dest-failure", on_success="dest-success", function_arn="arn:fn:$LATEST")


def test_two_retries_then_the_failure_record() -> None:
    function = _Function(failures=10)
    _run(function, FAILURE)
    assert len(function.calls) == 3 and len(set(function.calls)) == 1  # one request id for every attempt
    ((where, record),) = function.records
    assert where == "dest-failure"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"] == "arn:fn:$LATEST"
    assert record["requestPayload"] == {"n": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "3", "functionError": "Unhandled"}
    assert record["responsePayload"] == {"errorMessage": "no"}


def test_a_retry_that_succeeds_goes_to_on_success() -> None:
    function = _Function(failures=1)
    _run(function, FAILURE)
    assert len(function.calls) == 2
    ((where, record),) = function.records
    assert where == "dest-success" and record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"] == {"ok": True}


def test_maximum_retry_attempts_zero() -> None:
    function = _Function(failures=10)
    _run(function, EventConfig(max_retries=0, on_failure="dest-failure"))
    assert len(function.calls) == 1
    assert function.records[0][1]["requestContext"]["approximateInvokeCount"] == 1


def test_an_event_too_old_is_not_retried() -> None:
    # Each call takes 30 s of the clock; the age limit is 60 s: the second attempt ends at 60 s, and a third
    # would start later still.
    function = _Function(failures=10, seconds=30.0)
    _run(function, EventConfig(max_age=60.0, on_failure="dest-failure"))
    assert len(function.calls) == 2
    assert function.records[0][1]["requestContext"]["condition"] == "EventAgeExceeded"


def test_throttles_are_retried_without_counting_as_attempts() -> None:
    function = _Function(failures=0, throttles=4)
    _run(function, FAILURE)
    assert len(function.calls) == 5  # four throttled, then the one attempt that ran
    assert function.records[0][1]["requestContext"] == {
        "requestId": function.calls[0],
        "functionArn": "arn:fn:$LATEST",
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
