"""Token signing keys per issuer: fetched from its OIDC discovery (or its JWKS), cached, refetched on rotation.

Shared by the HTTP API's JWT authorizers and the REST API's Cognito user pool authorizers: both verify RS256
tokens against the keys an issuer publishes. Tokens come from anyone, so their ``kid`` must not steer our
traffic to the issuer:

- fetches of one issuer draw on a small budget that refills with time, whatever ``kid`` asks for them (a stream
  of made-up ``kid`` values costs the issuer a few fetches, not one each), yet a rotated key is picked up at once
  when the budget has not just been spent;
- at most one fetch per issuer is in flight: everyone waiting for that issuer shares it and its result;
- a failed fetch is remembered briefly, and meanwhile tokens that need a fetch are refused at once (401);
- keys past their time to live keep verifying while one background fetch renews them, so an issuer's outage
  does not become ours.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import jwt
import orjson

from apigate.dataplane.local_issuers import LocalIssuers
from apigate.server.upstream import UpstreamError, UpstreamPool

__all__ = ["SigningKeys"]

log = logging.getLogger("apigate.dataplane")

_FETCH_TIMEOUT = 1.5  # AWS's JWKS and discovery timeout
_KEYS_TTL = 3600.0  # signing keys (and the discovery document's jwks_uri) are renewed after an hour
_BURST = 3  # fetches an issuer's budget holds: the first, and two refetches for rotated keys
_REFILL = 30.0  # seconds per fetch the budget regains
_FAILURE_TTL = 10.0  # after a failed fetch, no other for this long


class _Issuer:
    """What we know of one issuer, and the fetch of its keys in flight (if any)."""

    __slots__ = ("budget", "failed_at", "fetched_at", "inflight", "jwks_uri", "keys", "refilled_at")

    def __init__(self, now: float) -> None:
        self.keys: dict[str, Any] = {}
        self.fetched_at: float | None = None  # when ``keys`` were fetched; None: never
        self.jwks_uri: str | None = None  # from the discovery document fetched with ``keys``
        self.failed_at: float | None = None  # when the last fetch failed; None: it did not
        self.budget = float(_BURST)
        self.refilled_at = now
        self.inflight: asyncio.Task[None] | None = None

    def take(self, now: float) -> bool:
        """Spend one fetch from the budget, if it holds one."""
        self.budget = min(float(_BURST), self.budget + (now - self.refilled_at) / _REFILL)
        self.refilled_at = now
        if self.budget < 1.0:
            return False
        self.budget -= 1.0
        return True


class SigningKeys:
    """RSA public keys by issuer and ``kid``."""

    def __init__(
        self,
        upstream: UpstreamPool,
        *,
        clock: Callable[[], float] = time.monotonic,
        local: LocalIssuers | None = None,
    ) -> None:
        self._upstream = upstream
        self._clock = clock
        self._local = local  # the gateway's own user pools: their keys are known, never fetched
        # Issuers come from deployed configuration (an authorizer's issuer, a user pool's), never from a token
        # alone, so this map stays as small as the configuration.
        self._issuers: dict[str, _Issuer] = {}

    async def key(self, issuer: str, kid: str) -> Any:
        """The key, or None when the issuer does not publish it (or cannot be asked now)."""
        if self._local is not None:
            local = self._local.keys(issuer)
            if local is not None:
                return local.get(kid)
        now = self._clock()
        state = self._issuers.get(issuer)
        if state is None:
            state = self._issuers[issuer] = _Issuer(now)
        key = state.keys.get(kid)
        if key is not None:
            if state.fetched_at is not None and now - state.fetched_at >= _KEYS_TTL:
                self._start(issuer, state, now)  # renewed in the background; the old keys serve meanwhile
            return key
        # An unknown kid: a rotated key, or a made-up one. Wait for a fetch in flight, or start one if allowed.
        if state.inflight is None and not self._start(issuer, state, now):
            return None
        assert state.inflight is not None
        # Shielded: a waiter that goes away (its client hung up) must not cancel the fetch the others share.
        await asyncio.shield(state.inflight)
        return state.keys.get(kid)

    def _start(self, issuer: str, state: _Issuer, now: float) -> bool:
        """Start a fetch unless one is in flight, one failed just now, or the budget is spent."""
        if state.inflight is not None:
            return True
        if state.failed_at is not None and now - state.failed_at < _FAILURE_TTL:
            return False
        if not state.take(now):
            return False
        state.inflight = asyncio.get_running_loop().create_task(self._fetch(issuer, state))
        return True

    async def _fetch(self, issuer: str, state: _Issuer) -> None:
        try:
            started = self._clock()
            fresh = state.fetched_at is not None and started - state.fetched_at < _KEYS_TTL
            keys, jwks_uri = await self._fetch_keys(issuer, state.jwks_uri if fresh else None)
            if keys is None:
                state.failed_at = self._clock()
                state.jwks_uri = None  # the JWKS may have moved: ask the discovery document again next time
                return
            state.keys, state.jwks_uri = keys, jwks_uri
            state.fetched_at, state.failed_at = started, None
        except Exception:  # never let a fetch's surprise escape into the waiters' requests
            log.exception("JWT authorizer: fetching the keys of %s failed", issuer)
            state.failed_at = self._clock()
        finally:
            state.inflight = None

    async def _get_json(self, url: str) -> tuple[bool, Any]:
        """(whether the server answered at all, the JSON document or None)."""
        try:
            answer = await self._upstream.request(
                "GET", url, [("Accept", "application/json")], b"", timeout=_FETCH_TIMEOUT
            )
        except UpstreamError as exc:
            log.warning("JWT authorizer: fetching %s failed: %s", url, exc)
            return False, None
        if answer.status != 200:
            log.warning("JWT authorizer: %s answered %s", url, answer.status)
            return True, None
        try:
            return True, orjson.loads(answer.body)
        except orjson.JSONDecodeError:
            return True, None

    async def _fetch_keys(
        self, issuer: str, jwks_uri: str | None
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The issuer's keys by kid (None when they could not be fetched), and the JWKS URL they came from.

        The discovery document names the JWKS; an issuer without one (it answers, but not with a document
        naming ``jwks_uri``) is read at ``{issuer}/.well-known/jwks.json``. An issuer that does not answer
        at all is not asked twice."""
        if jwks_uri is None:
            base = issuer.rstrip("/")
            answered, document = await self._get_json(f"{base}/.well-known/openid-configuration")
            if not answered:
                return None, None
            named = document.get("jwks_uri") if isinstance(document, dict) else None
            jwks_uri = named if isinstance(named, str) else f"{base}/.well-known/jwks.json"
        _, jwks = await self._get_json(jwks_uri)
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            return None, None
        keys: dict[str, Any] = {}
        for item in jwks["keys"]:
            if not isinstance(item, dict) or item.get("kty") != "RSA" or item.get("use", "sig") != "sig":
                continue
            try:
                keys[str(item.get("kid") or "")] = jwt.PyJWK(item, algorithm="RS256").key
            except jwt.PyJWTError:
                continue
        return keys, jwks_uri
