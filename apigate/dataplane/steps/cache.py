"""The stage's response cache (REST): look up before the integration, store after it.

The key is the method's ``cacheNamespace`` (its resource by default), the verb, and the values of the integration's
``cacheKeyParameters``; parameters left out do not split the cache. ``Cache-Control: max-age=0`` refetches and
replaces the entry when the caller may invalidate (``requireAuthorizationForCacheControl`` off, or a request
SigV4-signed by an identity whose policies allow ``execute-api:InvalidateCache`` on the method);
otherwise ``unauthorizedCacheControlHeaderStrategy`` decides.

As on AWS, an entry is served to every caller whose request has the same key: a method whose key leaves out
``Authorization`` (or whatever names the principal) serves one principal's response to all. A stage whose
variable ``apigateCacheSkipSetCookie`` is ``true`` never stores a response that sets a cookie (an apigate
setting: a stage variable is what CloudFormation, SAM and ``update-stage`` can set, and AWS ignores it).
"""

from __future__ import annotations

from typing import Protocol

from apigate.aws import arns, sigv4
from apigate.aws.identity import Identities
from apigate.aws.policy import Decision, evaluate_all
from apigate.dataplane.authorizers.identity import method_arn
from apigate.dataplane.authorizers.resource_policy import request_context
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.model import RestMethod
from apigate.server.message import Response
from apigate.state.cache import CachedResponse, ResponseCache

MAX_CACHED_BYTES = 1_048_576
HIT, MISS = 1, 2
# Headers the data plane adds per request: never part of a cached response.
_PER_REQUEST = frozenset({"x-amzn-requestid", "x-amz-apigw-id", "x-amzn-trace-id"})
# The stage variable that keeps responses carrying Set-Cookie out of the cache (value "true").
SKIP_SET_COOKIE = "apigateCacheSkipSetCookie"
_WARNING = (
    "Warning",
    '199 apigateway "Cache-control headers were ignored because the caller was unauthorized."',
)


def _wants_invalidation(value: str) -> bool:
    return "max-age=0" in value.replace(" ", "").lower()


def cache_key(inv: Invocation) -> str:
    method = inv.method
    assert method is not None and method.cache is not None
    parts = [method.cache.namespace, inv.request.method]
    for location, name in method.cache.key_parameters:
        value: str | None
        if location == "path":
            value = inv.path_parameters.get(name)
        elif location == "querystring":
            value = next((v for k, v in reversed(inv.query_pairs) if k == name), None)
        elif location == "multivaluequerystring":
            value = ",".join(v for k, v in inv.query_pairs if k == name)
        elif location in ("header", "multivalueheader"):
            value = ",".join(inv.request.header_values(name)) or None
        else:
            value = None
        parts.append(f"{location}.{name}={'' if value is None else value}")
    return "\x1f".join(parts)


_INVALIDATE = "execute-api:InvalidateCache"


class _State(Protocol):
    identities: Identities | None


class CacheLookupStep:
    __slots__ = ("_cache", "_state")

    @staticmethod
    def applies(method: RestMethod) -> bool:
        return method.cache is not None

    def __init__(self, cache: ResponseCache, state: _State | None = None) -> None:
        self._cache = cache
        self._state = state  # where the gateway's IAM identities are, to check who may invalidate

    def _may_invalidate(self, inv: Invocation) -> bool:
        identities = self._state.identities if self._state is not None else None
        if identities is None:
            return False
        try:
            identity = sigv4.authenticate(
                inv.request, identities, service="execute-api", region=inv.api.region
            )
        except sigv4.SignatureError:
            return False
        if identity.is_root:  # the admin key
            return True
        arn = method_arn(inv)
        context = request_context(inv, identity)
        decision = evaluate_all(identities.policies(identity), _INVALIDATE, arn, context, identity.arn)
        return decision is Decision.ALLOW

    async def __call__(self, inv: Invocation) -> None:
        method = inv.method
        assert method is not None
        setting = method.cache
        if setting is None or inv.api.cache is None or inv.test_log is not None:
            return
        key = cache_key(inv)
        control = inv.request.header("cache-control")
        if control is not None and _wants_invalidation(control):
            if not setting.require_authorization or self._may_invalidate(inv):
                inv.cache_key, inv.cache_status = key, MISS  # fetch again and replace the entry
                return
            strategy = setting.unauthorized_strategy
            if strategy == "FAIL_WITH_403":
                raise GatewayError(
                    ResponseType.ACCESS_DENIED,
                    f"User: anonymous is not authorized to perform: {_INVALIDATE} on resource: "
                    + arns.execute_api_arn(
                        inv.api.region,
                        inv.api.account_id,
                        inv.api.api_id,
                        inv.api.stage,
                        f"{inv.request.method}{method.resource_path}",
                    ),
                )
            inv.cache_warning = strategy == "SUCCEED_WITH_RESPONSE_HEADER"
        entry = await self._cache.get(f"{inv.api.api_id}/{inv.api.stage}", key)
        if entry is not None:
            inv.cache_status = HIT
            inv.response = Response(entry.status, list(entry.headers), entry.body)
            if inv.cache_warning:
                inv.response.headers.append(_WARNING)
            return
        inv.cache_key, inv.cache_status = key, MISS


class CacheStoreStep:
    """A response step: stores a successful integration response after a miss (under 1 MB)."""

    __slots__ = ("_cache",)

    @staticmethod
    def applies(method: RestMethod) -> bool:
        return method.cache is not None

    def __init__(self, cache: ResponseCache) -> None:
        self._cache = cache

    async def __call__(self, inv: Invocation) -> None:
        key = inv.cache_key
        response = inv.response
        if key is None or response is None or inv.cache_status != MISS:
            return
        stage_cache = inv.api.cache
        method = inv.method
        if (
            stage_cache is not None
            and method is not None
            and method.cache is not None
            and inv.error_type is None
            and 200 <= response.status < 300
            and len(response.body) <= MAX_CACHED_BYTES
            and not _keeps_cookies_out(inv, response)
        ):
            headers = tuple((k, v) for k, v in response.headers if k.lower() not in _PER_REQUEST)
            entry = CachedResponse(response.status, headers, response.body)
            await self._cache.put(
                f"{inv.api.api_id}/{inv.api.stage}", key, entry, method.cache.ttl, stage_cache.capacity
            )
        if inv.cache_warning:
            response.headers.append(_WARNING)


def _keeps_cookies_out(inv: Invocation, response: Response) -> bool:
    """The stage asked never to store a response that sets a cookie, and this one does."""
    if inv.api.stage_variables.get(SKIP_SET_COOKIE, "").lower() != "true":
        return False
    return any(len(name) == 10 and name.lower() == "set-cookie" for name, _ in response.headers)
