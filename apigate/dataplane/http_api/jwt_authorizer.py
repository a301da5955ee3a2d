"""JWT authorizers: keys from the issuer's OIDC discovery (or its JWKS), RS256, claims as AWS checks them."""

from __future__ import annotations

import time
from typing import Any

import jwt
import orjson

from apigate.dataplane.http_api.responses import HttpApiError, forbidden
from apigate.dataplane.local_issuers import LocalIssuers
from apigate.dataplane.signing_keys import SigningKeys
from apigate.model.http import JwtAuthorizer
from apigate.server.upstream import UpstreamPool

_TOKEN_CACHE_MAX = 10_000


def _unauthorized(description: str) -> HttpApiError:
    challenge = f'Bearer scope="" error="invalid_token" error_description="{description}"'
    return HttpApiError(401, "Unauthorized", [("www-authenticate", challenge)])


class JwtVerifier:
    """Signing keys per issuer, refetched when an unknown ``kid`` shows up; verified tokens until ``exp``."""

    def __init__(self, upstream: UpstreamPool, local: LocalIssuers | None = None) -> None:
        self._keys = SigningKeys(upstream, local=local)
        self._verified: dict[tuple[str, str], tuple[dict[str, Any], float]] = {}

    async def authorize(self, authorizer: JwtAuthorizer, token: str | None, scopes: tuple[str, ...]) -> Any:
        """The ``requestContext.authorizer`` value; raises 401 or (missing scope) 403."""
        if not token:
            raise _unauthorized("the token is missing")
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        # The configuration is part of the key: a redeployed authorizer re-verifies what it accepted before.
        cache_key = ("\0".join((authorizer.id, authorizer.issuer, *authorizer.audience)), token)
        cached = self._verified.get(cache_key)
        now = time.time()
        if cached is not None and cached[1] > now:
            claims = cached[0]
        else:
            claims = await self._verify(authorizer, token)
            if len(self._verified) >= _TOKEN_CACHE_MAX:
                self._verified.clear()
            self._verified[cache_key] = (claims, float(claims["exp"]))
        granted = _scopes(claims)
        if scopes and not set(scopes) & set(granted):
            raise forbidden()
        return {"jwt": {"claims": _stringified(claims), "scopes": granted or None}}

    async def _verify(self, authorizer: JwtAuthorizer, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _unauthorized("the token is malformed") from None
        if header.get("alg") != "RS256":
            raise _unauthorized("the token's algorithm is not supported")
        kid = str(header.get("kid") or "")
        key = await self._keys.key(authorizer.issuer, kid)
        if key is None:
            raise _unauthorized("the token's signing key was not found")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                issuer=authorizer.issuer,
                options={"verify_aud": False, "require": ["exp", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("the token has expired") from None
        except jwt.InvalidIssuerError:
            raise _unauthorized("the token does not have a valid issuer") from None
        except jwt.PyJWTError:
            raise _unauthorized("the token is not valid") from None
        if authorizer.audience and not set(authorizer.audience) & _audiences(claims):
            raise _unauthorized("the token does not have a valid audience")
        return claims


def _audiences(claims: dict[str, Any]) -> set[str]:
    """What AWS compares with the configured audience: ``aud`` when the token has one, and ``client_id``
    only when it does not (an access token of Cognito carries ``client_id`` instead of ``aud``)."""
    value = claims["aud"] if "aud" in claims else claims.get("client_id")
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {item for item in value if isinstance(item, str)}
    return set()


def _scopes(claims: dict[str, Any]) -> list[str]:
    value = claims.get("scope", claims.get("scp"))
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def _stringified(claims: dict[str, Any]) -> dict[str, str]:
    """AWS passes claims as strings: numbers as text, arrays in brackets."""
    out: dict[str, str] = {}
    for name, value in claims.items():
        if isinstance(value, str):
            out[name] = value
        elif isinstance(value, list):
            out[name] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = orjson.dumps(value).decode() if isinstance(value, dict) else str(value)
    return out
