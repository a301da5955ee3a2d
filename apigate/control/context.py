"""What every management module shares: the store, what is served, the functions, the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from apigate.config import Settings
from apigate.registry import Registry
from apigate.store.base import DocumentStore

if TYPE_CHECKING:
    from apigate.dataplane.pipeline import Pipeline
    from apigate.functions.directory import FunctionDirectory


@dataclass(slots=True)
class ControlContext:
    settings: Settings
    store: DocumentStore
    registry: Registry
    functions: FunctionDirectory
    pipeline: Pipeline | None = None  # set once the data plane exists; TestInvokeMethod runs through it
