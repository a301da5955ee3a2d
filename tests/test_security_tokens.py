"""Tokens as AWS checks them, and identity providers that cannot be used against us or through us.

- a JWT's audience is ``aud`` when the token has one, ``client_id`` only when it does not;
- scopes declared on a SAM authorizer apply to the routes that use it;
- made-up ``kid`` values do not turn into fetches at the issuer, concurrent waiters share one fetch, a failing
  or hung issuer is asked once and then left alone for a while (HTTP API JWT and REST Cognito authorizers).

The issuers here count every request they get; the "slow" one holds its answers on an event the test sets.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from helpers import GatewayProcess, RestApi, unique

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_STRANGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_HOLD_LIMIT = 60.0  # a held answer is released at the latest after this (the test's own safety net)


class CountingIssuer:
    """An OpenID provider on loopback that counts what it is asked. ``mode``: "ok" answers, "fail" answers
    500, "hold" answers only once ``release`` is set (``arrived`` is set when the first request waits)."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.discovery = 0
        self.jwks = 0
        self.arrived = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with issuer._lock:
                    if self.path.endswith("/.well-known/openid-configuration"):
                        issuer.discovery += 1
                    elif self.path.endswith("/.well-known/jwks.json"):
                        issuer.jwks += 1
                if issuer.mode == "hold":
                    issuer.arrived.set()
                    issuer.release.wait(_HOLD_LIMIT)
                if issuer.mode == "fail":
                    self._send(500, {"message": "down"})
                elif self.path.endswith("/.well-known/openid-configuration"):
                    self._send(200, {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/.well-known/jwks.json"})
                elif self.path.endswith("/.well-known/jwks.json"):
                    jwk = json.loads(RSAAlgorithm.to_jwk(_KEY.public_key()))
                    self._send(200, {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]})
                else:
                    self._send(404, {})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                try:
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # a held answer the gateway stopped waiting for (it timed out): expected

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{uuid.uuid4().hex[:8]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def requests(self) -> int:
        return self.discovery + self.jwks

    def token(self, kid: str = "k1", key: Any = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": "my-app", "sub": "user-1", "iat": now, "exp": now + 300, **claims}
        return jwt.encode(
            {k: v for k, v in body.items() if v is not None},
            key or _KEY,
            algorithm="RS256",
            headers={"kid": kid},
        )

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def issuer() -> Iterator[CountingIssuer]:
    provider = CountingIssuer()
    yield provider
    provider.close()


def jwt_api(gateway: GatewayProcess, upstream: str, issuer_url: str, audience: list[str]) -> str:
    """An HTTP API whose GET /me (HTTP_PROXY to the echo upstream) needs a JWT of ``issuer_url``."""
    v2 = gateway.client("apigatewayv2")
    api_id = v2.create_api(Name=unique("jwt-sec"), ProtocolType="HTTP")["ApiId"]
    authorizer = v2.create_authorizer(
        ApiId=api_id,
        Name="oidc",
        AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Issuer": issuer_url, "Audience": audience},
    )["AuthorizerId"]
    integration = v2.create_integration(
        ApiId=api_id,
        IntegrationType="HTTP_PROXY",
        IntegrationMethod="GET",
        IntegrationUri=f"{upstream}/me",
        PayloadFormatVersion="1.0",
    )["IntegrationId"]
    v2.create_route(
        ApiId=api_id,
        RouteKey="GET /me",
        Target=f"integrations/{integration}",
        AuthorizationType="JWT",
        AuthorizerId=authorizer,
    )
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    return f"{gateway.url}/_aws/execute-api/{api_id}/me"


def call(url: str, token: str, session: Any = requests) -> int:
    return int(session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code)


# --- audience --------------------------------------------------------------------------------------------


def test_aud_decides_and_client_id_counts_only_without_it(
    gateway: GatewayProcess, upstream: str, issuer: CountingIssuer
) -> None:
    url = jwt_api(gateway, upstream, issuer.url, ["my-app"])
    assert call(url, issuer.token()) == 200
    assert call(url, issuer.token(aud=None, client_id="my-app")) == 200  # an access token without aud
    # A wrong aud is not rescued by a matching client_id (it was, before).
    assert call(url, issuer.token(aud="someone-else", client_id="my-app")) == 401
    assert call(url, issuer.token(aud=["someone-else", "another"], client_id="my-app")) == 401
    assert call(url, issuer.token(aud=["someone-else", "my-app"])) == 200
    assert call(url, issuer.token(aud=None, client_id="someone-else")) == 401
    assert call(url, issuer.token(aud=None)) == 401  # neither


# --- kid floods, shared fetches, failing issuers ----------------------------------------------------------


def test_random_kids_do_not_turn_into_fetches(
    gateway: GatewayProcess, upstream: str, issuer: CountingIssuer
) -> None:
    url = jwt_api(gateway, upstream, issuer.url, ["my-app"])
    with requests.Session() as session:
        for _ in range(200):
            assert call(url, issuer.token(kid=uuid.uuid4().hex, key=_STRANGER), session) == 401
    # The first token fetched the keys; the few refetches of the issuer's budget followed, no more (it was
    # 400 requests). Discovery is not asked again while its document is fresh.
    assert issuer.discovery == 1
    assert issuer.jwks <= 4
    before = issuer.requests
    assert call(url, issuer.token()) == 200  # the issuer's real key still verifies, from the cache
    assert issuer.requests == before


def _send_all(url: str, tokens: list[str], sent: threading.Barrier) -> list[int]:
    """Every token in its own connection, all sent before any answer is read; the statuses, in order."""
    target = urlsplit(url)

    def one(token: str) -> int:
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=_HOLD_LIMIT)
        try:
            connection.request("GET", target.path, headers={"Authorization": f"Bearer {token}"})
            sent.wait(_HOLD_LIMIT)
            return connection.getresponse().status
        finally:
            connection.close()

    with ThreadPoolExecutor(len(tokens)) as pool:
        return list(pool.map(one, tokens))


def test_concurrent_waiters_share_one_fetch(gateway: GatewayProcess, upstream: str) -> None:
    issuer = CountingIssuer("hold")
    try:
        url = jwt_api(gateway, upstream, issuer.url, ["my-app"])
        tokens = [issuer.token(sub=f"u{n}") for n in range(10)]
        sent = threading.Barrier(len(tokens) + 1)
        statuses: list[int] = []
        runner = threading.Thread(target=lambda: statuses.extend(_send_all(url, tokens, sent)))
        runner.start()
        assert issuer.arrived.wait(_HOLD_LIMIT)  # the gateway is asking the issuer, which holds its answer
        sent.wait(_HOLD_LIMIT)  # every request is on its way
        issuer.mode = "ok"
        issuer.release.set()
        runner.join(_HOLD_LIMIT)
        assert statuses == [200] * 10
        assert (issuer.discovery, issuer.jwks) == (1, 1)  # one fetch answered every waiter
    finally:
        issuer.close()


def test_a_hung_issuer_is_asked_once_and_everyone_gets_401(gateway: GatewayProcess, upstream: str) -> None:
    issuer = CountingIssuer("hold")  # never released until the end: the gateway's fetch times out
    try:
        url = jwt_api(gateway, upstream, issuer.url, ["my-app"])
        tokens = [issuer.token(sub=f"u{n}") for n in range(10)]
        sent = threading.Barrier(len(tokens) + 1)
        statuses: list[int] = []
        runner = threading.Thread(target=lambda: statuses.extend(_send_all(url, tokens, sent)))
        runner.start()
        sent.wait(_HOLD_LIMIT)
        runner.join(_HOLD_LIMIT)
        assert statuses == [401] * 10
        # One request: the discovery document, which never came; no JWKS fallback for an issuer that is down.
        assert issuer.requests == 1
        # Meanwhile (the failure is remembered) more tokens are refused without asking again (one more
        # attempt at most, should the remembered failure have run out on a very slow machine).
        for token in tokens:
            assert call(url, token) == 401
        assert issuer.requests <= 2
    finally:
        issuer.close()


def test_a_failing_issuer_is_not_hammered(gateway: GatewayProcess, upstream: str) -> None:
    issuer = CountingIssuer("fail")
    try:
        url = jwt_api(gateway, upstream, issuer.url, ["my-app"])
        with requests.Session() as session:
            for n in range(50):
                assert call(url, issuer.token(sub=f"u{n}"), session) == 401
                assert call(url, issuer.token(kid=uuid.uuid4().hex), session) == 401
        # Discovery answered 500, so the JWKS at its well-known place was tried too; then nothing for a while
        # (the failure is remembered; a second attempt at most, should that run out on a very slow machine).
        assert issuer.discovery == issuer.jwks
        assert 1 <= issuer.discovery <= 2
    finally:
        issuer.close()


POOL = "eu-west-1_Sec0Rity"


@pytest.fixture(scope="module")
def pool_issuer() -> Iterator[CountingIssuer]:
    provider = CountingIssuer()
    yield provider
    provider.close()


@pytest.fixture(scope="module")
def cognito_url(tmp_path_factory: pytest.TempPathFactory, pool_issuer: CountingIssuer) -> Iterator[str]:
    """A REST API whose GET /profile (MOCK) needs an ID token of the user pool served by ``pool_issuer``."""
    process = GatewayProcess(
        tmp_path_factory.mktemp("cognito-sec"), ["--user-pool", f"{POOL}={pool_issuer.url}"]
    )
    process.start()
    try:
        apigw = process.client("apigateway")
        api = RestApi(apigw, unique("cognito-sec"))
        authorizer = apigw.create_authorizer(
            restApiId=api.id,
            name="pool",
            type="COGNITO_USER_POOLS",
            providerARNs=[f"arn:aws:cognito-idp:eu-west-1:000000000000:userpool/{POOL}"],
            identitySource="method.request.header.Authorization",
        )["id"]
        api.mock("/profile", "GET", '{"ok": true}')
        apigw.update_method(
            restApiId=api.id,
            resourceId=api.resource("/profile"),
            httpMethod="GET",
            patchOperations=[
                {"op": "replace", "path": "/authorizationType", "value": "COGNITO_USER_POOLS"},
                {"op": "replace", "path": "/authorizerId", "value": authorizer},
            ],
        )
        api.deploy("test")
        yield process.invoke_url(api.id, "test", "/profile")
    finally:
        process.stop()


def test_random_kids_through_a_cognito_authorizer(cognito_url: str, pool_issuer: CountingIssuer) -> None:
    with requests.Session() as session:
        for _ in range(200):
            token = pool_issuer.token(kid=uuid.uuid4().hex, key=_STRANGER, token_use="id")
            assert call(cognito_url, token, session) == 401
    assert pool_issuer.discovery == 1
    assert pool_issuer.jwks <= 4
    before = pool_issuer.requests
    assert call(cognito_url, pool_issuer.token(token_use="id")) == 200
    assert pool_issuer.requests == before


# --- scopes declared on a SAM authorizer ------------------------------------------------------------------

SAM_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Oidc
        Authorizers:
          Oidc:
            IdentitySource: $request.header.Authorization
            AuthorizationScopes: [admin]
            JwtConfiguration:
              issuer: {issuer}
              audience: [my-app]
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      CodeUri: src/
      Handler: app.handler
      Events:
        Admin:
          Type: HttpApi
          Properties: {{ApiId: !Ref Api, Path: /admin, Method: get}}
        Reports:
          Type: HttpApi
          Properties: {{ApiId: !Ref Api, Path: /reports, Method: get, Auth: {{AuthorizationScopes: [reports]}}}}
"""

SAM_CODE = """
def handler(event, context):
    return {"statusCode": 200, "body": event["routeKey"]}
"""


def test_sam_authorizer_scopes_apply_to_its_routes(tmp_path: Path, issuer: CountingIssuer) -> None:
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "src" / "app.py").write_text(SAM_CODE)
    (app / "template.yaml").write_text(SAM_TEMPLATE.format(issuer=issuer.url))
    gateway = GatewayProcess(tmp_path / "data", [str(app / "template.yaml"), "--no-watch"])
    gateway.start()
    try:
        v2 = gateway.client("apigatewayv2")
        api_id = v2.get_apis()["Items"][0]["ApiId"]
        scopes = {r["RouteKey"]: r.get("AuthorizationScopes") for r in v2.get_routes(ApiId=api_id)["Items"]}
        assert scopes == {"GET /admin": ["admin"], "GET /reports": ["reports"]}
        base = gateway.invoke_url(api_id, "$default").replace("/$default/", "/")
        # The authorizer's scopes guard the route that names none of its own.
        assert call(f"{base}admin", issuer.token()) == 403
        assert call(f"{base}admin", issuer.token(scope="read")) == 403
        assert call(f"{base}admin", issuer.token(scope="read admin")) == 200
        # A route's own scopes replace the authorizer's.
        assert call(f"{base}reports", issuer.token(scope="admin")) == 403
        assert call(f"{base}reports", issuer.token(scope="reports")) == 200
    finally:
        gateway.stop()


# --- the JWKS cache's rules, in process (a fake issuer and a fake clock: no waiting on real time) ----------


class _FakeIssuer:
    """Stands in for the upstream pool: answers discovery and JWKS for one key set, counts, can fail or
    hold its answers on an asyncio event."""

    def __init__(self) -> None:
        self.kids = ["k1"]
        self.calls: list[str] = []
        self.failing = False
        self.gate: Any = None  # an asyncio.Event to hold answers on, or None
        self.arrived: Any = None  # an asyncio.Event set when a request arrives, or None

    async def request(self, method: str, url: str, headers: Any, body: bytes, *, timeout: float) -> Any:
        from apigate.server.upstream import UpstreamResponse, UpstreamTimeout

        self.calls.append(url.rsplit("/", 1)[-1])
        if self.arrived is not None:
            self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failing:
            raise UpstreamTimeout("the issuer did not answer")
        if url.endswith("openid-configuration"):
            document: dict[str, Any] = {"jwks_uri": "https://issuer.example/keys/jwks.json"}
        else:
            jwk = json.loads(RSAAlgorithm.to_jwk(_KEY.public_key()))
            document = {"keys": [{**jwk, "kid": kid} for kid in self.kids]}
        return UpstreamResponse(200, "OK", [], json.dumps(document).encode())


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _keys(fake: _FakeIssuer, clock: _Clock) -> Any:
    from apigate.dataplane.signing_keys import SigningKeys

    return SigningKeys(fake, clock=clock)  # type: ignore[arg-type]


ISSUER = "https://issuer.example"


def test_refetch_budget_refills_with_time_whatever_the_kid() -> None:
    import asyncio

    async def body() -> None:
        fake, clock = _FakeIssuer(), _Clock()
        keys = _keys(fake, clock)
        for n in range(50):
            assert await keys.key(ISSUER, f"made-up-{n}") is None
        assert fake.calls == ["openid-configuration", "jwks.json", "jwks.json", "jwks.json"]
        assert await keys.key(ISSUER, "k1") is not None  # the real key is served all along
        clock.now += 29.0
        assert await keys.key(ISSUER, "made-up-again") is None
        assert len(fake.calls) == 4  # not yet a whole fetch's worth of budget back
        clock.now += 1.0
        fake.kids.append("k2")  # the issuer rotates in a key: the regained fetch finds it
        assert await keys.key(ISSUER, "k2") is not None
        assert fake.calls[4:] == ["jwks.json"]
        assert await keys.key(ISSUER, "made-up-later") is None
        assert len(fake.calls) == 5

    asyncio.run(body())


def test_a_rotated_key_is_found_at_once_when_the_budget_allows() -> None:
    import asyncio

    async def body() -> None:
        fake, clock = _FakeIssuer(), _Clock()
        keys = _keys(fake, clock)
        assert await keys.key(ISSUER, "k1") is not None
        fake.kids.append("k2")
        assert await keys.key(ISSUER, "k2") is not None
        assert fake.calls == ["openid-configuration", "jwks.json", "jwks.json"]

    asyncio.run(body())


def test_failures_are_remembered_briefly() -> None:
    import asyncio

    async def body() -> None:
        fake, clock = _FakeIssuer(), _Clock()
        fake.failing = True
        keys = _keys(fake, clock)
        assert await keys.key(ISSUER, "k1") is None
        assert fake.calls == ["openid-configuration"]  # down: the JWKS fallback is not tried as well
        clock.now += 9.0
        for _ in range(20):
            assert await keys.key(ISSUER, "k1") is None
        assert len(fake.calls) == 1
        clock.now += 1.0
        fake.failing = False
        assert await keys.key(ISSUER, "k1") is not None
        assert fake.calls[1:] == ["openid-configuration", "jwks.json"]

    asyncio.run(body())


def test_waiters_share_one_fetch_and_a_leaving_waiter_does_not_cancel_it() -> None:
    import asyncio

    async def body() -> None:
        fake, clock = _FakeIssuer(), _Clock()
        fake.gate, fake.arrived = asyncio.Event(), asyncio.Event()
        keys = _keys(fake, clock)
        waiters = [asyncio.ensure_future(keys.key(ISSUER, "k1")) for _ in range(10)]
        leaver = asyncio.ensure_future(keys.key(ISSUER, "k1"))
        await fake.arrived.wait()  # the one fetch is at the issuer, every waiter waiting on it
        leaver.cancel()  # its client hung up
        fake.gate.set()
        results = await asyncio.gather(*waiters)
        assert all(result is not None for result in results)
        assert leaver.cancelled()
        assert fake.calls == ["openid-configuration", "jwks.json"]

    asyncio.run(body())


def test_stale_keys_serve_while_a_background_fetch_renews_them() -> None:
    import asyncio

    async def body() -> None:
        fake, clock = _FakeIssuer(), _Clock()
        keys = _keys(fake, clock)
        first = await keys.key(ISSUER, "k1")
        clock.now += 3600.0  # the keys' time to live is over, and the issuer is down now
        fake.failing = True
        fake.gate = asyncio.Event()
        assert await keys.key(ISSUER, "k1") is first  # served at once, not after the fetch
        assert len(fake.calls) == 2
        fake.gate.set()
        # An unknown kid waits for the fetch in flight (the renewal) and shares its result: nothing.
        assert await keys.key(ISSUER, "unknown") is None
        assert fake.calls[2:] == ["openid-configuration"]  # the discovery document was as old as the keys
        assert await keys.key(ISSUER, "k1") is first  # the failed renewal keeps the old keys
        assert len(fake.calls) == 3  # and is remembered

    asyncio.run(body())


# --- scopes declared once for a whole OpenAPI definition ---------------------------------------------------


def test_openapi_top_level_scopes_apply_to_routes_without_their_own(
    gateway: GatewayProcess, upstream: str, issuer: CountingIssuer
) -> None:
    integration = {
        "type": "http_proxy",
        "httpMethod": "GET",
        "uri": f"{upstream}/x",
        "payloadFormatVersion": "1.0",
    }
    body = {
        "openapi": "3.0.1",
        "info": {"title": unique("scoped"), "version": "1"},
        "security": [{"oidc": ["admin"]}],
        "components": {
            "securitySchemes": {
                "oidc": {
                    "type": "oauth2",
                    "flows": {},
                    "x-amazon-apigateway-authorizer": {
                        "type": "jwt",
                        "identitySource": "$request.header.Authorization",
                        "jwtConfiguration": {"issuer": issuer.url, "audience": ["my-app"]},
                    },
                }
            }
        },
        "paths": {
            "/admin": {"get": {"x-amazon-apigateway-integration": integration}},
            "/reports": {
                "get": {"security": [{"oidc": ["reports"]}], "x-amazon-apigateway-integration": integration}
            },
        },
    }
    v2 = gateway.client("apigatewayv2")
    api_id = v2.import_api(Body=json.dumps(body))["ApiId"]
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    base = f"{gateway.url}/_aws/execute-api/{api_id}"
    assert call(f"{base}/admin", issuer.token(scope="read")) == 403
    assert call(f"{base}/admin", issuer.token(scope="admin")) == 200
    assert call(f"{base}/reports", issuer.token(scope="admin")) == 403
    assert call(f"{base}/reports", issuer.token(scope="reports")) == 200


def test_sam_rest_authorizer_scopes_as_aws_transform_writes_them(tmp_path: Path) -> None:
    """AWS's transform for REST APIs: an event without scopes gets the authorizer's, an event's own list (even
    an empty one, which clears them) wins."""
    from apigate.declarative.translator import translate

    template = {
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "Api": {
                "Type": "AWS::Serverless::Api",
                "Properties": {
                    "StageName": "prod",
                    "Auth": {
                        "DefaultAuthorizer": "Pool",
                        "Authorizers": {
                            "Pool": {
                                "UserPoolArn": "arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_X",
                                "AuthorizationScopes": ["admin"],
                            }
                        },
                    },
                },
            },
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Runtime": "python3.12",
                    "Handler": "app.handler",
                    "CodeUri": "src/",
                    "Events": {
                        "Plain": {
                            "Type": "Api",
                            "Properties": {"RestApiId": {"Ref": "Api"}, "Path": "/a", "Method": "get"},
                        },
                        "Empty": {
                            "Type": "Api",
                            "Properties": {
                                "RestApiId": {"Ref": "Api"},
                                "Path": "/b",
                                "Method": "get",
                                "Auth": {"Authorizer": "Pool", "AuthorizationScopes": []},
                            },
                        },
                        "Own": {
                            "Type": "Api",
                            "Properties": {
                                "RestApiId": {"Ref": "Api"},
                                "Path": "/c",
                                "Method": "get",
                                "Auth": {"Authorizer": "Pool", "AuthorizationScopes": ["reports"]},
                            },
                        },
                    },
                },
            },
        },
    }
    (tmp_path / "src").mkdir()
    out = translate(template, {}, tmp_path / "template.yaml", "us-east-1")  # AWS's own transform
    paths = out["Resources"]["Api"]["Properties"]["Body"]["paths"]
    assert paths["/a"]["get"]["security"] == [{"Pool": ["admin"]}]
    assert paths["/b"]["get"]["security"] == [{"Pool": []}]
    assert paths["/c"]["get"]["security"] == [{"Pool": ["reports"]}]
