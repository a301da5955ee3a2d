"""CloudWatch's API Gateway metrics per API and stage, kept in this process and served in Prometheus's text format.

Names are AWS's (``Count``, ``4XXError``, ``5XXError``, ``Latency``, ``IntegrationLatency``, ``CacheHitCount``,
``CacheMissCount``) with an ``apigateway_`` prefix (a Prometheus name cannot start with a digit), and the
dimensions ``ApiName``, ``ApiId`` and ``Stage`` as labels; throttled and quota-refused requests are counted too.

HTTP API stages share the REST families (AWS names their errors ``4xx``/``5xx`` in CloudWatch; one family per
meaning keeps a dashboard's query the same for both). WebSocket stages have AWS's own WebSocket metrics:
``ConnectCount``, ``MessageCount``, ``ClientError``, ``IntegrationError``, ``ExecutionError`` and
``IntegrationLatency``.
"""

from __future__ import annotations

import time

from apigate.dataplane.invocation import Invocation
from apigate.dataplane.steps.request_lines import RequestLines
from apigate.observe.access_log import AccessLogs
from apigate.observe.console import RequestConsole
from apigate.observe.execution_log import execution_log_group, finish_execution_log
from apigate.observe.tracing import Tracing

# Counter slots per WebSocket stage, and the kinds of failure a WebSocket request line names.
_CONNECT, _MESSAGE, _CLIENT, _INTEGRATION, _EXECUTION, _WS_INT_SUM, _WS_INT_COUNT = range(7)
WS_CLIENT_ERROR, WS_INTEGRATION_ERROR, WS_EXECUTION_ERROR = (
    "ClientError",
    "IntegrationError",
    "ExecutionError",
)
_WS_SERIES = (
    ("ConnectCount", _CONNECT, "Connections attempted ($connect requests)"),
    ("MessageCount", _MESSAGE, "Messages received from clients"),
    ("ClientError", _CLIENT, "Requests refused before the integration (4XX)"),
    ("IntegrationError", _INTEGRATION, "Requests the integration answered with a 4XX or 5XX status"),
    ("ExecutionError", _EXECUTION, "Requests whose integration could not be called or failed"),
)
_WS_ERRORS = {WS_CLIENT_ERROR: _CLIENT, WS_INTEGRATION_ERROR: _INTEGRATION, WS_EXECUTION_ERROR: _EXECUTION}

# Counter slots per stage.
_COUNT, _4XX, _5XX, _LAT_SUM, _INT_SUM, _INT_COUNT, _HIT, _MISS, _THROTTLED, _QUOTA = range(10)
_SERIES = (
    ("Count", _COUNT, "counter", "Requests served"),
    ("4XXError", _4XX, "counter", "Requests answered with a 4XX status"),
    ("5XXError", _5XX, "counter", "Requests answered with a 5XX status"),
    ("CacheHitCount", _HIT, "counter", "Requests answered from the stage cache"),
    ("CacheMissCount", _MISS, "counter", "Cacheable requests sent to the integration"),
    ("ThrottledCount", _THROTTLED, "counter", "Requests refused by a throttle (429 Too Many Requests)"),
    ("QuotaExceededCount", _QUOTA, "counter", "Requests refused by a usage plan quota (429 Limit Exceeded)"),
)


class Metrics:
    def __init__(self) -> None:
        self._stages: dict[tuple[str, str, str], list[float]] = {}  # REST and HTTP API stages
        self._websocket: dict[tuple[str, str, str], list[float]] = {}
        self.lines = RequestLines()  # the web console's live view
        self.console: RequestConsole | None = None  # request lines on stderr (`apigate serve TEMPLATE`)
        self.access_logs: AccessLogs | None = None  # stages' accessLogSettings (observe/access_log.py)
        self.tracing: Tracing | None = None  # `serve --otlp-endpoint` (observe/tracing.py)

    def record(self, inv: Invocation) -> None:
        api = inv.api
        key = (api.api_id, api.stage, api.api_name)
        counters = self._stages.get(key)
        if counters is None:
            counters = self._stages[key] = [0.0] * 10
        counters[_COUNT] += 1
        response = inv.response
        status = 500 if response is None else response.status
        if 400 <= status < 500:
            counters[_4XX] += 1
        elif status >= 500:
            counters[_5XX] += 1
        latency = (time.perf_counter() - inv.started) * 1000.0
        counters[_LAT_SUM] += latency
        request = inv.request
        self.lines.add(
            api.api_id,
            api.stage,
            request.method,
            inv.stage_path,
            status,
            latency,
            inv.error_type or "",
        )
        if inv.span is not None and self.tracing is not None:
            self.tracing.finish(inv, status)
        access_log = api.access_log
        if access_log is not None and self.access_logs is not None:
            self.access_logs.add(access_log, inv, status, latency)
        if inv.execution_log is not None and self.access_logs is not None:
            block = finish_execution_log(inv, status)
            if block is not None:
                group = execution_log_group(api.api_id, api.stage)
                self.access_logs.add_execution(group, inv.request_id, inv.start_epoch_ms, block)
        console = self.console
        if console is not None:
            method = inv.method
            console.request(
                api.api_name or api.api_id,
                api.stage,
                request.method,
                inv.path,
                status,
                latency,
                None if method is None else method.integration,
                inv.request_id,
            )
        if inv.integration_ms is not None:
            counters[_INT_SUM] += inv.integration_ms
            counters[_INT_COUNT] += 1
        if inv.cache_status == 1:
            counters[_HIT] += 1
        elif inv.cache_status == 2:
            counters[_MISS] += 1
        if inv.error_type == "THROTTLED":
            counters[_THROTTLED] += 1
        elif inv.error_type == "QUOTA_EXCEEDED":
            counters[_QUOTA] += 1

    def record_http(
        self,
        api_id: str,
        stage: str,
        api_name: str,
        method: str,
        path: str,
        status: int,
        latency_ms: float,
        integration_ms: float | None,
    ) -> None:
        """One HTTP API request (the REST families; a 429 is a throttled request)."""
        key = (api_id, stage, api_name)
        counters = self._stages.get(key)
        if counters is None:
            counters = self._stages[key] = [0.0] * 10
        counters[_COUNT] += 1
        if 400 <= status < 500:
            counters[_4XX] += 1
            if status == 429:
                counters[_THROTTLED] += 1
        elif status >= 500:
            counters[_5XX] += 1
        counters[_LAT_SUM] += latency_ms
        if integration_ms is not None:
            counters[_INT_SUM] += integration_ms
            counters[_INT_COUNT] += 1
        error = "THROTTLED" if status == 429 else ""
        self.lines.add(api_id, stage, method, path, status, latency_ms, error, "HTTP")

    def record_websocket(
        self,
        api_id: str,
        stage: str,
        api_name: str,
        event: str,
        route_key: str,
        status: int,
        latency_ms: float,
        integration_ms: float | None,
        error: str = "",
    ) -> None:
        """One WebSocket request: ``event`` CONNECT, MESSAGE or DISCONNECT; ``error`` one of ``WS_*_ERROR``."""
        key = (api_id, stage, api_name)
        counters = self._websocket.get(key)
        if counters is None:
            counters = self._websocket[key] = [0.0] * 7
        if event == "CONNECT":
            counters[_CONNECT] += 1
        elif event == "MESSAGE":
            counters[_MESSAGE] += 1
        slot = _WS_ERRORS.get(error)
        if slot is not None:
            counters[slot] += 1
        if integration_ms is not None:
            counters[_WS_INT_SUM] += integration_ms
            counters[_WS_INT_COUNT] += 1
        self.lines.add(api_id, stage, event, route_key, status, latency_ms, error, "WEBSOCKET")

    def render(self) -> bytes:
        lines: list[str] = []
        stages = sorted(self._stages.items())
        sockets = sorted(self._websocket.items())

        def labels(key: tuple[str, str, str]) -> str:
            api_id, stage, name = key
            escaped = name.replace("\\", "\\\\").replace('"', '\\"')
            return f'ApiName="{escaped}",ApiId="{api_id}",Stage="{stage}"'

        for name, slot, kind, text in _SERIES:
            lines.append(f"# HELP apigateway_{name} {text}")
            lines.append(f"# TYPE apigateway_{name} {kind}")
            lines.extend(f"apigateway_{name}{{{labels(k)}}} {int(c[slot])}" for k, c in stages)
        for name, total, count, text in (
            ("Latency", _LAT_SUM, _COUNT, "Time from request to response, in milliseconds"),
            ("IntegrationLatency", _INT_SUM, _INT_COUNT, "Time spent in the integration, in milliseconds"),
        ):
            lines.append(f"# HELP apigateway_{name} {text}")
            lines.append(f"# TYPE apigateway_{name} summary")
            for k, c in stages:
                lines.append(f"apigateway_{name}_sum{{{labels(k)}}} {c[total]:.3f}")
                lines.append(f"apigateway_{name}_count{{{labels(k)}}} {int(c[count])}")
            if name == "IntegrationLatency":  # one family: a name has one HELP and TYPE in the format
                for k, c in sockets:
                    lines.append(f"apigateway_{name}_sum{{{labels(k)}}} {c[_WS_INT_SUM]:.3f}")
                    lines.append(f"apigateway_{name}_count{{{labels(k)}}} {int(c[_WS_INT_COUNT])}")
        for name, slot, text in _WS_SERIES:
            lines.append(f"# HELP apigateway_{name} {text}")
            lines.append(f"# TYPE apigateway_{name} counter")
            lines.extend(f"apigateway_{name}{{{labels(k)}}} {int(c[slot])}" for k, c in sockets)
        return ("\n".join(lines) + "\n").encode()


class MetricsStep:
    """A response step: counts every data plane request (TestInvokeMethod excluded)."""

    __slots__ = ("_metrics",)

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def __call__(self, inv: Invocation) -> None:
        if inv.test_log is None:
            self._metrics.record(inv)
