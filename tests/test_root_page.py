"""GET / (#19): an index of what the gateway serves, HTML for a browser and JSON for a program; nothing listed
under --admin-key, where unsigned callers may read nothing of the APIs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers import GatewayProcess, RestApi, unique


def test_root_lists_apis_stages_routes_and_links(gateway: GatewayProcess, apigw: Any) -> None:
    name = unique("root")
    api = RestApi(apigw, name)
    api.mock("/pets", "GET", '{"ok": true}')
    api.deploy("test")
    v2 = gateway.client("apigatewayv2")
    http = v2.create_api(Name=unique("root-http"), ProtocolType="HTTP", Target="http://127.0.0.1:9/")["ApiId"]

    listing = requests.get(gateway.url + "/", timeout=10)
    assert listing.status_code == 200
    assert listing.headers["content-type"] == "application/json"
    stages = {(s["apiId"], s["stage"]): s for s in listing.json()["stages"]}
    rest = stages[(api.id, "test")]
    assert rest["name"] == name and rest["type"] == "REST"
    assert rest["url"] == gateway.invoke_url(api.id, "test")
    assert "GET /pets" in rest["routes"]
    assert requests.get(rest["openapi"], timeout=10).json()["paths"]["/pets"]
    assert requests.get(rest["docs"], timeout=10).status_code == 200
    assert stages[(http, "$default")]["url"] == f"{gateway.url}/_aws/execute-api/{http}/"

    page = requests.get(gateway.url + "/", headers={"Accept": "text/html,*/*"}, timeout=10)
    assert page.headers["content-type"].startswith("text/html")
    assert f"<code>{api.id}</code>" in page.text and "GET /pets" in page.text
    assert f'href="{gateway.url}/_apigate/console/"' in page.text
    assert f'href="{gateway.url}/_apigate/docs/{api.id}/test"' in page.text
    # The $default HTTP API stage keeps its own root: its Host form reaches the API, not the index.
    answer = requests.get(
        f"http://127.0.0.1:{gateway.port}/", headers={"Host": f"{http}.execute-api.localhost"}, timeout=10
    )
    assert answer.headers.get("apigw-requestid")


@pytest.fixture(scope="module")
def keyed_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(
        tmp_path_factory.mktemp("root-keyed"), ["--admin-key-file", str(_key_file(tmp_path_factory))]
    )
    process.start()
    yield process
    process.stop()


def _key_file(factory: pytest.TempPathFactory) -> Path:
    path = factory.mktemp("key") / "admin.key"
    path.write_text("AKIDROOTPAGE:secret-root-page")
    return path


def test_root_lists_nothing_under_admin_key(keyed_gateway: GatewayProcess) -> None:
    import boto3

    apigw = boto3.client(
        "apigateway",
        endpoint_url=keyed_gateway.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDROOTPAGE",
        aws_secret_access_key="secret-root-page",
    )
    api = RestApi(apigw, unique("secret-api"))
    api.mock("/hidden", "GET", "{}")
    api.deploy("test")
    listing = requests.get(keyed_gateway.url + "/", timeout=10).json()
    assert listing["restricted"] is True and listing["stages"] == []
    page = requests.get(keyed_gateway.url + "/", headers={"Accept": "text/html"}, timeout=10).text
    assert api.id not in page and "hidden" not in page
