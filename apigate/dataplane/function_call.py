"""Calling a function from the data plane: one place for the timeout and the missing-function answer.

Every caller (REST AWS and AWS_PROXY integrations, HTTP API integrations and Lambda authorizers, WebSocket
integrations and authorizers) goes through :func:`call_function`, so how a function is awaited (``FunctionDirectory.invoke``
with the caller's timeout: no task per call, see functions/runtime.py) is decided in this one place. Each caller turns
:class:`FunctionCallFailed` into its own API kind's answer (a gateway response, a 500/503, a WebSocket error).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from apigate.functions.directory import FunctionMissing, FunctionThrottled

if TYPE_CHECKING:
    from apigate.functions.directory import FunctionDirectory
    from apigate.functions.runtime import InvokeResult


class FunctionCallFailed(Exception):
    """The function does not exist (``timed_out`` False) or did not answer within the caller's timeout."""

    def __init__(self, name: str, *, timed_out: bool, throttled: bool = False) -> None:
        super().__init__(f"{name}: {'timed out' if timed_out else 'throttled' if throttled else 'not found'}")
        self.name = name
        self.timed_out = timed_out
        self.throttled = throttled  # its reserved concurrency was in use (Lambda's 429)


# Who hears of a failed function call (name, request id, Lambda's error document): the console, when serving
# with one. One process-wide hook, because every API kind's calls pass here and the console is per process.
ErrorObserver = Callable[[str, "str | None", bytes], None]
_observer: ErrorObserver | None = None


def observe_errors(observer: ErrorObserver | None) -> None:
    global _observer
    _observer = observer


async def call_function(
    functions: FunctionDirectory,
    name: str,
    payload: bytes,
    *,
    timeout: float,
    request_id: str | None,
    trace: str | None = None,
) -> InvokeResult:
    """Invoke ``name`` with ``payload``; past ``timeout`` seconds (the integration's or authorizer's, whatever
    the function's own) the call is abandoned. A function error is a result (``function_error``), not a raise."""
    try:
        result = await functions.invoke(name, payload, request_id=request_id, timeout=timeout, trace=trace)
    except FunctionMissing:
        if _observer is not None:
            _observer(
                name, request_id, b'{"errorType":"Function.NotFound","errorMessage":"no such function"}'
            )
        raise FunctionCallFailed(name, timed_out=False) from None
    except FunctionThrottled:
        raise FunctionCallFailed(name, timed_out=False, throttled=True) from None
    except TimeoutError:
        if _observer is not None:
            message = f"the integration's timeout ({timeout:g} s) passed before the function answered"
            _observer(
                name,
                request_id,
                b'{"errorType":"Integration.Timeout","errorMessage":"%s"}' % message.encode(),
            )
        raise FunctionCallFailed(name, timed_out=True) from None
    if result.function_error and _observer is not None:
        _observer(name, request_id, result.payload)
    return result
