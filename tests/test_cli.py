"""The client commands against a running gateway: apis, import, export, invoke, logs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from helpers import GatewayProcess, create_function, unique

DEFINITION = {
    "openapi": "3.0.1",
    "info": {"title": "", "version": "1"},
    "paths": {
        "/ping": {
            "get": {
                "responses": {"200": {"description": "ok"}},
                "x-amazon-apigateway-integration": {
                    "type": "mock",
                    "requestTemplates": {"application/json": '{"statusCode": 200}'},
                    "responses": {"default": {"statusCode": "200"}},
                },
            }
        }
    },
}


def apigate(gateway: GatewayProcess, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "apigate.cli", *args]
    if args[0] != "logs":
        command += ["--endpoint", gateway.url]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_import_apis_export(gateway: GatewayProcess, apigw: Any, tmp_path: Path) -> None:
    name = unique("cli")
    source = tmp_path / "api.json"
    source.write_text(json.dumps({**DEFINITION, "info": {"title": name, "version": "1"}}))
    imported = apigate(gateway, "import", str(source), "--json")
    assert imported.returncode == 0, imported.stderr
    api_id = json.loads(imported.stdout)["id"]
    apigw.create_deployment(restApiId=api_id, stageName="cli")

    listed = apigate(gateway, "apis", "--json")
    rows = [row for row in json.loads(listed.stdout) if row["id"] == api_id]
    assert rows == [
        {"id": api_id, "name": name, "stage": "cli", "url": f"{gateway.url}/_aws/execute-api/{api_id}/cli/"}
    ]
    table = apigate(gateway, "apis").stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "STAGE", "URL"]
    assert any(line.split()[:3] == [api_id, name, "cli"] for line in table)

    exported = apigate(gateway, "export", name, "cli", "--format", "yaml")
    assert exported.returncode == 0, exported.stderr
    document = yaml.safe_load(exported.stdout)
    assert document["info"]["title"] == name
    assert document["paths"]["/ping"]["get"]["x-amazon-apigateway-integration"]["type"] == "mock"

    missing = apigate(gateway, "export", api_id, "nope")
    assert missing.returncode == 1
    assert "NotFoundException" in missing.stderr


def test_invoke_and_logs(gateway: GatewayProcess, lam: Any) -> None:
    source = "def lambda_handler(event, context):\n    print('got', event['n'])\n    return {'double': event['n'] * 2}\n"
    name = create_function(lam, source)
    result = apigate(gateway, "invoke", name, "--payload", '{"n": 21}')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"double": 42}
    assert "got 21" in result.stderr  # the log tail
    failed = apigate(gateway, "invoke", name, "--payload", "{}")
    assert failed.returncode == 1
    assert "KeyError" in failed.stdout
    logs = apigate(gateway, "logs", name, "--data-dir", str(gateway.data_dir))
    assert logs.returncode == 0
    assert "got 21" in logs.stdout and "REPORT RequestId" in logs.stdout
    assert apigate(gateway, "logs", "no-such-function", "--data-dir", str(gateway.data_dir)).returncode == 1
