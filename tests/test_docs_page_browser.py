"""The reference page per stage, in a real browser: headless Chromium renders /_apigate/docs/{apiId}/{stage} from
the vendored Swagger UI, with every request the page makes going to the gateway on loopback, and a screenshot."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from console_helpers import CHROMIUM, NEEDS_CHROMIUM, run_headless
from helpers import GatewayProcess
from sdk_fixture import PetsApi, build_pets_api

DOCS = [
    ({"type": "API"}, {"info": {"description": "The pet store, documented with documentation parts."}}),
    ({"type": "METHOD", "path": "/pets", "method": "GET"}, {"summary": "List pets", "tags": ["pets"]}),
    ({"type": "METHOD", "path": "/pets", "method": "POST"}, {"summary": "Add a pet", "tags": ["pets"]}),
    (
        {"type": "METHOD", "path": "/pets/{id}", "method": "GET"},
        {"summary": "Find a pet by id", "tags": ["pets"]},
    ),
    ({"type": "METHOD", "path": "/secret"}, {"summary": "A secret (API key)", "tags": ["protected"]}),
    ({"type": "METHOD", "path": "/admin"}, {"summary": "Who am I (IAM)", "tags": ["protected"]}),
    (
        {"type": "QUERY_PARAMETER", "path": "/pets", "method": "GET", "name": "type"},
        {"description": "dog or cat"},
    ),
    ({"type": "MODEL", "name": "Pet"}, {"description": "A pet in the store"}),
]


@pytest.fixture(scope="module")
def documented(gateway: GatewayProcess, apigw: Any, lam: Any) -> PetsApi:
    pets = build_pets_api(apigw, lam, gateway.client("iam"))
    for location, properties in DOCS:
        apigw.create_documentation_part(
            restApiId=pets.api.id, location=location, properties=json.dumps(properties)
        )
    apigw.create_documentation_version(restApiId=pets.api.id, documentationVersion="1", stageName=pets.stage)
    return pets


@pytest.fixture
def dead_proxy() -> Iterator[tuple[str, list[bytes]]]:
    """A loopback 'proxy' that records what reaches it and answers nothing: whatever the browser would send
    beyond loopback (the page, or the browser's own background calls) ends here instead of leaving the machine."""
    server = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    seen.append(conn.recv(4096))

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", seen
    server.close()


def chromium(url: str, proxy: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_headless(
        url,
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--proxy-server={proxy}",  # loopback is never proxied; everything else goes to the dead proxy
        "--virtual-time-budget=15000",
        *extra,
    )


def page_requests(net_log: Path, origin: str) -> list[str]:
    """The URLs the page initiated (scripts, styles, its OpenAPI document, XHRs), from Chromium's net log. The
    browser's own background calls have no page initiator; the dead proxy keeps those on the machine."""
    events = json.loads(net_log.read_text())["events"]
    urls = []
    for event in events:
        params = event.get("params") or {}
        if "url" in params and "method" in params and params.get("initiator") == origin:
            urls.append(str(params["url"]))
    return urls


@pytest.mark.skipif(CHROMIUM is None, reason=NEEDS_CHROMIUM)
def test_reference_page_renders_offline(
    gateway: GatewayProcess, documented: PetsApi, dead_proxy: tuple[str, list[bytes]], tmp_path: Path
) -> None:
    proxy, _ = dead_proxy
    page = f"{gateway.url}/_apigate/docs/{documented.api.id}/{documented.stage}"
    net_log = tmp_path / "net.json"
    dom = chromium(page, proxy, f"--log-net-log={net_log}", "--dump-dom")
    assert 'data-rendered="yes"' in dom.stdout, dom.stdout[-2000:] + dom.stderr[-2000:]
    for path in ("/pets", "/pets/{id}", "/secret", "/admin"):
        assert f'data-path="{path}"' in dom.stdout
    for text in ("List pets", "Find a pet by id", "Who am I (IAM)", "The pet store, documented"):
        assert text in dom.stdout
    origin = gateway.url
    requested = page_requests(net_log, origin)
    assert {urlsplit(url).path for url in requested} >= {
        f"/_apigate/docs/{documented.api.id}/{documented.stage}/openapi.json",
        "/_apigate/docs/assets/swagger-ui-bundle.js",
        "/_apigate/docs/assets/swagger-ui.css",
    }
    assert all(url.startswith(origin + "/") for url in requested), requested
    screenshot = tmp_path / "docs-page.png"
    shot = chromium(page, proxy, "--hide-scrollbars", "--window-size=1280,1400", f"--screenshot={screenshot}")
    assert screenshot.exists() and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reference_page_document_and_guard(gateway: GatewayProcess, documented: PetsApi) -> None:
    base = f"{gateway.url}/_apigate/docs/{documented.api.id}/{documented.stage}"
    page = requests.get(base, timeout=10)
    assert page.status_code == 200 and "connect-src 'self'" in page.headers["Content-Security-Policy"]
    document = requests.get(base + "/openapi.json", timeout=10).json()
    # "Try it out" calls the live stage on the page's own origin: the stage answers there.
    server = document["servers"][0]["url"]
    assert server == f"/_aws/execute-api/{documented.api.id}/{documented.stage}"
    assert requests.get(gateway.url + server + "/pets?type=cat", timeout=10).json() == [
        {"id": 2, "name": "tom", "tag": "cat"}
    ]
    assert document["x-amazon-apigateway-documentation"]["version"] == "1"
    assert document["paths"]["/pets"]["get"]["summary"] == "List pets"
    asset = requests.get(f"{gateway.url}/_apigate/docs/assets/swagger-ui-bundle.js", timeout=10)
    assert asset.status_code == 200 and asset.headers["Content-Type"].startswith("text/javascript")
    assert requests.get(f"{gateway.url}/_apigate/docs/assets/LICENSE", timeout=10).status_code == 404
    assert (
        requests.get(f"{gateway.url}/_apigate/docs/{documented.api.id}/nope", timeout=10).status_code == 404
    )
    # Like every /_apigate/* path: a cross-site page may not read it.
    refused = requests.get(
        base, headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, timeout=10
    )
    assert refused.status_code == 403
