"""The README's examples start with its command and answer their routes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from helpers import GatewayProcess

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def serve_example(tmp_path: Path) -> Iterator[object]:
    started: list[GatewayProcess] = []

    def start(name: str) -> GatewayProcess:
        # a copy, so that nothing the test does touches the examples in the repository
        folder = tmp_path / name
        shutil.copytree(EXAMPLES / name, folder)
        process = GatewayProcess(tmp_path / "data", [str(folder / "template.yaml")])
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def _api(gateway: GatewayProcess, name: str) -> str:
    apis = gateway.client("apigateway").get_rest_apis()["items"]
    return str(next(api["id"] for api in apis if api["name"] == name))


def test_hello(serve_example: object) -> None:
    gateway = serve_example("hello")  # type: ignore[operator]
    api = _api(gateway, "hello")
    answer = requests.get(gateway.invoke_url(api, "Prod", "/hello"), timeout=10)
    assert answer.status_code == 200
    assert answer.json() == "Hello from Lambda!"
    assert any(f"/_aws/execute-api/{api}/Prod/hello" in line for line in gateway.output)


def test_petstore(serve_example: object) -> None:
    gateway = serve_example("petstore")  # type: ignore[operator]
    api = _api(gateway, "petstore")
    base = gateway.invoke_url(api, "dev", "")
    listed = requests.get(f"{base}/pets", timeout=10).json()
    assert listed["store"] == "downtown" and listed["currency"] == "EUR"  # stage variables
    assert listed["greeting"] == "Welcome to the petstore"
    assert [pet["name"] for pet in listed["pets"]] == ["Rex", "Tom", "Nemo"]
    assert [p["name"] for p in requests.get(f"{base}/pets?type=cat", timeout=10).json()["pets"]] == ["Tom"]
    assert requests.get(f"{base}/pets/2", timeout=10).json()["name"] == "Tom"
    assert requests.get(f"{base}/pets/99", timeout=10).status_code == 404
    created = requests.post(f"{base}/pets", json={"name": "Bo", "type": "dog"}, timeout=10)
    assert created.status_code == 201 and created.json()["id"] == "4"
    owner = requests.get(f"{base}/owners/ann/pets/3", timeout=10).json()
    assert owner == {"owner": "ann", "pet": "3", "resource": "/owners/{ownerId}/pets/{petId}"}
    files = requests.delete(f"{base}/files/photos/rex.png", timeout=10).json()
    assert files == {"method": "DELETE", "file": "photos/rex.png", "stage": "dev"}
    assert requests.get(f"{base}/health", timeout=10).text == "ok"
    assert requests.get(f"{base}/nothing-here", timeout=10).status_code == 403
