"""Schemathesis against the management API's own OpenAPI description (made from botocore's models).

Generated calls, valid and invalid, must never get a 5xx (501 for an AWS operation apigate does not implement
is allowed), and every error must carry AWS's shape: a JSON body with a message and ``x-amzn-ErrorType``.
The gateway must still be healthy afterwards. Examples per operation are few to keep the suite fast;
``APIGATE_FUZZ_EXAMPLES`` raises them for a longer run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from helpers import GatewayProcess

_EXAMPLES = int(os.environ.get("APIGATE_FUZZ_EXAMPLES", "4"))


@pytest.fixture(scope="module")
def fuzzed_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    gateway = GatewayProcess(Path(tmp_path_factory.mktemp("fuzzed")))
    gateway.start()
    yield gateway
    # Whatever was thrown at it, it still answers and still lists what it stored.
    assert requests.get(f"{gateway.url}/_apigate/health", timeout=5).status_code == 200
    assert requests.get(f"{gateway.url}/restapis", timeout=5).status_code == 200
    gateway.stop()


def _schema(gateway: GatewayProcess, service: str) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{gateway.url}/_apigate/openapi/{service}.json")
    schema.config.update(base_url=gateway.url)
    return schema


@pytest.fixture(scope="module")
def apigateway_schema(fuzzed_gateway: GatewayProcess) -> schemathesis.BaseSchema:
    return _schema(fuzzed_gateway, "apigateway")


@pytest.fixture(scope="module")
def apigatewayv2_schema(fuzzed_gateway: GatewayProcess) -> schemathesis.BaseSchema:
    return _schema(fuzzed_gateway, "apigatewayv2")


@pytest.fixture(scope="module")
def lambda_schema(fuzzed_gateway: GatewayProcess) -> schemathesis.BaseSchema:
    return _schema(fuzzed_gateway, "lambda")


def _check(case: schemathesis.Case) -> None:
    response = case.call(timeout=30)
    where = f"{case.method} {case.formatted_path} -> {response.status_code} {response.text[:300]}"
    headers = {name.lower(): value for name, value in response.headers.items()}
    found = headers.get("x-amzn-errortype", "")  # schemathesis keeps each header's values in a list
    error_type = found[0] if isinstance(found, list) else found
    assert response.status_code < 500 or (
        response.status_code == 501 and error_type == "NotImplementedException"
    ), where
    if response.status_code >= 400:
        assert error_type, where
        body = response.json()
        assert isinstance(body, dict) and isinstance(body.get("message"), str), where


# Long: CI runs it, `-m "not slow"` skips it locally (one list: a second `pytestmark =` replaced the first, and
# left these unmarked). Each test walks every operation of a service (one subtest each): longer than the suite's
# per-test default.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
_SETTINGS = settings(max_examples=_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


@schemathesis.pytest.from_fixture("apigateway_schema").parametrize()
@_SETTINGS
def test_apigateway_operations(case: schemathesis.Case) -> None:
    _check(case)


@schemathesis.pytest.from_fixture("apigatewayv2_schema").parametrize()
@_SETTINGS
def test_apigatewayv2_operations(case: schemathesis.Case) -> None:
    _check(case)


@schemathesis.pytest.from_fixture("lambda_schema").parametrize()
@_SETTINGS
def test_lambda_operations(case: schemathesis.Case) -> None:
    _check(case)


def test_description_covers_the_implemented_operations(fuzzed_gateway: GatewayProcess) -> None:
    document = requests.get(f"{fuzzed_gateway.url}/_apigate/openapi/apigateway.json", timeout=5).json()
    operations = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert {"CreateRestApi", "PutMethod", "CreateDeployment", "CreateUsagePlan"} <= operations
    # What apigate implements is described: by now every operation of the model (test_fidelity_coverage.py).
    assert "CreateDomainNameAccessAssociation" in operations
    put_method = document["paths"]["/restapis/{restapi_id}/resources/{resource_id}/methods/{http_method}"]["put"]
    assert put_method["requestBody"]["content"]["application/json"]["schema"]["required"] == ["authorizationType"]


def test_unicode_digits_in_paging_tokens_are_refused_cleanly(fuzzed_gateway: GatewayProcess) -> None:
    """Found by this fuzzer: "²" passes str.isdigit() but not int(); a paging token made of it is a 400."""
    functions = requests.get(f"{fuzzed_gateway.url}/2015-03-31/functions", params={"Marker": "²"}, timeout=5)
    assert functions.status_code == 400
    assert functions.headers["x-amzn-ErrorType"] == "InvalidParameterValueException"
    apis = requests.get(f"{fuzzed_gateway.url}/restapis", params={"position": "²"}, timeout=5)
    assert apis.status_code == 400 and apis.headers["x-amzn-ErrorType"] == "BadRequestException"
