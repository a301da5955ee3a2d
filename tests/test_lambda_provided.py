"""provided.al2023 / provided.al2 (issue #17): the function's own bootstrap, talking to a Lambda Runtime API
that each worker gets, through an HTTP API; errors, init errors and a bootstrap that dies."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
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


# AWS's Python runtime interface client (awslambdaric, pinned in the test extra) as a second Runtime API client:
# the function's zip carries it, as a provided.al2023 deployment would, and its bootstrap starts it on the
# machine's Python of the same version (reachable by the unprivileged user functions run as under a root gateway).
RIC_HANDLER = """
import json
def handler(event, context):
    if event.get("fail"):
        raise ValueError("ric was asked to fail")
    return {"statusCode": 200, "body": json.dumps({"ric": True, "request": context.aws_request_id,
                                                   "remaining": context.get_remaining_time_in_millis() > 0,
                                                   "arn": context.invoked_function_arn})}
"""


def _ric_python() -> str:
    """A Python of the test interpreter's version that a function's user can run."""
    if os.geteuid() != 0:  # functions run as this user: the test's own interpreter is reachable
        return sys.executable
    wanted = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    found = shutil.which(wanted, path="/usr/local/bin:/usr/bin:/bin")
    if found is None:
        pytest.skip(f"no {wanted} outside root's home for an unprivileged bootstrap (awslambdaric is built per version)")
    return found


def _ric_zip(python: str) -> bytes:
    import awslambdaric
    import simplejson
    import snapshot_restore_py

    files: dict[str, bytes] = {"lambda_function.py": RIC_HANDLER.encode()}
    roots = [Path(awslambdaric.__file__).parent, Path(simplejson.__file__).parent]
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                files[f"{root.name}/{path.relative_to(root).as_posix()}"] = path.read_bytes()
    site = Path(awslambdaric.__file__).parent.parent
    for single in (Path(snapshot_restore_py.__file__), *site.glob("runtime_client*.so")):
        files[single.name] = single.read_bytes()
    files["bootstrap"] = (
        "#!/bin/sh\n"
        'cd "$LAMBDA_TASK_ROOT"\n'
        f'PYTHONPATH="$LAMBDA_TASK_ROOT" exec {python} -m awslambdaric lambda_function.handler\n'
    ).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (0o100755 if name == "bootstrap" or name.endswith(".so") else 0o100644) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def test_awslambdaric_against_our_runtime_api(gateway: GatewayProcess, lam: Any) -> None:
    name = unique("ric")
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="lambda_function.handler",
        Code={"ZipFile": _ric_zip(_ric_python())},
        Timeout=30,
    )
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    api = gateway.client("apigatewayv2").create_api(Name=name, ProtocolType="HTTP", Target=arn)["ApiId"]
    answers = [requests.get(f"{gateway.url}/_aws/execute-api/{api}/x", timeout=60) for _ in range(3)]
    log = (gateway.data_dir / "logs" / f"{name}.log").read_text()
    assert [a.status_code for a in answers] == [200, 200, 200], log
    bodies = [a.json() for a in answers]
    assert all(b["ric"] and b["remaining"] and b["arn"] == arn for b in bodies), bodies
    assert len({b["request"] for b in bodies}) == 3
    failed = lam.invoke(FunctionName=name, Payload=b'{"fail": true}')
    assert failed["FunctionError"] == "Unhandled"
    error = json.loads(failed["Payload"].read())
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "ric was asked to fail"


ECHO = r"""#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  EVENT="$(mktemp)"
  curl -sS -D "$HEADERS" -o "$EVENT" "$API/invocation/next"
  REQUEST_ID=$(grep -i Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  if grep -q chunked "$EVENT"; then
    curl -sS -X POST "$API/invocation/$REQUEST_ID/response" -H "Transfer-Encoding: chunked" --data-binary @- < "$EVENT" >/dev/null
  else  # over 1 KiB, curl asks for 100-continue first
    curl -sS -X POST "$API/invocation/$REQUEST_ID/response" --data-binary @"$EVENT" >/dev/null
  fi
  rm -f "$HEADERS" "$EVENT"
done
"""


def test_large_and_chunked_responses(lam: Any) -> None:
    name = _create(lam, ECHO)
    for event in ({"big": "x" * 200_000}, {"mode": "chunked", "data": "y" * 50_000}, {"small": 1}):
        answer = lam.invoke(FunctionName=name, Payload=json.dumps(event))
        assert "FunctionError" not in answer
        assert json.loads(answer["Payload"].read()) == event
