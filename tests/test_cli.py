"""The client commands against a running gateway: apis, import, export, invoke, logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests
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
        {
            "id": api_id,
            "name": name,
            "type": "REST",
            "stage": "cli",
            "url": f"{gateway.url}/_aws/execute-api/{api_id}/cli/",
        }
    ]
    table = apigate(gateway, "apis").stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "TYPE", "STAGE", "URL"]
    assert any(line.split()[:4] == [api_id, name, "REST", "cli"] for line in table)

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
    # Without --data-dir: the serving gateway's own data dir, found from its process (run from elsewhere).
    found = subprocess.run(
        [sys.executable, "-m", "apigate.cli", "logs", name],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        env={k: v for k, v in os.environ.items() if k != "APIGATE_DATA_DIR"},
    )
    assert found.returncode == 0, found.stderr
    assert "got 21" in found.stdout


def test_apis_lists_http_and_websocket_apis(gateway: GatewayProcess) -> None:
    v2 = gateway.client("apigatewayv2")
    http = v2.create_api(Name=unique("cli-http"), ProtocolType="HTTP")["ApiId"]
    v2.create_stage(ApiId=http, StageName="$default")
    socket_api = v2.create_api(
        Name=unique("cli-ws"), ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )["ApiId"]
    v2.create_stage(ApiId=socket_api, StageName="live")
    rows = {(row["id"], row["stage"]): row for row in json.loads(apigate(gateway, "apis", "--json").stdout)}
    assert rows[(http, "$default")]["type"] == "HTTP"
    assert rows[(http, "$default")]["url"] == f"{gateway.url}/_aws/execute-api/{http}/"
    assert rows[(socket_api, "live")]["type"] == "WEBSOCKET"
    assert (
        rows[(socket_api, "live")]["url"]
        == f"ws{gateway.url.removeprefix('http')}/_aws/execute-api/{socket_api}/live"
    )


def test_import_deploys_and_updates_in_place_and_export_refuses_to_guess(
    gateway: GatewayProcess, apigw: Any, tmp_path: Path
) -> None:
    name = unique("cli-import")
    source = tmp_path / "api.json"
    source.write_text(json.dumps({**DEFINITION, "info": {"title": name, "version": "1"}}))
    imported = apigate(gateway, "import", str(source), "--stage", "live", "--json")
    assert imported.returncode == 0, imported.stderr
    api_id = json.loads(imported.stdout)["id"]
    served = requests.get(f"{gateway.url}/_aws/execute-api/{api_id}/live/ping", timeout=10)
    assert served.status_code == 200
    # --update NAME replaces the API in place and redeploys: no duplicate
    changed = json.loads(json.dumps(DEFINITION).replace("/ping", "/pong"))
    source.write_text(json.dumps({**changed, "info": {"title": name, "version": "2"}}))
    updated = apigate(gateway, "import", str(source), "--update", name, "--stage", "live", "--json")
    assert updated.returncode == 0, updated.stderr
    assert json.loads(updated.stdout)["id"] == api_id
    assert [a["id"] for a in apigw.get_rest_apis(limit=500)["items"] if a["name"] == name] == [api_id]
    assert requests.get(f"{gateway.url}/_aws/execute-api/{api_id}/live/pong", timeout=10).status_code == 200
    # A second API of the same name: export names both ids and picks neither.
    other = apigw.create_rest_api(name=name)["id"]
    refused = apigate(gateway, "export", name, "live")
    assert refused.returncode == 1
    assert f"2 REST APIs are named {name}" in refused.stderr
    assert api_id in refused.stderr and other in refused.stderr


def test_routes_of_a_running_gateway(gateway: GatewayProcess, apigw: Any, tmp_path: Path) -> None:
    name = unique("cli-routes")
    source = tmp_path / "api.json"
    source.write_text(json.dumps({**DEFINITION, "info": {"title": name, "version": "1"}}))
    api_id = json.loads(apigate(gateway, "import", str(source), "--stage", "v1", "--json").stdout)["id"]
    v2 = gateway.client("apigatewayv2")
    http = v2.create_api(Name=unique("cli-routes-http"), ProtocolType="HTTP")["ApiId"]
    target = v2.create_integration(
        ApiId=http,
        IntegrationType="AWS_PROXY",
        IntegrationUri="arn:aws:lambda:us-east-1:000000000000:function:orders",
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    v2.create_route(ApiId=http, RouteKey="GET /orders/{id}", Target=f"integrations/{target}")
    v2.create_stage(ApiId=http, StageName="$default")

    listed = apigate(gateway, "routes", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r for r in rows if r["api"] == api_id] == [
        {
            "api": api_id,
            "name": name,
            "type": "REST",
            "stage": "v1",
            "method": "GET",
            "path": "/ping",
            "url": f"{gateway.url}/_aws/execute-api/{api_id}/v1/ping",
            "target": "mock",
        }
    ]
    (order,) = [r for r in rows if r["api"] == http]
    assert (order["method"], order["url"], order["target"]) == (
        "GET",
        f"{gateway.url}/_aws/execute-api/{http}/orders/{{id}}",
        "orders",
    )
    assert requests.get(f"{gateway.url}/_aws/execute-api/{api_id}/v1/ping", timeout=10).status_code == 200
    table = apigate(gateway, "routes").stdout.splitlines()
    assert table[0].split() == ["METHOD", "URL", "TARGET", "API", "STAGE"]
    assert f"GET     {gateway.url}/_aws/execute-api/{api_id}/v1/ping" in "\n".join(table)


def test_routes_of_a_template_without_a_gateway() -> None:
    template = Path(__file__).parent.parent / "examples" / "petstore" / "template.yaml"
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "apigate.cli",
            "routes",
            str(template),
            "--json",
            "--endpoint",
            "http://127.0.0.1:9",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    dev = {(r["method"], r["path"]): r for r in rows if r["stage"] == "dev"}
    assert dev[("GET", "/pets/{petId}")]["target"] == "GetPetFunction"
    assert dev[("POST", "/pets")]["url"].startswith("http://127.0.0.1:9/_aws/execute-api/")
    assert dev[("POST", "/pets")]["url"].endswith("/dev/pets")
    broken = subprocess.run(
        [sys.executable, "-m", "apigate.cli", "routes", "/nonexistent/template.yaml"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (
        broken.returncode != 0 and "Traceback" not in broken.stderr and broken.stderr.startswith("apigate: ")
    )


def test_logs_since_with_timestamps(gateway: GatewayProcess, lam: Any) -> None:
    import calendar
    import time

    source = "def lambda_handler(event, context):\n    print('tick', event['n'])\n    return 1\n"
    name = create_function(lam, source)
    lam.invoke(FunctionName=name, Payload=b'{"n": 1}')
    logs = gateway.client("logs")

    def ticks() -> int:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}", filterPattern="tick")[
                "events"
            ]
        except logs.exceptions.ResourceNotFoundException:
            return 0
        return len(events)

    from helpers import wait_for

    wait_for(lambda: ticks() == 1)
    shown = apigate(gateway, "logs", name, "--data-dir", str(gateway.data_dir), "--since", "10m")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    tick = next(line for line in lines if line.endswith(" tick 1"))
    stamp = tick.split(" ", 1)[0]
    assert 0 <= time.time() - calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) < 600
    assert any(" START RequestId: " in line for line in lines)
    future = apigate(
        gateway, "logs", name, "--data-dir", str(gateway.data_dir), "--since", "2100-01-01T00:00:00Z"
    )
    assert future.returncode == 0 and future.stdout == ""
    bad = apigate(gateway, "logs", name, "--data-dir", str(gateway.data_dir), "--since", "yesterday-ish")
    assert bad.returncode == 2 and "--since" in bad.stderr
