"""Seeing what the gateway does: request lines on the console (more to come: access and execution logs, traces)."""

from __future__ import annotations

from apigate.observe.console import RequestConsole

__all__ = ["RequestConsole"]
