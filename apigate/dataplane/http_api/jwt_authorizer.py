"""JWT authorizers: keys from the issuer's OIDC discovery (or its JWKS), RS256, claims as AWS checks them."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import jwt
import orjson

from apigate.dataplane.http_api.responses import HttpApiError, forbidden
from apigate.model.http import JwtAuthorizer
from apigate.server.upstream import UpstreamError, UpstreamPool

log = logging.getLogger("apigate.dataplane")

_FETCH_TIMEOUT = 1.5  # AWS's JWKS and discovery timeout
_KEYS_TTL = 3600.0  # signing keys are cached for up to an hour
_UNKNOWN_KID_TTL = 60.0  # a kid the refetched keys did not have either is not looked up again for this long
_UNKNOWN_KIDS_MAX = 1_000
_TOKEN_CACHE_MAX = 10_000


def _unauthorized(description: str) -> HttpApiError:
    challenge = f'Bearer scope="" error="invalid_token" error_description="{description}"'
    return HttpApiError(401, "Unauthorized", [("www-authenticate", challenge)])


class _Keys:
    __slots__ = ("fetched", "keys", "unknown")

    def __init__(self, keys: dict[str, Any], fetched: float) -> None:
        self.keys = keys
        self.fetched = fetched
        self.unknown: dict[str, float] = {}  # kid -> when a refetch last failed to find it


class JwtVerifier:
    """Signing keys per issuer, refetched when an unknown ``kid`` shows up; verified tokens until ``exp``."""

    def __init__(self, upstream: UpstreamPool) -> None:
        self._upstream = upstream
        self._keys: dict[str, _Keys] = {}
        self._locks: dict[str, asyncio.Lock] = {}
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
        key = await self._key(authorizer.issuer, kid)
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
        audiences = claims.get("aud")
        if isinstance(audiences, str):
            audiences = [audiences]
        if not isinstance(audiences, list):
            audiences = []
        client_id = claims.get("client_id")
        if client_id is not None:
            audiences = [*audiences, client_id]
        if authorizer.audience and not set(authorizer.audience) & {str(a) for a in audiences}:
            raise _unauthorized("the token does not have a valid audience")
        return claims

    async def _key(self, issuer: str, kid: str) -> Any:
        entry = self._keys.get(issuer)
        now = time.monotonic()
        if entry is not None and now - entry.fetched < _KEYS_TTL and kid in entry.keys:
            return entry.keys[kid]
        lock = self._locks.setdefault(issuer, asyncio.Lock())
        async with lock:
            entry = self._keys.get(issuer)
            now = time.monotonic()
            stale = entry is None or now - entry.fetched >= _KEYS_TTL
            if entry is not None and kid in entry.keys and not stale:
                return entry.keys[kid]
            # An unknown kid refetches the keys (rotation), once: a kid still unknown after that is remembered.
            if (
                entry is not None
                and not stale
                and now - entry.unknown.get(kid, -_UNKNOWN_KID_TTL) < _UNKNOWN_KID_TTL
            ):
                return None
            keys = await self._fetch_keys(issuer)
            if keys is not None:
                unknown = (
                    entry.unknown if entry is not None and len(entry.unknown) < _UNKNOWN_KIDS_MAX else {}
                )
                entry = _Keys(keys, now)
                entry.unknown = unknown
                self._keys[issuer] = entry
            if entry is None:
                return None
            key = entry.keys.get(kid)
            if key is None:
                entry.unknown[kid] = now
            return key

    async def _get_json(self, url: str) -> Any:
        try:
            answer = await self._upstream.request(
                "GET", url, [("Accept", "application/json")], b"", timeout=_FETCH_TIMEOUT
            )
        except UpstreamError as exc:
            log.warning("JWT authorizer: fetching %s failed: %s", url, exc)
            return None
        if answer.status != 200:
            log.warning("JWT authorizer: %s answered %s", url, answer.status)
            return None
        try:
            return orjson.loads(answer.body)
        except orjson.JSONDecodeError:
            return None

    async def _fetch_keys(self, issuer: str) -> dict[str, Any] | None:
        base = issuer.rstrip("/")
        document = await self._get_json(f"{base}/.well-known/openid-configuration")
        jwks_uri = document.get("jwks_uri") if isinstance(document, dict) else None
        jwks = await self._get_json(
            jwks_uri if isinstance(jwks_uri, str) else f"{base}/.well-known/jwks.json"
        )
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            return None
        keys: dict[str, Any] = {}
        for item in jwks["keys"]:
            if not isinstance(item, dict) or item.get("kty") != "RSA" or item.get("use", "sig") != "sig":
                continue
            try:
                keys[str(item.get("kid") or "")] = jwt.PyJWK(item, algorithm="RS256").key
            except jwt.PyJWTError:
                continue
        return keys


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
