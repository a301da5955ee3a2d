"""A function's own requirements.txt, installed once per content into the data dir, at deploy time.

Lambda runs what ``sam build`` put next to the handler; a function deployed here with a requirements.txt gets
the same: its packages installed by pip, with the function's interpreter, into
``<data dir>/function-packages/<hash>``, where the hash covers the requirements and the interpreter. Functions
with the same requirements on the same Python share one directory; an unchanged requirements.txt is never
installed again. The directory is built beside its final name and renamed into place, so a worker never
sees half an install, and a failed install leaves nothing behind (the deploy fails, the previous version
stays; see control/lambda_functions.py). Workers find it on PYTHONPATH after the task root (environment.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

from .interpreters import Interpreter

__all__ = ["PACKAGE_FILE", "REQUIREMENTS_FILE", "DependencyBuildError", "FunctionPackages", "NodePackages"]

REQUIREMENTS_FILE = "requirements.txt"
PACKAGE_FILE = "package.json"
_BUILD_SECONDS = 600.0
_ERROR_TAIL = 1500  # characters of pip's output in a deploy error
_log = logging.getLogger("apigate.functions")  # an install's start and end: progress on a long deploy


class DependencyBuildError(RuntimeError):
    """pip could not install a function's requirements: its last words are the message."""


class FunctionPackages:
    """Built dependency directories, by requirements and interpreter."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[str, asyncio.Lock] = {}

    def _dir(self, requirements: bytes, interpreter: Interpreter) -> Path:
        digest = hashlib.sha256()
        for part in (interpreter.executable.encode(), interpreter.version.encode(), requirements):
            digest.update(len(part).to_bytes(8, "big") + part)
        return self.root / digest.hexdigest()[:32]

    def built(self, code_dir: Path, interpreter: Interpreter) -> Path | None:
        """The directory for the function whose code is ``code_dir``, if it has requirements and they were
        built; None otherwise (nothing to build, or not built on this host yet)."""
        requirements = _requirements(code_dir) if interpreter.language == "python" else None
        if requirements is None:
            return None
        target = self._dir(requirements, interpreter)
        return target if target.is_dir() else None

    async def build(self, code_dir: Path, interpreter: Interpreter) -> Path | None:
        """Install the requirements of the code in ``code_dir`` (if any) unless already done; the directory,
        or None. DependencyBuildError with pip's output when the install fails."""
        requirements = _requirements(code_dir) if interpreter.language == "python" else None
        if requirements is None:
            return None
        target = self._dir(requirements, interpreter)
        lock = self._locks.setdefault(target.name, asyncio.Lock())
        async with lock:
            if target.is_dir():
                return target
            self.root.mkdir(parents=True, exist_ok=True)
            staging = self.root / f".building-{target.name}-{uuid.uuid4().hex[:8]}"
            staging.mkdir(mode=0o755)
            started = time.monotonic()
            _log.info("installing %s (pip, Python %s)…", code_dir / REQUIREMENTS_FILE, interpreter.version)
            try:
                await _pip_install(interpreter, code_dir / REQUIREMENTS_FILE, staging)
                staging.chmod(0o755)  # workers run as another user: they must read it through their handle
                os.replace(staging, target)
                _log.info("installed %s in %.1f s", code_dir / REQUIREMENTS_FILE, time.monotonic() - started)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return target


class NodePackages:
    """Node.js functions with a package.json: the code copied beside its node_modules, installed by npm (``npm
    ci`` with a lockfile, else ``npm install``), once per code and node version. ES modules resolve packages
    only from node_modules beside or above the code (not NODE_PATH), so the built copy is what runs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[str, asyncio.Lock] = {}

    def _dir(self, code_dir: Path, interpreter: Interpreter) -> Path:
        digest = hashlib.sha256(f"{code_dir}\0{interpreter.executable}\0{interpreter.version}".encode())
        return self.root / f"node-{digest.hexdigest()[:32]}"

    def built(self, code_dir: Path, interpreter: Interpreter) -> Path | None:
        if interpreter.language != "nodejs" or not (code_dir / PACKAGE_FILE).is_file():
            return None
        target = self._dir(code_dir, interpreter)
        return target if target.is_dir() else None

    async def build(self, code_dir: Path, interpreter: Interpreter) -> Path | None:
        if interpreter.language != "nodejs" or not (code_dir / PACKAGE_FILE).is_file():
            return None
        target = self._dir(code_dir, interpreter)
        async with self._locks.setdefault(target.name, asyncio.Lock()):
            if target.is_dir():
                return target
            self.root.mkdir(parents=True, exist_ok=True)
            staging = self.root / f".building-{target.name}-{uuid.uuid4().hex[:8]}"
            started = time.monotonic()
            _log.info("installing %s (npm, Node.js %s)…", code_dir / PACKAGE_FILE, interpreter.version)
            await asyncio.to_thread(shutil.copytree, code_dir, staging)
            try:
                lock_file = (staging / "package-lock.json").is_file()
                npm = shutil.which("npm", path=os.path.dirname(interpreter.executable)) or shutil.which("npm")
                if npm is None:
                    raise DependencyBuildError("npm is not installed on this machine")
                # No install scripts: they would run as the gateway's user (root), not the function's.
                argv = [npm, "ci" if lock_file else "install", "--omit=dev", "--ignore-scripts", "--no-audit",
                        "--no-fund"]  # fmt: skip
                await _run(argv, staging, PACKAGE_FILE)
                staging.chmod(0o755)
                os.replace(staging, target)
                _log.info("installed %s in %.1f s", code_dir / PACKAGE_FILE, time.monotonic() - started)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return target


def _requirements(code_dir: Path) -> bytes | None:
    try:
        content = (code_dir / REQUIREMENTS_FILE).read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    # Comments and blank lines change nothing that gets installed.
    lines = [line.split(b"#", 1)[0].strip() for line in content.splitlines()]
    meaningful = b"\n".join(line for line in lines if line)
    return meaningful or None


async def _pip_install(interpreter: Interpreter, requirements: Path, target: Path) -> None:
    argv = [
        interpreter.executable,
        "-m",
        "pip",
        "install",
        "--no-input",
        "--disable-pip-version-check",
        "--no-warn-script-location",
        "--target",
        str(target),
        "-r",
        str(requirements),
    ]
    # cwd: relative paths in requirements.txt (-r other.txt, ./wheels/x.whl) are the code's.
    await _run(argv, requirements.parent, requirements.name)


async def _run(argv: list[str], cwd: Path, what: str) -> None:
    # The gateway's environment, less what would point pip at another interpreter's packages.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PIP_TARGET", "PIP_USER")}
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    try:
        async with asyncio.timeout(_BUILD_SECONDS):
            output, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise DependencyBuildError(f"installing {what} took over {_BUILD_SECONDS:.0f} s") from None
    if proc.returncode != 0:
        text = output.decode(errors="replace").strip()
        raise DependencyBuildError(f"installing {what} failed: {text[-_ERROR_TAIL:]}")
