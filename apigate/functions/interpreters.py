"""Which interpreter runs a ``pythonX.Y`` function: the one the runtime names, when the machine has it.

Looked for, in order: ``--python pythonX.Y=/path``, pyenv's versions (``$PYENV_ROOT`` or ``~/.pyenv``, the
newest patch release), then ``pythonX.Y`` on PATH (pyenv's shims skipped: they answer for whatever version
pyenv selects). Each candidate is asked once what it is (version, prefixes, libpython), so a worker can be
started with it, sandboxed or not, and tells the truth about its version in INIT_START and AWS_EXECUTION_ENV.

A runtime the machine lacks is refused at deploy time with a clear reason, unless ``--runtime-fallback``:
then the gateway's own interpreter runs it, and the function's LastUpdateStatusReason says so.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEPRECATED_RUNTIMES",
    "Interpreter",
    "InterpreterChoice",
    "Interpreters",
    "RuntimeUnavailable",
    "parse_python_overrides",
]

log = logging.getLogger("apigate")

# AWS blocks creating and updating functions on these (Lambda's runtime deprecation policy).
DEPRECATED_RUNTIMES = frozenset(
    {"python2.7", "python3.6", "python3.7", "python3.8", "nodejs", "nodejs4.3", "nodejs4.3-edge", "nodejs6.10"}
    | {"nodejs8.10", "provided", "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x"}
)
_PROVIDED = frozenset({"provided.al2023", "provided.al2"})
_NODE_RUNTIME = re.compile(r"nodejs(\d+)\.x")
_LATEST_PYTHON = "python3.13"
_LATEST_NODE = "nodejs22.x"
_RUNTIME = re.compile(r"python(\d+)\.(\d+)")
_PROBE = (
    "import json,os,sys,sysconfig;print(json.dumps({'executable':os.path.realpath(sys.executable),"
    "'version':'%d.%d.%d'%sys.version_info[:3],'prefixes':[sys.base_prefix,sys.base_exec_prefix],"
    "'libdir':sysconfig.get_config_var('LIBDIR') if sysconfig.get_config_var('Py_ENABLE_SHARED') else None}))"
)
_PROBE_SECONDS = 10.0


class RuntimeUnavailable(ValueError):
    """The function's runtime cannot run here (deprecated, unknown, or not on this machine)."""


@dataclass(frozen=True, slots=True)
class Interpreter:
    """One Python interpreter as a worker is started with it."""

    executable: str  # the real file, symlinks resolved
    version: str  # "3.12.1"
    prefixes: tuple[str, ...]  # sys.base_prefix, sys.base_exec_prefix: PYTHONHOME
    libdir: str | None  # where libpython is, for a shared build
    language: str = "python"  # or "nodejs"

    @property
    def runtime(self) -> str:
        """Lambda's name for it: "python3.12", "nodejs20.x"."""
        if self.language == "nodejs":
            return f"nodejs{self.version.split('.')[0]}.x"
        if self.language == "provided":
            return f"provided.{self.version}"
        return "python" + ".".join(self.version.split(".")[:2])


@dataclass(frozen=True, slots=True)
class InterpreterChoice:
    interpreter: Interpreter
    reason: str | None = None  # set when it is a fallback: what the function's status says


def parse_python_overrides(values: list[str] | None) -> dict[str, str]:
    """``--python python3.12=/path/to/python``, repeated."""
    overrides: dict[str, str] = {}
    for value in values or ():
        runtime, sep, path = value.partition("=")
        if not sep or not _RUNTIME.fullmatch(runtime) or not path:
            raise ValueError(f"--python expects pythonX.Y=PATH, not {value!r}")
        overrides[runtime] = path
    return overrides


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else -1 for part in name.split("."))


class Interpreters:
    """The machine's Python interpreters by runtime name, each found and probed once."""

    def __init__(self, overrides: dict[str, str] | None = None, *, fallback: bool = False) -> None:
        self._overrides = dict(overrides or {})
        self.fallback = fallback
        self._found: dict[str, Interpreter | None] = {}
        self._warned: set[str] = set()
        self.own = Interpreter(
            os.path.realpath(sys.executable),
            ".".join(map(str, sys.version_info[:3])),
            tuple(dict.fromkeys((sys.base_prefix, sys.base_exec_prefix))),
            _own_libdir(),
        )

    def find(self, runtime: str) -> Interpreter | None:
        """The interpreter for ``runtime`` on this machine, or None."""
        if runtime not in self._found:
            self._found[runtime] = self._search(runtime)
        return self._found[runtime]

    def choose(self, runtime: str) -> InterpreterChoice:
        """What runs a function of ``runtime``; RuntimeUnavailable when nothing may."""
        if runtime in DEPRECATED_RUNTIMES:
            raise RuntimeUnavailable(
                f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
                f"functions. We recommend you use the new runtime "
                f"({_latest(runtime)}) while creating or updating "
                "functions."
            )
        if runtime in _PROVIDED:
            # The function brings its own runtime (bootstrap); the gateway's Python runs the Runtime API shim.
            own = self.own
            return InterpreterChoice(
                Interpreter(own.executable, runtime.partition(".")[2], own.prefixes, own.libdir, "provided")
            )
        if not _RUNTIME.fullmatch(runtime) and not _NODE_RUNTIME.fullmatch(runtime):
            raise RuntimeUnavailable(
                f"The runtime parameter of {runtime} is not supported by apigate. Use a python3.x or "
                "nodejsNN.x runtime."
            )
        found = self.find(runtime)
        if found is not None:
            return InterpreterChoice(found)
        looked = "--python, pyenv and PATH"
        if runtime.startswith("nodejs"):  # no fallback across languages
            raise RuntimeUnavailable(
                f"The runtime {runtime} is not installed on this machine (looked for node {runtime[6:-2]} on PATH)."
            )
        if not self.fallback:
            raise RuntimeUnavailable(
                f"The runtime {runtime} is not installed on this machine (looked in {looked}). Install it, name "
                f"it with --python {runtime}=PATH, or start apigate with --runtime-fallback to run it on "
                f"{self.own.runtime}."
            )
        reason = f"{runtime} is not installed on this machine: the function runs on {self.own.runtime} (--runtime-fallback)"
        self.warn_once(runtime, reason)
        return InterpreterChoice(self.own, reason)

    def warn_once(self, runtime: str, message: str) -> None:
        """The console hears of a missing runtime once, not once per deploy or call."""
        if runtime not in self._warned:
            self._warned.add(runtime)
            log.warning("%s", message)

    def _search(self, runtime: str) -> Interpreter | None:
        if runtime.startswith("nodejs"):
            found = _probe_node(shutil.which("node") or "")
            return found if found is not None and found.runtime == runtime else None
        major_minor = runtime.removeprefix("python")
        if runtime in self._overrides:
            found = _probe(self._overrides[runtime])
            if found is None or found.runtime != runtime:
                raise RuntimeUnavailable(f"--python {runtime}={self._overrides[runtime]} is not a {runtime} interpreter")
            return found
        if self.own.runtime == runtime:
            return self.own
        candidates: list[str] = []
        versions = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
        if versions.is_dir():
            names = [p.name for p in versions.iterdir() if re.fullmatch(rf"{re.escape(major_minor)}\.\d+", p.name)]
            for name in sorted(names, key=_version_key, reverse=True):
                candidates.append(str(versions / name / "bin" / runtime))
        path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if "shims" not in p)
        on_path = shutil.which(runtime, path=path)
        if on_path:
            candidates.append(on_path)
        for candidate in candidates:
            found = _probe(candidate)
            if found is not None and found.runtime == runtime:
                return found
        return None


def _probe(path: str) -> Interpreter | None:
    if not os.access(path, os.X_OK):
        return None
    try:
        out = subprocess.run(
            [path, "-I", "-c", _PROBE], capture_output=True, timeout=_PROBE_SECONDS, check=True
        ).stdout
        facts = json.loads(out)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return Interpreter(
        facts["executable"], facts["version"], tuple(dict.fromkeys(facts["prefixes"])), facts["libdir"]
    )


def _latest(runtime: str) -> str:
    if runtime.startswith("nodejs"):
        return _LATEST_NODE
    return "provided.al2023" if runtime.startswith("provided") else _LATEST_PYTHON


def _probe_node(path: str) -> Interpreter | None:
    if not path or not os.access(path, os.X_OK):
        return None
    try:
        out = subprocess.run([path, "--version"], capture_output=True, timeout=_PROBE_SECONDS, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return Interpreter(os.path.realpath(path), out.decode().strip().lstrip("v"), (), None, "nodejs")


def _own_libdir() -> str | None:
    import sysconfig

    libdir = sysconfig.get_config_var("LIBDIR")
    return libdir if sysconfig.get_config_var("Py_ENABLE_SHARED") and libdir else None
