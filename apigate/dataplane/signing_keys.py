"""Token signing keys per issuer: fetched from its OIDC discovery (or its JWKS), cached, refetched on rotation.

Shared by the HTTP API's JWT authorizers and the REST API's Cognito user pool authorizers: both verify RS256
tokens against the keys an issuer publishes, and both must not let a stream of bad ``kid`` values turn into a
stream of fetches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import jwt
import orjson

from apigate.server.upstream import UpstreamError, UpstreamPool

log = logging.getLogger("apigate.dataplane")

_FETCH_TIMEOUT = 1.5  # AWS's JWKS and discovery timeout
_KEYS_TTL = 3600.0  # signing keys are cached for up to an hour
_UNKNOWN_KID_TTL = 60.0  # a kid the refetched keys did not have either is not looked up again for this long
_UNKNOWN_KIDS_MAX = 1_000


class _Keys:
    __slots__ = ("fetched", "keys", "unknown")

    def __init__(self, keys: dict[str, Any], fetched: float) -> None:
        self.keys = keys
        self.fetched = fetched
        self.unknown: dict[str, float] = {}  # kid -> when a refetch last failed to find it


class SigningKeys:
    """RSA public keys by issuer and ``kid``; an unknown ``kid`` refetches the issuer's keys once."""

    def __init__(self, upstream: UpstreamPool) -> None:
        self._upstream = upstream
        self._keys: dict[str, _Keys] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def key(self, issuer: str, kid: str) -> Any:
        """The key, or None when the issuer does not publish it (or cannot be reached)."""
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
