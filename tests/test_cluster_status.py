"""`apigate cluster status` on the embedded store: the `serve` processes sharing one data dir, from the
heartbeats they write into it; a silent one is reported gone (exit 3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from helpers import GatewayProcess, wait_for


def status(data_dir: Path, *extra: str) -> tuple[int, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "apigate.cli",
            "cluster",
            "status",
            "--data-dir",
            str(data_dir),
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, json.loads(done.stdout)


def test_processes_on_one_data_dir_are_listed_with_their_version(tmp_path: Path) -> None:
    gateways = [GatewayProcess(tmp_path), GatewayProcess(tmp_path)]
    for gateway in gateways:
        gateway.start()
    try:
        gateways[0].client("apigateway").create_rest_api(name="counted")

        def both_in_step() -> bool:
            code, answer = status(tmp_path)
            versions = [host["version"] for host in answer["hosts"]]
            return code == 0 and versions == [answer["version"]] * 2

        wait_for(both_in_step, timeout=30)  # heartbeats every 2 s
        health = requests.get(f"{gateways[1].url}/_apigate/health", timeout=5).json()
        assert health["config"] == str(status(tmp_path)[1]["version"])
    finally:
        for gateway in gateways:
            gateway.stop()
    code, answer = status(tmp_path, "--stale-after", "0")
    assert code == 3 and {host["status"] for host in answer["hosts"]} == {"gone"}
    assert status(tmp_path, "--forget-after", "0") == (0, {"version": answer["version"], "hosts": []})
