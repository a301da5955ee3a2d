"""``apigate serve TEMPLATE``: deploy a template, print what it serves, and reload it while the user edits.

The watcher polls (no extra dependency): a change in a function's code folder replaces that function's code
and its warm workers; a change to the template, or to a file it reads (an ``AWS::Include`` part, an API's
``DefinitionUri``), redeploys it. A broken edit leaves the last good deployment
serving and prints the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from apigate.aws.errors import AwsError
from apigate.declarative.cloudformation import Deployed, Deployer
from apigate.declarative.code_zip import zip_folder
from apigate.declarative.template import TemplateError

if TYPE_CHECKING:
    from apigate.app import Gateway

log = logging.getLogger("apigate")

Fingerprint = dict[str, tuple[int, int]]


def fingerprint(path: Path) -> Fingerprint:
    """Modification time and size of a file, or of every file under a folder."""
    found: Fingerprint = {}
    if path.is_file():
        stat = path.stat()
        return {str(path): (stat.st_mtime_ns, stat.st_size)}
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d not in ("__pycache__", ".aws-sam", ".git")]
        for name in files:
            if name.endswith(".pyc"):
                continue
            full = os.path.join(root, name)
            with contextlib.suppress(OSError):
                stat = os.stat(full)
                found[full] = (stat.st_mtime_ns, stat.st_size)
    return found


class DeclarativeApp:
    def __init__(
        self,
        gateway: Gateway,
        template: Path,
        overrides: dict[str, str],
        stack_name: str | None = None,
        *,
        poll_interval: float = 0.3,
        api_at_root: bool = False,
    ) -> None:
        self.api_at_root = api_at_root
        self.gateway = gateway
        self.template = template
        self.overrides = overrides
        self.stack_name = stack_name
        self.deployer = Deployer(gateway.control)
        self.deployed: Deployed | None = None
        self.poll_interval = poll_interval
        self._task: asyncio.Task[None] | None = None
        self._seen: dict[str, Fingerprint] = {}
        self._warned: set[str] = set()

    async def deploy(self) -> Deployed:
        self.deployed = await self.deployer.deploy(self.template, self.overrides, self.stack_name)
        self.gateway.reload_domains()  # custom domains the template made or changed
        self._seen = self._fingerprints()
        self._place_root(self.deployed)
        return self.deployed

    def _place_root(self, deployed: Deployed) -> None:
        """``--api-at-root``: the template's one API (its stage with routes; SAM's extra ``Stage`` stage is not
        preferred) answers at ``/``."""
        if not self.api_at_root:
            return
        stages = list(dict.fromkeys((route.api_id, route.stage) for route in deployed.routes))
        apis = list(dict.fromkeys(api for api, _ in stages))
        if len(apis) != 1:
            raise TemplateError(
                f"--api-at-root serves a template with a single API; this one has {len(apis)}"
                + (f" ({', '.join(apis)})" if apis else ""),
                file=self.template,
            )
        preferred = [s for s in stages if s[1] != "Stage"] or stages
        self.gateway.root_api = preferred[0]

    def report(self) -> None:
        deployed = self.deployed
        if deployed is None:
            return
        settings = self.gateway.settings
        print(f"Stack {deployed.stack} ({deployed.template.name}):", flush=True)
        rows = []
        for route in deployed.routes:
            url = settings.invoke_urls(route.api_id, route.stage)[0].rstrip("/") + route.path.rstrip("/")
            rows.append((route.verb, url if route.path != "/" else url + "/", route.target))
        width = max((len(url) for _, url, _ in rows), default=0)
        for verb, url, target in rows:
            print(f"  {verb:<7} {url:<{width}}  -> {target}", flush=True)
        root = self.gateway.root_api
        if root is not None:
            print(f"At the root ({root[0]} {root[1] or '$default'}):", flush=True)
            for route in deployed.routes:
                if (route.api_id, route.stage) == root:
                    print(f"  {route.verb:<7} {settings.base_url}{route.path}  -> {route.target}", flush=True)
        if deployed.outputs:
            print("Outputs:", flush=True)
            for name, value in deployed.outputs.items():
                print(f"  {name}: {value}", flush=True)
        self._warn(deployed)

    def _warn(self, deployed: Deployed) -> None:
        """Each warning once per process: a reload prints only what the edit brought."""
        for warning in deployed.warnings:
            if warning not in self._warned:
                self._warned.add(warning)
                print(f"Warning: {warning}", flush=True)

    # --- hot reload ----------------------------------------------------------------------------------------

    def _fingerprints(self) -> dict[str, Fingerprint]:
        """The template and the files it reads (AWS::Include, DefinitionUri) under "", each code folder under
        its path (functions may share a folder)."""
        template = fingerprint(self.template)
        watched = {"": template}
        if self.deployed is not None:
            for path in self.deployed.read_files:  # a missing one counts as empty: creating it is a change
                template.update(fingerprint(path) or {str(path): (0, -1)})
            for folder in {*self.deployed.code_dirs.values(), *self.deployed.layer_dirs.values()}:
                watched[str(folder)] = fingerprint(folder)
        return watched

    def start_watching(self) -> None:
        self._task = asyncio.create_task(self._watch())

    async def stop_watching(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await self.check()
            except Exception:  # the watcher must outlive any surprise; the gateway keeps serving
                log.exception("reload failed")

    async def check(self) -> None:
        now = self._fingerprints()
        if now == self._seen:
            return
        previous, self._seen = self._seen, now
        if now.get("") != previous.get(""):
            await self._reload_template()
            return
        layers = {str(folder) for folder in self.deployed.layer_dirs.values()} if self.deployed else set()
        for folder, files in now.items():
            if folder and files != previous.get(folder):
                if folder in layers:  # a new layer version, and the functions naming it: the template again
                    await self._reload_template()
                    return
                await self._reload_code(Path(folder))

    async def _reload_template(self) -> None:
        try:
            deployed = await self.deployer.deploy(self.template, self.overrides, self.stack_name)
        except TemplateError as exc:
            print(
                f"Reload failed, still serving the last good deployment: {exc}", file=sys.stdout, flush=True
            )
            return
        self.deployed = deployed
        self._seen = self._fingerprints()
        try:
            self._place_root(deployed)
        except TemplateError as exc:
            print(f"Reloaded, but {exc}", flush=True)
        print(
            f"Reloaded {self.template.name}: {len(deployed.routes)} routes, {len(deployed.code_dirs)} code folders",
            flush=True,
        )
        self._warn(deployed)

    async def _reload_code(self, folder: Path) -> None:
        assert self.deployed is not None
        names = [name for name, code in self.deployed.code_dirs.items() if code == folder]
        if any(self.deployer.ctx.store.get("function-version-seq", name) for name in names):
            # Versions published by the template (AutoPublishAlias): deploy it again, so that the new code is
            # published and its aliases move, as `sam deploy` would; new $LATEST code alone would not be served.
            await self._reload_template()
            return
        try:
            zipped = await asyncio.to_thread(zip_folder, folder)
            async with self.deployer.ctx.writes:  # a management call like any other
                for name in names:
                    await self.deployer.lam["UpdateFunctionCode"]({"FunctionName": name, "ZipFile": zipped})
        except (AwsError, OSError) as exc:
            message = exc.message if isinstance(exc, AwsError) else str(exc)
            print(
                f"Reload of {', '.join(names)} failed, still serving the last good code: {message}",
                flush=True,
            )
            return
        print(f"Reloaded {', '.join(names)} (code in {folder})", flush=True)
