"""Lambda (CUSTOM) authorizers on REST APIs, against a running gateway: boto3 to build, requests to call.

The authorizer is a real function. What it answers depends on the token it is given, and it writes every
event it receives to a file, so the tests can tell when the gateway called it and when it did not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from helpers import (
    ECHO_EVENT,
    GatewayProcess,
    RestApi,
    create_function,
    function_writable_dir,
    lambda_uri,
    unique,
)

# Decides by token: allow-NAME allows only the method it was asked about (so a cached result denies other
# methods), all-NAME allows the whole API, and the other tokens each produce one failure.
AUTHORIZER = """
import json, os

def policy(*statements):
    return {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource} for effect, resource in statements
    ]}

def lambda_handler(event, context):
    with open(os.environ["CALLS"], "a") as calls:
        calls.write(json.dumps(event) + "\\n")
    if event["type"] == "TOKEN":
        token = event["authorizationToken"]
    else:
        token = (event["headers"] or {}).get("x-token") or "all-anonymous"
    arn = event["methodArn"]
    api = arn.split("/", 1)[0]
    kind, _, name = token.partition("-")
    details = {"user": name, "number": 7, "flag": True, "ratio": 1.5}
    if kind == "allow":
        return {"principalId": name, "policyDocument": policy(("Allow", arn)), "context": details}
    if kind == "all":
        return {"principalId": name, "policyDocument": policy(("Allow", api + "/*")), "context": details}
    if kind == "wild":
        return {"principalId": name, "policyDocument": policy(("Allow", api + "/????/GET/pets/*"))}
    if kind == "deny":
        return {"principalId": name, "policyDocument": policy(("Allow", api + "/*"), ("Deny", arn))}
    if kind == "elsewhere":
        return {"principalId": name, "policyDocument": policy(("Allow", api + "/*/DELETE/nothing"))}
    if kind == "unauthorized":
        raise Exception("Unauthorized")
    if kind == "boom":
        raise ValueError("boom")
    if kind == "malformed":
        return {"principalId": name}
    if kind == "badcontext":
        return {"principalId": name, "policyDocument": policy(("Allow", arn)), "context": {"nested": {"a": 1}}}
    if kind == "key":
        return {"principalId": "keyed", "policyDocument": policy(("Allow", api + "/*")), "usageIdentifierKey": name}
    return "not even an object"
"""

VTL = (
    '{"principal": "$context.authorizer.principalId", "user": "$context.authorizer.user", '
    '"number": "$context.authorizer.number", "flag": "$context.authorizer.flag", '
    '"ratio": "$context.authorizer.ratio"}'
)


class Setup:
    def __init__(self, gateway: GatewayProcess, api: RestApi, calls_file: Path) -> None:
        self.gateway = gateway
        self.api = api
        self.calls_file = calls_file
        self.authorizers: dict[str, str] = {}

    def url(self, path: str) -> str:
        return self.gateway.invoke_url(self.api.id, "test", path)

    def calls(self, needle: str) -> list[dict[str, Any]]:
        """The events the authorizer received that mention ``needle`` (a token, say)."""
        if not self.calls_file.exists():
            return []
        events = [json.loads(line) for line in self.calls_file.read_text().splitlines() if line]
        return [event for event in events if needle in json.dumps(event)]


def _method(
    apigw: Any,
    api: RestApi,
    path: str,
    verb: str,
    authorizer: str,
    integration: dict[str, Any],
    **method: Any,
) -> str:
    rid = api.resource(path)
    apigw.put_method(
        restApiId=api.id,
        resourceId=rid,
        httpMethod=verb,
        authorizationType="CUSTOM",
        authorizerId=authorizer,
        **method,
    )
    apigw.put_integration(restApiId=api.id, resourceId=rid, httpMethod=verb, **integration)
    return rid


def _responses(apigw: Any, api: RestApi, rid: str, verb: str, template: str | None = None) -> None:
    apigw.put_method_response(restApiId=api.id, resourceId=rid, httpMethod=verb, statusCode="200")
    apigw.put_integration_response(
        restApiId=api.id,
        resourceId=rid,
        httpMethod=verb,
        statusCode="200",
        selectionPattern="",
        **({"responseTemplates": {"application/json": template}} if template else {}),
    )


@pytest.fixture(scope="module")
def setup(
    gateway: GatewayProcess, apigw: Any, lam: Any, upstream: str
) -> Iterator[Setup]:
    with function_writable_dir("authorizer") as folder:
        yield _setup(gateway, apigw, lam, upstream, folder / "calls.jsonl")


def _setup(gateway: GatewayProcess, apigw: Any, lam: Any, upstream: str, calls_file: Path) -> Setup:
    authorizer_fn = create_function(lam, AUTHORIZER, Environment={"Variables": {"CALLS": str(calls_file)}})
    echo = create_function(lam, ECHO_EVENT)
    api = RestApi(apigw, unique("authorized"))
    found = Setup(gateway, api, calls_file)
    ids = found.authorizers
    ids["token"] = apigw.create_authorizer(
        restApiId=api.id,
        name="tokens",
        type="TOKEN",
        authorizerUri=lambda_uri(authorizer_fn),
        identitySource="method.request.header.Authorization",
        identityValidationExpression="^[A-Za-z0-9_-]+$",
    )["id"]
    ids["uncached"] = apigw.create_authorizer(
        restApiId=api.id,
        name="uncached",
        type="TOKEN",
        authorizerUri=lambda_uri(authorizer_fn),
        identitySource="method.request.header.X-Auth",
        authorizerResultTtlInSeconds=0,
    )["id"]
    ids["request"] = apigw.create_authorizer(
        restApiId=api.id,
        name="requests",
        type="REQUEST",
        authorizerUri=lambda_uri(authorizer_fn),
        identitySource="method.request.header.x-token, method.request.querystring.tenant, stageVariables.realm",
        authorizerResultTtlInSeconds=60,
    )["id"]
    ids["request-uncached"] = apigw.create_authorizer(
        restApiId=api.id,
        name="requests-uncached",
        type="REQUEST",
        authorizerUri=lambda_uri(authorizer_fn),
        identitySource="method.request.header.x-token",
        authorizerResultTtlInSeconds=0,
    )["id"]
    proxy = {"type": "AWS_PROXY", "integrationHttpMethod": "POST", "uri": lambda_uri(echo)}
    _method(apigw, api, "/anyone", "GET", ids["request-uncached"], proxy)
    for path, verb in (("/pets", "GET"), ("/pets", "POST"), ("/pets/{id}", "GET")):
        _method(apigw, api, path, verb, ids["token"], proxy)
    _method(apigw, api, "/open", "GET", ids["uncached"], proxy)
    _method(apigw, api, "/open/{id}", "GET", ids["uncached"], proxy)
    _method(apigw, api, "/tenants/{id}", "GET", ids["request"], proxy)
    mock = {"type": "MOCK", "requestTemplates": {"application/json": '{"statusCode": 200}'}}
    rid = _method(apigw, api, "/vtl", "GET", ids["token"], mock)
    _responses(apigw, api, rid, "GET", VTL)
    http = {
        "type": "HTTP",
        "integrationHttpMethod": "GET",
        "uri": f"{upstream}/echo",
        "requestParameters": {
            "integration.request.header.x-principal": "context.authorizer.principalId",
            "integration.request.header.x-flag": "context.authorizer.flag",
        },
    }
    rid = _method(apigw, api, "/mapped", "GET", ids["token"], http)
    _responses(apigw, api, rid, "GET")
    api.deploy("test", variables={"realm": "blue"})
    return found


def get(url: str, token: str | None = None, **kwargs: Any) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers["Authorization"] = token
    return requests.get(url, headers=headers, timeout=30, **kwargs)


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


# --- management --------------------------------------------------------------------------------------------


def test_authorizer_documents_crud_and_validation(apigw: Any, lam: Any) -> None:
    api = RestApi(apigw, unique("crud"))
    uri = lambda_uri("some-authorizer")
    created = apigw.create_authorizer(
        restApiId=api.id,
        name="mine",
        type="TOKEN",
        authorizerUri=uri,
        identitySource="method.request.header.Authorization",
    )
    created.pop("ResponseMetadata")
    assert created == {
        "id": created["id"],
        "name": "mine",
        "type": "TOKEN",
        "authorizerUri": uri,
        "identitySource": "method.request.header.Authorization",
        "authorizerResultTtlInSeconds": 300,  # AWS's default
    }
    got = apigw.get_authorizer(restApiId=api.id, authorizerId=created["id"])
    assert got["name"] == "mine" and got["authorizerResultTtlInSeconds"] == 300
    cognito = apigw.create_authorizer(
        restApiId=api.id,
        name="pool",
        type="COGNITO_USER_POOLS",
        providerARNs=["arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_abc"],
        identitySource="method.request.header.Authorization",
    )
    listed = apigw.get_authorizers(restApiId=api.id)["items"]
    assert sorted(a["name"] for a in listed) == ["mine", "pool"]

    updated = apigw.update_authorizer(
        restApiId=api.id,
        authorizerId=created["id"],
        patchOperations=[
            {"op": "replace", "path": "/name", "value": "renamed"},
            {"op": "replace", "path": "/authorizerResultTtlInSeconds", "value": "0"},
            {"op": "replace", "path": "/identityValidationExpression", "value": "^Bearer .+$"},
        ],
    )
    assert updated["name"] == "renamed"
    assert updated["authorizerResultTtlInSeconds"] == 0
    assert updated["identityValidationExpression"] == "^Bearer .+$"
    too_long = [{"op": "replace", "path": "/authorizerResultTtlInSeconds", "value": "3601"}]
    code, _ = error_of(
        apigw.update_authorizer, restApiId=api.id, authorizerId=created["id"], patchOperations=too_long
    )
    assert code == "BadRequestException"

    # What AWS refuses on create.
    header = "method.request.header.Authorization"
    refused: list[dict[str, Any]] = [
        {"type": "TOKEN", "identitySource": header},  # no URI
        {"type": "JWT", "authorizerUri": uri, "identitySource": header},
        {
            "type": "TOKEN",
            "authorizerUri": uri,
            "identitySource": header,
            "authorizerResultTtlInSeconds": 3601,
        },
        {"type": "COGNITO_USER_POOLS", "identitySource": header},  # no providerARNs
        # A TOKEN authorizer reads a header.
        {"type": "TOKEN", "authorizerUri": uri, "identitySource": "method.request.querystring.token"},
        # Caching (on by default) needs an identity source to key the cache.
        {"type": "REQUEST", "authorizerUri": uri},
    ]
    for fields in refused:
        code, _ = error_of(apigw.create_authorizer, restApiId=api.id, name="x", **fields)
        assert code == "BadRequestException", fields

    # Unknown ids are NotFound; methods must name an authorizer of the right kind.
    missing = ("NotFoundException", "Invalid Authorizer identifier specified")
    assert error_of(apigw.get_authorizer, restApiId=api.id, authorizerId="nope00") == missing
    assert error_of(apigw.delete_authorizer, restApiId=api.id, authorizerId="nope00") == missing
    assert (
        error_of(apigw.update_authorizer, restApiId=api.id, authorizerId="nope00", patchOperations=[])
        == missing
    )
    assert error_of(apigw.get_authorizers, restApiId="nosuchapi")[0] == "NotFoundException"
    rid = api.resource("/guarded")
    invalid = (
        "BadRequestException",
        "Invalid authorizer ID specified. Setting the authorization type to CUSTOM or COGNITO_USER_POOLS "
        "requires a valid authorizer.",
    )
    put = {"restApiId": api.id, "resourceId": rid, "httpMethod": "GET"}
    assert error_of(apigw.put_method, **put, authorizationType="CUSTOM", authorizerId="nope00") == invalid
    assert (
        error_of(apigw.put_method, **put, authorizationType="CUSTOM", authorizerId=cognito["id"]) == invalid
    )
    apigw.put_method(**put, authorizationType="CUSTOM", authorizerId=created["id"])

    # An authorizer a method uses cannot go; once the method is gone, it can.
    code, message = error_of(apigw.delete_authorizer, restApiId=api.id, authorizerId=created["id"])
    assert (
        code == "BadRequestException"
        and message == "Cannot delete authorizer, is referenced in method: GET//guarded"
    )
    apigw.delete_method(**put)
    apigw.delete_authorizer(restApiId=api.id, authorizerId=created["id"])
    assert [a["name"] for a in apigw.get_authorizers(restApiId=api.id)["items"]] == ["pool"]


def test_method_scopes_are_stored_and_patched(apigw: Any) -> None:
    api = RestApi(apigw, unique("scopes"))
    pool = apigw.create_authorizer(
        restApiId=api.id,
        name="pool",
        type="COGNITO_USER_POOLS",
        providerARNs=["arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_abc"],
        identitySource="method.request.header.Authorization",
    )["id"]
    rid = api.resource("/items")
    method = apigw.put_method(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        authorizationType="COGNITO_USER_POOLS",
        authorizerId=pool,
        authorizationScopes=["items/read"],
    )
    assert method["authorizationScopes"] == ["items/read"]
    patched = apigw.update_method(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        patchOperations=[{"op": "add", "path": "/authorizationScopes", "value": "items/admin"}],
    )
    assert patched["authorizationScopes"] == ["items/read", "items/admin"]


# --- TOKEN authorizers --------------------------------------------------------------------------------------


def test_allowed_token_reaches_the_function_with_the_authorizer_context(setup: Setup) -> None:
    token = unique("allow").replace("allow-", "allow-ann")
    response = get(setup.url("/pets"), token)
    assert response.status_code == 200, response.text
    event = response.json()
    authorizer = event["requestContext"]["authorizer"]
    name = token.split("-", 1)[1]
    assert authorizer["principalId"] == name
    assert isinstance(authorizer["integrationLatency"], int)
    # Context values reach the proxy event as strings, as on AWS.
    assert {k: authorizer[k] for k in ("user", "number", "flag", "ratio")} == {
        "user": name,
        "number": "7",
        "flag": "true",
        "ratio": "1.5",
    }
    [call] = setup.calls(token)
    api = setup.api.id
    assert call == {
        "type": "TOKEN",
        "authorizationToken": token,
        "methodArn": f"arn:aws:execute-api:us-east-1:000000000000:{api}/test/GET/pets",
    }


def test_missing_or_invalid_token_is_401_without_calling_the_function(setup: Setup) -> None:
    before = len(setup.calls(""))
    for token in (None, "", "has spaces and !"):
        response = get(setup.url("/pets"), token)
        assert response.status_code == 401
        assert response.json() == {"message": "Unauthorized"}
        assert response.headers["x-amzn-ErrorType"] == "UnauthorizedException"
    assert len(setup.calls("")) == before


@pytest.mark.parametrize(
    ("kind", "status", "body", "error_type"),
    [
        ("unauthorized", 401, {"message": "Unauthorized"}, "UnauthorizedException"),
        ("deny", 403, {"message": "User is not authorized to access this resource"}, "AccessDeniedException"),
        (
            "elsewhere",
            403,
            {"message": "User is not authorized to access this resource"},
            "AccessDeniedException",
        ),
        ("boom", 500, {"message": None}, "AuthorizerConfigurationException"),
        ("malformed", 500, {"message": None}, "AuthorizerConfigurationException"),
        ("badcontext", 500, {"message": None}, "AuthorizerConfigurationException"),
        ("garbage", 500, {"message": None}, "AuthorizerConfigurationException"),
    ],
)
def test_authorizer_outcomes(setup: Setup, kind: str, status: int, body: Any, error_type: str) -> None:
    token = f"{kind}-{unique('t')}"
    response = get(setup.url("/pets"), token)
    assert response.status_code == status
    assert response.json() == body
    assert response.headers["x-amzn-ErrorType"] == error_type
    assert len(setup.calls(token)) == 1


def test_wildcards_in_the_policy_resource(setup: Setup) -> None:
    token = unique("wild")  # allows {api}/????/GET/pets/*: any four-letter stage, GET, below /pets
    assert get(setup.url("/pets/1"), token).status_code == 200
    assert get(setup.url("/pets/2"), token).status_code == 200
    assert get(setup.url("/pets"), token).status_code == 403
    assert requests.post(setup.url("/pets"), headers={"Authorization": token}, timeout=30).status_code == 403
    assert len(setup.calls(token)) == 1


def test_cached_policy_is_evaluated_against_each_method(setup: Setup) -> None:
    token = unique("allow")
    assert get(setup.url("/pets"), token).status_code == 200
    assert get(setup.url("/pets"), token).status_code == 200
    # The cached policy names GET /pets only: the same token is denied elsewhere until the entry expires,
    # the well-known AWS behaviour, and the function is not asked again.
    denied = get(setup.url("/pets/7"), token)
    assert denied.status_code == 403
    assert denied.json() == {"message": "User is not authorized to access this resource"}
    assert requests.post(setup.url("/pets"), headers={"Authorization": token}, timeout=30).status_code == 403
    assert len(setup.calls(token)) == 1

    # A policy for the whole API works everywhere from one call.
    everything = unique("all")
    for path in ("/pets", "/pets/7", "/pets/8"):
        assert get(setup.url(path), everything).status_code == 200
    assert len(setup.calls(everything)) == 1


def test_without_caching_every_request_asks_the_function(setup: Setup) -> None:
    token = unique("allow")
    for path in ("/open", "/open/1", "/open"):
        response = get(setup.url(path), headers={"X-Auth": token})
        assert response.status_code == 200  # each request is judged by a policy made for it
    assert len(setup.calls(token)) == 3


def test_flush_stage_authorizers_cache(setup: Setup, apigw: Any) -> None:
    token = unique("all")
    assert get(setup.url("/pets"), token).status_code == 200
    assert get(setup.url("/pets"), token).status_code == 200
    assert len(setup.calls(token)) == 1
    apigw.flush_stage_authorizers_cache(restApiId=setup.api.id, stageName="test")
    assert get(setup.url("/pets"), token).status_code == 200
    assert len(setup.calls(token)) == 2
    code, _ = error_of(apigw.flush_stage_authorizers_cache, restApiId=setup.api.id, stageName="nostage")
    assert code == "NotFoundException"


def test_context_in_a_mapping_template(setup: Setup) -> None:
    token = unique("all").replace("all-", "all-vtl")
    response = get(setup.url("/vtl"), token)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "principal": token.split("-", 1)[1],
        "user": token.split("-", 1)[1],
        "number": "7",
        "flag": "true",
        "ratio": "1.5",
    }


def test_context_in_parameter_mappings(setup: Setup) -> None:
    token = unique("all").replace("all-", "all-mapped")
    response = get(setup.url("/mapped"), token)
    assert response.status_code == 200, response.text
    headers = {name.lower(): value for name, value in response.json()["headers"]}
    assert headers["x-principal"] == token.split("-", 1)[1]
    assert headers["x-flag"] == "true"


# --- REQUEST authorizers ------------------------------------------------------------------------------------


def test_request_authorizer_event_and_identity_sources(setup: Setup) -> None:
    token = unique("all")
    url = setup.url("/tenants/42")
    response = requests.get(url, params={"tenant": "acme"}, headers={"x-token": token}, timeout=30)
    assert response.status_code == 200, response.text
    [call] = setup.calls(token)
    api = setup.api.id
    assert set(call) == {
        "type",
        "methodArn",
        "resource",
        "path",
        "httpMethod",
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
        "requestContext",
    }
    assert call["type"] == "REQUEST"
    assert call["methodArn"] == f"arn:aws:execute-api:us-east-1:000000000000:{api}/test/GET/tenants/42"
    assert call["resource"] == "/tenants/{id}" and call["path"] == "/tenants/42"
    assert call["pathParameters"] == {"id": "42"} and call["stageVariables"] == {"realm": "blue"}
    assert call["queryStringParameters"] == {"tenant": "acme"}
    assert call["requestContext"]["stage"] == "test" and "authorizer" not in call["requestContext"]

    # Every identity source is part of the cache key: another tenant asks the function again.
    assert requests.get(url, params={"tenant": "acme"}, headers={"x-token": token}, timeout=30).ok
    assert len(setup.calls(token)) == 1
    assert requests.get(url, params={"tenant": "other"}, headers={"x-token": token}, timeout=30).ok
    assert len(setup.calls(token)) == 2

    # A missing identity source is 401 without a call.
    missing = requests.get(url, headers={"x-token": token}, timeout=30)
    assert missing.status_code == 401 and missing.json() == {"message": "Unauthorized"}
    assert len(setup.calls(token)) == 2


def test_request_authorizer_without_caching_is_asked_even_without_identity(setup: Setup) -> None:
    # AWS: the identity sources of a REQUEST authorizer are optional when its results are not cached.
    response = requests.get(setup.url("/anyone"), timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["requestContext"]["authorizer"]["principalId"] == "anonymous"


# --- API keys from the authorizer ---------------------------------------------------------------------------


def test_usage_identifier_key_is_the_api_key_with_source_authorizer(
    apigw: Any, lam: Any, gateway: GatewayProcess, setup: Setup
) -> None:
    echo = create_function(lam, ECHO_EVENT)
    api = RestApi(apigw, unique("keyed"), apiKeySource="AUTHORIZER")
    authorizer_uri = apigw.get_authorizer(restApiId=setup.api.id, authorizerId=setup.authorizers["token"])[
        "authorizerUri"
    ]
    authorizer = apigw.create_authorizer(
        restApiId=api.id,
        name="keys",
        type="TOKEN",
        authorizerUri=authorizer_uri,
        identitySource="method.request.header.Authorization",
    )["id"]
    proxy = {"type": "AWS_PROXY", "integrationHttpMethod": "POST", "uri": lambda_uri(echo)}
    _method(apigw, api, "/metered", "GET", authorizer, proxy, apiKeyRequired=True)
    api.deploy("prod")
    value = unique("authorizer-key-0123456789")
    key = apigw.create_api_key(name=unique("k"), value=value, enabled=True)
    plan = apigw.create_usage_plan(name=unique("plan"), apiStages=[{"apiId": api.id, "stage": "prod"}])
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    url = gateway.invoke_url(api.id, "prod", "/metered")

    response = get(url, f"key-{value}", headers={"x-api-key": "ignored-with-source-authorizer"})
    assert response.status_code == 200, response.text
    identity = response.json()["requestContext"]["identity"]
    assert identity["apiKey"] == value and identity["apiKeyId"] == key["id"]
    refused = get(url, "key-not-a-known-key-at-all")
    assert refused.status_code == 403 and refused.json() == {"message": "Forbidden"}


# --- TestInvokeAuthorizer -----------------------------------------------------------------------------------


def test_test_invoke_authorizer(setup: Setup, apigw: Any) -> None:
    api, authorizer = setup.api.id, setup.authorizers["token"]
    token = unique("allow").replace("allow-", "allow-tester")
    result = apigw.test_invoke_authorizer(
        restApiId=api, authorizerId=authorizer, headers={"Authorization": token}
    )
    assert result["clientStatus"] == 0  # AWS: "0 if the authorizer succeeded"
    assert result["principalId"] == token.split("-", 1)[1]
    policy = json.loads(result["policy"])
    assert policy["Statement"][0]["Effect"] == "Allow"
    assert policy["Statement"][0]["Resource"] == (
        f"arn:aws:execute-api:us-east-1:000000000000:{api}/ESTestInvoke-stage/GET/"
    )
    assert f"Starting authorizer: {authorizer}" in result["log"]
    assert isinstance(result["latency"], int)

    denied = apigw.test_invoke_authorizer(
        restApiId=api, authorizerId=authorizer, headers={"Authorization": "unauthorized-x"}
    )
    assert denied["clientStatus"] == 401
    missing = apigw.test_invoke_authorizer(restApiId=api, authorizerId=authorizer, headers={})
    assert missing["clientStatus"] == 401
    broken = apigw.test_invoke_authorizer(
        restApiId=api, authorizerId=authorizer, headers={"Authorization": "boom-x"}
    )
    assert broken["clientStatus"] == 500 and "AuthorizerConfigurationException" in broken["log"]

    request = apigw.test_invoke_authorizer(
        restApiId=api,
        authorizerId=setup.authorizers["request"],
        headers={"x-token": "all-req"},
        pathWithQueryString="/tenants/9?tenant=acme",
        stageVariables={"realm": "green"},
    )
    assert request["clientStatus"] == 0 and request["principalId"] == "req"
    [call] = setup.calls('"x-token": "all-req"')
    assert call["stageVariables"] == {"realm": "green"}
    assert call["queryStringParameters"] == {"tenant": "acme"}
