"""examples/kinesis-ingest as its README runs it: the template served with --aws-endpoint pointing Kinesis at a
local Kinesis-compatible server (moto_server); 10,000 records in through the gateway, all 10,000 read back by the
example's consumer, none lost, none duplicated."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from moto_server import MotoServer

from helpers import GatewayProcess

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "kinesis-ingest"
KEY = "ingest-demo-key-0123456789abcdef"


@pytest.fixture(scope="module")
def ingest(
    tmp_path_factory: pytest.TempPathFactory, moto: MotoServer
) -> Iterator[tuple[GatewayProcess, str]]:
    folder = tmp_path_factory.mktemp("example") / "kinesis-ingest"
    shutil.copytree(EXAMPLE, folder)
    process = GatewayProcess(
        tmp_path_factory.mktemp("ingest-data"),
        [str(folder / "template.yaml"), "--aws-endpoint", f"kinesis={moto.url}"],
    )
    process.start()
    apis = process.client("apigateway").get_rest_apis()["items"]
    api = next(api["id"] for api in apis if api["name"] == "kinesis-ingest")
    yield process, process.invoke_url(api, "v1", "")
    process.stop()


def test_ten_thousand_records_in_and_out(ingest: tuple[GatewayProcess, str], moto: MotoServer) -> None:
    _, base = ingest
    keyed = {"x-api-key": KEY}
    assert requests.put(f"{base}/streams/clicks", json={"shardCount": 2}, timeout=10).status_code == 403
    created = requests.put(f"{base}/streams/clicks", json={"shardCount": 2}, headers=keyed, timeout=10)
    assert created.status_code == 200, created.text
    assert created.json() == {"created": "clicks"}
    described = requests.get(f"{base}/streams/clicks", headers=keyed, timeout=10)
    assert described.status_code == 200, described.text
    assert described.json() == {"name": "clicks", "status": "ACTIVE", "shards": 2}
    # The request model refuses a record without a partition key before Kinesis sees it.
    invalid = requests.post(f"{base}/streams/clicks/record", json={"data": "x"}, headers=keyed, timeout=10)
    assert invalid.status_code == 400 and invalid.json()["message"] == "Invalid request body"

    expected = [f"record-{i:05d}" for i in range(10_000)]
    session = requests.Session()
    for start in range(0, 9_984, 256):  # PutRecords, 256 at a time
        batch = [
            {"data": d, "partitionKey": f"user-{i % 97}"} for i, d in enumerate(expected[start : start + 256])
        ]
        answer = session.post(
            f"{base}/streams/clicks/records", json={"records": batch}, headers=keyed, timeout=30
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"failed": 0, "written": 256}
    for data in expected[9_984:]:  # PutRecord, one at a time
        answer = session.post(
            f"{base}/streams/clicks/record",
            json={"data": data, "partitionKey": "single"},
            headers=keyed,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["shardId"].startswith("shardId-")

    consumer = subprocess.run(
        [sys.executable, str(EXAMPLE / "consumer.py"), "clicks", "--endpoint-url", moto.url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = consumer.stdout.splitlines()
    read = [line.split("\t")[2] for line in lines]
    assert len(read) == 10_000  # none lost, none duplicated
    assert sorted(read) == expected


def test_unknown_stream_maps_kinesis_error(ingest: tuple[GatewayProcess, str]) -> None:
    _, base = ingest
    answer = requests.get(f"{base}/streams/nope", headers={"x-api-key": KEY}, timeout=10)
    assert answer.status_code == 400
    assert "nope" in answer.json()["message"]
