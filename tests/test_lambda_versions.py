"""Versions and aliases (issue #17): PublishVersion freezes code and configuration, aliases name versions (two,
with a routing weight), and qualified ARNs work in Invoke and in REST and HTTP API integrations."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from helpers import GatewayProcess, RestApi, create_function, lambda_uri, unique, zip_code

SOURCE = """
import os
def lambda_handler(event, context):
    return {"statusCode": 200, "body": "%s:" + os.environ["AWS_LAMBDA_FUNCTION_VERSION"] + ":" + os.environ.get("COLOR", "")}
"""


def _code(tag: str) -> bytes:
    return zip_code({"lambda_function.py": SOURCE % tag})


def _invoke(lam: Any, name: str, **extra: Any) -> tuple[str, str]:
    answer = lam.invoke(FunctionName=name, Payload=b"{}", **extra)
    assert "FunctionError" not in answer, answer["Payload"].read()
    return json.loads(answer["Payload"].read())["body"], answer["ExecutedVersion"]


def _two_versions(lam: Any) -> str:
    """A function whose version 1 answers "one" and version 2 "two"; $LATEST then answers "three"."""
    name = create_function(lam, SOURCE % "one", Environment={"Variables": {"COLOR": "red"}})
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    lam.update_function_code(FunctionName=name, ZipFile=_code("two"))
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"COLOR": "blue"}})
    assert lam.publish_version(FunctionName=name, Description="second")["Version"] == "2"
    lam.update_function_code(FunctionName=name, ZipFile=_code("three"))
    return name


def test_published_versions_are_frozen_and_invoked_by_qualifier(gateway: GatewayProcess, lam: Any) -> None:
    name = _two_versions(lam)
    assert _invoke(lam, name) == ("three:$LATEST:blue", "$LATEST")
    assert _invoke(lam, name, Qualifier="1") == ("one:1:red", "1")
    assert _invoke(lam, f"{name}:2") == ("two:2:blue", "2")
    assert _invoke(lam, name, Qualifier="$LATEST") == ("three:$LATEST:blue", "$LATEST")
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    assert _invoke(lam, f"{arn}:1") == ("one:1:red", "1")

    # the header itself, as AWS sends it
    headers = lam.invoke(FunctionName=name, Qualifier="2", Payload=b"{}")["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-executed-version"] == "2"

    one = lam.get_function_configuration(FunctionName=name, Qualifier="1")
    assert one["Version"] == "1" and one["FunctionArn"] == f"{arn}:1"
    assert one["Environment"]["Variables"] == {"COLOR": "red"}
    two = lam.get_function(FunctionName=f"{name}:2")["Configuration"]
    assert two["Description"] == "second" and two["CodeSha256"] != one["CodeSha256"]
    # a version's code can be downloaded, though $LATEST's is other code now
    location = lam.get_function(FunctionName=name, Qualifier="1")["Code"]["Location"]
    downloaded = requests.get(location, timeout=30).content
    assert base64.b64encode(hashlib.sha256(downloaded).digest()).decode() == one["CodeSha256"]

    listed = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in listed] == ["$LATEST", "1", "2"]
    assert listed[0]["FunctionArn"] == f"{arn}:$LATEST"

    # nothing changed since version 2 except the code: a new version; publishing again changes nothing
    three = lam.publish_version(FunctionName=name)
    assert three["Version"] == "3"
    assert lam.publish_version(FunctionName=name)["Version"] == "3"

    published = lam.update_function_code(FunctionName=name, ZipFile=_code("four"), Publish=True)
    assert published["Version"] == "4" and published["FunctionArn"] == f"{arn}:4"
    assert _invoke(lam, name, Qualifier="4") == ("four:4:blue", "4")
    pages = lam.get_paginator("list_functions")
    every = [f for page in pages.paginate(FunctionVersion="ALL") for f in page["Functions"]]
    assert [f["Version"] for f in every if f["FunctionName"] == name] == ["$LATEST", "1", "2", "3", "4"]
    assert {f["Version"] for page in pages.paginate() for f in page["Functions"]} == {"$LATEST"}
    with pytest.raises(ClientError) as caught:
        lam.publish_version(FunctionName=name, CodeSha256="bm90LXRoZS1zaGE=")
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=name, Qualifier="9", Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=f"{name}:1", Qualifier="2", Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_aliases_and_deleting_versions(gateway: GatewayProcess, lam: Any) -> None:
    name = _two_versions(lam)
    alias = lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1", Description="prod")
    assert alias["AliasArn"].endswith(f":function:{name}:live")
    assert _invoke(lam, name, Qualifier="live") == ("one:1:red", "1")
    with pytest.raises(ClientError) as caught:
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    assert caught.value.response["Error"]["Code"] == "ResourceConflictException"
    with pytest.raises(ClientError) as caught:
        lam.create_alias(FunctionName=name, Name="other", FunctionVersion="7")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        lam.create_alias(FunctionName=name, Name="123", FunctionVersion="1")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as caught:
        lam.update_alias(FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {"2": 1.5}})
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as caught:
        lam.update_alias(FunctionName=name, Name="live", RevisionId="stale")
    assert caught.value.response["Error"]["Code"] == "PreconditionFailedException"

    # moving the alias moves the calls, at once
    moved = lam.update_alias(FunctionName=name, Name="live", FunctionVersion="2")
    assert moved["FunctionVersion"] == "2" and moved["Description"] == "prod"
    assert _invoke(lam, f"{name}:live") == ("two:2:blue", "2")
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "2"
    lam.create_alias(FunctionName=name, Name="edge", FunctionVersion="$LATEST")
    assert _invoke(lam, name, Qualifier="edge") == ("three:$LATEST:blue", "$LATEST")
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["edge", "live"]
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name, FunctionVersion="2")["Aliases"]] == ["live"]

    with pytest.raises(ClientError) as caught:
        lam.delete_function(FunctionName=name, Qualifier="2")
    assert caught.value.response["Error"]["Code"] == "ResourceConflictException"
    with pytest.raises(ClientError) as caught:
        lam.delete_function(FunctionName=name, Qualifier="$LATEST")
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    lam.delete_function(FunctionName=name, Qualifier="1")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == ["$LATEST", "2"]
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=name, Qualifier="1", Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    lam.delete_alias(FunctionName=name, Name="edge")
    with pytest.raises(ClientError) as caught:
        lam.invoke(FunctionName=name, Qualifier="edge", Payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # a function deleted whole takes its versions and aliases along; a new one of that name starts again at 1
    lam.delete_function(FunctionName=name)
    create_function(lam, SOURCE % "new", name=name)
    assert lam.publish_version(FunctionName=name)["Version"] == "1"
    with pytest.raises(ClientError) as caught:
        lam.get_alias(FunctionName=name, Name="live")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


# 1,000 calls with a weight of 0.1: the count of version 2 is Binomial(1000, 0.1), mean 100, sd 9.5. A band of
# six sd (57..143) fails about once in 500 million runs, and always when the weight is ignored (0 or 1,000) or
# inverted (900).
CALLS = 1000
LOW, HIGH = 57, 143


def _weighted_alias(lam: Any) -> str:
    name = _two_versions(lam)
    lam.create_alias(
        FunctionName=name, Name="live", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}}
    )
    assert lam.get_alias(FunctionName=name, Name="live")["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}
    return name


def _count(url: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    with requests.Session() as session:
        for _ in range(CALLS):
            answer = session.get(url, timeout=30)
            assert answer.status_code == 200, answer.text
            counts[answer.text] = counts.get(answer.text, 0) + 1
    return counts


def test_weighted_alias_splits_rest_api_traffic(gateway: GatewayProcess, lam: Any, apigw: Any) -> None:
    name = _weighted_alias(lam)
    api = RestApi(apigw, unique("weighted"))
    api.lambda_proxy("/", "GET", f"{name}:live")  # lambda_uri with the alias ARN
    apigw.create_deployment(restApiId=api.id, stageName="s")
    counts = _count(gateway.invoke_url(api.id, "s", "/"))
    assert set(counts) == {"one:1:red", "two:2:blue"}
    assert LOW <= counts["two:2:blue"] <= HIGH, counts

    # the weight moved to 0: every call goes to the alias's own version
    lam.update_alias(FunctionName=name, Name="live", RoutingConfig={"AdditionalVersionWeights": {}})
    with requests.Session() as session:
        assert {session.get(gateway.invoke_url(api.id, "s", "/"), timeout=30).text for _ in range(50)} == {
            "one:1:red"
        }


def test_weighted_alias_through_http_api_and_invoke(gateway: GatewayProcess, lam: Any) -> None:
    name = _weighted_alias(lam)
    v2 = gateway.client("apigatewayv2")
    arn = lam.get_alias(FunctionName=name, Name="live")["AliasArn"]
    api = v2.create_api(Name=unique("weighted"), ProtocolType="HTTP", Target=arn)["ApiId"]
    counts = _count(f"{gateway.url}/_aws/execute-api/{api}/$default/")
    assert LOW <= counts.get("two:2:blue", 0) <= HIGH, counts

    versions = {"1": 0, "2": 0}
    for _ in range(200):  # Invoke through the alias reports the version that ran
        body, version = _invoke(lam, name, Qualifier="live")
        assert body.split(":")[1] == version
        versions[version] += 1
    # Binomial(200, 0.1): mean 20, sd 4.2; below 2 has a chance of 2e-8, above 45 (six sd) less still
    assert 2 <= versions["2"] <= 45, versions


def test_qualified_integration_uri_names_a_version(gateway: GatewayProcess, lam: Any, apigw: Any) -> None:
    name = _two_versions(lam)
    api = RestApi(apigw, unique("pinned"))
    api.lambda_proxy("/", "GET", f"{name}:1")
    apigw.create_deployment(restApiId=api.id, stageName="s")
    assert requests.get(gateway.invoke_url(api.id, "s", "/"), timeout=30).text == "one:1:red"
    apigw.put_integration(
        restApiId=api.id, resourceId=api.ids["/"], httpMethod="GET", type="AWS_PROXY", integrationHttpMethod="POST",
        uri=lambda_uri(f"{name}:9"),
    )  # fmt: skip
    apigw.create_deployment(restApiId=api.id, stageName="s")
    assert requests.get(gateway.invoke_url(api.id, "s", "/"), timeout=30).status_code == 500  # no version 9
