"""How fast the console's pages load with 100 APIs defined (issue #20 asks for under 300 ms on this machine).

    python benchmarks/console_pages.py [--apis 100] [--repeat 7]

Starts a gateway on a free loopback port, defines the APIs (each with a resource, a method and a stage; a function;
an API key and a usage plan), then opens each page in a fresh headless Chromium tab as a full navigation (HTML,
modules, management calls, render) and times it from the navigation's start to the page showing its content
(``performance.now()`` in the page). Prints the median and the worst of the runs per page.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from console_helpers import chromium  # noqa: E402
from helpers import GatewayProcess, RestApi, create_function  # noqa: E402

# Page, and what shows that it is loaded.
PAGES = [
    ("APIs", "#/apis", "document.querySelectorAll('#apis-table tbody tr').length >= {apis}"),
    ("REST API editor", "#/apis/{api}/resources/{rid}/GET", "!!document.querySelector('.diagram')"),
    ("Stages", "#/apis/{api}/stages", "!!document.querySelector('#invoke-url')"),
    ("Functions", "#/functions", "!!document.querySelector('#functions-table tbody th')"),
    ("Function", "#/functions/bench-fn", "!!document.querySelector('#code-view')?.value"),
    ("Keys & usage", "#/keys", "!!document.querySelector('figure.chart, .card p.muted + *')"),
    ("Watch", "#/watch", "!!document.querySelector('.stage-cards .card')"),
]


def define(gateway: GatewayProcess, count: int) -> tuple[str, str]:
    apigw = gateway.client("apigateway")
    create_function(
        gateway.client("lambda"),
        "def lambda_handler(event, context):\n    return {'statusCode': 200}\n",
        name="bench-fn",
    )
    first = ("", "")
    for i in range(count):
        api = RestApi(apigw, f"api-{i:03d}")
        api.mock("/items", "GET", '{"ok": true}')
        api.deploy("prod")
        if not first[0]:
            first = (api.id, api.resource("/items"))
    key = apigw.create_api_key(name="bench", enabled=True)["id"]
    plan = apigw.create_usage_plan(name="bench", apiStages=[{"apiId": first[0], "stage": "prod"}])["id"]
    apigw.create_usage_plan_key(usagePlanId=plan, keyId=key, keyType="API_KEY")
    import requests

    for _ in range(20):  # some traffic for the Watch page
        requests.get(gateway.invoke_url(first[0], "prod", "/items"), timeout=5)
    return first


async def measure(url: str, pages: list[tuple[str, str, str]], repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name, _, _ in pages}
    async with chromium() as browser:
        for run in range(repeat + 1):  # the first run warms Chromium's and the gateway's caches
            for name, fragment, ready in pages:
                page = await browser.page()
                await page.call("Page.navigate", url=url + fragment)
                await page.until("!!window.__t", timeout=30)
                elapsed = await page.evaluate(f"__t.when(() => {ready})")
                if run:
                    times[name].append(float(elapsed))
                await page.call("Page.close")
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apis", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        gateway = GatewayProcess(Path(folder) / "data")
        gateway.start()
        try:
            api, rid = define(gateway, args.apis)
            pages = [(n, f.format(api=api, rid=rid), r.format(apis=args.apis)) for n, f, r in PAGES]
            times = asyncio.run(measure(f"{gateway.url}/_apigate/console/", pages, args.repeat))
        finally:
            gateway.stop()
    print(
        f"console page loads with {args.apis} REST APIs, {args.repeat} runs, ms (navigation start to content)"
    )
    print(f"{'page':<18} {'median':>8} {'worst':>8}")
    for name, values in times.items():
        print(f"{name:<18} {statistics.median(values):8.0f} {max(values):8.0f}")


if __name__ == "__main__":
    main()
