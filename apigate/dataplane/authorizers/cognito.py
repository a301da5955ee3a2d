"""Cognito user pool authorizers of REST APIs: the pool's RS256 tokens, checked as API Gateway checks them.

An ID token is expected when the method names no ``authorizationScopes``; with scopes, an access token whose
``scope`` holds one of them. Anything else is a 401. A pool's issuer is
``https://cognito-idp.{region}.amazonaws.com/{pool id}`` unless ``apigate serve --user-pool ID=URL`` says
otherwise; its keys come from the issuer's ``/.well-known/jwks.json``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import jwt
import orjson

from apigate.dataplane.authorizers.cache import AuthorizerCache
from apigate.dataplane.authorizers.identity import identity_values
from apigate.dataplane.authorizers.result import AuthResult
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.dataplane.signing_keys import SigningKeys
from apigate.model import RestAuthorizer

_DATES = frozenset({"exp", "iat", "nbf"})  # printed the way Java prints a Date, as AWS shows them


def default_issuer(region: str, pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def _unauthorized(inv: Invocation, why: str) -> GatewayError:
    inv.log(f"Unauthorized request: {why}")
    return GatewayError(ResponseType.UNAUTHORIZED)


def stringified_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as REST APIs pass them on: dates as text, arrays comma-joined, booleans lower-case."""
    out: dict[str, str] = {}
    for name, value in claims.items():
        if isinstance(value, str):
            out[name] = value
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif name in _DATES and isinstance(value, int | float):
            out[name] = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(value))
        elif isinstance(value, list):
            out[name] = ",".join(str(item) for item in value)
        elif isinstance(value, dict):
            out[name] = orjson.dumps(value).decode()
        else:
            out[name] = str(value)
    return out


class CognitoAuthorizer:
    __slots__ = ("_cache", "_keys", "_pools")

    def __init__(
        self, cache: AuthorizerCache, keys: SigningKeys | None, user_pools: Mapping[str, str]
    ) -> None:
        self._cache = cache
        self._keys = keys
        self._pools = dict(user_pools)  # pool id -> issuer URL, from `apigate serve --user-pool`

    def issuers(self, authorizer: RestAuthorizer) -> list[str]:
        return [
            self._pools.get(pool) or default_issuer(region, pool) for region, pool in authorizer.user_pools
        ]

    async def authorize(self, inv: Invocation, authorizer: RestAuthorizer) -> AuthResult:
        values = identity_values(inv, authorizer)
        if values is None:
            raise _unauthorized(inv, "the token is missing")
        token = values[0]
        api = inv.api
        stage = (api.api_id, api.stage)
        key = (authorizer.id, api.deployment_id, token)
        result = self._cache.get(stage, key) if authorizer.ttl_seconds else None
        if result is None:
            claims = await self.verify(inv, authorizer, token)
            result = AuthResult(None, {}, claims=stringified_claims(claims))
            if authorizer.ttl_seconds:
                # Never past the token's own expiry: a cached token must not outlive its exp.
                ttl = min(float(authorizer.ttl_seconds), float(claims["exp"]) - time.time())
                if ttl > 0:
                    self._cache.put(stage, key, result, ttl)
        assert result.claims is not None
        _check_use(inv, result.claims, inv.method.authorization_scopes if inv.method else ())
        return result

    async def verify(self, inv: Invocation, authorizer: RestAuthorizer, token: str) -> dict[str, Any]:
        """The token's claims once its signature, issuer, times and audience check out; raises 401."""
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise _unauthorized(inv, "the token is not a JWT") from None
        if header.get("alg") != "RS256":  # Cognito signs with RS256 only; "none" and HMAC are refused
            raise _unauthorized(inv, "the token's algorithm is not RS256")
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or issuer not in self.issuers(authorizer):
            raise _unauthorized(inv, "the token was not issued by a user pool of this authorizer")
        kid = str(header.get("kid") or "")
        key = None if self._keys is None else await self._keys.key(issuer, kid)
        if key is None:
            raise _unauthorized(inv, "the token's signing key is not one the user pool publishes")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                issuer=issuer,
                options={"verify_aud": False, "require": ["exp", "iss", "token_use"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized(inv, "the token has expired") from None
        except jwt.PyJWTError as exc:
            raise _unauthorized(inv, f"the token is not valid ({exc})") from None
        if claims.get("token_use") not in ("id", "access"):
            raise _unauthorized(inv, "token_use is neither id nor access")
        if authorizer.validation is not None:
            audience = claims.get("aud")
            if not isinstance(audience, str) or authorizer.validation.fullmatch(audience) is None:
                raise _unauthorized(inv, "the token's audience does not match the validation expression")
        return claims


def _check_use(inv: Invocation, claims: Mapping[str, str], scopes: tuple[str, ...]) -> None:
    """Without method scopes an ID token is expected; with them, an access token granting one of them."""
    use = claims.get("token_use")
    if not scopes:
        if use != "id":
            raise _unauthorized(inv, "the method expects an ID token")
        return
    if use != "access":
        raise _unauthorized(inv, "the method's scopes need an access token")
    granted = set((claims.get("scope") or "").split())
    if not granted.intersection(scopes):
        raise _unauthorized(inv, "the access token grants none of the method's scopes")
