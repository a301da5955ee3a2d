"""Node.js functions (issue #17): CommonJS and ES modules, async, promise and callback handlers, the context
object, console.* lines per invocation, errors, timeouts; on the machine's node, through the same workers."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
from botocore.exceptions import ClientError

from helpers import GatewayProcess, unique, zip_code

NODE_MAJOR = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout[1:].split(".")[0]
RUNTIME = f"nodejs{NODE_MAJOR}.x"

CJS = """
exports.handler = async (event, context) => {
  console.log("hello", event.name);
  return { name: event.name, fn: context.functionName, rid: context.awsRequestId,
           left: context.getRemainingTimeInMillis() > 0, env: process.env.AWS_EXECUTION_ENV };
};
exports.callback = (event, context, callback) => { setTimeout(() => callback(null, { via: "callback" }), 5); };
exports.fails = async () => { throw new TypeError("bad thing"); };
exports.slow = () => new Promise(() => {});
"""

ESM = """
export const handler = async (event) => ({ module: "esm", doubled: event.n * 2 });
"""


def _create(lam: Any, files: dict[str, str], handler: str, name: str | None = None, **extra: Any) -> str:
    name = name or unique("node")
    lam.create_function(
        FunctionName=name,
        Runtime=RUNTIME,
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler=handler,
        Code={"ZipFile": zip_code(files)},
        **extra,
    )
    return name


def _invoke(lam: Any, name: str, event: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return json.loads(answer["Payload"].read()), answer.get("FunctionError")


def test_commonjs_async_handler_with_context_and_logs(gateway: GatewayProcess, lam: Any) -> None:
    name = _create(lam, {"index.js": CJS}, "index.handler")
    result, error = _invoke(lam, name, {"name": "ada"})
    assert error is None
    assert result["name"] == "ada" and result["fn"] == name and result["left"] is True
    assert result["env"] == f"AWS_Lambda_{RUNTIME}"
    log = (gateway.data_dir / "logs" / f"{name}.log").read_text().splitlines()
    assert any(line.startswith(f"INIT_START Runtime Version: nodejs:{NODE_MAJOR}.") for line in log)
    hello = [line.split("\t") for line in log if line.endswith("hello ada")]
    assert hello and hello[0][1:] == [result["rid"], "INFO", "hello ada"]


def test_callback_handler_and_es_module(lam: Any) -> None:
    name = _create(lam, {"index.js": CJS}, "index.callback")
    assert _invoke(lam, name, {}) == ({"via": "callback"}, None)
    esm = _create(lam, {"app.mjs": ESM}, "app.handler")
    assert _invoke(lam, esm, {"n": 21}) == ({"module": "esm", "doubled": 42}, None)


def test_errors_init_errors_and_timeouts(lam: Any) -> None:
    name = _create(lam, {"index.js": CJS}, "index.fails")
    result, error = _invoke(lam, name, {})
    assert error == "Unhandled"
    assert (result["errorType"], result["errorMessage"]) == ("TypeError", "bad thing")
    missing = _create(lam, {"index.js": CJS}, "index.nothere")
    result, error = _invoke(lam, missing, {})
    assert error == "Unhandled"
    assert result["errorType"] == "Runtime.HandlerNotFound"
    slow = _create(lam, {"index.js": CJS}, "index.slow", Timeout=1)
    result, error = _invoke(lam, slow, {})
    assert error == "Unhandled"
    assert "Task timed out after 1.00 seconds" in result["errorMessage"]
    # The worker that timed out is replaced: the function answers again.
    fine = _create(lam, {"index.js": CJS}, "index.handler")
    assert _invoke(lam, fine, {"name": "again"})[0]["name"] == "again"


def test_deprecated_node_is_refused(lam: Any) -> None:
    with pytest.raises(ClientError) as caught:
        lam.create_function(
            FunctionName=unique("old"), Runtime="nodejs16.x", Role="arn:aws:iam::000000000000:role/r",
            Handler="index.handler", Code={"ZipFile": zip_code({"index.js": CJS})},
        )  # fmt: skip
    assert caught.value.response["Error"]["Message"].startswith(
        "The runtime parameter of nodejs16.x is no longer supported"
    )


def test_package_json_dependencies_for_commonjs_and_es_modules(lam: Any) -> None:
    package = json.dumps({"name": "fn", "version": "1.0.0", "dependencies": {"ms": "2.1.3"}})
    cjs = 'const ms = require("ms");\nexports.handler = async () => ({ ms: ms("2h") });\n'
    name = _create(lam, {"index.js": cjs, "package.json": package}, "index.handler")
    assert _invoke(lam, name, {}) == ({"ms": 7200000}, None)
    esm = 'import ms from "ms";\nexport const handler = async () => ({ ms: ms("1s") });\n'
    name = _create(lam, {"index.mjs": esm, "package.json": package}, "index.handler")
    assert _invoke(lam, name, {}) == ({"ms": 1000}, None)
    # An unknown package fails the deploy, with npm's words.
    broken = json.dumps({"name": "fn", "version": "1.0.0", "dependencies": {"apigate-no-such-package-17": "1"}})
    with pytest.raises(ClientError) as caught:
        _create(lam, {"index.js": cjs, "package.json": broken}, "index.handler")
    assert "apigate-no-such-package-17" in caught.value.response["Error"]["Message"]
