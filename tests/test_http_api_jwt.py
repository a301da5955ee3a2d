"""JWT authorizers on HTTP APIs: OIDC discovery and JWKS from a real issuer on loopback, real RSA keys."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from helpers import GatewayProcess, TokenIssuer, create_function

ECHO_V2 = """
import json
def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
"""


class Issuer(TokenIssuer):
    """An OpenID provider: discovery document, a JWKS whose keys can rotate, and a count of JWKS fetches."""

    def token(self, kid: str = "k1", key: Any = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": "my-app", "sub": "user-1", "iat": now, "exp": now + 300, **claims}
        return self.sign(body, kid, key)


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    provider = Issuer()
    yield provider
    provider.close()


@pytest.fixture(scope="module")
def secured(gateway: GatewayProcess, lam: Any, issuer: Issuer) -> str:
    v2 = gateway.client("apigatewayv2")
    function = create_function(lam, ECHO_V2)
    api_id = v2.create_api(Name="jwt", ProtocolType="HTTP")["ApiId"]
    authorizer = v2.create_authorizer(
        ApiId=api_id,
        Name="oidc",
        AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": issuer.url, "Audience": ["my-app", "other-app"]},
    )["AuthorizerId"]
    assert (
        v2.get_authorizer(ApiId=api_id, AuthorizerId=authorizer)["JwtConfiguration"]["Issuer"] == issuer.url
    )
    integration = v2.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=f"arn:aws:lambda:us-east-1:000000000000:function:{function}",
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    target = f"integrations/{integration}"
    v2.create_route(
        ApiId=api_id, RouteKey="GET /me", Target=target, AuthorizationType="JWT", AuthorizerId=authorizer
    )
    v2.create_route(
        ApiId=api_id,
        RouteKey="GET /admin",
        Target=target,
        AuthorizationType="JWT",
        AuthorizerId=authorizer,
        AuthorizationScopes=["admin", "root"],
    )
    v2.create_route(ApiId=api_id, RouteKey="GET /open", Target=target)
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    return f"{gateway.url}/_aws/execute-api/{api_id}"


def call(url: str, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.get(url, headers=headers, timeout=10)


def test_valid_token_passes_claims(secured: str, issuer: Issuer) -> None:
    answer = call(f"{secured}/me", issuer.token(scope="read write"))
    assert answer.status_code == 200
    authorizer = answer.json()["requestContext"]["authorizer"]
    assert authorizer["jwt"]["claims"]["sub"] == "user-1"
    assert authorizer["jwt"]["claims"]["iss"] == issuer.url
    assert authorizer["jwt"]["scopes"] == ["read", "write"]
    # without the Bearer prefix too; a client_id instead of aud
    assert call(f"{secured}/me", None).status_code == 401
    bare = requests.get(f"{secured}/me", headers={"Authorization": issuer.token()}, timeout=10)
    assert bare.status_code == 200
    client = call(f"{secured}/me", issuer.token(aud=None, client_id="other-app"))
    assert client.status_code == 200
    assert call(f"{secured}/open", None).status_code == 200


def _alg_none(issuer: Issuer) -> str:
    return jwt.encode(
        {"iss": issuer.url, "aud": "my-app", "exp": int(time.time()) + 300},
        None,
        algorithm="none",
        headers={"kid": "k1"},
    )


def test_bad_tokens_are_unauthorized(secured: str, issuer: Issuer) -> None:
    now = int(time.time())
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = {
        "expired": issuer.token(exp=now - 10, iat=now - 400),
        "not yet valid": issuer.token(nbf=now + 600),
        "issued in the future": issuer.token(iat=now + 600),
        "wrong signature": issuer.token(key=stranger),
        "alg none": _alg_none(issuer),
        "wrong issuer": issuer.token(iss="https://evil.example.com"),
        "wrong audience": issuer.token(aud="someone-else"),
        "no exp": issuer.token(exp=None),
        "unknown kid": issuer.token(kid="nobody", key=stranger),
        "garbage": "not.a.jwt",
        "empty": "",
    }
    for why, token in bad.items():
        answer = call(f"{secured}/me", token)
        assert answer.status_code == 401, why
        assert answer.json() == {"message": "Unauthorized"}, why


def test_route_scopes(secured: str, issuer: Issuer) -> None:
    assert call(f"{secured}/admin", issuer.token(scope="read root")).status_code == 200
    assert call(f"{secured}/admin", issuer.token(scp=["admin"])).status_code == 200
    missing = call(f"{secured}/admin", issuer.token(scope="read"))
    assert missing.status_code == 403 and missing.json() == {"message": "Forbidden"}
    assert call(f"{secured}/admin", issuer.token()).status_code == 403


def test_keys_cached_and_refetched_on_unknown_kid(secured: str, issuer: Issuer) -> None:
    assert call(f"{secured}/me", issuer.token(sub="cache-1")).status_code == 200
    fetches = issuer.jwks_fetches
    for n in range(3):
        assert call(f"{secured}/me", issuer.token(sub=f"cache-{n + 2}")).status_code == 200
    assert issuer.jwks_fetches == fetches  # the keys came from the cache
    issuer.add_key("k2")  # the provider rotates in a new key
    rotated = call(f"{secured}/me", issuer.token(kid="k2"))
    assert rotated.status_code == 200
    assert issuer.jwks_fetches == fetches + 1
