"""The stage response cache: hits never reach the backend (a counting upstream proves it)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from apigate.state.cache import CachedResponse, MemoryResponseCache, RedisResponseCache

from helpers import REDIS_URL, GatewayProcess, RestApi, backend_gateway, require_redis, signed_request, unique


class Counting:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()

    def count(self, path: str) -> int:
        with self.lock:
            self.calls[path] = self.calls.get(path, 0) + 1
            return self.calls[path]


@pytest.fixture(scope="module", params=["memory", "redis"])
def gateway(
    request: pytest.FixtureRequest, gateway: GatewayProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """Every cache behaviour on both backends: this overrides the session gateway for this module."""
    yield from backend_gateway(request.param, gateway, tmp_path_factory.mktemp("redis-cache"))


@pytest.fixture(scope="module")
def apigw(gateway: GatewayProcess) -> Any:
    return gateway.client("apigateway")


@pytest.fixture(scope="module")
def backend(gateway: GatewayProcess) -> Iterator[tuple[str, Counting]]:
    """A counting upstream per backend run, so counts start from zero for each."""
    counter = Counting()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            n = counter.count(path)
            if path.endswith("/big"):
                payload = b"x" * (1_048_576 + 10)
            elif path.endswith(
                "/lru"
            ):  # about 100 kB: two fit in the small gateway's 256 KiB budget, not three
                payload = json.dumps({"call": n, "pad": "x" * 100_000}).encode()
            else:
                payload = json.dumps({"call": n, "path": self.path}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", counter
    server.shutdown()
    server.server_close()


def proxied(apigw: Any, api: RestApi, path: str, verb: str, target: str, **integration: Any) -> None:
    rid = api.resource(path)
    apigw.put_method(
        restApiId=api.id,
        resourceId=rid,
        httpMethod=verb,
        authorizationType="NONE",
        requestParameters={"method.request.querystring.type": False},
    )
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod=verb,
        type="HTTP_PROXY",
        integrationHttpMethod=verb,
        uri=target,
        **integration,
    )


def settings(apigw: Any, api_id: str, stage: str, key: str, **values: str) -> None:
    apigw.update_stage(
        restApiId=api_id,
        stageName=stage,
        patchOperations=[
            {"op": "replace", "path": f"/{key}/caching/{name}", "value": value}
            for name, value in values.items()
        ],
    )


@pytest.fixture(scope="module")
def cached(gateway: GatewayProcess, apigw: Any, backend: tuple[str, Counting]) -> RestApi:
    base, _ = backend
    api = RestApi(apigw, unique("cached"))
    for path in ("/items", "/strict", "/open", "/quiet", "/big"):
        proxied(
            apigw, api, path, "GET", f"{base}{path}", cacheKeyParameters=["method.request.querystring.type"]
        )
    proxied(apigw, api, "/items", "POST", f"{base}/items-post")
    api.deploy("prod", cacheClusterEnabled=True, cacheClusterSize="0.5")
    settings(apigw, api.id, "prod", "*/*", enabled="true", ttlInSeconds="300")
    settings(apigw, api.id, "prod", "~1items/POST", enabled="false")
    settings(
        apigw,
        api.id,
        "prod",
        "~1strict/GET",
        enabled="true",
        unauthorizedCacheControlHeaderStrategy="FAIL_WITH_403",
    )
    settings(apigw, api.id, "prod", "~1open/GET", enabled="true", requireAuthorizationForCacheControl="false")
    settings(
        apigw,
        api.id,
        "prod",
        "~1quiet/GET",
        enabled="true",
        unauthorizedCacheControlHeaderStrategy="SUCCEED_WITHOUT_RESPONSE_HEADER",
    )
    return api


def test_stage_cache_settings(apigw: Any, cached: RestApi) -> None:
    stage = apigw.get_stage(restApiId=cached.id, stageName="prod")
    assert stage["cacheClusterEnabled"] is True and stage["cacheClusterSize"] == "0.5"
    assert stage["cacheClusterStatus"] == "AVAILABLE"
    assert stage["methodSettings"]["*/*"]["cachingEnabled"] is True
    assert stage["methodSettings"]["*/*"]["cacheTtlInSeconds"] == 300
    with pytest.raises(ClientError) as info:
        apigw.update_stage(
            restApiId=cached.id,
            stageName="prod",
            patchOperations=[{"op": "replace", "path": "/cacheClusterSize", "value": "3"}],
        )
    assert info.value.response["Error"]["Code"] == "BadRequestException"


def test_hits_never_reach_the_backend(
    gateway: GatewayProcess, cached: RestApi, backend: tuple[str, Counting]
) -> None:
    _, counter = backend
    url = gateway.invoke_url(cached.id, "prod", "/items")
    first = requests.get(f"{url}?type=a&dept=1", timeout=5)
    assert first.json()["call"] == 1
    again = requests.get(f"{url}?type=a&dept=2", timeout=5)  # dept is not a cache key: same entry
    assert again.json() == first.json() and again.headers["Content-Type"] == "application/json"
    assert again.headers["x-amzn-RequestId"] != first.headers["x-amzn-RequestId"]
    assert requests.get(f"{url}?type=b", timeout=5).json()["call"] == 2  # a key parameter splits the cache
    assert counter.calls["/items"] == 2
    # POST is not cached.
    for _ in range(2):
        requests.post(url, timeout=5)
    assert counter.calls["/items-post"] == 2


def test_cache_control_max_age_0(
    gateway: GatewayProcess, cached: RestApi, backend: tuple[str, Counting]
) -> None:
    _, counter = backend
    url = gateway.invoke_url(cached.id, "prod", "/items") + "?type=inv"
    assert requests.get(url, timeout=5).json()["call"] == counter.calls.get("/items", 0)
    calls = counter.calls["/items"]
    # Unauthorized (default strategy SUCCEED_WITH_RESPONSE_HEADER): served from the cache, with a warning.
    ignored = requests.get(url, headers={"Cache-Control": "max-age=0"}, timeout=5)
    assert ignored.status_code == 200 and "unauthorized" in ignored.headers["Warning"]
    assert counter.calls["/items"] == calls
    # A signature alone proves nothing: a forged one, or an identity without the permission, is ignored.
    forged = {
        "Cache-Control": "max-age=0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/x/us-east-1/execute-api/aws4_request",
    }
    assert "Warning" in requests.get(url, headers=forged, timeout=5).headers
    iam = gateway.client("iam")
    name = unique("invalidator")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    credentials = (key["AccessKeyId"], key["SecretAccessKey"])
    bare = signed_request("GET", url, credentials, headers={"Cache-Control": "max-age=0"})
    assert "Warning" in bare.headers and counter.calls["/items"] == calls
    # With execute-api:InvalidateCache on the method: the backend answers and the entry is replaced.
    grant = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "execute-api:InvalidateCache", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName="invalidate", PolicyDocument=json.dumps(grant))
    fresh = signed_request("GET", url, credentials, headers={"Cache-Control": "max-age=0"}).json()
    assert counter.calls["/items"] == calls + 1
    assert requests.get(url, timeout=5).json() == fresh

    strict = gateway.invoke_url(cached.id, "prod", "/strict")
    requests.get(strict, timeout=5)
    denied = requests.get(strict, headers={"Cache-Control": "max-age=0"}, timeout=5)
    assert denied.status_code == 403 and "execute-api:InvalidateCache" in denied.json()["message"]

    quiet = gateway.invoke_url(cached.id, "prod", "/quiet")
    requests.get(quiet, timeout=5)
    ignored = requests.get(quiet, headers={"Cache-Control": "max-age=0"}, timeout=5)
    assert ignored.status_code == 200 and "Warning" not in ignored.headers
    assert counter.calls["/quiet"] == 1

    open_url = gateway.invoke_url(cached.id, "prod", "/open")
    requests.get(open_url, timeout=5)
    requests.get(open_url, headers={"Cache-Control": "max-age=0"}, timeout=5)
    assert counter.calls["/open"] == 2  # no authorization required: anyone invalidates
    requests.get(open_url, timeout=5)
    assert counter.calls["/open"] == 2


def test_large_responses_are_not_cached(
    gateway: GatewayProcess, cached: RestApi, backend: tuple[str, Counting]
) -> None:
    _, counter = backend
    url = gateway.invoke_url(cached.id, "prod", "/big")
    for _ in range(2):
        assert len(requests.get(url, timeout=5).content) > 1_048_576
    assert counter.calls["/big"] == 2


def test_flush_stage_cache(
    gateway: GatewayProcess, apigw: Any, cached: RestApi, backend: tuple[str, Counting]
) -> None:
    _, counter = backend
    url = gateway.invoke_url(cached.id, "prod", "/items") + "?type=flush"
    requests.get(url, timeout=5)
    requests.get(url, timeout=5)
    calls = counter.calls["/items"]
    apigw.flush_stage_cache(restApiId=cached.id, stageName="prod")
    requests.get(url, timeout=5)
    assert counter.calls["/items"] == calls + 1


def test_ttl_zero_and_disabled_cluster(
    gateway: GatewayProcess, apigw: Any, backend: tuple[str, Counting]
) -> None:
    base, counter = backend
    api = RestApi(apigw, unique("uncached"))
    proxied(apigw, api, "/ttl0", "GET", f"{base}/ttl0")
    proxied(apigw, api, "/nocluster", "GET", f"{base}/nocluster")
    api.deploy("prod", cacheClusterEnabled=True)
    settings(apigw, api.id, "prod", "~1ttl0/GET", enabled="true", ttlInSeconds="0")
    for _ in range(2):
        requests.get(gateway.invoke_url(api.id, "prod", "/ttl0"), timeout=5)
    assert counter.calls["/ttl0"] == 2
    settings(apigw, api.id, "prod", "*/*", enabled="true")
    apigw.update_stage(
        restApiId=api.id,
        stageName="prod",
        patchOperations=[{"op": "replace", "path": "/cacheClusterEnabled", "value": "false"}],
    )
    for _ in range(2):
        requests.get(gateway.invoke_url(api.id, "prod", "/nocluster"), timeout=5)
    assert counter.calls["/nocluster"] == 2


# `apigate serve --cache-budget-scale`: cacheClusterSize 0.5 (GB) becomes 0.5 GiB / 2048 = 256 KiB.
SMALL_BUDGET_SCALE = 2.0**-11


@pytest.fixture(scope="module")
def small_gateway(
    gateway: GatewayProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """A gateway on the same backend as ``gateway`` whose stage caches hold about 256 KiB."""
    redis = [a for i, a in enumerate(gateway.args) if i > 0 and gateway.args[i - 1] == "--redis"]
    args = ["--cache-budget-scale", repr(SMALL_BUDGET_SCALE), *(["--redis", redis[0]] if redis else [])]
    process = GatewayProcess(tmp_path_factory.mktemp("small-cache"), args)
    process.start()
    yield process
    process.stop()


def test_budget_evicts_least_recently_used_entry(
    small_gateway: GatewayProcess, backend: tuple[str, Counting]
) -> None:
    base, counter = backend
    apigw = small_gateway.client("apigateway")
    api = RestApi(apigw, unique("lru"))
    proxied(apigw, api, "/lru", "GET", f"{base}/lru", cacheKeyParameters=["method.request.querystring.type"])
    api.deploy("prod", cacheClusterEnabled=True, cacheClusterSize="0.5")
    settings(apigw, api.id, "prod", "*/*", enabled="true", ttlInSeconds="300")
    url = small_gateway.invoke_url(api.id, "prod", "/lru")

    def get(kind: str) -> int:
        response = requests.get(f"{url}?type={kind}", timeout=5)
        assert response.status_code == 200
        return int(response.json()["call"])

    assert [get("a"), get("b")] == [1, 2]  # both stored: about 200 kB of 256 KiB
    assert get("a") == 1  # a hit: a is now more recently used than b
    assert get("c") == 3  # stored; the budget holds two, so b (least recently used) goes, not a
    assert get("a") == 1 and get("c") == 3  # still cached
    assert counter.calls["/lru"] == 3
    assert get("b") == 4  # evicted: the backend answers again
    assert counter.calls["/lru"] == 4


def test_memory_cache_evicts_least_recently_used_by_bytes() -> None:
    async def body() -> None:
        now = [0.0]
        cache = MemoryResponseCache(clock=lambda: now[0])
        entry = CachedResponse(200, (), b"x" * 100)
        capacity = entry.size * 2
        await cache.put("s", "a", entry, 10, capacity)
        await cache.put("s", "b", entry, 10, capacity)
        assert await cache.get("s", "a") is not None  # a is now the most recent
        await cache.put("s", "c", entry, 10, capacity)
        assert await cache.get("s", "b") is None
        assert await cache.get("s", "a") is not None and await cache.get("s", "c") is not None
        assert cache.stage_bytes("s") == capacity
        await cache.put("s", "huge", CachedResponse(200, (), b"x" * capacity), 10, capacity)
        assert await cache.get("s", "huge") is None
        now[0] = 11.0
        assert await cache.get("s", "a") is None  # expired
        await cache.flush("s")
        assert cache.stage_bytes("s") == 0

    asyncio.run(body())


def test_redis_cache_evicts_least_recently_used_by_bytes() -> None:
    """The same LRU on Redis, and the byte count stays right when entries expire or are replaced."""
    require_redis()
    import redis.asyncio as aioredis

    async def body() -> None:
        client = aioredis.Redis.from_url(REDIS_URL)
        cache = RedisResponseCache(client, prefix=f"{unique('apigate-test')}:")
        try:
            entry = CachedResponse(200, (("Content-Type", "text/plain"),), b"x" * 100)
            capacity = entry.size * 2
            await cache.put("s", "a", entry, 10, capacity)
            await cache.put("s", "b", entry, 10, capacity)
            assert await cache.get("s", "a") is not None  # a is now the most recent
            await cache.put("s", "c", entry, 10, capacity)
            assert await cache.get("s", "b") is None
            assert await cache.get("s", "a") is not None and await cache.get("s", "c") is not None
            assert await cache.stage_bytes("s") == capacity
            await cache.put("s", "c", entry, 10, capacity)  # replacing an entry does not count it twice
            assert await cache.stage_bytes("s") == capacity
            assert await cache.get("s", "a") is not None
            await cache.put("s", "huge", CachedResponse(200, (), b"x" * capacity), 10, capacity)
            assert await cache.get("s", "huge") is None
            await cache.put("s", "short", entry, 0.05, capacity)  # evicts c, the least recently used
            assert await cache.get("s", "c") is None
            await asyncio.sleep(0.1)
            assert await cache.get("s", "short") is None  # expired: its bytes are no longer counted
            assert await cache.stage_bytes("s") == entry.size
            await cache.put("s", "d", entry, 10, capacity)
            assert await cache.get("s", "a") is not None and await cache.get("s", "d") is not None
            await cache.flush("s")
            assert await cache.stage_bytes("s") == 0 and await cache.get("s", "a") is None
        finally:
            await cache.flush("s")
            await client.aclose()

    asyncio.run(body())
