"""API Gateway's execution logs: the lines TestInvokeMethod shows, per request of a method whose stage method
setting ``logging/loglevel`` is INFO or ERROR, for the log group ``API-Gateway-Execution-Logs_{apiId}/{stage}``.

The steps write them through ``Invocation.log`` (as for TestInvokeMethod); the metrics step hands the finished
block to the log writer (observe/access_log.py), which formats and writes it off the request path.

WebSocket APIs write theirs to the same group (AWS names it so for REST and WebSocket APIs alike; HTTP APIs have
no execution logs), per connect, message and disconnect of a route whose stage RouteSettings (or
DefaultRouteSettings) ``LoggingLevel`` is INFO or ERROR, with bodies under ``DataTraceEnabled``: ``WsExecutionLog``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apigate.dataplane.invocation import Invocation
    from apigate.model import RestMethod

__all__ = ["WsExecutionLog", "execution_log_group", "finish_execution_log", "start_execution_log"]

_BODY_LIMIT = 1024  # bodies in a data trace are cut here, as AWS cuts its own


def execution_log_group(api_id: str, stage: str) -> str:
    return f"API-Gateway-Execution-Logs_{api_id}/{stage}"


def _java_map(pairs: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in pairs) + "}"


def start_execution_log(inv: Invocation, method: RestMethod) -> None:
    request = inv.request
    lines = [
        f"Extended Request Id: {inv.extended_request_id}",
        f"Starting execution for request: {inv.request_id}",
        f"HTTP Method: {request.method}, Resource Path: {method.resource_path}",
    ]
    if method.data_trace:  # bodies and headers only with dataTraceEnabled, as on AWS
        lines.append(f"Method request path: {_java_map(list(inv.path_parameters.items()))}")
        lines.append(f"Method request query string: {_java_map(inv.query_pairs)}")
        lines.append(f"Method request headers: {_java_map(request.headers)}")
        lines.append(f"Method request body before transformations: {request.body.decode('utf-8', 'replace')}")
    inv.execution_log = lines


def finish_execution_log(inv: Invocation, status: int) -> list[str] | None:
    """The request's block, or None: at ERROR only a failed request's lines are kept."""
    lines = inv.execution_log
    method = inv.method
    if lines is None or method is None:
        return None
    failed = status >= 400 or inv.error_type is not None
    if method.log_level == "ERROR" and not failed:
        return None
    lines.append(f"Method completed with status: {status}")
    return lines


class WsExecutionLog:
    """One WebSocket event's lines (a connect, a message or a disconnect), kept as the dataplane goes; which
    route's settings apply is known once the message is routed (``settle``)."""

    __slots__ = ("data_trace", "failed", "level", "lines")

    def __init__(self, level: str, data_trace: bool) -> None:
        self.level = level
        self.data_trace = data_trace
        self.failed = False
        self.lines: list[str] = []

    def settle(self, level: str, data_trace: bool) -> None:
        self.level, self.data_trace = level, data_trace

    def add(self, line: str) -> None:
        self.lines.append(line)

    def body(self, label: str, body: str | bytes | None) -> None:
        """A body, only under DataTraceEnabled."""
        if self.data_trace and body is not None:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            cut = " [TRUNCATED]" if len(text) > _BODY_LIMIT else ""
            self.lines.append(f"{label}: {text[:_BODY_LIMIT]}{cut}")

    def error(self, line: str) -> None:
        self.failed = True
        self.lines.append(line)

    def finish(self, request_id: str, status: int) -> list[str] | None:
        """The block to write, or None: nothing with logging OFF, and at ERROR only a failed event's lines."""
        if self.level == "OFF" or (self.level == "ERROR" and not (self.failed or status >= 400)):
            return None
        return [f"Extended Request Id: {request_id}", f"Starting execution for request: {request_id}", *self.lines]
