"""Resource policies on REST APIs: stored as AWS stores them, compiled at deployment, checked per request."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from helpers import GatewayProcess, RestApi, create_function, lambda_uri, signed_request, unique


def statement(effect: str, resource: str = "execute-api:/*", **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Principal": "*", "Action": "execute-api:Invoke", "Resource": resource, **extra}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def api_with(apigw: Any, document: str, name: str = "guarded") -> RestApi:
    api = RestApi(apigw, name, policy=document)
    api.mock("/open", "GET", '{"at": "open"}')
    api.mock("/secret", "GET", '{"at": "secret"}')
    api.deploy()
    return api


def denial(api: RestApi, path: str, *, explicit: bool, who: str = "anonymous") -> dict[str, str]:
    arn = f"arn:aws:execute-api:us-east-1:000000000000:{api.id}/test/GET{path}"
    suffix = " with an explicit deny" if explicit else ""
    return {
        "message": f"User: {who} is not authorized to perform: execute-api:Invoke on resource: {arn}{suffix}"
    }


def test_policy_is_stored_as_aws_stores_it(apigw: Any) -> None:
    document = policy(statement("Allow"))
    api = RestApi(apigw, "stored", policy=document)
    stored = apigw.get_rest_api(restApiId=api.id)["policy"]
    assert "\\/" in stored  # slashes escaped, as GetRestApi shows them on AWS
    parsed = json.loads(stored)
    assert parsed["Statement"][0]["Resource"] == f"arn:aws:execute-api:us-east-1:000000000000:{api.id}/*"
    for bad_document in ('{"Statement": [{"Effect": "Perhaps"}]}', "0", "[]"):
        with pytest.raises(ClientError) as bad:
            apigw.create_rest_api(name="bad-policy", policy=bad_document)
        assert bad.value.response["Error"]["Code"] == "BadRequestException"
        assert bad.value.response["Error"]["Message"] == (
            "Invalid policy document. Please check the policy syntax and try again."
        )


def test_source_ip_cidrs(gateway: GatewayProcess, apigw: Any) -> None:
    loopback = api_with(
        apigw,
        policy(statement("Allow", Condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "127.0.0.0/8"]}})),
    )
    assert requests.get(gateway.invoke_url(loopback.id, "test", "/open"), timeout=5).json() == {"at": "open"}

    elsewhere = api_with(
        apigw, policy(statement("Allow", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    )
    refused = requests.get(gateway.invoke_url(elsewhere.id, "test", "/open"), timeout=5)
    assert refused.status_code == 403
    assert refused.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert refused.json() == denial(elsewhere, "/open", explicit=False)

    blocked = api_with(
        apigw,
        policy(
            statement("Allow"),
            statement(
                "Deny", Condition={"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}}
            ),
        ),
    )
    answer = requests.get(gateway.invoke_url(blocked.id, "test", "/open"), timeout=5)
    assert answer.status_code == 403
    assert answer.json() == denial(blocked, "/open", explicit=True)


def test_user_agent_and_referer(gateway: GatewayProcess, apigw: Any) -> None:
    api = api_with(
        apigw,
        policy(
            statement("Allow", Condition={"StringLike": {"aws:UserAgent": "curl/*"}}),
            statement(
                "Allow",
                "execute-api:/*/GET/secret",
                Condition={"StringEquals": {"aws:Referer": "https://ok.example/"}},
            ),
        ),
    )
    url = gateway.invoke_url(api.id, "test")
    assert requests.get(url + "open", headers={"User-Agent": "curl/8.5.0"}, timeout=5).status_code == 200
    assert requests.get(url + "open", timeout=5).status_code == 403  # python-requests/…
    assert (
        requests.get(url + "secret", headers={"Referer": "https://ok.example/"}, timeout=5).status_code == 200
    )
    assert (
        requests.get(url + "secret", headers={"Referer": "https://evil.example/"}, timeout=5).status_code
        == 403
    )


def test_explicit_deny_beats_allow(gateway: GatewayProcess, apigw: Any) -> None:
    api = api_with(apigw, policy(statement("Allow"), statement("Deny", "execute-api:/*/*/secret")))
    url = gateway.invoke_url(api.id, "test")
    assert requests.get(url + "open", timeout=5).json() == {"at": "open"}
    refused = requests.get(url + "secret", timeout=5)
    assert refused.status_code == 403 and refused.json() == denial(api, "/secret", explicit=True)


def test_update_policy_applies_at_the_next_deployment(gateway: GatewayProcess, apigw: Any) -> None:
    api = api_with(apigw, policy(statement("Allow")))
    url = gateway.invoke_url(api.id, "test", "/open")
    assert requests.get(url, timeout=5).status_code == 200
    closed = policy(statement("Allow", Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}))
    apigw.update_rest_api(
        restApiId=api.id, patchOperations=[{"op": "replace", "path": "/policy", "value": closed}]
    )
    assert "203.0.113.0\\/24" in apigw.get_rest_api(restApiId=api.id)["policy"]
    assert requests.get(url, timeout=5).status_code == 200  # the deployed stage keeps its snapshot
    api.deploy()
    assert requests.get(url, timeout=5).status_code == 403
    apigw.update_rest_api(
        restApiId=api.id, patchOperations=[{"op": "replace", "path": "/policy", "value": ""}]
    )
    assert "policy" not in apigw.get_rest_api(restApiId=api.id)
    api.deploy()
    assert requests.get(url, timeout=5).status_code == 200  # no policy: open again


def test_resource_policy_with_iam_authorization(gateway: GatewayProcess, apigw: Any) -> None:
    """Same account (AWS's table A): an Allow from the resource policy or the identity suffices; a Deny wins."""
    iam = gateway.client("iam")
    name = unique("caller")
    user_arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    credentials = (key["AccessKeyId"], key["SecretAccessKey"])
    document = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": user_arn},
            "Action": "execute-api:Invoke",
            "Resource": "execute-api:/*",
        },
        {
            "Effect": "Deny",
            "Principal": {"AWS": user_arn},
            "Action": "execute-api:Invoke",
            "Resource": "execute-api:/*/GET/secret",
        },
    )
    api = RestApi(apigw, "iam-and-policy", policy=document)
    for path in ("/open", "/secret"):
        api.mock(path, "GET", '{"ok": true}')
        apigw.update_method(
            restApiId=api.id,
            resourceId=api.resource(path),
            httpMethod="GET",
            patchOperations=[{"op": "replace", "path": "/authorizationType", "value": "AWS_IAM"}],
        )
    api.deploy()
    # The user has no identity policy: the resource policy's Allow for its ARN is enough.
    assert signed_request("GET", gateway.invoke_url(api.id, "test", "/open"), credentials).status_code == 200
    refused = signed_request("GET", gateway.invoke_url(api.id, "test", "/secret"), credentials)
    assert refused.status_code == 403 and refused.json() == denial(
        api, "/secret", explicit=True, who=user_arn
    )
    # Unsigned: the signature is asked for before any policy.
    assert requests.get(gateway.invoke_url(api.id, "test", "/open"), timeout=5).json() == {
        "message": "Missing Authentication Token"
    }


def test_principal_conditions(gateway: GatewayProcess, apigw: Any) -> None:
    iam = gateway.client("iam")
    name = unique("tagged")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    document = policy(
        statement("Allow", Condition={"StringEquals": {"aws:PrincipalAccount": "000000000000"}}),
        statement(
            "Deny",
            Condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::*:user/{name}"}},
            Resource="execute-api:/*/GET/secret",
        ),
    )
    api = RestApi(apigw, "principal-keys", policy=document)
    for path in ("/open", "/secret"):
        api.mock(path, "GET", "{}")
        apigw.update_method(
            restApiId=api.id,
            resourceId=api.resource(path),
            httpMethod="GET",
            patchOperations=[{"op": "replace", "path": "/authorizationType", "value": "AWS_IAM"}],
        )
    api.deploy()
    credentials = (key["AccessKeyId"], key["SecretAccessKey"])
    assert signed_request("GET", gateway.invoke_url(api.id, "test", "/open"), credentials).status_code == 200
    assert (
        signed_request("GET", gateway.invoke_url(api.id, "test", "/secret"), credentials).status_code == 403
    )


AUTHORIZER = """
def lambda_handler(event, context):
    if event["authorizationToken"] == "boom":
        raise RuntimeError("the authorizer was called")
    return {"principalId": "ann", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": event["methodArn"]}]}}
"""


def _mocks_behind_token_authorizer(apigw: Any, api: RestApi, function: str, *paths: str) -> None:
    """``GET`` mocks answering ``{"ok": true}`` on ``paths``, behind a TOKEN authorizer (``function``)."""
    authorizer = apigw.create_authorizer(
        restApiId=api.id,
        name="tokens",
        type="TOKEN",
        authorizerUri=lambda_uri(function),
        identitySource="method.request.header.Authorization",
        authorizerResultTtlInSeconds=0,
    )["id"]
    for path in paths:
        api.mock(path, "GET", '{"ok": true}')
        apigw.update_method(
            restApiId=api.id,
            resourceId=api.resource(path),
            httpMethod="GET",
            patchOperations=[
                {"op": "replace", "path": "/authorizationType", "value": "CUSTOM"},
                {"op": "replace", "path": "/authorizerId", "value": authorizer},
            ],
        )


def test_lambda_authorizer_after_the_deny_check(gateway: GatewayProcess, apigw: Any, lam: Any) -> None:
    """An explicit Deny answers before the authorizer is called; otherwise the authorizer's Allow suffices
    (the resource policy need not Allow: AWS's table A)."""
    function = create_function(lam, AUTHORIZER)
    api = RestApi(
        apigw, "policy-and-authorizer", policy=policy(statement("Deny", "execute-api:/*/GET/secret"))
    )
    _mocks_behind_token_authorizer(apigw, api, function, "/open", "/secret")
    api.deploy()
    url = gateway.invoke_url(api.id, "test")
    assert requests.get(url + "open", headers={"Authorization": "ann"}, timeout=10).json() == {"ok": True}
    refused = requests.get(url + "secret", headers={"Authorization": "boom"}, timeout=10)
    assert refused.status_code == 403  # not the authorizer's failure: it was never called
    assert refused.json() == denial(api, "/secret", explicit=True)


SILENT_AUTHORIZER = """
def lambda_handler(event, context):
    # Allows only /mine; says nothing about the other paths.
    arn = event["methodArn"].rsplit("/", 2)[0] + "/GET/mine"
    return {"principalId": "ann", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": arn}]}}
"""


def test_resource_policy_allow_covers_a_silent_lambda_authorizer(
    gateway: GatewayProcess, apigw: Any, lam: Any
) -> None:
    """AWS's same-account table: when the authorizer's policy neither allows nor denies, the resource
    policy's explicit Allow admits the call; without it, the call is refused."""
    function = create_function(lam, SILENT_AUTHORIZER)
    api = RestApi(apigw, "silent-authorizer", policy=policy(statement("Allow", "execute-api:/*/GET/shared")))
    _mocks_behind_token_authorizer(apigw, api, function, "/mine", "/shared", "/other")
    api.deploy()
    url = gateway.invoke_url(api.id, "test")
    token = {"Authorization": "ann"}
    assert requests.get(url + "mine", headers=token, timeout=10).status_code == 200  # the authorizer allows
    assert requests.get(url + "shared", headers=token, timeout=10).status_code == 200  # the policy allows
    refused = requests.get(url + "other", headers=token, timeout=10)  # neither does
    assert refused.status_code == 403
    assert refused.json() == {"message": "User is not authorized to access this resource"}
