"""What an AWS service integration costs: Kinesis PutRecord through apigate against the same call made directly
with botocore, in the same run, against the same Kinesis-compatible server (moto_server).

    python benchmarks/service_integration.py [--requests 2000]

Starts moto_server and `apigate serve --aws-endpoint kinesis=…` on free loopback ports, builds a REST API whose
`POST /records` is a Kinesis PutRecord AWS integration (AWS's template: `$util.base64Encode`), then makes the same
PutRecord calls (1) with a botocore client straight to moto and (2) with plain keep-alive HTTP through the gateway.
Prints one JSON object: latency medians of both, and CPU per request of the gateway process (what the
integration costs the gateway: routing, template, SigV4 signing with botocore, the upstream call) against the CPU
per call of the botocore client (the same work done in the caller: serialising, signing, parsing).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = """{
    "StreamName": "bench",
    "Data": "$util.base64Encode($input.json('$.data'))",
    "PartitionKey": "$input.path('$.key')"
}"""
BODY = json.dumps({"data": {"reading": 21.5, "unit": "C"}, "key": "sensor-1"}).encode()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _api(gateway: str) -> str:
    apigw = _client("apigateway", gateway)
    api = apigw.create_rest_api(name="bench-kinesis")["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    resource = apigw.create_resource(restApiId=api, parentId=root, pathPart="records")["id"]
    apigw.put_method(restApiId=api, resourceId=resource, httpMethod="POST", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api,
        resourceId=resource,
        httpMethod="POST",
        type="AWS",
        integrationHttpMethod="POST",
        uri="arn:aws:apigateway:us-east-1:kinesis:action/PutRecord",
        credentials="arn:aws:iam::000000000000:role/bench-kinesis",
        requestTemplates={"application/json": TEMPLATE},
    )
    apigw.put_method_response(restApiId=api, resourceId=resource, httpMethod="POST", statusCode="200")
    apigw.put_integration_response(restApiId=api, resourceId=resource, httpMethod="POST", statusCode="200")
    apigw.create_deployment(restApiId=api, stageName="bench")
    return f"/_aws/execute-api/{api}/bench/records"


def run(requests: int) -> dict[str, Any]:
    moto_port, gateway_port = _free_port(), _free_port()
    moto_url, gateway_url = f"http://127.0.0.1:{moto_port}", f"http://127.0.0.1:{gateway_port}"
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as data:
        try:
            moto = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(moto)
            _wait(f"{moto_url}/moto-api/data.json", moto, "moto_server")
            env = {**os.environ, "PYTHONPATH": str(REPO)}
            gateway = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "apigate.cli",
                    "serve",
                    "--port",
                    str(gateway_port),
                    "--data-dir",
                    data,
                    "--log-level",
                    "WARNING",
                    "--aws-endpoint",
                    f"kinesis={moto_url}",
                ],
                stdout=subprocess.DEVNULL,
                env=env,
            )
            procs.append(gateway)
            _wait(f"{gateway_url}/_apigate/health", gateway, "apigate")
            kinesis = _client("kinesis", moto_url)
            kinesis.create_stream(StreamName="bench", ShardCount=1)
            path = _api(gateway_url)
            warmup = max(50, requests // 10)

            def direct() -> None:
                kinesis.put_record(StreamName="bench", Data=BODY, PartitionKey="sensor-1")

            conn = http.client.HTTPConnection("127.0.0.1", gateway_port)

            def through() -> None:
                conn.request("POST", path, BODY, {"Content-Type": "application/json"})
                answer = conn.getresponse()
                answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"gateway answered {answer.status}")

            for _ in range(warmup):
                direct()
                through()
            direct_ms: list[float] = []
            own_cpu = time.process_time()
            for _ in range(requests):
                started = time.perf_counter()
                direct()
                direct_ms.append((time.perf_counter() - started) * 1000)
            client_cpu_us = (time.process_time() - own_cpu) / requests * 1e6
            gateway_ms: list[float] = []
            gateway_cpu = _cpu_seconds(gateway.pid)
            for _ in range(requests):
                started = time.perf_counter()
                through()
                gateway_ms.append((time.perf_counter() - started) * 1000)
            gateway_cpu_us = (_cpu_seconds(gateway.pid) - gateway_cpu) / requests * 1e6
            conn.close()
        finally:
            for proc in reversed(procs):
                proc.terminate()
                proc.wait(timeout=20)
    direct_p50 = statistics.median(direct_ms)
    gateway_p50 = statistics.median(gateway_ms)
    return {
        "requests": requests,
        "direct_botocore_p50_ms": round(direct_p50, 3),
        "through_apigate_p50_ms": round(gateway_p50, 3),
        "added_p50_ms": round(gateway_p50 - direct_p50, 3),
        "botocore_client_cpu_us_per_call": round(client_cpu_us, 1),
        "apigate_cpu_us_per_request": round(gateway_cpu_us, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.requests)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
