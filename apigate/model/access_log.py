"""A stage's access log format, compiled at deploy time (compile/access_log.py) and rendered per request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["AccessLogFormat"]


@dataclass(frozen=True, slots=True)
class AccessLogFormat:
    """A compiled format: literal text and variable paths in turn (``parts[0]`` literal, then path, literal…)."""

    literals: tuple[str, ...]
    paths: tuple[tuple[str, ...], ...]
    destination: str

    def render(self, context: dict[str, Any]) -> str:
        out = [self.literals[0]]
        for path, literal in zip(self.paths, self.literals[1:], strict=True):
            value: Any = context
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            out.append("-" if value is None or value == "" else str(value))
            out.append(literal)
        return "".join(out)
