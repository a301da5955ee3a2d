"""PRIVATE REST APIs: served only on the private listener (the VPC endpoint), and only where the resource
policy lets the endpoint in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers import GatewayProcess, RestApi, wait_for

VPCE = "vpce-0a1b2c3d4e5f60718"
VPC = "vpc-0fedcba987654321"


class PrivateGateway:
    def __init__(self, process: GatewayProcess, private_url: str) -> None:
        self.process = process
        self.private_url = private_url
        self.apigw = process.client("apigateway")

    def private(self, api_id: str, path: str) -> str:
        return f"{self.private_url}/_aws/execute-api/{api_id}/test{path}"

    def public(self, api_id: str, path: str) -> str:
        return self.process.invoke_url(api_id, "test", path)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateGateway]:
    data: Path = tmp_path_factory.mktemp("private-gateway")
    process = GatewayProcess(data, ["--private-listen", "127.0.0.1:0", "--vpce-id", VPCE, "--vpc-id", VPC])
    process.start()
    wait_for(lambda: any("private endpoint" in line for line in process.output))
    line = next(line for line in process.output if "private endpoint" in line)
    assert VPCE in line
    yield PrivateGateway(process, line.rsplit(" on ", 1)[1])
    process.stop()


def vpce_policy(vpce: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*",
                    "Condition": {"StringEquals": {"aws:SourceVpce": vpce}},
                }
            ],
        }
    )


def build(gw: PrivateGateway, name: str, endpoint: str, policy: str | None = None) -> RestApi:
    extra: dict[str, Any] = {"endpointConfiguration": {"types": [endpoint]}}
    if policy is not None:
        extra["policy"] = policy
    api = RestApi(gw.apigw, name, **extra)
    api.mock(
        "/hello",
        "GET",
        '{"vpce": "$context.identity.vpceId", "vpc": "$context.identity.vpcId", "ip": "$context.identity.sourceIp"}',
    )
    api.deploy()
    return api


def test_private_api_through_its_endpoint(gw: PrivateGateway) -> None:
    api = build(gw, "private-ok", "PRIVATE", vpce_policy(VPCE))
    answer = requests.get(gw.private(api.id, "/hello"), timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"vpce": VPCE, "vpc": VPC, "ip": "127.0.0.1"}
    # The other ways AWS addresses a private API through an endpoint: {api}-{vpce} host, or x-apigw-api-id.
    base = gw.private_url
    host = requests.get(
        f"{base}/test/hello", headers={"Host": f"{api.id}-{VPCE}.execute-api.localhost"}, timeout=5
    )
    assert host.status_code == 200 and host.json()["vpce"] == VPCE
    header = requests.get(f"{base}/test/hello", headers={"x-apigw-api-id": api.id}, timeout=5)
    assert header.status_code == 200 and header.json()["vpce"] == VPCE


def test_private_api_refused_on_the_public_listener(gw: PrivateGateway) -> None:
    api = build(gw, "private-public", "PRIVATE", vpce_policy(VPCE))
    answer = requests.get(gw.public(api.id, "/hello"), timeout=5)
    assert answer.status_code == 403
    assert answer.json() == {"message": "Forbidden"}
    assert answer.headers["x-amzn-ErrorType"] == "ForbiddenException"


def test_wrong_endpoint_or_no_policy_is_denied(gw: PrivateGateway) -> None:
    other = build(gw, "private-other", "PRIVATE", vpce_policy("vpce-11111111111111111"))
    denied = requests.get(gw.private(other.id, "/hello"), timeout=5)
    assert denied.status_code == 403
    arn = f"arn:aws:execute-api:us-east-1:000000000000:{other.id}/test/GET/hello"
    assert denied.json() == {
        "message": f"User: anonymous is not authorized to perform: execute-api:Invoke on resource: {arn}"
    }
    bare = build(gw, "private-bare", "PRIVATE")
    assert requests.get(gw.private(bare.id, "/hello"), timeout=5).status_code == 403


def test_public_apis_stay_on_the_main_listener(gw: PrivateGateway) -> None:
    for endpoint in ("REGIONAL", "EDGE"):
        api = build(gw, f"public-{endpoint.lower()}", endpoint)
        answer = requests.get(gw.public(api.id, "/hello"), timeout=5)
        assert answer.status_code == 200 and answer.json()["ip"] == "127.0.0.1"
        # As from a VPC whose endpoint has private DNS on: public APIs are not reachable through it.
        assert requests.get(gw.private(api.id, "/hello"), timeout=5).status_code == 403
    # The endpoint serves execute-api only: no management API on it.
    assert requests.get(f"{gw.private_url}/restapis", timeout=5).status_code == 403


def test_switching_an_api_to_private(gw: PrivateGateway) -> None:
    api = build(gw, "becomes-private", "REGIONAL", vpce_policy(VPCE))
    # A REGIONAL API's requests carry no VPC endpoint: the policy's condition fails on the main listener.
    assert requests.get(gw.public(api.id, "/hello"), timeout=5).status_code == 403
    gw.apigw.update_rest_api(
        restApiId=api.id,
        patchOperations=[
            {"op": "replace", "path": "/endpointConfiguration/types/REGIONAL", "value": "PRIVATE"}
        ],
    )
    assert gw.apigw.get_rest_api(restApiId=api.id)["endpointConfiguration"]["types"] == ["PRIVATE"]
    api.deploy()
    assert requests.get(gw.private(api.id, "/hello"), timeout=5).json()["vpce"] == VPCE
    assert requests.get(gw.public(api.id, "/hello"), timeout=5).json() == {"message": "Forbidden"}
