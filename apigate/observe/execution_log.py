"""API Gateway's execution logs: the lines TestInvokeMethod shows, per request of a method whose stage method
setting ``logging/loglevel`` is INFO or ERROR, for the log group ``API-Gateway-Execution-Logs_{apiId}/{stage}``.

The steps write them through ``Invocation.log`` (as for TestInvokeMethod); the metrics step hands the finished
block to the log writer (observe/access_log.py), which formats and writes it off the request path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apigate.dataplane.invocation import Invocation
    from apigate.model import RestMethod

__all__ = ["execution_log_group", "finish_execution_log", "start_execution_log"]


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
