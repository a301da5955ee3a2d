"""Serving what other processes changed: several `apigate serve` processes on one data dir share one config.

A separate SQLite connection polls ``PRAGMA data_version`` (it changes when another connection commits) every
``sync_interval`` seconds, off the request path; when it moved, stages whose documents changed are compiled and
installed again, removed ones are dropped, and the API key / usage plan index is rebuilt.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import orjson

from apigate.control.context import ControlContext
from apigate.control.deployments import compile_with_canary
from apigate.control.usage_plans import refresh_plans

log = logging.getLogger("apigate")


class ConfigSync:
    def __init__(self, ctx: ControlContext, database: Path) -> None:
        self._ctx = ctx
        self._db = sqlite3.connect(str(database), isolation_level=None, check_same_thread=False)
        self._version = -1
        self._seen: dict[tuple[str, str], bytes] = {}
        self._functions: dict[str, bytes] | None = None  # None until the first look
        self._retiring: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        # Other configuration served from the same store (HTTP APIs): reloaded along with the REST stages.
        self.also_reload: list[Callable[[], None]] = []
        # A digest of the configuration being served (stages, keys, plans): equal on processes that agree.
        self.digest = ""

    def reload(self) -> None:
        """Install every stage whose document changed since the last look; drop stages that are gone."""
        ctx = self._ctx
        store = ctx.store
        current: dict[tuple[str, str], bytes] = {}
        for api in store.list("restapi"):
            for stage in store.list("stage", api["id"]):
                key = (api["id"], stage["stageName"])
                fingerprint = orjson.dumps(stage, option=orjson.OPT_SORT_KEYS)
                current[key] = fingerprint
                if self._seen.get(key) == fingerprint and ctx.registry.get(*key) is not None:
                    continue
                snapshot = store.get("snapshot", f"{api['id']}/{stage['deploymentId']}")
                if snapshot is None:
                    log.error("stage %s of %s points at a missing deployment", stage["stageName"], api["id"])
                    continue
                try:
                    deployed = compile_with_canary(ctx, api["id"], snapshot, stage)
                except Exception:
                    log.exception("stage %s of %s could not be compiled", stage["stageName"], api["id"])
                    continue
                ctx.registry.install(deployed)
        for key in self._seen.keys() - current.keys():
            ctx.registry.forget(*key)
        self._seen = current
        refresh_plans(ctx)
        for reload in self.also_reload:
            try:
                reload()
            except Exception:
                log.exception("reloading configuration failed")
        self._reload_functions()
        digest = hashlib.sha1()
        for key in sorted(current):
            digest.update(current[key])
        for kind in ("apikey", "usageplan", "usageplankey"):
            for doc in store.list(kind):
                digest.update(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS))
        self.digest = digest.hexdigest()[:16]

    def _reload_functions(self) -> None:
        """A function changed by another process: its warm workers here are retired, the next call uses the new
        code and configuration."""
        current = {
            doc["FunctionName"]: orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
            for doc in self._ctx.store.list("function")
        }
        previous, self._functions = self._functions, current
        if previous is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for name, fingerprint in previous.items():
            if current.get(name) != fingerprint:
                task = loop.create_task(self._ctx.functions.changed(name))
                self._retiring.add(task)
                task.add_done_callback(self._retiring.discard)

    def check(self) -> bool:
        """Reload if another connection committed since the last check; True when it did.

        Not while a management call of this process is in progress: it may be inside a store transaction
        (an import awaits inside one), whose uncommitted documents this process's connection would see.
        """
        if self._ctx.writes.locked():
            return False
        version = int(self._db.execute("PRAGMA data_version").fetchone()[0])
        if version == self._version:
            return False
        self._version = version
        self.reload()
        return True

    def start(self, interval: float) -> None:
        self.check()
        self._task = asyncio.get_running_loop().create_task(self._run(interval))

    async def _run(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                self.check()
            except Exception:  # a locked or busy database: try again next time
                log.exception("reading configuration changes failed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._db.close()
