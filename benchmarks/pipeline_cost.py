"""CPU cost of one request through the REST data plane, in process (no server, no sockets): ``Pipeline.run``.

Measures the steps' own cost, which socket benchmarks (run.py) mix with the server core's. Three MOCK methods:
a constant mock (answered from the per-integration static answer), one whose templates read ``$context`` and
``$input.params()``, and one with a ``context.requestId`` header mapping. Run it before and after a change to
the pipeline core with the same interpreter: ``PYTHONPATH=. python benchmarks/pipeline_cost.py``.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from apigate.dataplane.integrations import IntegrationServices, build
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.pipeline import Pipeline
from apigate.model import DeployedApi
from apigate.server.message import Request
from apigate.state import Limit

_TEMPLATE = '{"id": "$context.requestId", "q": "$input.params(\'q\')", "stage": "$context.stage"}'


def _method(request_template: str, response_template: str, **extra: Any) -> dict[str, Any]:
    return {
        "httpMethod": "GET",
        "authorizationType": "NONE",
        "methodIntegration": {
            "type": "MOCK",
            "requestTemplates": {"application/json": request_template},
            "integrationResponses": {
                "200": {
                    "statusCode": "200",
                    "responseTemplates": {"application/json": response_template},
                    **extra,
                }
            },
        },
    }


def api() -> DeployedApi:
    resources = [
        {"id": "root", "path": "/"},
        {
            "id": "c",
            "parentId": "root",
            "path": "/constant",
            "pathPart": "constant",
            "resourceMethods": {"GET": _method('{"statusCode": 200}', '{"ok": true}')},
        },
        {
            "id": "t",
            "parentId": "root",
            "path": "/templated",
            "pathPart": "templated",
            "resourceMethods": {"GET": _method('{"statusCode": 200}', _TEMPLATE)},
        },
        {
            "id": "m",
            "parentId": "root",
            "path": "/mapped",
            "pathPart": "mapped",
            "resourceMethods": {
                "GET": _method(
                    '{"statusCode": 200}',
                    _TEMPLATE,
                    responseParameters={"method.response.header.x-id": "context.requestId"},
                )
            },
        },
    ]
    snapshot = {"restApi": {"id": "bench", "name": "bench"}, "resources": resources}
    stage = {"stageName": "prod", "deploymentId": "d1"}
    unlimited = Limit("account", 1e9, 10**9)  # the account throttle would answer 429 at in-process speed
    try:
        from apigate.compile.rest import StageDefaults, compile_stage
    except ImportError:  # before #14: the compiler was control/deploy.py, the account limit a module global
        from apigate.control import deploy  # type: ignore[attr-defined]

        deploy.set_account_limit(unlimited.rate, unlimited.burst)
        return deploy.compile_stage(snapshot, stage, region="us-east-1", account_id="000000000000")  # type: ignore[no-any-return]
    defaults = StageDefaults(account_limit=unlimited)
    return compile_stage(snapshot, stage, region="us-east-1", account_id="000000000000", defaults=defaults)


def measure(pipeline: Pipeline, deployed: DeployedApi, path: str, rounds: int = 5, n: int = 4000) -> float:
    """Median over ``rounds`` of the process CPU µs per request."""

    async def batch() -> None:
        for _ in range(n):
            headers = [("Host", "x"), ("Accept", "*/*")]
            request = Request("GET", f"/prod{path}", "q=1&r=2", headers, b"", ("1.2.3.4", 1))
            response = await pipeline.run(Invocation(request, deployed, path, f"/prod{path}", "bench.localhost"))
            assert response.status == 200, response

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(batch())  # warm up
        samples = []
        for _ in range(rounds):
            started = time.process_time()
            loop.run_until_complete(batch())
            samples.append((time.process_time() - started) / n * 1e6)
    finally:
        loop.close()
    return statistics.median(samples)


def main() -> None:
    deployed = api()
    pipeline = Pipeline(build(IntegrationServices(None, None)))  # type: ignore[arg-type]  # MOCK needs neither
    for path in ("/constant", "/templated", "/mapped"):
        print(f"MOCK {path:<11} {measure(pipeline, deployed, path):7.1f} µs CPU per request")


if __name__ == "__main__":
    main()
