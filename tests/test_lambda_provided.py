"""provided.al2023 / provided.al2 (issue #17): the function's own bootstrap, talking to a Lambda Runtime API
that each worker gets, through an HTTP API; errors, init errors and a bootstrap that dies."""

from __future__ import annotations

import json
from typing import Any

import requests

from helpers import GatewayProcess, unique, zip_code

# AWS's tutorial bootstrap, in shell with curl: next, then response (or error).
BOOTSTRAP = r"""#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
echo "bootstrap up in $LAMBDA_TASK_ROOT"
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  REQUEST_ID=$(grep -i Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  case "$EVENT" in
    *'"fail"'*)
      curl -sS -X POST "$API/invocation/$REQUEST_ID/error" -H "Lambda-Runtime-Function-Error-Type: Unhandled" \
        -d '{"errorMessage":"asked to fail","errorType":"ShellError"}' >/dev/null ;;
    *'"exit"'*) exit 3 ;;
    *)
      echo "handling $REQUEST_ID"
      curl -sS -X POST "$API/invocation/$REQUEST_ID/response" \
        -d "{\"statusCode\":200,\"body\":\"shell says hi to $REQUEST_ID\"}" >/dev/null ;;
  esac
done
"""

INIT_FAILS = r"""#!/bin/sh
curl -sS -X POST "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/init/error" \
  -d '{"errorMessage":"no config","errorType":"InitError.Config"}' >/dev/null
exit 1
"""


def _create(lam: Any, bootstrap: str, runtime: str = "provided.al2023") -> str:
    name = unique("provided")
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="function.handler",
        Code={"ZipFile": zip_code({"bootstrap": bootstrap}, executable={"bootstrap"})},
    )
    return name


def test_shell_bootstrap_through_an_http_api(gateway: GatewayProcess, lam: Any) -> None:
    name = _create(lam, BOOTSTRAP)
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api = gateway.client("apigatewayv2").create_api(Name=name, ProtocolType="HTTP", Target=arn)["ApiId"]
    answers = [requests.get(f"{gateway.url}/_aws/execute-api/{api}/x", timeout=30) for _ in range(3)]
    log = (gateway.data_dir / "logs" / f"{name}.log").read_text()
    assert [a.status_code for a in answers] == [200, 200, 200], log
    assert all(a.text.startswith("shell says hi to ") for a in answers)
    assert log.count("bootstrap up in") == 1  # one warm environment served the three
    assert "INIT_START Runtime Version: provided:al2023" in log


def test_errors_and_a_dying_bootstrap(lam: Any) -> None:
    name = _create(lam, BOOTSTRAP, "provided.al2")
    answer = lam.invoke(FunctionName=name, Payload=b'{"fail": 1}')
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read()) == {"errorMessage": "asked to fail", "errorType": "ShellError"}
    answer = lam.invoke(FunctionName=name, Payload=b'{"exit": 1}')
    assert answer["FunctionError"] == "Unhandled"
    # A new environment answers the next call.
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in answer
    failing = _create(lam, INIT_FAILS)
    answer = lam.invoke(FunctionName=failing, Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read())["errorType"] == "InitError.Config"
