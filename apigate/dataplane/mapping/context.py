"""``$context.*`` values of an invocation, as parameter mappings (``context.x``) see them."""

from __future__ import annotations

from apigate.dataplane.events import request_context
from apigate.dataplane.invocation import Invocation


def context_value(inv: Invocation, dotted: str) -> str | None:
    value: object = request_context(inv)
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return None if value is None else str(value)
