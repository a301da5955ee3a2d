"""The in-process test layer: a compiled API and a ``Pipeline`` driven with fake services (no server, no worker
processes), so one step's behaviour is tested in milliseconds. What needs a real server stays in the
subprocess tests (tests/helpers.py GatewayProcess)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apigate.compile.rest import StageDefaults, compile_stage
from apigate.dataplane.integrations import IntegrationServices, build
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.pipeline import Pipeline
from apigate.functions.directory import FunctionMissing
from apigate.model import DeployedApi
from apigate.server.message import Request, Response
from apigate.state import Limit

_UNLIMITED = StageDefaults(account_limit=Limit("account", 1e9, 10**9))


@dataclass
class FakeResult:
    """What ``FunctionDirectory.invoke`` returns, as far as the data plane reads it."""

    payload: bytes
    function_error: str | None = None


@dataclass
class FakeFunctions:
    """Functions by name: a callable from the event (bytes) to a result; ``hang`` names functions that never
    answer (the caller's timeout decides); any other name is missing, as a deleted function is."""

    handlers: dict[str, Callable[[bytes], FakeResult]] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)
    calls: list[tuple[str, bytes]] = field(default_factory=list)
    traces: list[str | None] = field(default_factory=list)  # the X-Amzn-Trace-Id each call was given

    async def invoke(
        self,
        name: str,
        payload: bytes,
        *,
        request_id: str | None = None,
        timeout: float | None = None,
        trace: str | None = None,
    ) -> FakeResult:
        self.calls.append((name, payload))
        self.traces.append(trace)
        if name in self.hang:  # only the caller's timeout ends this, raising TimeoutError as invoke does
            await asyncio.wait_for(asyncio.Event().wait(), timeout)
        handler = self.handlers.get(name)
        if handler is None:
            raise FunctionMissing(name)
        return handler(payload)


def method(integration: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A Method document (as GetMethod returns it); a MOCK answering 200 by default."""
    doc: dict[str, Any] = {"httpMethod": "GET", "authorizationType": "NONE", **extra}
    doc["methodIntegration"] = integration or mock()
    return doc


def mock(response_template: str = '{"ok": true}', **response: Any) -> dict[str, Any]:
    return {
        "type": "MOCK",
        "requestTemplates": {"application/json": '{"statusCode": 200}'},
        "integrationResponses": {
            "200": {"statusCode": "200", "responseTemplates": {"application/json": response_template}, **response}
        },
    }


def aws_proxy(function: str, timeout_ms: int = 29000) -> dict[str, Any]:
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function}/invocations"
    return {"type": "AWS_PROXY", "httpMethod": "POST", "uri": uri, "timeoutInMillis": timeout_ms}


def deploy(paths: dict[str, dict[str, dict[str, Any]]], **snapshot: Any) -> DeployedApi:
    """``{"/pets/{id}": {"GET": method(...)}}`` compiled as a deployment compiles it (parents made as needed)."""
    resources: dict[str, dict[str, Any]] = {"/": {"id": "r0", "path": "/"}}
    for path in paths:
        parent = "/"
        for part in [p for p in path.split("/") if p]:
            here = parent.rstrip("/") + "/" + part
            if here not in resources:
                resources[here] = {
                    "id": f"r{len(resources)}",
                    "parentId": resources[parent]["id"],
                    "path": here,
                    "pathPart": part,
                }
            parent = here
    for path, verbs in paths.items():
        resources[path]["resourceMethods"] = {verb: {**doc, "httpMethod": verb} for verb, doc in verbs.items()}
    documents = {"restApi": {"id": "api1", "name": "inprocess"}, "resources": list(resources.values()), **snapshot}
    stage = {"stageName": "prod", "deploymentId": "d1"}
    return compile_stage(documents, stage, region="us-east-1", account_id="000000000000", defaults=_UNLIMITED)


def pipeline(functions: FakeFunctions | None = None) -> Pipeline:
    services = IntegrationServices(functions or FakeFunctions(), None)  # type: ignore[arg-type]
    return Pipeline(build(services), services=services)


def invocation(
    api: DeployedApi, verb: str, path: str, query: str = "", headers: list[tuple[str, str]] | None = None
) -> Invocation:
    request = Request(verb, f"/prod{path}", query, headers or [("Host", "api1.localhost")], b"", ("10.0.0.1", 5))
    return Invocation(request, api, path, f"/prod{path}", "api1.execute-api.localhost")


def run(pipe: Pipeline, inv: Invocation) -> Response:
    return asyncio.run(pipe.run(inv))
