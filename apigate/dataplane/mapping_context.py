"""``$context.*`` and ``$input.params(x)`` values of an invocation, as mapping templates see them."""

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


def param_value(inv: Invocation, name: str) -> str | None:
    """Path first, then query string, then header: the order ``$input.params(x)`` searches."""
    if name in inv.path_parameters:
        return inv.path_parameters[name]
    for key, value in reversed(inv.query_pairs):
        if key == name:
            return value
    return inv.request.header(name)
