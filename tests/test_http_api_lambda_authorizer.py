"""Lambda REQUEST authorizers on HTTP APIs: payload 2.0 simple responses, 1.0 IAM policies, caching, 401/403/500."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from helpers import GatewayProcess, create_function

ECHO_V2 = """
import json
def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
"""

# Decides on the x-token header; every invocation carries a fresh nonce, so a cached decision shows.
SIMPLE = """
import uuid
def lambda_handler(event, context):
    token = event["headers"].get("x-token")
    if token == "crash":
        raise RuntimeError("authorizer failed")
    if token == "weird":
        return {"isAuthorized": "yes"}
    return {"isAuthorized": token in ("allow", "allow-2"),
            "context": {"user": "alice", "nonce": uuid.uuid4().hex, "seen": event["identitySource"],
                        "type": event["type"], "routeArn": event["routeArn"]}}
"""

POLICY = """
def lambda_handler(event, context):
    effect = "Allow" if event["authorizationToken"] == "good" else "Deny"
    assert event["version"] == "1.0" and event["type"] == "REQUEST"
    return {"principalId": "user-9",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]},
            "context": {"tier": "gold"}}
"""


def arn(name: str) -> str:
    return (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        f"arn:aws:lambda:us-east-1:000000000000:function:{name}/invocations"
    )


@pytest.fixture(scope="module")
def api(gateway: GatewayProcess, lam: Any) -> str:
    v2 = gateway.client("apigatewayv2")
    echo = create_function(lam, ECHO_V2)
    simple = create_function(lam, SIMPLE)
    policy = create_function(lam, POLICY)
    api_id = v2.create_api(Name="lambda-auth", ProtocolType="HTTP")["ApiId"]
    integration = v2.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=f"arn:aws:lambda:us-east-1:000000000000:function:{echo}",
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    uncached = v2.create_authorizer(
        ApiId=api_id,
        Name="simple",
        AuthorizerType="REQUEST",
        AuthorizerUri=arn(simple),
        AuthorizerPayloadFormatVersion="2.0",
        EnableSimpleResponses=True,
        AuthorizerResultTtlInSeconds=0,
        IdentitySource=["$request.header.x-token"],
    )["AuthorizerId"]
    cached = v2.create_authorizer(
        ApiId=api_id,
        Name="cached",
        AuthorizerType="REQUEST",
        AuthorizerUri=arn(simple),
        AuthorizerPayloadFormatVersion="2.0",
        EnableSimpleResponses=True,
        AuthorizerResultTtlInSeconds=300,
        IdentitySource=["$request.header.x-token", "$request.querystring.tenant"],
    )["AuthorizerId"]
    iam = v2.create_authorizer(
        ApiId=api_id,
        Name="iam",
        AuthorizerType="REQUEST",
        AuthorizerUri=arn(policy),
        AuthorizerPayloadFormatVersion="1.0",
        AuthorizerResultTtlInSeconds=0,
        IdentitySource=["$request.header.Authorization"],
    )["AuthorizerId"]
    for key, authorizer in (("GET /simple", uncached), ("GET /cached", cached), ("GET /iam", iam)):
        v2.create_route(
            ApiId=api_id,
            RouteKey=key,
            Target=f"integrations/{integration}",
            AuthorizationType="CUSTOM",
            AuthorizerId=authorizer,
        )
    v2.create_stage(ApiId=api_id, StageName="v1", AutoDeploy=True)
    return f"{gateway.url}/_aws/execute-api/{api_id}/v1"


def test_simple_response(api: str) -> None:
    answer = requests.get(f"{api}/simple", headers={"x-token": "allow"}, timeout=10)
    assert answer.status_code == 200
    context = answer.json()["requestContext"]["authorizer"]["lambda"]
    assert context["user"] == "alice" and context["seen"] == ["allow"] and context["type"] == "REQUEST"
    assert context["routeArn"].endswith("/v1/GET/simple")
    denied = requests.get(f"{api}/simple", headers={"x-token": "nope"}, timeout=10)
    assert denied.status_code == 403 and denied.json() == {"message": "Forbidden"}
    missing = requests.get(f"{api}/simple", timeout=10)
    assert missing.status_code == 401 and missing.json() == {"message": "Unauthorized"}
    for token in ("crash", "weird"):
        failed = requests.get(f"{api}/simple", headers={"x-token": token}, timeout=10)
        assert failed.status_code == 500 and failed.json() == {"message": "Internal Server Error"}


def test_uncached_authorizer_runs_every_time(api: str) -> None:
    nonces = {
        requests.get(f"{api}/simple", headers={"x-token": "allow"}, timeout=10).json()["requestContext"][
            "authorizer"
        ]["lambda"]["nonce"]
        for _ in range(2)
    }
    assert len(nonces) == 2


def test_cached_by_identity_sources(api: str) -> None:
    def nonce(token: str, tenant: str) -> str:
        answer = requests.get(
            f"{api}/cached", params={"tenant": tenant}, headers={"x-token": token}, timeout=10
        )
        assert answer.status_code == 200
        return str(answer.json()["requestContext"]["authorizer"]["lambda"]["nonce"])

    first = nonce("allow", "a")
    assert nonce("allow", "a") == first  # same identity: the cached decision
    assert nonce("allow", "b") != first  # another tenant: another identity
    assert nonce("allow-2", "a") != first
    # a missing identity source: 401 without invoking
    assert requests.get(f"{api}/cached", headers={"x-token": "allow"}, timeout=10).status_code == 401


def test_iam_policy_payload_v1(api: str) -> None:
    allowed = requests.get(f"{api}/iam", headers={"Authorization": "good"}, timeout=10)
    assert allowed.status_code == 200
    context = allowed.json()["requestContext"]["authorizer"]["lambda"]
    assert context["tier"] == "gold" and context["principalId"] == "user-9"
    denied = requests.get(f"{api}/iam", headers={"Authorization": "bad"}, timeout=10)
    assert denied.status_code == 403 and denied.json() == {"message": "Forbidden"}
