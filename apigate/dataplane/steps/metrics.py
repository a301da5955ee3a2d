"""CloudWatch's API Gateway metrics per API and stage, kept in this process and served in Prometheus's text format.

Names are AWS's (``Count``, ``4XXError``, ``5XXError``, ``Latency``, ``IntegrationLatency``, ``CacheHitCount``,
``CacheMissCount``) with an ``apigateway_`` prefix (a Prometheus name cannot start with a digit), and the
dimensions ``ApiName``, ``ApiId`` and ``Stage`` as labels; throttled and quota-refused requests are counted too.
"""

from __future__ import annotations

import time

from apigate.dataplane.invocation import Invocation
from apigate.dataplane.steps.request_lines import RequestLines
from apigate.observe.access_log import AccessLogs
from apigate.observe.console import RequestConsole
from apigate.observe.execution_log import execution_log_group, finish_execution_log
from apigate.observe.tracing import Tracing

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
        self._stages: dict[tuple[str, str, str], list[float]] = {}
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
            round(latency, 2),
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

    def render(self) -> bytes:
        lines: list[str] = []
        stages = sorted(self._stages.items())

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
        return ("\n".join(lines) + "\n").encode()


class MetricsStep:
    """A response step: counts every data plane request (TestInvokeMethod excluded)."""

    __slots__ = ("_metrics",)

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def __call__(self, inv: Invocation) -> None:
        if inv.test_log is None:
            self._metrics.record(inv)
