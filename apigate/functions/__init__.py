"""The Lambda model: function code, isolated worker processes, and the invoke call.

Names are re-exported lazily: worker processes import this package too, and should load only what they use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .code_store import CodeInfo, CodeNotFoundError, CodeStore, InvalidZipError
    from .pool import PoolClosedError
    from .runtime import FunctionRuntime, InvokeResult, InvokeStatus, WorkerStartError
    from .spec import RESERVED_ENVIRONMENT_KEYS, FunctionSpec

__all__ = [
    "RESERVED_ENVIRONMENT_KEYS",
    "CodeInfo",
    "CodeNotFoundError",
    "CodeStore",
    "FunctionRuntime",
    "FunctionSpec",
    "InvalidZipError",
    "InvokeResult",
    "InvokeStatus",
    "PoolClosedError",
    "WorkerStartError",
]

_HOMES = {
    "CodeInfo": "code_store",
    "CodeNotFoundError": "code_store",
    "CodeStore": "code_store",
    "InvalidZipError": "code_store",
    "PoolClosedError": "pool",
    "FunctionRuntime": "runtime",
    "InvokeResult": "runtime",
    "InvokeStatus": "runtime",
    "WorkerStartError": "runtime",
    "RESERVED_ENVIRONMENT_KEYS": "spec",
    "FunctionSpec": "spec",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
