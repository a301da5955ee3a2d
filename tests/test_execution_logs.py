"""Stage execution logs (#19): method settings logging/loglevel and dataTrace write API Gateway's execution log
lines (those TestInvokeMethod shows) to the log group API-Gateway-Execution-Logs_{apiId}/{stage}."""

from __future__ import annotations

from typing import Any

import requests

from helpers import GatewayProcess, RestApi, log_events, log_lines, unique, wait_for


def _set(apigw: Any, api: RestApi, **settings: str) -> None:
    apigw.update_stage(
        restApiId=api.id,
        stageName="test",
        patchOperations=[{"op": "replace", "path": f"/*/*/{k}", "value": v} for k, v in settings.items()],
    )


def test_info_with_data_trace_then_error_only(gateway: GatewayProcess, apigw: Any) -> None:
    api = RestApi(apigw, unique("exec"))
    api.mock("/ping", "GET", '{"ok": true}')
    api.deploy("test")
    group = f"API-Gateway-Execution-Logs_{api.id}/test"
    quiet = requests.get(gateway.invoke_url(api.id, "test", "/ping"), timeout=10)  # logging OFF: nothing
    _set(apigw, api, **{"logging/loglevel": "INFO", "logging/dataTrace": "true"})
    ok = requests.get(gateway.invoke_url(api.id, "test", "/ping?x=1"), timeout=10)
    rid = ok.headers["x-amzn-RequestId"]
    wait_for(
        lambda: any(
            f"({rid}) Method completed with status: 200" in line for line in log_lines(gateway, group)
        )
    )
    mine = [line for line in log_lines(gateway, group) if f"({rid}) " in line]
    assert [line.split(f"({rid}) ", 1)[1] for line in mine][:4] == [
        f"Extended Request Id: {ok.headers['x-amz-apigw-id']}",
        f"Starting execution for request: {rid}",
        "HTTP Method: GET, Resource Path: /ping",
        "Method request path: {}",
    ]
    assert any("Method request query string: {x=1}" in line for line in mine)
    stamps = {e["timestamp"] for e in log_events(gateway, group) if e["message"].startswith(f"({rid}) ")}
    assert len(stamps) == 1  # the request's time, on every line of its block
    assert not any(quiet.headers["x-amzn-RequestId"] in line for line in log_lines(gateway, group))

    # ERROR: only failed requests are logged, and without dataTrace no request data.
    _set(apigw, api, **{"logging/loglevel": "ERROR", "logging/dataTrace": "false"})
    fine = requests.get(gateway.invoke_url(api.id, "test", "/ping"), timeout=10)
    failed = requests.post(gateway.invoke_url(api.id, "test", "/ping"), timeout=10)  # no POST: 403
    assert failed.status_code == 403
    # An unrouted request has no method settings: use a method that fails instead.
    api.mock("/broken", "GET", "{}", status="500")
    apigw.create_deployment(restApiId=api.id, stageName="test")
    broken = requests.get(gateway.invoke_url(api.id, "test", "/broken"), timeout=10)
    broken_id = broken.headers["x-amzn-RequestId"]
    wait_for(lambda: any(f"({broken_id}) Method completed" in line for line in log_lines(gateway, group)))
    assert not any(fine.headers["x-amzn-RequestId"] in line for line in log_lines(gateway, group))
    assert not any(f"({broken_id}) Method request" in line for line in log_lines(gateway, group))
