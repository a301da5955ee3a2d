"""Serving what other processes and hosts changed: every `apigate serve` on one store serves one config.

The store keeps a change feed (``store.feed``): every committed transaction takes the next version and lists
the documents it wrote. A host remembers the version it applied and, on each check, asks for the changes
after it and rebuilds only what they touch: the stages of the APIs named, the API key / usage plan index
when a key or plan changed, the warm workers of a changed function. A write thus costs what the changed API
costs, not what everything stored costs (issue #22: before this, every write re-read and fingerprinted every
stage of every API, and hashed every key and plan: 2.3 ms with one API, 12.7 ms with 400). A host whose
version fell out of the kept history (down for long) loads everything, as at start-up.

When checks happen: right after this process's own management writes (it serves its own change before
answering), every ``sync_interval`` seconds, and on PostgreSQL as soon as a ``NOTIFY`` says another host
committed (``listen``); the periodic check covers a missed notification or a dropped listening connection.
A check that fails (PostgreSQL restarting) leaves the last good configuration served and is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import socket
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from apigate.control.context import ControlContext
from apigate.control.deployments import compile_with_canary
from apigate.control.usage_plans import refresh_plans
from apigate.store.base import Change
from apigate.store.regional import region_of

log = logging.getLogger("apigate")

_PLAN_KINDS = frozenset({"apikey", "usageplan", "usageplankey"})
_HEARTBEAT_EVERY = 2.0  # seconds between this host's entries in the store's host list
# Start-up with more stored REST stages than this defers their compilation (see registry.py): 10,000 APIs of
# 10 methods take ~10 s to compile here, longer than a host should take to start.
DEFER_ABOVE = 500
_DEFERRED_BATCH = 1  # stages compiled per turn of the event loop in the background (~1 ms each)


class ConfigSync:
    def __init__(self, ctx: ControlContext, host: str | None = None) -> None:
        self._ctx = ctx
        self.version = -1  # the store version this process serves; -1 before the first load
        self._rest: dict[str, dict[str, bytes]] = {}  # api id -> stage -> fingerprint of the compiled doc
        self._retiring: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        # Other configuration served from the same store (HTTP and WebSocket APIs), reloaded in full with the
        # REST stages when everything is loaded again; a change to some of them reloads just those (apply).
        self.also_reload: list[Callable[[], None]] = []
        # Configuration rebuilt whole when a change of one of its kinds arrives (custom domains: their router and
        # the HTTPS listener's certificates); a parent removed with its children ("*") counts as every kind.
        self.on_kinds: list[tuple[frozenset[str], Callable[[], None]]] = []
        self.host = host or f"{socket.gethostname()}:{os.getpid()}"
        self.error = ""  # why the last check failed ("" when it did not)
        self._beat_at = 0.0
        self._defer = False  # while loading everything: defer compilation (many stages)

    @property
    def digest(self) -> str:
        """What `/_apigate/health` reports as ``config``: equal on processes that serve the same version."""
        return str(self.version)

    # --- loading ----------------------------------------------------------------------------------------

    def reload(self) -> None:
        """Serve every stored stage, key, plan and API (start-up, or a host too far behind).

        The cyclic garbage collector is paused meanwhile, and what was loaded is then frozen out of its
        reach: with 10,000 APIs the compiled stages are millions of long-lived objects, which each full
        collection would walk again (measured here, 10,000 APIs: start-up 31 s -> 10 s). Frozen objects are
        still freed by reference counting when replaced; only cycles among them would outlive their use.
        """
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._reload_all()
        finally:
            if enabled:
                gc.enable()
        gc.freeze()

    def _reload_all(self) -> None:
        store = self._ctx.store
        version = store.version()  # read first: a change committed meanwhile is picked up by the next check
        ids = [api["id"] for api in store.list("restapi")]
        for api_id in self._rest.keys() - set(ids):
            self._reload_rest_api(api_id)
        self._defer = len(ids) > DEFER_ABOVE
        try:
            for api_id in ids:
                self._reload_rest_api(api_id)
        finally:
            self._defer = False
        refresh_plans(self._ctx)
        for reload in self.also_reload:
            try:
                reload()
            except Exception:
                log.exception("reloading configuration failed")
        if self.version >= 0:  # not at start-up: functions may have changed while we were behind
            self._functions_changed(doc["FunctionName"] for doc in store.list("function"))
        self.version = version

    def apply(self, changes: list[Change]) -> None:
        """Rebuild what ``changes`` touch, and nothing else."""
        rest: set[str] = set()
        v2: set[str] = set()
        functions: set[str] = set()
        plans = False
        kinds: set[str] = set()
        for change in changes:
            kind = change.kind
            kinds.add(kind)
            if kind == "*":  # everything under a parent went: an API (REST or v2) or a usage plan
                rest.add(change.parent)
                v2.add(change.parent)
                plans = True
            elif kind == "restapi":
                rest.add(change.key)
            elif kind in ("stage", "snapshot"):
                rest.add(change.parent)
            elif kind == "v2api":
                v2.add(change.key)
            elif kind in ("v2stage", "v2snapshot"):
                v2.add(change.parent)
            elif kind in _PLAN_KINDS:
                plans = True
            elif kind in ("function", "function-concurrency"):
                functions.add(change.key)
            elif kind in ("function-alias", "function-version"):  # resolved again; no worker retired
                self._ctx.functions.aliases_changed(change.key.split(":", 1)[0])
        for api_id in rest:
            self._reload_rest_api(api_id)
        if plans:
            refresh_plans(self._ctx)
        if v2:
            self._reload_v2_apis(v2)
        self._functions_changed(functions)
        for watched, rebuild in self.on_kinds:
            if "*" in kinds or not watched.isdisjoint(kinds):
                try:
                    rebuild()
                except Exception:
                    log.exception("reloading configuration failed")

    def _reload_rest_api(self, api_id: str) -> None:
        ctx, store = self._ctx, self._ctx.store
        known = self._rest.get(api_id, {})
        stages = store.list("stage", api_id) if store.get("restapi", api_id) is not None else []
        current: dict[str, bytes] = {}
        for stage in stages:
            name = stage["stageName"]
            fingerprint = orjson.dumps(stage, option=orjson.OPT_SORT_KEYS)
            current[name] = fingerprint
            if known.get(name) == fingerprint and ctx.registry.known(api_id, name):
                continue
            if self._defer:
                ctx.registry.defer(api_id, name, functools.partial(self._compile_rest_stage, api_id, stage))
                continue
            snapshot = store.get("snapshot", f"{api_id}/{stage['deploymentId']}")
            if snapshot is None:
                log.error("stage %s of %s points at a missing deployment", name, api_id)
                continue
            try:
                deployed = compile_with_canary(ctx, api_id, snapshot, stage)
            except Exception:
                log.exception("stage %s of %s could not be compiled", name, api_id)
                continue
            ctx.registry.install(deployed)
        for name in known.keys() - current.keys():
            ctx.registry.forget(api_id, name)
        if current:
            self._rest[api_id] = current
        else:
            self._rest.pop(api_id, None)

    def _compile_rest_stage(self, api_id: str, stage: dict[str, Any]) -> Any:
        """A deferred stage, compiled when first requested or by the background task."""
        snapshot = self._ctx.store.get("snapshot", f"{api_id}/{stage['deploymentId']}")
        if snapshot is None:
            log.error("stage %s of %s points at a missing deployment", stage["stageName"], api_id)
            return None
        return compile_with_canary(self._ctx, api_id, snapshot, stage)

    async def _compile_deferred(self) -> None:
        """Compile deferred stages a few at a time, letting requests in between; freeze them when done."""
        registry = self._ctx.registry
        if not registry.deferred():
            return
        began = time.monotonic()
        while registry.compile_deferred(_DEFERRED_BATCH):
            await asyncio.sleep(0)
        gc.freeze()
        log.info("deferred stages compiled in %.1f s", time.monotonic() - began)

    def _reload_v2_apis(self, api_ids: set[str]) -> None:
        """HTTP and WebSocket APIs: each named API's stages served as stored, compiled again only when the
        stage document changed (deployments are immutable)."""
        from apigate.compile import http as http_deploy
        from apigate.control.v2.common import API, SNAPSHOT, STAGE, is_websocket
        from apigate.control.v2.websocket_serving import compiler as websocket_compiler

        ctx, store, settings = self._ctx, self._ctx.store, self._ctx.settings
        for api_id in api_ids:
            doc = store.get(API, api_id)
            stages = store.list(STAGE, api_id) if doc is not None else []
            websocket_api = doc is not None and is_websocket(doc)
            kinds: list[tuple[Any, Any, str, bool]] = [
                (ctx.http_apis, http_deploy.compile_stage, "HTTP API", doc is not None and not websocket_api),
                (ctx.websocket_apis, websocket_compiler(ctx), "WebSocket API", websocket_api),
            ]
            for served, compile_v2, kind, owns in kinds:
                if served is None:
                    continue
                if not owns:
                    if api_id in served:
                        served.forget_api(api_id)
                    continue
                served.declare(api_id)
                names: set[str] = set()
                for stage in stages:
                    name = stage["StageName"]
                    names.add(name)
                    fingerprint = orjson.dumps(stage, option=orjson.OPT_SORT_KEYS)
                    if (
                        served.get(api_id, name) is not None
                        and served.fingerprint(api_id, name) == fingerprint
                    ):
                        continue
                    snap = store.get(SNAPSHOT, f"{api_id}/{stage.get('DeploymentId')}")
                    if snap is None:
                        if stage.get("DeploymentId"):
                            log.error("stage %s of %s %s points at a missing deployment", name, kind, api_id)
                        served.forget(api_id, name)
                        continue
                    try:
                        compiled = compile_v2(
                            snap,
                            stage,
                            region=region_of(store, api_id, settings.region),
                            account_id=settings.account_id,
                        )
                    except Exception:
                        log.exception("stage %s of %s %s could not be compiled", name, kind, api_id)
                        continue
                    served.install(compiled)
                    served.remember(api_id, name, fingerprint)
                for gone in served.stage_names(api_id) - names:  # stages deleted
                    served.forget(api_id, gone)

    def _functions_changed(self, names: Iterable[str]) -> None:
        """A function changed (here or elsewhere): its warm workers here are retired, the next call uses the
        new code and configuration."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for name in names:
            gone = self._ctx.store.get("function", name) is None  # deleted: its versions' workers go too
            task = loop.create_task(self._ctx.functions.changed(name, versions=gone))
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    # --- checking -----------------------------------------------------------------------------------------

    def check(self) -> bool:
        """Apply what was committed since the version served; True when something was.

        Not while a management call of this process is in progress: it may be inside a store transaction
        (an import awaits inside one), whose uncommitted documents this process's connection would see.
        """
        if self._ctx.writes.locked():
            return False
        return self._apply_answer(self._ctx.store.changes_since(self.version))

    def _apply_answer(self, answer: tuple[int, list[Change]] | None) -> bool:
        if answer is None:
            self.reload()
            return True
        version, changes = answer
        if version == self.version:
            return False
        self.apply(changes)
        self.version = version
        return True

    def start(self, interval: float) -> None:
        self.check()
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._run(interval)))
        self._tasks.append(loop.create_task(self._compile_deferred()))
        listen = getattr(self._ctx.store, "listen", None)
        if listen is not None:  # PostgreSQL: LISTEN for other hosts' commits
            self._tasks.append(loop.create_task(listen(self._wake.set)))

    async def _run(self, interval: float) -> None:
        """The periodic and notified checks. The store is read in a thread: a store that does not answer
        (a partition: connections that hang until their timeout) never stalls the requests this host serves."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            if self._ctx.writes.locked():
                continue
            base = self.version
            try:
                answer = await asyncio.to_thread(self._ctx.store.changes_since, base)
                # Applied on the loop, unless this process's own write moved on meanwhile (read again next time).
                if self.version == base and not self._ctx.writes.locked():
                    self._apply_answer(answer)
                self.error = ""
                await asyncio.to_thread(self._heartbeat)
            except Exception as exc:  # a locked database, PostgreSQL unreachable: serve on, try again
                if self.error != (str(exc) or type(exc).__name__):
                    log.warning("reading configuration changes failed (serving what was loaded): %s", exc)
                self.error = str(exc) or type(exc).__name__

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._beat_at < _HEARTBEAT_EVERY:
            return
        self._beat_at = now
        self._ctx.store.heartbeat(self.host, self.status())

    def status(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "status": "ok" if not self.error else "degraded",
            "error": self.error,
            "pid": os.getpid(),
        }

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
