"""Workers as an unprivileged user: what the gateway does when it runs as root.

Lambda gives each function its own sandbox. Here a function's workers run as one unprivileged user (the
``--function-user``: ``apigate-function`` if that user exists, else ``nobody``), in its primary group, with no
supplementary groups. That user cannot read the data dir (0700, the gateway's), so it cannot reach its own code
by path either; nor, on many machines, the interpreter (pyenv and virtual environments under ``/root`` or a
0700 temporary directory). So the gateway opens what a worker needs once, as root, and hands each worker those
open directories: a worker names them ``/proc/self/fd/N/...``, which the kernel resolves through the open file
without checking the directories above it. A worker reaches its own code directory and the interpreter's import
path this way, and nothing else of the gateway's.

Without root nothing changes: workers run as the gateway's own user, as they always have.
"""

from __future__ import annotations

import logging
import os
import pwd
import sys
import sysconfig
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .boot import IMPORTS_VARIABLE, imports_json
from .environment import RUNTIME_IMPORTS
from .interpreters import Interpreter

__all__ = ["DEFAULT_USERS", "FunctionUser", "Sandbox", "function_user"]

log = logging.getLogger("apigate")

# Tried in order when --function-user is not given: a dedicated user if the host made one.
DEFAULT_USERS = ("apigate-function", "nobody")
_KEEP_ROOT = "root"  # `--function-user root`: run functions as root after all (today's behaviour)


@dataclass(frozen=True, slots=True)
class FunctionUser:
    name: str
    uid: int
    gid: int


def function_user(requested: str | None) -> FunctionUser | None:
    """The user workers run as, or None for "as the gateway's own user" (the gateway is not root, or
    ``root`` was asked for). ValueError for a user the system does not know."""
    if os.geteuid() != 0:
        if requested and requested != _KEEP_ROOT:
            log.warning("--function-user %s needs a gateway running as root: ignored", requested)
        return None
    if requested == _KEEP_ROOT:
        log.warning("functions run as root (--function-user root): they can read and change everything")
        return None
    for name in (requested,) if requested else DEFAULT_USERS:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid == 0:
            raise ValueError(f"--function-user {name} is root: name an unprivileged user, or root explicitly")
        return FunctionUser(name, entry.pw_uid, entry.pw_gid)
    raise ValueError(f"no such user: {requested or ' or '.join(DEFAULT_USERS)} (pass --function-user NAME)")


def _alias(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


class Sandbox:
    """The open handles every worker of a runtime inherits, and how a worker is started with them."""

    def __init__(self, user: FunctionUser, runtime_dir: str) -> None:
        self.user = user
        self._fds: list[int] = []
        self._handles: dict[str, _InterpreterHandles] = {}  # by interpreter, opened on its first worker
        try:
            self._runtime = _alias(self._open_dir(runtime_dir))
            self._runtime_dir = os.path.realpath(runtime_dir)
            # The runtime's and the SDK's directories (boot.py), each opened once.
            aliases: dict[str, str] = {os.path.realpath(runtime_dir): self._runtime}
            for directory in RUNTIME_IMPORTS.values():
                real = os.path.realpath(directory)
                if real not in aliases:
                    aliases[real] = _alias(self._open_dir(real))
            self._imports = imports_json(
                {name: aliases[os.path.realpath(d)] for name, d in RUNTIME_IMPORTS.items()}
            )
        except BaseException:
            self.close()
            raise

    def _interpreter(self, interpreter: Interpreter | None) -> _InterpreterHandles:
        """The handles of an interpreter (None: the gateway's own), opened once."""
        key = interpreter.executable if interpreter is not None else ""
        handles = self._handles.get(key)
        if handles is None:
            if interpreter is None:
                executable = os.path.realpath(sys.executable)
                prefixes: tuple[str, ...] = tuple(dict.fromkeys((sys.base_prefix, sys.base_exec_prefix)))
                libdir = sysconfig.get_config_var("LIBDIR")
                if not (sysconfig.get_config_var("Py_ENABLE_SHARED") and libdir):
                    libdir = None
            else:
                executable, prefixes, libdir = interpreter.executable, interpreter.prefixes, interpreter.libdir
            handles = _InterpreterHandles(
                _alias(self._open(executable, os.O_RDONLY)),
                os.pathsep.join(_alias(self._open_dir(home)) for home in prefixes),
                # The interpreter loads libpython by path: unreachable, the loader would pick another one.
                _alias(self._open_dir(libdir)) if libdir and os.path.isdir(libdir) else None,
            )
            self._handles[key] = handles
        return handles

    def runtime_path(self, path: str) -> str:
        """A file of the runtime (under the runtime directory) as a worker names it."""
        return os.path.join(self._runtime, os.path.relpath(os.path.realpath(path), self._runtime_dir))

    def _open(self, path: str, flags: int) -> int:
        fd = os.open(path, flags | os.O_CLOEXEC)
        self._fds.append(fd)
        return fd

    def _open_dir(self, path: str) -> int:
        return self._open(path, os.O_RDONLY | os.O_DIRECTORY)

    @contextmanager
    def spawning(
        self,
        code_dir: Path,
        env: dict[str, str],
        interpreter: Interpreter | None = None,
        packages: Path | None = None,
        layers: tuple[Path, ...] = (),
    ) -> Iterator[dict[str, Any]]:
        """Popen's arguments for one worker of the function whose code is ``code_dir`` (and whose built
        dependencies are ``packages``, and layers ``layers``); ``env`` is rewritten to name what the worker reaches through its
        handles. The code's and packages' handles live as long as the block: Popen hands them over."""
        handles = self._interpreter(interpreter)
        own: list[int] = []
        try:
            code = os.open(code_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            own.append(code)
            task_root = _alias(code)
            env["LAMBDA_TASK_ROOT"] = task_root
            for directory in (packages, *layers):
                if directory is None:
                    continue
                handle = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                own.append(handle)
                _rename_paths(env, str(directory), _alias(handle))
            env[IMPORTS_VARIABLE] = self._imports
            env["LAMBDA_RUNTIME_DIR"] = self._runtime
            if handles.home:  # a Python interpreter's
                env["PYTHONHOME"] = handles.home
            if handles.libdir is not None:
                env["LD_LIBRARY_PATH"] = os.pathsep.join(
                    p for p in (handles.libdir, env.get("LD_LIBRARY_PATH")) if p
                )
            executable = handles.executable
            yield {
                "executable": executable,
                "argv0": executable,  # sys.executable: the path the worker can run
                "user": self.user.uid,
                "group": self.user.gid,
                "extra_groups": [],  # none of the gateway's supplementary groups
                "pass_fds": (*self._fds, *own),
            }
        finally:
            for fd in own:
                os.close(fd)

    def close(self) -> None:
        fds, self._fds = self._fds, []
        for fd in fds:
            os.close(fd)


_PATH_VARIABLES = ("PYTHONPATH", "NODE_PATH", "PATH", "LD_LIBRARY_PATH")


def _rename_paths(env: dict[str, str], real: str, alias: str) -> None:
    """Path variables' entries under ``real`` named through ``alias`` instead (the worker's handle on it)."""
    for variable in _PATH_VARIABLES:
        value = env.get(variable)
        if not value:
            continue
        entries = value.split(os.pathsep)
        renamed = [alias + p[len(real) :] if p == real or p.startswith(real + "/") else p for p in entries]
        env[variable] = os.pathsep.join(renamed)


@dataclass(frozen=True, slots=True)
class _InterpreterHandles:
    executable: str
    home: str  # PYTHONHOME
    libdir: str | None
