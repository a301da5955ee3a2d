"""Cognito user pool authorizers on REST APIs: a user pool's JWKS on loopback, real RSA keys, real tokens.

The gateway runs with ``--user-pool POOL=ISSUER`` pointing the pool at the loopback issuer, as a user would
point it at a local identity provider.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from helpers import ECHO_EVENT, GatewayProcess, RestApi, TokenIssuer, create_function, lambda_uri, unique

POOL = "us-east-1_LoopPool"
UNCONFIGURED_POOL = "us-east-1_Elsewhere"
CLIENT_ID = "app-client-1"


class UserPool(TokenIssuer):
    """What a Cognito user pool publishes: its JWKS under the issuer URL. Keys can be added (rotation)."""

    def __init__(self) -> None:
        super().__init__(f"/{POOL}")
        self.issuer = self.url

    def claims(self, use: str, **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        base: dict[str, Any] = {"sub": "user-sub-1", "iss": self.issuer, "iat": now, "exp": now + 600}
        if use == "id":
            base.update(
                {
                    "aud": CLIENT_ID,
                    "token_use": "id",
                    "cognito:username": "ann",
                    "cognito:groups": ["admins", "staff"],
                    "email": "ann@example.com",
                    "email_verified": True,
                    "auth_time": now,
                }
            )
        else:
            base.update({"client_id": CLIENT_ID, "token_use": "access", "scope": "pets/read openid"})
        base.update(extra)
        return {k: v for k, v in base.items() if v is not None}

    def token(self, use: str = "id", kid: str = "k1", key: Any = None, **extra: Any) -> str:
        return self.sign(self.claims(use, **extra), kid, key)


def _unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{part(claims)}."


@pytest.fixture(scope="module")
def pool() -> Iterator[UserPool]:
    issuer = UserPool()
    yield issuer
    issuer.close()


@pytest.fixture(scope="module")
def cognito_gateway(tmp_path_factory: pytest.TempPathFactory, pool: UserPool) -> Iterator[GatewayProcess]:
    process = GatewayProcess(
        tmp_path_factory.mktemp("cognito-gateway"), ["--user-pool", f"{POOL}={pool.issuer}"]
    )
    process.start()
    yield process
    process.stop()


class Site:
    def __init__(self, gateway: GatewayProcess, api: RestApi, authorizer: str) -> None:
        self.gateway = gateway
        self.api = api
        self.authorizer = authorizer

    def get(self, path: str, token: str | None = None, header: str = "Authorization") -> requests.Response:
        headers = {} if token is None else {header: token}
        url = self.gateway.invoke_url(self.api.id, "test", path)
        return requests.get(url, headers=headers, timeout=30)


def _pool_arn(pool_id: str) -> str:
    return f"arn:aws:cognito-idp:us-east-1:000000000000:userpool/{pool_id}"


@pytest.fixture(scope="module")
def site(cognito_gateway: GatewayProcess) -> Site:
    apigw = cognito_gateway.client("apigateway")
    lam = cognito_gateway.client("lambda")
    echo = create_function(lam, ECHO_EVENT)
    api = RestApi(apigw, unique("cognito"))
    authorizer = apigw.create_authorizer(
        restApiId=api.id,
        name="pool",
        type="COGNITO_USER_POOLS",
        providerARNs=[_pool_arn(POOL)],
        identitySource="method.request.header.Authorization",
    )["id"]
    audience_checked = apigw.create_authorizer(
        restApiId=api.id,
        name="pool-for-one-client",
        type="COGNITO_USER_POOLS",
        providerARNs=[_pool_arn(POOL)],
        identitySource="method.request.header.X-Id-Token",
        identityValidationExpression="^other-client$",
    )["id"]
    elsewhere = apigw.create_authorizer(
        restApiId=api.id,
        name="unconfigured",
        type="COGNITO_USER_POOLS",
        providerARNs=[_pool_arn(UNCONFIGURED_POOL)],
        identitySource="method.request.header.Authorization",
    )["id"]

    def method(path: str, authorizer_id: str, scopes: list[str] | None = None) -> str:
        rid = api.resource(path)
        apigw.put_method(
            restApiId=api.id,
            resourceId=rid,
            httpMethod="GET",
            authorizationType="COGNITO_USER_POOLS",
            authorizerId=authorizer_id,
            **({"authorizationScopes": scopes} if scopes else {}),
        )
        return rid

    for path, authorizer_id, scopes in (
        ("/profile", authorizer, None),
        ("/pets", authorizer, ["pets/read", "pets/admin"]),
        ("/admin", authorizer, ["pets/admin"]),
        ("/client", audience_checked, None),
        ("/elsewhere", elsewhere, None),
    ):
        rid = method(path, authorizer_id, scopes)
        apigw.put_integration(
            restApiId=api.id,
            resourceId=rid,
            httpMethod="GET",
            type="AWS_PROXY",
            integrationHttpMethod="POST",
            uri=lambda_uri(echo),
        )
    rid = method("/vtl", authorizer)
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    apigw.put_method_response(restApiId=api.id, resourceId=rid, httpMethod="GET", statusCode="200")
    apigw.put_integration_response(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        statusCode="200",
        responseTemplates={
            "application/json": '{"sub": "$context.authorizer.claims.sub", '
            '"email": "$context.authorizer.claims.email", '
            '"user": "$context.authorizer.claims[\'cognito:username\']"}'
        },
    )
    api.deploy("test")
    return Site(cognito_gateway, api, authorizer)


def test_id_token_reaches_the_function_with_its_claims(site: Site, pool: UserPool) -> None:
    claims = pool.claims("id")
    token = jwt.encode(claims, pool.keys["k1"], algorithm="RS256", headers={"kid": "k1"})
    response = site.get("/profile", token)
    assert response.status_code == 200, response.text
    authorizer = response.json()["requestContext"]["authorizer"]
    assert set(authorizer) == {"claims"}
    seen = authorizer["claims"]
    java_date = "%a %b %d %H:%M:%S UTC %Y"
    # Every claim as text, the way API Gateway passes them to REST integrations.
    assert seen == {
        "sub": "user-sub-1",
        "iss": pool.issuer,
        "aud": CLIENT_ID,
        "token_use": "id",
        "cognito:username": "ann",
        "cognito:groups": "admins,staff",
        "email": "ann@example.com",
        "email_verified": "true",
        "auth_time": str(claims["auth_time"]),
        "iat": time.strftime(java_date, time.gmtime(claims["iat"])),
        "exp": time.strftime(java_date, time.gmtime(claims["exp"])),
    }
    # "Bearer " in front of the token is accepted too.
    assert site.get("/profile", f"Bearer {token}").status_code == 200


def test_claims_in_a_mapping_template(site: Site, pool: UserPool) -> None:
    response = site.get("/vtl", pool.token("id"))
    assert response.status_code == 200, response.text
    assert response.json() == {"sub": "user-sub-1", "email": "ann@example.com", "user": "ann"}


def _bad_tokens(pool: UserPool) -> dict[str, str | None]:
    now = int(time.time())
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        pool.keys["k1"]
        .public_key()
        .public_bytes(
            encoding=serialization.Encoding.PEM, format=serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return {
        "missing": None,
        "empty": "",
        "garbage": "not-a-jwt",
        "three garbage parts": "aaa.bbb.ccc",
        "expired": pool.token("id", exp=now - 60, iat=now - 3600),
        "not yet valid (nbf)": pool.token("id", nbf=now + 600),
        "issued in the future": pool.token("id", iat=now + 600, exp=now + 1200),
        "wrong signature": pool.token("id", key=other_key),
        "unknown kid": pool.token("id", kid="k-unknown", key=other_key),
        "alg none": _unsigned(pool.claims("id")),
        "HS256 signed with the public key": _hs256(pool, public_pem),
        "wrong issuer": pool.token("id", iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"),
        "refresh token_use": pool.token("id", token_use="refresh"),
        "no token_use": pool.token("id", token_use=None),
        "access token on a method without scopes": pool.token("access"),
        "tampered claims": _tampered(pool.token("id")),
    }


def _hs256(pool: UserPool, secret: bytes) -> str:
    """An HMAC token keyed with the pool's public key: the classic algorithm confusion attack."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT', 'kid': 'k1'})}.{part(pool.claims('id'))}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def _tampered(token: str) -> str:
    header, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["cognito:username"] = "mallory"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_every_kind_of_bad_token_is_401(site: Site, pool: UserPool) -> None:
    for name, token in _bad_tokens(pool).items():
        response = site.get("/profile", token)
        assert response.status_code == 401, name
        assert response.json() == {"message": "Unauthorized"}, name
        assert response.headers["x-amzn-ErrorType"] == "UnauthorizedException", name


def test_scopes_need_an_access_token_granting_one_of_them(site: Site, pool: UserPool) -> None:
    access = pool.token("access")  # scope: pets/read openid
    assert site.get("/pets", access).status_code == 200
    event = site.get("/pets", access).json()
    assert event["requestContext"]["authorizer"]["claims"]["scope"] == "pets/read openid"
    # None of /admin's scopes is granted: 401, as REST APIs answer a scope mismatch.
    refused = site.get("/admin", access)
    assert refused.status_code == 401 and refused.json() == {"message": "Unauthorized"}
    assert site.get("/admin", pool.token("access", scope="pets/admin")).status_code == 200
    # An ID token carries no scopes: methods with scopes refuse it.
    assert site.get("/pets", pool.token("id")).status_code == 401
    assert site.get("/pets", pool.token("access", scope=None)).status_code == 401


def test_identity_validation_expression_checks_the_audience(site: Site, pool: UserPool) -> None:
    assert site.get("/client", pool.token("id"), header="X-Id-Token").status_code == 401
    assert site.get("/client", pool.token("id", aud="other-client"), header="X-Id-Token").status_code == 200


def test_pools_not_configured_use_the_cognito_issuer(site: Site, pool: UserPool) -> None:
    # The pool is not named by --user-pool, so its issuer is cognito-idp's: loopback tokens do not match it.
    assert site.get("/elsewhere", pool.token("id")).status_code == 401


def test_rotated_keys_are_fetched_again(site: Site, pool: UserPool) -> None:
    assert site.get("/profile", pool.token("id")).status_code == 200
    pool.add_key("k2")  # the pool rotates: a token signed with the new key names a kid not yet fetched
    assert site.get("/profile", pool.token("id", kid="k2")).status_code == 200


def test_test_invoke_authorizer_with_a_user_pool(site: Site, pool: UserPool) -> None:
    apigw = site.gateway.client("apigateway")
    result = apigw.test_invoke_authorizer(
        restApiId=site.api.id, authorizerId=site.authorizer, headers={"Authorization": pool.token("id")}
    )
    assert result["clientStatus"] == 0
    assert result["claims"]["cognito:username"] == "ann"
    assert result["claims"]["email_verified"] == "true"
    expired = pool.token("id", exp=int(time.time()) - 5, iat=int(time.time()) - 100)
    refused = apigw.test_invoke_authorizer(
        restApiId=site.api.id, authorizerId=site.authorizer, headers={"Authorization": expired}
    )
    assert refused["clientStatus"] == 401 and "expired" in refused["log"]
    missing = apigw.test_invoke_authorizer(restApiId=site.api.id, authorizerId=site.authorizer, headers={})
    assert missing["clientStatus"] == 401


def test_user_pool_option_is_validated(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "apigate.cli", "serve", "--data-dir", str(tmp_path), "--user-pool", "nourl"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--user-pool expects POOL_ID=ISSUER_URL" in result.stderr
