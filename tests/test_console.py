"""The web console at /_apigate/console/, walked in headless Chromium as a person walks AWS's first tutorial.

Every call the console makes goes through the public management API; the walks check what they did with boto3 and
with real HTTP requests to the deployed stage. Screenshots of each main page are saved under the test's tmp dir
(and copied to $CONSOLE_SCREENS when it is set).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from console_helpers import CHROMIUM, NEEDS_CHROMIUM, Page, chromium
from helpers import GatewayProcess, RestApi, create_function

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=NEEDS_CHROMIUM)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path_factory.mktemp("console") / "data")
    process.start()
    yield process
    process.stop()


def _console(gateway: GatewayProcess) -> str:
    return f"{gateway.url}/_apigate/console/"


async def _heading(page: Page, text: str) -> None:
    await page.until(f"document.querySelector('main h1')?.textContent.includes({json.dumps(text)})")


def test_console_assets_are_served_only_to_this_gateways_own_pages(gateway: GatewayProcess) -> None:
    index = requests.get(_console(gateway), timeout=5)
    assert index.status_code == 200
    assert index.headers["Content-Type"].startswith("text/html")
    assert "frame-ancestors 'none'" in index.headers["Content-Security-Policy"]
    script = requests.get(_console(gateway) + "app.js", timeout=5)
    assert script.headers["Content-Type"].startswith("text/javascript")
    again = requests.get(
        _console(gateway) + "app.js", headers={"If-None-Match": script.headers["ETag"]}, timeout=5
    )
    assert again.status_code == 304
    assert requests.get(_console(gateway) + "nothing.js", timeout=5).status_code == 404
    assert requests.get(f"{gateway.url}/_apigate/consoleapp.js", timeout=5).status_code == 404
    moved = requests.get(f"{gateway.url}/_apigate/console", allow_redirects=False, timeout=5)
    assert moved.status_code == 308 and moved.headers["Location"] == "/_apigate/console/"
    # A DNS-rebound name is refused, as the management API refuses it.
    rebound = requests.get(_console(gateway), headers={"Host": f"attacker.example:{gateway.port}"}, timeout=5)
    assert rebound.status_code == 403
    config = requests.get(_console(gateway) + "config.json", timeout=5).json()
    assert config == {"region": "us-east-1", "accountId": config["accountId"], "signed": False}


def test_recent_request_lines_for_the_live_view(gateway: GatewayProcess) -> None:
    api = RestApi(gateway.client("apigateway"), "lines")
    api.mock("/seen", "GET", "{}")
    api.deploy("live")
    start = requests.get(f"{gateway.url}/_apigate/requests", timeout=5).json()["seq"]
    assert requests.get(gateway.invoke_url(api.id, "live", "/seen"), timeout=5).status_code == 200
    assert requests.get(gateway.invoke_url(api.id, "live", "/missing"), timeout=5).status_code == 403
    answer = requests.get(f"{gateway.url}/_apigate/requests?after={start}", timeout=5)
    assert answer.headers["Cache-Control"] == "no-store"
    lines = answer.json()["lines"]
    assert [(line["method"], line["path"], line["status"], line["error"]) for line in lines] == [
        ("GET", "/live/seen", 200, ""),
        ("GET", "/live/missing", 403, "MISSING_AUTHENTICATION_TOKEN"),
    ]
    assert all(
        line["apiId"] == api.id and line["stage"] == "live" and line["latencyMs"] >= 0 for line in lines
    )
    assert answer.json()["seq"] == lines[-1]["seq"] == start + 2
    assert requests.get(f"{gateway.url}/_apigate/requests?after={start + 2}", timeout=5).json()["lines"] == []


def test_first_tutorial_in_the_console(gateway: GatewayProcess, tmp_path: Path) -> None:
    """Create a function from inline code, a REST API, /hello/{name} GET with the Lambda proxy integration,
    deploy to dev, open the invoke URL, run Test and see the log."""
    shots = tmp_path

    async def walk() -> None:
        async with chromium() as browser:
            page = await browser.page()
            await page.goto(_console(gateway) + "#/functions")
            await _heading(page, "Functions")
            # The keyboard: the first Tab reaches "Skip to content", Enter moves to the page; following a link moves
            # the focus to the new page's heading.
            await page.key("Tab", "Tab", 9)
            assert await page.focused() == "Skip to content"
            await page.key("Enter", "Enter", 13)
            assert await page.focused() == "main"
            await page.evaluate("document.querySelector('nav a[href=\"#/keys\"]').focus(), true")
            await page.key("Enter", "Enter", 13)
            await page.until(
                "document.activeElement?.textContent === 'Keys & usage' && document.activeElement.tagName === 'H1'"
            )
            await page.evaluate("history.back(), true")
            await _heading(page, "Functions")
            await page.fill("Function name", "hello-console")
            await page.press("Create function")
            await _heading(page, "hello-console")
            await page.until("document.querySelector('#code-view')?.value.includes('lambda_handler')")
            await page.screenshot(shots / "console-function.png")
            assert await page.unlabelled() == []
            await page.press("Test", "[role=tab]")
            await page.press("Invoke")
            await page.until(
                "document.querySelector('ol.runs pre.log')?.textContent.includes('saying hello to console')"
            )
            await page.press("Functions", "nav a")
            await page.until("!!document.querySelector('#functions-table')")
            await page.screenshot(shots / "console-functions.png")
            assert await page.unlabelled() == []

            await page.press("APIs", "nav a")
            await _heading(page, "APIs")
            await page.fill("API name", "tutorial")
            await page.press("Create API")
            await page.until(
                "location.hash.startsWith('#/apis/') && !!document.querySelector('#resources-heading')"
            )
            api_id = str(await page.evaluate("location.hash.split('/')[2]"))
            for part in ("hello", "{name}"):
                await page.press("Create resource")
                await page.fill("Resource path part", part)
                await page.press("Create")
                await page.until(
                    f"document.querySelector('#resource-heading')?.textContent.endsWith('{part}')"
                )
            await page.fill("Create method", "GET")
            await page.press("Create method", "button")
            await page.until("!!document.querySelector('#method-heading')")
            await page.until(
                "!!__t.byLabel('Lambda function') && __t.byLabel('Lambda function').value === 'hello-console'"
            )
            await page.press("Save integration")
            await page.until("document.querySelector('.diagram')?.innerText.includes('Lambda hello-console')")
            await page.screenshot(shots / "console-editor.png")
            assert await page.unlabelled() == []

            await page.press("Test", "a.button")
            await page.fill("{name}", "tutorial")
            await page.press("Test", "button[type=submit]")
            await page.until(
                "document.querySelector('#test-log')?.textContent.includes('Method completed with status: 200')"
            )
            assert await page.text("#test-status") == "200"
            assert "Hello, tutorial!" in await page.text("#test-result")
            await page.screenshot(shots / "console-test.png")
            assert await page.unlabelled() == []

            await page.press("Stages", ".tabs a")
            await page.fill("New stage name", "dev")
            await page.press("Deploy")
            invoke = str(await page.until("document.querySelector('#invoke-url')?.href"))
            assert invoke == f"{gateway.url}/_aws/execute-api/{api_id}/dev/"
            await page.screenshot(shots / "console-stages.png")
            assert await page.unlabelled() == []

            tab = await browser.page()
            await tab.goto(invoke + "hello/browser")
            assert json.loads(await tab.text("body")) == {"message": "Hello, browser!"}

    asyncio.run(walk())
    apigw = gateway.client("apigateway")
    api = next(a for a in apigw.get_rest_apis()["items"] if a["name"] == "tutorial")
    resource = next(
        r for r in apigw.get_resources(restApiId=api["id"])["items"] if r["path"] == "/hello/{name}"
    )
    integration = apigw.get_integration(restApiId=api["id"], resourceId=resource["id"], httpMethod="GET")
    assert integration["type"] == "AWS_PROXY" and "function:hello-console/" in integration["uri"]
    answer = requests.get(gateway.invoke_url(api["id"], "dev", "/hello/python"), timeout=10)
    assert answer.json() == {"message": "Hello, python!"}


# A mock that fails on demand: VTL in the console's editor (its highlighting is checked by the walk).
TEMPLATE = """## answer 500 when asked to, else 200
#set($fail = $input.params('fail'))
#if($fail == "true")
{"statusCode": 500}
#else
{"statusCode": 200}
#end"""


def test_keys_usage_plan_and_throttling_show_a_429_live(gateway: GatewayProcess, tmp_path: Path) -> None:
    """Require an API key on a method, create a key and a usage plan, throttle the stage, and watch the 429."""
    apigw = gateway.client("apigateway")
    api = RestApi(apigw, "metered")
    api.mock("/ping", "GET", '{"pong": true}')
    api.deploy("prod")
    rid = api.resource("/ping")
    key_value = "console-walk-key-0123456789abcdef"
    shots = tmp_path

    async def walk() -> None:
        async with chromium() as browser:
            page = await browser.page()
            await page.goto(_console(gateway) + f"#/apis/{api.id}/resources/{rid}/GET/request")
            await page.until("!!document.querySelector('form[aria-label=\"Method request\"]')")
            await page.check("API key required")
            await page.press("Save method request")
            await page.until(
                "document.querySelector('.diagram')?.innerText.includes('API key required: yes')"
            )
            await page.click(".diagram a[href$='/integration']")
            await page.fill("Request mapping template for application/json", TEMPLATE)
            await page.until("document.querySelectorAll('.vtl pre .t-directive').length === 4")
            await page.screenshot(shots / "console-integration.png")
            assert await page.unlabelled() == []
            await page.press("Save integration")
            await page.until(
                "document.querySelector('[role=status]')?.textContent.includes('Integration saved')"
            )

            await page.press("Stages", ".tabs a")
            await page.until("!!document.querySelector('#invoke-url')")
            await page.fill("Rate (requests per second)", "1")
            await page.fill("Burst", "1")
            await page.press("Save throttling")
            await page.until(
                "document.querySelector('[role=status]')?.textContent.includes('Throttling saved')"
            )
            await page.press("Deploy")  # the method's new API key requirement, deployed to prod
            await page.until("document.querySelectorAll('main table.list tbody tr').length === 2")

            await page.press("Keys & usage", "nav a")
            await _heading(page, "Keys & usage")
            await page.fill("Key name", "walker")
            await page.fill("Value (optional)", key_value)
            await page.press("Create API key")
            await page.until("document.querySelector('#keys-table')?.innerText.includes('walker')")
            await page.fill("Plan name", "starter")
            await page.check("metered · prod")
            await page.fill("Quota (requests)", "1000")
            await page.press("Create usage plan")
            await page.until("document.querySelector('main')?.innerText.includes('Usage plan starter')")
            await page.press("Add key to plan")
            await page.until("!!__t.byText('walker', 'section .badge')")

            # Traffic: without the key a 403; with it, the first passes and the burst of 1 sends back 429s.
            url = gateway.invoke_url(api.id, "prod", "/ping")
            assert requests.get(url, timeout=5).status_code == 403
            statuses = [
                requests.get(url, headers={"x-api-key": key_value}, timeout=5).status_code for _ in range(6)
            ]
            assert statuses[0] == 200 and 429 in statuses, statuses

            await page.press("Watch", "nav a")
            await _heading(page, "Watch")
            await page.until("document.querySelector('#live-table')?.innerText.includes('429')")
            await page.until("document.querySelector('.stage-cards')?.innerText.includes('metered · prod')")
            await page.screenshot(shots / "console-watch.png")
            assert await page.unlabelled() == []
            await page.fill("Filter", "429")
            await page.until(
                "[...document.querySelectorAll('#live-table tbody tr')].every(r => r.innerText.includes('429'))"
            )

            await page.press("Keys & usage", "nav a")
            await page.until("!!document.querySelector('figure.chart svg rect.bar')")
            await page.screenshot(shots / "console-keys.png")
            assert await page.unlabelled() == []

            await page.press("APIs", "nav a")
            await page.until("document.querySelectorAll('#apis-table tbody tr').length >= 1")
            await page.screenshot(shots / "console-apis.png")
            assert await page.unlabelled() == []

    asyncio.run(walk())
    method = apigw.get_method(restApiId=api.id, resourceId=rid, httpMethod="GET")
    assert method["apiKeyRequired"] is True
    assert method["methodIntegration"]["requestTemplates"] == {"application/json": TEMPLATE}
    stage = apigw.get_stage(restApiId=api.id, stageName="prod")
    assert stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 1
    plan = next(p for p in apigw.get_usage_plans()["items"] if p["name"] == "starter")
    assert plan["apiStages"] == [{"apiId": api.id, "stage": "prod"}]
    assert [k["name"] for k in apigw.get_usage_plan_keys(usagePlanId=plan["id"])["items"]] == ["walker"]


AUTHORIZER = """
def lambda_handler(event, context):
    effect = "Allow" if event["authorizationToken"] == "letmein" else "Deny"
    return {"principalId": "walker", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]}}
"""
ECHO = """
import json
def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"route": event["routeKey"]})}
"""
EDITED = """
import json, os
def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"route": os.environ["GREETING"] + " " + event["routeKey"]})}
"""
OPENAPI = {
    "openapi": "3.0.1",
    "info": {"title": "imported-pets", "version": "1"},
    "paths": {
        "/pets": {
            "get": {
                "responses": {"200": {"description": "ok"}},
                "x-amazon-apigateway-integration": {
                    "type": "mock",
                    "requestTemplates": {"application/json": '{"statusCode": 200}'},
                    "responses": {
                        "default": {"statusCode": "200", "responseTemplates": {"application/json": "[]"}}
                    },
                },
            }
        }
    },
}


def test_import_export_authorizer_test_and_an_http_api(gateway: GatewayProcess, tmp_path: Path) -> None:
    """Import an OpenAPI file, deploy and export it, test a TOKEN authorizer, build an HTTP API route."""
    lam = gateway.client("lambda")
    create_function(lam, AUTHORIZER, name="console-authorizer")
    create_function(lam, ECHO, name="console-echo")
    upload = tmp_path / "pets.json"
    upload.write_text(json.dumps(OPENAPI))
    downloads = tmp_path / "downloads"
    downloads.mkdir()

    async def walk() -> str:
        async with chromium() as browser:
            await browser.call(
                "Browser.setDownloadBehavior",
                behavior="allow",
                downloadPath=str(downloads),
                eventsEnabled=True,
            )
            page = await browser.page()
            await page.goto(_console(gateway) + "#/apis")
            await _heading(page, "APIs")
            document = await page.call("DOM.getDocument")
            node = await page.call(
                "DOM.querySelector", nodeId=document["root"]["nodeId"], selector="input[type=file]"
            )
            await page.call("DOM.setFileInputFiles", files=[str(upload)], nodeId=node["nodeId"])
            await page.press("Import")
            await page.until("document.querySelector('main h1')?.textContent === 'imported-pets'")
            await page.until("!!__t.byLabel('/pets')")

            await page.press("Stages", ".tabs a")
            await page.fill("New stage name", "v1")
            await page.press("Deploy")
            await page.until("!!document.querySelector('#invoke-url')")
            await page.press("OpenAPI 3")
            # A download is a browser event: wait for the completed one.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 20
            while not any(
                e["method"] == "Browser.downloadProgress" and e["params"]["state"] == "completed"
                for e in browser.events
            ):
                assert loop.time() < deadline, "the export never finished downloading"
                await asyncio.sleep(0.05)

            await page.press("Authorizers", ".tabs a")
            await page.fill("Name", "token-check")
            await page.fill("Lambda function (TOKEN, REQUEST)", "console-authorizer")
            await page.press("Create authorizer")
            await page.until("!!__t.byText('token-check', 'tbody th')")
            await page.press("Test", "tbody button")
            await page.fill("method.request.header.Authorization", "letmein")
            await page.press("Test authorizer")
            await page.until("document.querySelector('main')?.innerText.includes('principal walker')")
            assert '"Effect": "Allow"' in await page.text("main") or '"Effect":"Allow"' in await page.text(
                "main"
            )
            await page.screenshot(shots / "console-authorizers.png")
            assert await page.unlabelled() == []

            await page.press("APIs", "nav a")
            await page.check("HTTP API")
            await page.fill("API name", "quick-http")
            await page.press("Create API")
            await page.until(
                "location.hash.startsWith('#/http/') && !!document.querySelector('#routes-heading')"
            )
            http_id = str(await page.evaluate("location.hash.split('/')[2]"))
            await page.fill("Route key", "GET /hi")
            await page.fill("Lambda function", "console-echo")
            await page.press("Add route")
            await page.until("document.querySelector('main table')?.innerText.includes('GET /hi')")
            await page.press("Create stage")
            await page.until("document.querySelector('main')?.innerText.includes('auto-deploy')")
            await page.screenshot(shots / "console-http-api.png")
            assert await page.unlabelled() == []

            # The function behind the route: an environment variable, then its code edited and deployed.
            await page.press("Functions", "nav a")
            await page.press("console-echo", "tbody a")
            await page.press("Configuration", "[role=tab]")
            await page.fill("Environment variable 1 name", "GREETING")
            await page.fill("Environment variable 1 value", "bonjour")
            await page.press("Save configuration")
            await page.until("document.querySelector('[role=tabpanel] .ok')?.textContent === 'Saved.'")
            await page.press("Code", "[role=tab]")
            await page.until("document.querySelector('#code-view')?.value.includes('routeKey')")
            await page.fill("lambda_function.py", EDITED)
            await page.press("Deploy code")
            await page.until(
                "document.querySelector('#code-view')?.value.includes('GREETING') && !__t.byText('Unsaved changes', 'span')"
            )
            await page.press("Test", "[role=tab]")
            await page.fill("Event (JSON)", '{"routeKey": "console"}')
            await page.press("Invoke")
            await page.until("document.querySelector('ol.runs')?.innerText.includes('bonjour console')")
            return http_id

    shots = tmp_path
    http_id = asyncio.run(walk())
    exported = [json.loads(path.read_text()) for path in downloads.iterdir()]
    assert len(exported) == 1 and exported[0]["openapi"].startswith("3.") and "/pets" in exported[0]["paths"]
    imported = next(
        a for a in gateway.client("apigateway").get_rest_apis()["items"] if a["name"] == "imported-pets"
    )
    assert requests.get(gateway.invoke_url(imported["id"], "v1", "/pets"), timeout=5).json() == []
    answer = requests.get(f"{gateway.url}/_aws/execute-api/{http_id}/hi", timeout=10)
    assert answer.json() == {"route": "bonjour GET /hi"}
    config = gateway.client("lambda").get_function_configuration(FunctionName="console-echo")
    assert config["Environment"]["Variables"] == {"GREETING": "bonjour"}
