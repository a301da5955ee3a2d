"""IAM and STS on the management API (boto3), and AWS_IAM methods called with SigV4-signed requests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from helpers import ECHO_EVENT, GatewayProcess, RestApi, create_function, signed_request, unique

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


def invoke_policy(resource: str, effect: str = "Allow") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": effect, "Action": "execute-api:Invoke", "Resource": resource}],
        }
    )


@pytest.fixture(scope="module")
def iam(gateway: GatewayProcess) -> Any:
    return gateway.client("iam")


@pytest.fixture(scope="module")
def sts(gateway: GatewayProcess) -> Any:
    return gateway.client("sts")


def new_user(iam: Any, *policies: str) -> tuple[str, str, str]:
    """A user with an access key and inline policies: (arn, key id, secret)."""
    name = unique("user")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    for index, document in enumerate(policies):
        iam.put_user_policy(UserName=name, PolicyName=f"p{index}", PolicyDocument=document)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, key["AccessKeyId"], key["SecretAccessKey"]


@pytest.fixture(scope="module")
def iam_api(apigw: Any, lam: Any) -> RestApi:
    """/pets (GET, POST) and / behind AWS_IAM, all answered by a function echoing its event."""
    function = create_function(lam, ECHO_EVENT)
    api = RestApi(apigw, "iam-protected")
    for path, verb in (("/pets", "GET"), ("/pets", "POST"), ("/", "GET")):
        api.lambda_proxy(path, verb, function)
        apigw.update_method(
            restApiId=api.id,
            resourceId=api.resource(path),
            httpMethod=verb,
            patchOperations=[{"op": "replace", "path": "/authorizationType", "value": "AWS_IAM"}],
        )
    api.deploy("prod")
    return api


def arn_of(api: RestApi, rest: str) -> str:
    return f"arn:aws:execute-api:us-east-1:000000000000:{api.id}/{rest}"


def test_users_access_keys_and_policies(iam: Any) -> None:
    name = unique("alice")
    user = iam.create_user(UserName=name, Path="/team/")["User"]
    assert user["Arn"] == f"arn:aws:iam::000000000000:user/team/{name}"
    assert user["UserId"].startswith("AIDA")
    assert iam.get_user(UserName=name)["User"]["UserName"] == name
    assert name in [u["UserName"] for u in iam.list_users()["Users"]]
    with pytest.raises(ClientError) as exists:
        iam.create_user(UserName=name)
    assert exists.value.response["Error"]["Code"] == "EntityAlreadyExists"

    key = iam.create_access_key(UserName=name)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]
    assert "SecretAccessKey" not in listed[0]

    document = invoke_policy("*")
    iam.put_user_policy(UserName=name, PolicyName="invoke", PolicyDocument=document)
    got = iam.get_user_policy(UserName=name, PolicyName="invoke")
    assert got["PolicyDocument"] == json.loads(document)  # sent URL-encoded, decoded by botocore as on AWS
    with pytest.raises(ClientError) as malformed:
        iam.put_user_policy(
            UserName=name, PolicyName="bad", PolicyDocument='{"Statement": [{"Effect": "Maybe"}]}'
        )
    assert malformed.value.response["Error"]["Code"] == "MalformedPolicyDocument"

    with pytest.raises(ClientError) as conflict:
        iam.delete_user(UserName=name)
    assert conflict.value.response["Error"]["Code"] == "DeleteConflict"
    assert conflict.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user_policy(UserName=name, PolicyName="invoke")
    iam.delete_user(UserName=name)
    with pytest.raises(ClientError) as missing:
        iam.get_user(UserName=name)
    assert missing.value.response["Error"]["Code"] == "NoSuchEntity"
    assert missing.value.response["Error"]["Message"] == f"The user with name {name} cannot be found."


def test_roles_and_caller_identity(gateway: GatewayProcess, iam: Any) -> None:
    arn, key, secret = new_user(iam)
    as_user = boto3.client(
        "sts",
        endpoint_url=gateway.url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )
    me = as_user.get_caller_identity()
    assert me["Arn"] == arn and me["Account"] == "000000000000" and me["UserId"].startswith("AIDA")

    name = unique("role")
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "000000000000"}, "Action": "sts:AssumeRole"}]
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    assert role["Arn"] == f"arn:aws:iam::000000000000:role/{name}" and role["RoleId"].startswith("AROA")
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == trust
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=invoke_policy("*"))
    assert (
        iam.get_role_policy(RoleName=name, PolicyName="p")["PolicyDocument"]["Statement"][0]["Effect"]
        == "Allow"
    )

    session = as_user.assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    assert session["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::000000000000:assumed-role/{name}/s1"
    credentials = session["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA") and credentials["Expiration"] > datetime.now(UTC)
    as_role = boto3.client(
        "sts",
        endpoint_url=gateway.url,
        region_name="us-east-1",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    assert as_role.get_caller_identity()["Arn"] == session["AssumedRoleUser"]["Arn"]

    strict = unique("strict")
    nobody = {
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "sts:AssumeRole"}]
    }
    iam.create_role(RoleName=strict, AssumeRolePolicyDocument=json.dumps(nobody))
    with pytest.raises(ClientError) as refused:
        as_user.assume_role(RoleArn=f"arn:aws:iam::000000000000:role/{strict}", RoleSessionName="s2")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["Error"]["Message"].startswith(
        f"User: {arn} is not authorized to perform: sts:AssumeRole"
    )


def test_signed_request_reaches_the_function_with_its_identity(
    gateway: GatewayProcess, iam: Any, iam_api: RestApi
) -> None:
    arn, key, secret = new_user(iam, invoke_policy(arn_of(iam_api, "prod/*/pets")))
    answer = signed_request("GET", gateway.invoke_url(iam_api.id, "prod", "/pets?kind=cat"), (key, secret))
    assert answer.status_code == 200, answer.text
    identity = answer.json()["requestContext"]["identity"]
    assert identity["accessKey"] == key
    assert identity["userArn"] == arn
    assert identity["accountId"] == "000000000000"
    assert identity["user"] == identity["caller"] and identity["user"].startswith("AIDA")
    assert identity["cognitoIdentityId"] is None and identity["cognitoAuthenticationType"] is None

    # The presigned query-string form, and a body (its hash is part of the signature).
    presigned = signed_request(
        "GET", gateway.invoke_url(iam_api.id, "prod", "/pets"), (key, secret), in_query=True
    )
    assert presigned.status_code == 200, presigned.text
    posted = signed_request(
        "POST", gateway.invoke_url(iam_api.id, "prod", "/pets"), (key, secret), body=b'{"name": "rex"}'
    )
    assert posted.status_code == 200 and posted.json()["body"] == '{"name": "rex"}'


def test_signature_failures(gateway: GatewayProcess, iam: Any, iam_api: RestApi) -> None:
    _, key, secret = new_user(iam, invoke_policy("*"))
    url = gateway.invoke_url(iam_api.id, "prod", "/pets")

    unsigned = requests.get(url, timeout=5)
    assert unsigned.status_code == 403
    assert unsigned.json() == {"message": "Missing Authentication Token"}
    assert unsigned.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"

    wrong = signed_request("GET", url, (key, "not-the-secret"))
    assert wrong.status_code == 403
    assert wrong.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    message = wrong.json()["message"]
    assert message.startswith(MISMATCH)
    assert "The Canonical String for this request should have been" in message

    old = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10)
    with mock.patch("botocore.auth.get_current_datetime", return_value=old):
        expired = signed_request("GET", url, (key, secret))
    assert expired.status_code == 403
    assert expired.json()["message"].startswith(
        f"Signature expired: {old:%Y%m%dT%H%M%SZ} is now earlier than "
    )
    assert expired.json()["message"].endswith(" - 5 min.)")

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url=url, data=b'{"amount": 1}')
    SigV4Auth(Credentials(key, secret), "execute-api", "us-east-1").add_auth(request)
    prepared = request.prepare()
    tampered = requests.post(url, headers=dict(prepared.headers), data=b'{"amount": 1000}', timeout=5)
    assert tampered.status_code == 403 and tampered.json()["message"].startswith(MISMATCH)

    unknown = signed_request("GET", url, ("AKIAUNKNOWNKEY000000", secret))
    assert unknown.status_code == 403
    assert unknown.json() == {"message": "The security token included in the request is invalid."}
    assert unknown.headers["x-amzn-ErrorType"] == "UnrecognizedClientException"

    other_service = signed_request("GET", url, (key, secret), service="lambda")
    assert other_service.status_code == 403
    assert other_service.headers["x-amzn-ErrorType"] == "InvalidSignatureException"

    bearer = requests.get(url, headers={"Authorization": "Bearer abc"}, timeout=5)
    assert bearer.status_code == 403
    assert bearer.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"


def test_identity_policies_decide(gateway: GatewayProcess, iam: Any, iam_api: RestApi) -> None:
    get_only = invoke_policy(arn_of(iam_api, "prod/GET/*"))
    arn, key, secret = new_user(iam, get_only)
    assert (
        signed_request("GET", gateway.invoke_url(iam_api.id, "prod", "/pets"), (key, secret)).status_code
        == 200
    )
    denied = signed_request(
        "POST", gateway.invoke_url(iam_api.id, "prod", "/pets"), (key, secret), body=b"{}"
    )
    assert denied.status_code == 403
    assert denied.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert denied.json() == {
        "message": f"User: {arn} is not authorized to perform: execute-api:Invoke on resource: "
        f"{arn_of(iam_api, 'prod/POST/pets')}"
    }
    # The root resource's ARN ends in the verb and a slash.
    root = signed_request("GET", gateway.invoke_url(iam_api.id, "prod", "/"), (key, secret))
    assert root.status_code == 200

    # An explicit Deny in another policy beats the Allow.
    _, key2, secret2 = new_user(iam, invoke_policy("*"), invoke_policy(arn_of(iam_api, "*/GET/pets"), "Deny"))
    refused = signed_request("GET", gateway.invoke_url(iam_api.id, "prod", "/pets"), (key2, secret2))
    assert refused.status_code == 403
    assert refused.json()["message"].endswith(
        f"on resource: {arn_of(iam_api, 'prod/GET/pets')} with an explicit deny"
    )
    assert (
        signed_request("GET", gateway.invoke_url(iam_api.id, "prod", "/"), (key2, secret2)).status_code == 200
    )

    # No policy at all: nothing is allowed.
    _, key3, secret3 = new_user(iam)
    assert (
        signed_request("GET", gateway.invoke_url(iam_api.id, "prod", "/pets"), (key3, secret3)).status_code
        == 403
    )


def test_role_session_credentials(gateway: GatewayProcess, iam: Any, sts: Any, iam_api: RestApi) -> None:
    name = unique("invoker")
    trust = {
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "000000000000"}, "Action": "sts:AssumeRole"}]
    }
    role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=name, PolicyName="invoke", PolicyDocument=invoke_policy(arn_of(iam_api, "prod/GET/*"))
    )
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="worker")["Credentials"]
    triple = (credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"])
    url = gateway.invoke_url(iam_api.id, "prod", "/pets")

    answer = signed_request("GET", url, triple)
    assert answer.status_code == 200, answer.text
    identity = answer.json()["requestContext"]["identity"]
    assert identity["userArn"] == f"arn:aws:sts::000000000000:assumed-role/{name}/worker"
    assert identity["caller"].endswith(":worker") and identity["caller"].startswith("AROA")
    assert identity["accessKey"] == credentials["AccessKeyId"]
    assert signed_request("GET", url, triple, in_query=True).status_code == 200

    without_token = signed_request("GET", url, triple[:2])
    assert without_token.status_code == 403
    assert without_token.json() == {"message": "The security token included in the request is invalid."}
    assert signed_request("POST", url, triple, body=b"{}").status_code == 403  # the role allows GET only


def test_context_identity_in_mapping_templates(gateway: GatewayProcess, apigw: Any, iam: Any) -> None:
    api = RestApi(apigw, "iam-mock")
    api.mock("/who", "GET", '{"arn": "$context.identity.userArn", "key": "$context.identity.accessKey"}')
    apigw.update_method(
        restApiId=api.id,
        resourceId=api.resource("/who"),
        httpMethod="GET",
        patchOperations=[{"op": "replace", "path": "/authorizationType", "value": "AWS_IAM"}],
    )
    api.deploy()
    arn, key, secret = new_user(iam, invoke_policy("*"))
    answer = signed_request("GET", gateway.invoke_url(api.id, "test", "/who"), (key, secret))
    assert answer.status_code == 200
    assert answer.json() == {"arn": arn, "key": key}


def test_query_strings_are_canonicalised_as_botocore_signs_them(
    gateway: GatewayProcess, iam: Any, iam_api: RestApi
) -> None:
    _, key, secret = new_user(iam, invoke_policy("*"))
    query = "?tag=a%2Fb&q=hello%20world&empty=&tag=z&star=%2A"
    for in_query in (False, True):
        answer = signed_request(
            "GET", gateway.invoke_url(iam_api.id, "prod", "/pets" + query), (key, secret), in_query=in_query
        )
        assert answer.status_code == 200, answer.text
        event = answer.json()
        # botocore's presigner keeps one value per name (it rebuilds the query from a dict).
        assert event["multiValueQueryStringParameters"]["tag"] == (["a/b"] if in_query else ["a/b", "z"])
        assert event["queryStringParameters"]["q"] == "hello world"
        assert event["queryStringParameters"]["star"] == "*"
