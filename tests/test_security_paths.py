"""Authorization sees the path the router sees (issue #13, item 1), and the keys derived from it do too.

Every request goes out on a raw socket, so the non-canonical bytes (``%61dmin``, ``//``, ``%2F``, ``.``, ``..``,
``%2e%2e``) reach the gateway exactly as written: ``requests`` and ``urllib`` would normalise some of them. Each
form of ``/admin/x`` must get the decision the plain path gets, against a resource policy, an IAM policy, a REST
Lambda authorizer's policy and an HTTP API Lambda authorizer's policy, each denying ``.../GET/admin/*``.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from helpers import GatewayProcess, RestApi, create_function, lambda_uri, unique

# Spellings of /admin/x (below the stage) that a router which decodes and resolves reaches as /admin/x.
ADMIN_FORMS = [
    "/admin/x",
    "/admin/x/",
    "/%61dmin/x",
    "/%61%64%6D%69%6E/%78",
    "//admin/x",
    "/admin//x",
    "/./admin/x",
    "/admin/./x",
    "/public/../admin/x",
    "/public/%2e%2e/admin/x",
    "/public/.%2E/admin/x",
    "/public/%2E%2E%2Fadmin/x",
    "/public%2F..%2Fadmin%2Fx",
    "/admin%2Fx",
    "/../admin/x",
]

DENY_ADMIN = """
def lambda_handler(event, context):
    api = event["methodArn"].split("/", 1)[0]
    return {"principalId": "someone",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": api + "/*"},
                {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": api + "/*/GET/admin/*"}]},
            "context": {"arn": event["methodArn"]}}
"""


def raw_get(
    gateway: GatewayProcess, target: str, headers: list[tuple[str, str]] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One GET with the request target sent byte for byte as given; the connection is closed after it."""
    lines = [f"GET {target} HTTP/1.1", f"Host: 127.0.0.1:{gateway.port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers or []]
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    length = int(parsed.get("content-length", len(body)))
    return int(status_line.split()[1]), parsed, body[:length]


def target(api_id: str, stage: str, path: str) -> str:
    return f"/_aws/execute-api/{api_id}/{stage}{path}"


def arn(api_id: str, rest: str) -> str:
    return f"arn:aws:execute-api:us-east-1:000000000000:{api_id}/{rest}"


def mock_method(apigw: Any, api: RestApi, path: str, body: str, **method: Any) -> None:
    """A MOCK method answering ``body`` (a mapping template); ``method`` adds put_method arguments."""
    rid = api.resource(path)
    cache_keys = method.pop("cache_keys", [])
    method.setdefault("authorizationType", "NONE")
    apigw.put_method(restApiId=api.id, resourceId=rid, httpMethod="GET", **method)
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
        cacheKeyParameters=cache_keys,
    )
    apigw.put_method_response(restApiId=api.id, resourceId=rid, httpMethod="GET", statusCode="200")
    apigw.put_integration_response(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        statusCode="200",
        selectionPattern="",
        responseTemplates={"application/json": body},
    )


# -- a resource policy --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def policy_api(apigw: Any) -> RestApi:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "execute-api:Invoke",
                "Resource": "execute-api:/*",
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "execute-api:Invoke",
                "Resource": "execute-api:/*/GET/admin/*",
            },
        ],
    }
    api = RestApi(apigw, unique("paths-policy"), policy=json.dumps(document))
    mock_method(apigw, api, "/admin/{proxy+}", '{"at": "admin"}')
    mock_method(apigw, api, "/public/{proxy+}", '{"at": "public"}')
    api.deploy()
    return api


@pytest.mark.parametrize("path", ADMIN_FORMS)
def test_resource_policy_decides_on_the_routed_path(
    gateway: GatewayProcess, policy_api: RestApi, path: str
) -> None:
    status, headers, body = raw_get(gateway, target(policy_api.id, "test", path))
    assert status == 403, body
    assert headers["x-amzn-errortype"] == "AccessDeniedException"
    assert json.loads(body) == {
        "message": "User: anonymous is not authorized to perform: execute-api:Invoke on resource: "
        f"{arn(policy_api.id, 'test/GET/admin/x')} with an explicit deny"
    }


def test_resource_policy_still_allows_the_rest(gateway: GatewayProcess, policy_api: RestApi) -> None:
    # A literal "%61dmin" (sent as %2561dmin) is a value under /public, not the admin resource.
    for path in ("/public/x", "/public/%2561dmin/x", "/admin/../public/admin"):
        status, _, body = raw_get(gateway, target(policy_api.id, "test", path))
        assert (status, json.loads(body)) == (200, {"at": "public"}), path
    # Dot segments never leave the stage: /test/../other is /test/other.
    status, _, _ = raw_get(gateway, target(policy_api.id, "test", "/../../test/admin/x"))
    assert status == 403


# -- an IAM policy --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def iam_api(apigw: Any) -> RestApi:
    api = RestApi(apigw, unique("paths-iam"))
    mock_method(apigw, api, "/admin/{proxy+}", '{"at": "admin"}', authorizationType="AWS_IAM")
    mock_method(apigw, api, "/public/{proxy+}", '{"at": "public"}', authorizationType="AWS_IAM")
    api.deploy()
    return api


@pytest.fixture(scope="module")
def iam_user(gateway: GatewayProcess, iam_api: RestApi) -> tuple[str, str, str]:
    iam = gateway.client("iam")
    name = unique("paths-user")
    user_arn = iam.create_user(UserName=name)["User"]["Arn"]
    statements = [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"},
        {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": arn(iam_api.id, "*/GET/admin/*")},
    ]
    iam.put_user_policy(
        UserName=name,
        PolicyName="p",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return user_arn, key["AccessKeyId"], key["SecretAccessKey"]


def signed_raw_get(gateway: GatewayProcess, path: str, key: str, secret: str) -> tuple[int, bytes]:
    """SigV4 by botocore's signer over the raw target (it normalises only for the canonical request, as AWS)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url=f"http://127.0.0.1:{gateway.port}{path}")
    SigV4Auth(Credentials(key, secret), "execute-api", "us-east-1").add_auth(request)
    headers = [(k, v) for k, v in request.headers.items() if k.lower() != "host"]
    status, _, body = raw_get(gateway, path, headers)
    return status, body


@pytest.mark.parametrize("path", ADMIN_FORMS)
def test_iam_policy_decides_on_the_routed_path(
    gateway: GatewayProcess, iam_api: RestApi, iam_user: tuple[str, str, str], path: str
) -> None:
    user_arn, key, secret = iam_user
    status, body = signed_raw_get(gateway, target(iam_api.id, "test", path), key, secret)
    assert status == 403, body
    assert json.loads(body) == {
        "message": f"User: {user_arn} is not authorized to perform: execute-api:Invoke on resource: "
        f"{arn(iam_api.id, 'test/GET/admin/x')} with an explicit deny"
    }


def test_iam_policy_still_allows_the_rest(
    gateway: GatewayProcess, iam_api: RestApi, iam_user: tuple[str, str, str]
) -> None:
    _, key, secret = iam_user
    status, body = signed_raw_get(gateway, target(iam_api.id, "test", "/public//%61"), key, secret)
    assert (status, json.loads(body)) == (200, {"at": "public"})


# -- a REST Lambda authorizer (its result cached) -------------------------------------------------------------


@pytest.fixture(scope="module")
def authorizer_api(apigw: Any, lam: Any) -> RestApi:
    function = create_function(lam, DENY_ADMIN)
    api = RestApi(apigw, unique("paths-authorizer"))
    authorizer = apigw.create_authorizer(
        restApiId=api.id,
        name="deny-admin",
        type="TOKEN",
        authorizerUri=lambda_uri(function),
        identitySource="method.request.header.Authorization",
        authorizerResultTtlInSeconds=300,
    )["id"]
    for path in ("/admin/{proxy+}", "/public/{proxy+}"):
        mock_method(
            apigw,
            api,
            path,
            '{"arn": "$context.authorizer.arn"}',
            authorizationType="CUSTOM",
            authorizerId=authorizer,
        )
    api.deploy()
    return api


@pytest.mark.parametrize("path", ADMIN_FORMS)
def test_lambda_authorizer_policy_decides_on_the_routed_path(
    gateway: GatewayProcess, authorizer_api: RestApi, path: str
) -> None:
    # The same token throughout: from the second request on, the cached policy is evaluated.
    status, headers, body = raw_get(
        gateway, target(authorizer_api.id, "test", path), [("Authorization", "shared-token")]
    )
    assert status == 403, body
    assert headers["x-amzn-errortype"] == "AccessDeniedException"


def test_lambda_authorizer_is_asked_about_the_routed_path(
    gateway: GatewayProcess, authorizer_api: RestApi
) -> None:
    status, _, body = raw_get(
        gateway,
        target(authorizer_api.id, "test", "/./public//%61/b/../c/"),
        [("Authorization", unique("fresh-token"))],
    )
    assert status == 200, body
    assert json.loads(body) == {"arn": arn(authorizer_api.id, "test/GET/public/a/c")}


# -- an HTTP API Lambda authorizer ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_api(gateway: GatewayProcess, lam: Any, upstream: str) -> str:
    v2 = gateway.client("apigatewayv2")
    function = create_function(lam, DENY_ADMIN)
    api_id = v2.create_api(Name=unique("paths-http"), ProtocolType="HTTP")["ApiId"]
    integration = v2.create_integration(
        ApiId=api_id,
        IntegrationType="HTTP_PROXY",
        IntegrationUri=f"{upstream}/base/{{proxy}}",
        IntegrationMethod="GET",
        PayloadFormatVersion="1.0",
    )["IntegrationId"]
    authorizer = v2.create_authorizer(
        ApiId=api_id,
        Name="deny-admin",
        AuthorizerType="REQUEST",
        AuthorizerUri=lambda_uri(function),
        AuthorizerPayloadFormatVersion="1.0",
        AuthorizerResultTtlInSeconds=300,
        IdentitySource=["$request.header.Authorization"],
    )["AuthorizerId"]
    for key in ("GET /admin/{proxy+}", "GET /public/{proxy+}"):
        v2.create_route(
            ApiId=api_id,
            RouteKey=key,
            Target=f"integrations/{integration}",
            AuthorizationType="CUSTOM",
            AuthorizerId=authorizer,
        )
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    return api_id


@pytest.mark.parametrize("path", ADMIN_FORMS)
def test_http_api_authorizer_decides_on_the_routed_path(
    gateway: GatewayProcess, http_api: str, path: str
) -> None:
    status, _, body = raw_get(gateway, f"/_aws/execute-api/{http_api}{path}", [("Authorization", "shared")])
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})


def test_http_api_authorizer_still_allows_the_rest(gateway: GatewayProcess, http_api: str) -> None:
    status, _, body = raw_get(
        gateway, f"/_aws/execute-api/{http_api}/public/%61/./b", [("Authorization", unique("t"))]
    )
    assert status == 200, body
    assert json.loads(body)["path"] == "/base/a/b"


# -- the response cache key -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cached_api(apigw: Any) -> RestApi:
    api = RestApi(apigw, unique("paths-cache"))
    mock_method(
        apigw,
        api,
        "/items/{id}",
        '{"id": "$input.params(\'id\')", "request": "$context.requestId"}',
        requestParameters={"method.request.path.id": True},
        cache_keys=["method.request.path.id"],
    )
    api.deploy("prod", cacheClusterEnabled=True, cacheClusterSize="0.5")
    apigw.update_stage(
        restApiId=api.id,
        stageName="prod",
        patchOperations=[
            {"op": "replace", "path": "/*/*/caching/enabled", "value": "true"},
            {"op": "replace", "path": "/*/*/caching/ttlInSeconds", "value": "300"},
        ],
    )
    return api


def test_cache_key_is_the_routed_path(gateway: GatewayProcess, cached_api: RestApi) -> None:
    status, _, body = raw_get(gateway, target(cached_api.id, "prod", "/items/a"))
    assert status == 200, body
    first = json.loads(body)
    assert first["id"] == "a"
    for path in ("/items/%61", "/items//a", "/./items/a/", "/other/../items/a", "/items%2Fa"):
        status, _, body = raw_get(gateway, target(cached_api.id, "prod", path))
        assert (status, json.loads(body)) == (200, first), path  # the same entry: the first request's id
    status, _, body = raw_get(gateway, target(cached_api.id, "prod", "/items/b"))
    assert json.loads(body)["request"] != first["request"]


# -- the canonical form itself (pure logic) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "segments"),
    [
        ("/", []),
        ("/a/b/", ["a", "b"]),
        ("/%61/%2Fb", ["a", "b"]),
        ("//a///b", ["a", "b"]),
        ("/a/./b/../c", ["a", "c"]),
        ("/../../a", ["a"]),
        ("/a/%2e%2E/b", ["b"]),
        ("/a/%252e%252e/b", ["a", "%2e%2e", "b"]),  # decoded once only
        ("/.well-known/x", [".well-known", "x"]),
    ],
)
def test_canonical_segments(raw: str, segments: list[str]) -> None:
    from apigate.dataplane.request_path import canonical_segments

    assert canonical_segments(raw) == segments


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("a/b", "a/b"),
        ("../../etc/passwd", "etc/passwd"),
        ("a/../../b", "b"),
        ("/x//y/", "x/y"),
        ("%2e%2e/x", "%252e%252e/x"),
        ("a b/ü", "a%20b/%C3%BC"),
    ],
)
def test_path_value(value: str, sent: str) -> None:
    from apigate.dataplane.request_path import path_value

    assert path_value(value) == sent
