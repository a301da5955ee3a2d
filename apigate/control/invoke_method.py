"""TestInvokeMethod: run one method of the API as it is now, without a deployment, and return the log."""

from __future__ import annotations

import time
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from apigate.aws.errors import not_found
from apigate.aws.wire import OperationHandler
from apigate.compile.rest import Compiler, StageDefaults, compile_method, compile_stage, snapshot_of
from apigate.control.common import Doc, resource, rest_api
from apigate.control.context import ControlContext
from apigate.control.models import list_models
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.mapping.transform import java_map
from apigate.dataplane.pipeline import split_path
from apigate.dataplane.routing import route_rest
from apigate.server.message import Request

_STAGE = "test-invoke-stage"
# Headers the deployed data plane adds that TestInvokeMethod does not report.
_DATA_PLANE_ONLY = frozenset({"x-amzn-RequestId", "x-amz-apigw-id"})


def _stamp() -> str:
    return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime())


async def test_invoke_method(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    res = resource(ctx, api_id, params["resourceId"])  # an unknown API is an unknown resource here, as recorded
    api = rest_api(ctx, api_id)
    verb = params["httpMethod"]
    methods = res.get("resourceMethods") or {}
    method_doc = methods.get(verb) or methods.get("ANY")  # AWS tests a GET on an ANY method as the ANY method
    if method_doc is None:
        raise not_found("Invalid Method identifier specified")
    stage = {
        "stageName": _STAGE,
        "deploymentId": "test-invoke-deployment",
        "variables": params.get("stageVariables") or {},
    }
    snapshot = snapshot_of(
        api,
        ctx.store.list("resource", api_id),
        models=list_models(ctx.store, api_id),
        validators=ctx.store.list("validator", api_id),
    )
    deployed = compile_stage(
        snapshot,
        stage,
        region=ctx.region_of(api_id),
        account_id=ctx.settings.account_id,
        defaults=StageDefaults.of(ctx.settings),
    )
    target = urlsplit(params.get("pathWithQueryString") or res["path"])
    headers: list[tuple[str, str]] = [(k, v) for k, v in (params.get("headers") or {}).items()]
    for name, values in (params.get("multiValueHeaders") or {}).items():
        headers += [(name, value) for value in values]
    body = (params.get("body") or "").encode()
    request = Request(
        verb if verb != "ANY" else "GET",
        target.path or "/",
        target.query,
        headers,
        body,
        ("test-invoke-source-ip", 0),
    )
    inv = Invocation(
        request,
        deployed,
        target.path or "/",
        f"/{_STAGE}{target.path or '/'}",
        f"{api_id}.execute-api.localhost",
        test_log=[],
    )
    inv.method = compile_method(method_doc, res["id"], res["path"], Compiler(snapshot))
    match = route_rest(deployed, verb, split_path(inv.path))
    if match is not None:
        inv.path_parameters = match.path_parameters
    inv.log(f"Execution log for request {inv.request_id}")
    inv.log(f"Starting execution for request: {inv.request_id}")
    inv.log(f"HTTP Method: {verb}, Resource Path: {target.path or '/'}")
    inv.log(f"Method request path: {java_map(inv.path_parameters)}")
    inv.log(f"Method request query string: {java_map(dict(inv.query_pairs))}")
    inv.log(f"Method request headers: {java_map(headers)}")
    inv.log(f"Method request body before transformations: {body.decode('utf-8', errors='replace')}")
    started = time.perf_counter()
    assert ctx.pipeline is not None
    response = await ctx.pipeline.run(inv)
    latency = int((time.perf_counter() - started) * 1000)
    inv.log(f"Method completed with status: {response.status}")
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in response.headers:
        if name in _DATA_PLANE_ONLY:
            continue
        single[name] = value
        multi.setdefault(name, []).append(value)
    stamp = _stamp()
    first, *rest = inv.test_log or [""]
    return {
        "status": response.status,
        "body": response.body.decode("utf-8", errors="replace"),
        "headers": single,
        "multiValueHeaders": multi,
        "log": "\n".join([first, *(f"{stamp} : {line}" for line in rest)]) + "\n",
        "latency": latency,
    }


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "TestInvokeMethod": partial(test_invoke_method, ctx),
    }
