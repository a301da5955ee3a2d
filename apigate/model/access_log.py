"""A stage's access log format, compiled at deploy time (compile/access_log.py) and rendered per request."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AccessLogFormat"]


@dataclass(frozen=True, slots=True)
class AccessLogFormat:
    """A compiled format: literal text and variable paths in turn (``parts[0]`` literal, then path, literal…)."""

    literals: tuple[str, ...]
    paths: tuple[tuple[str, ...], ...]
    destination: str
