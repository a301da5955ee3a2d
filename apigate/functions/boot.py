"""How a Python worker starts: with none of the gateway's packages on its path.

Lambda's Python runtime gives a function its task root, its layers, the runtime's own code and the AWS SDK
(boto3), nothing else. A worker here starts with ``-s -S`` (no site-packages: neither the gateway's, nor, for
another interpreter, that one's) and PYTHONPATH holding only the function's own entries and its built
dependencies (deps.py). The runtime (the ``apigate`` package) and the SDK are reached by name through one
finder placed last in ``sys.meta_path``: ``import boto3`` works as on Lambda, a package the function bundles or
requires wins over it (the path is searched first), and ``import fastapi`` fails as it would on Lambda even
though the gateway has it. orjson is offered to the runtime only (the worker drops it from ``sys.modules``).

The finder's table comes in ``_APIGATE_IMPORTS`` (name -> directory; the sandbox rewrites the directories to
the handles a worker can reach), which the boot code removes from the environment before any function code.
"""

from __future__ import annotations

import importlib.util
import json
import os

__all__ = ["BOOT", "BOOT_RUNTIME_API", "IMPORTS_VARIABLE", "runtime_imports"]

IMPORTS_VARIABLE = "_APIGATE_IMPORTS"

# The top-level names a function may import from the runtime: apigate's worker, and the SDK Lambda bundles
# with its Python runtimes with what it needs. orjson only for the runtime (see worker._load_orjson).
_RUNTIME_NAMES = ("apigate", "boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six", "orjson")

# Run with `python -u -s -S -c BOOT REPLY_FD REQUEST_FD [--sandboxed]`. Kept to what every Python 3.9+ has.
BOOT = """
import os, sys
from importlib.machinery import PathFinder
_dirs = __import__("json").loads(os.environ.pop("_APIGATE_IMPORTS", "{}"))
class _RuntimeFinder:
    @staticmethod
    def find_spec(name, path=None, target=None):
        where = _dirs.get(name) if path is None else None
        return PathFinder.find_spec(name, [where], target) if where else None
    @staticmethod
    def invalidate_caches():
        pass
    @staticmethod
    def forget(name):
        _dirs.pop(name, None)
sys.meta_path.append(_RuntimeFinder)
from apigate.functions.worker import main
sys.exit(main(sys.argv))
"""
# provided.* runtimes: the same start, the Runtime API shim instead of the Python worker (runtime_api.py).
BOOT_RUNTIME_API = BOOT.replace("apigate.functions.worker", "apigate.functions.runtime_api")


def runtime_imports() -> dict[str, str]:
    """Where the gateway's interpreter finds each runtime name: the directory holding it."""
    found: dict[str, str] = {}
    for name in _RUNTIME_NAMES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None or spec.origin is None:
            continue
        origin = os.path.realpath(spec.origin)
        # A package's __init__.py sits two levels below its directory on the path; a module one level.
        levels = 2 if spec.submodule_search_locations is not None else 1
        for _ in range(levels):
            origin = os.path.dirname(origin)
        found[name] = origin
    return found


def imports_json(imports: dict[str, str]) -> str:
    return json.dumps(imports, separators=(",", ":"))
