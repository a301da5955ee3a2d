"""A real CDK app: `cdk synth` (the aws-cdk CLI and aws-cdk-lib from npm) of a RestApi with a LambdaIntegration
over a Python function from a local asset folder, then `apigate serve cdk.out` and a call to the URL its Output
prints.

Slow (an npm install of ~200 MB on a fresh machine, ~15 s; `cdk synth` itself ~10 s), so the default run leaves it
out; the suite still serves a cloud assembly of the same shape from a fixture written in
tests/test_build_outputs.py. The npm packages are installed once into the tests' cache folder
(``$APIGATE_TEST_CACHE``, default ``~/.cache/apigate-tests``, as tests/sdk_tools.py keeps TypeScript) and reused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import requests

from helpers import GatewayProcess, wait_for
from sdk_tools import NODE, NPM, cache_dir

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # a first run installs from npm

# Exact versions: the same synth output on every machine.
_PACKAGES = ("aws-cdk@2.1148.1", "aws-cdk-lib@2.276.0", "constructs@10.8.1")

APP = """\
const path = require('path');
const cdk = require('aws-cdk-lib');
const lambda = require('aws-cdk-lib/aws-lambda');
const apigw = require('aws-cdk-lib/aws-apigateway');

class HelloStack extends cdk.Stack {
  constructor(scope, id, props) {
    super(scope, id, props);
    const fn = new lambda.Function(this, 'Hello', {
      runtime: lambda.Runtime.PYTHON_3_12,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(path.join(__dirname, 'handler')),
      environment: { GREETING: 'hello from cdk' },
    });
    const api = new apigw.RestApi(this, 'Api', { deployOptions: { stageName: 'prod' } });
    const items = api.root.addResource('items');
    items.addMethod('GET', new apigw.LambdaIntegration(fn));
    items.addResource('{id}').addMethod('GET', new apigw.LambdaIntegration(fn));
    new cdk.CfnOutput(this, 'Url', { value: api.url });
  }
}

const app = new cdk.App();
new HelloStack(app, 'HelloStack');
"""

HANDLER = """\
import json
import os


def handler(event, context):
    body = {"greeting": os.environ["GREETING"], "path": event["path"], "id": (event["pathParameters"] or {}).get("id")}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}
"""


def _cdk_packages() -> Path:
    """node_modules with the pinned CDK packages, installed once (into a fresh folder, then renamed into place,
    so an interrupted install is never taken for a finished one)."""
    if NPM is None or NODE is None:
        pytest.fail("this test needs Node.js and npm (the aws-cdk CLI runs on Node; .ci/run installs them)")
    cache = cache_dir()
    target = cache / ("cdk-" + "-".join(p.rsplit("@", 1)[1] for p in _PACKAGES))
    if not (target / "node_modules" / ".bin" / "cdk").exists():
        staging = cache / f"{target.name}.partial-{os.getpid()}"
        staging.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [NPM, "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(staging), *_PACKAGES],
            check=True,
            timeout=600,
        )
        try:
            staging.rename(target)
        except OSError:  # another run finished first: use its install
            shutil.rmtree(staging, ignore_errors=True)
    return target / "node_modules"


def test_cdk_synth_output_serves(tmp_path: Path) -> None:
    modules = _cdk_packages()
    app = tmp_path / "hello-cdk"
    (app / "handler").mkdir(parents=True)
    (app / "app.js").write_text(APP)
    (app / "handler" / "index.py").write_text(textwrap.dedent(HANDLER))
    env = {**os.environ, "NODE_PATH": str(modules), "CDK_DISABLE_VERSION_CHECK": "1"}
    subprocess.run(
        [
            str(modules / ".bin" / "cdk"),
            "synth",
            "--app",
            "node app.js",
            "--output",
            "cdk.out",
            "--no-notices",
            "--no-version-reporting",
            "--quiet",
        ],
        cwd=app,
        env=env,
        check=True,
        timeout=300,
    )
    assert (app / "cdk.out" / "manifest.json").is_file()

    gateway = GatewayProcess(tmp_path / "data", [str(app / "cdk.out"), "--no-watch"])
    gateway.start()
    try:
        # Lines arrive through a reader thread: wait for the one needed, not just the heading before it.
        wait_for(lambda: any(line.startswith("  Url: ") for line in gateway.output), timeout=30)
        url = next(line.split(": ", 1)[1] for line in gateway.output if line.startswith("  Url: "))
        assert url.startswith(gateway.url), url  # the AWS URL CDK builds, rewritten to the gateway's
        listing = requests.get(url + "items", timeout=30)
        assert listing.status_code == 200, listing.text
        assert listing.json() == {"greeting": "hello from cdk", "path": "/items", "id": None}
        one = requests.get(url + "items/7", timeout=30).json()
        assert (one["path"], one["id"]) == ("/items/7", "7")
        assert requests.get(url + "nothing", timeout=30).status_code == 403
    finally:
        gateway.stop()
