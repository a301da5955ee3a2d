"""Everything created survives a restart on the same data dir, and SIGTERM drains in-flight requests."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import requests

from helpers import GatewayProcess, RestApi, create_function

SLOW = "import time\ndef lambda_handler(e, c):\n    time.sleep(1)\n    return {'statusCode': 200, 'body': 'finished'}\n"


def test_restart_keeps_apis_stages_and_functions(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path / "data")
    gateway.start()
    apigw, lam = gateway.client("apigateway"), gateway.client("lambda")
    function = create_function(
        lam, "def lambda_handler(e, c):\n    return {'statusCode': 200, 'body': 'kept'}\n"
    )
    api = RestApi(apigw, "durable")
    api.lambda_proxy("/f", "GET", function)
    api.mock("/m", "GET", '{"mock": true}')
    api.deploy("prod", variables={"k": "v"})
    assert gateway.stop() == 0

    gateway.start()
    try:
        apigw, lam = gateway.client("apigateway"), gateway.client("lambda")
        assert requests.get(gateway.invoke_url(api.id, "prod", "/f"), timeout=10).text == "kept"
        assert requests.get(gateway.invoke_url(api.id, "prod", "/m"), timeout=5).json() == {"mock": True}
        assert apigw.get_stage(restApiId=api.id, stageName="prod")["variables"] == {"k": "v"}
        assert {r["path"] for r in apigw.get_resources(restApiId=api.id)["items"]} == {"/", "/f", "/m"}
        assert json.loads(lam.invoke(FunctionName=function)["Payload"].read())["body"] == "kept"
    finally:
        gateway.stop()


def test_sigterm_drains_requests_in_flight(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path / "data")
    gateway.start()
    api = RestApi(gateway.client("apigateway"), "drain")
    api.lambda_proxy("/slow", "GET", create_function(gateway.client("lambda"), SLOW))
    api.deploy()
    url = gateway.invoke_url(api.id, "test", "/slow")
    requests.get(url, timeout=10)  # warm the worker so the timed request is only the sleep
    answers: list[requests.Response] = []
    caller = threading.Thread(target=lambda: answers.append(requests.get(url, timeout=10)))
    caller.start()
    import time

    time.sleep(0.3)  # the request is in flight inside the function
    assert gateway.stop() == 0
    caller.join()
    assert answers and answers[0].status_code == 200 and answers[0].text == "finished"
