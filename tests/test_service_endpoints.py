"""Where AWS service integrations send requests: botocore's own endpoint configuration, plus --aws-endpoint."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from apigate.aws import service_endpoints as endpoints
from apigate.aws.service_access import ServiceAccess
from apigate.cli import parse_aws_endpoints
from apigate.dataplane.integrations.aws_service import parse_service_uri, service_request


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    endpoints._config.cache_clear()
    yield
    endpoints._config.cache_clear()


def test_real_regional_endpoint_without_configuration() -> None:
    resolve = endpoints.ServiceEndpoints().resolve
    assert resolve("kinesis", "eu-west-1") == "https://kinesis.eu-west-1.amazonaws.com"
    assert resolve("states", "us-east-2") == "https://states.us-east-2.amazonaws.com"
    assert resolve("s3", "us-east-1", "bucket") == "https://bucket.s3.us-east-1.amazonaws.com"


def test_service_variable_then_global_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://global:1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SFN", "http://sfn:2/")
    resolve = endpoints.ServiceEndpoints().resolve
    assert resolve("states", "us-east-1") == "http://sfn:2"  # Step Functions' id is SFN
    assert resolve("kinesis", "us-east-1") == "http://global:1"


def test_config_file_services_section(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(
        "[default]\nservices = local\n\n[services local]\ndynamodb =\n  endpoint_url = http://dynamo:8000\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    endpoints._config.cache_clear()
    resolve = endpoints.ServiceEndpoints().resolve
    assert resolve("dynamodb", "us-east-1") == "http://dynamo:8000"
    assert resolve("sqs", "us-east-1") == "https://sqs.us-east-1.amazonaws.com"


def test_override_wins_and_reaches_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_KINESIS", "http://from-env:1")
    configured = endpoints.ServiceEndpoints(parse_aws_endpoints(["kinesis=http://flag:2", "states=http://sfn:3"]))
    assert configured.resolve("kinesis", "us-east-1") == "http://flag:2"
    assert endpoints.ServiceEndpoints().resolve("kinesis", "us-east-1") == "http://from-env:1"  # per gateway
    env = configured.environment()
    assert env["AWS_ENDPOINT_URL_KINESIS"] == "http://flag:2"
    assert env["AWS_ENDPOINT_URL_SFN"] == "http://sfn:3"


def test_bad_flag_is_refused() -> None:
    with pytest.raises(SystemExit, match="--aws-endpoint expects"):
        parse_aws_endpoints(["kinesis"])


def test_unserved_service_message() -> None:
    message = endpoints.unserved_service_message("dynamodb", None)
    assert message is not None and "DynamoDB" in message and "--aws-endpoint dynamodb=URL" in message
    assert "AWS_ENDPOINT_URL_DYNAMODB" in message
    by_target = endpoints.unserved_service_message(None, "Kinesis_20131202.PutRecord")
    assert by_target is not None and "Kinesis" in by_target
    assert endpoints.unserved_service_message("apigateway", None) is None
    assert endpoints.unserved_service_message(None, None) is None


def test_request_shapes_by_protocol() -> None:
    local = ServiceAccess(endpoints.ServiceEndpoints({"sqs": "http://local:9", "kinesis": "http://local:9"}))
    kinesis = parse_service_uri("arn:aws:apigateway:us-east-1:kinesis:action/PutRecord", "us-east-1")
    assert kinesis is not None
    signed = service_request(kinesis, "POST", b"{}", headers={}, access=local)
    headers = dict(signed.headers)
    assert signed.url == "http://local:9/"
    assert headers["X-Amz-Target"] == "Kinesis_20131202.PutRecord"
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert "/us-east-1/kinesis/aws4_request" in headers["Authorization"]
    sqs = parse_service_uri("arn:aws:apigateway:us-west-2:sqs:action/SendMessage", "us-east-1")
    assert sqs is not None and sqs.region == "us-west-2"
    form = service_request(
        sqs, "POST", b"MessageBody=hi", headers={}, query=[("QueueUrl", "http://q/1/a")], access=local
    )
    assert (
        form.body == b"Action=SendMessage&Version=2012-11-05&QueueUrl=http%3A%2F%2Fq%2F1%2Fa&MessageBody=hi"
    )
    assert parse_service_uri("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/x", "us-east-1")
    assert parse_service_uri("https://example.com/", "us-east-1") is None


def test_functions_execute_api_addresses_reach_the_gateway() -> None:
    """Inside workers, @connections clients built from AWS's own host names reach the gateway too."""
    from apigate.functions.execute_api_endpoints import rewrite

    gateway = "http://127.0.0.1:4566"
    expected = f"{gateway}/_aws/execute-api/abc123/prod"
    assert rewrite("https://abc123.execute-api.us-east-1.amazonaws.com/prod", gateway) == expected
    assert rewrite("https://abc123.execute-api.localhost:4566/prod", gateway) == expected
    assert (
        rewrite("https://kinesis.us-east-1.amazonaws.com", gateway)
        == "https://kinesis.us-east-1.amazonaws.com"
    )
