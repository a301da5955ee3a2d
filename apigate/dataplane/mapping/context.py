"""``$context`` of an invocation, built once and shared by mapping templates, ``context.x`` parameter mappings
and gateway responses."""

from __future__ import annotations

from apigate.dataplane.invocation import Invocation
from apigate.dataplane.lambda_proxy.rest import request_context


def mapping_context(inv: Invocation) -> dict[str, object]:
    """``$context`` as templates see it (``authorizer`` always present). Cached on the invocation with what it
    was built from: a step that runs later (an authorizer, the API key check) makes the next call rebuild it.
    Callers must not modify it (``render_mapping`` copies it)."""
    key = (inv.method, inv.authorizer, inv.iam_identity, inv.api_key, inv.api_key_id)
    cached = inv.context_cache
    if cached is not None and cached[0] == key:
        return cached[1]
    context: dict[str, object] = request_context(inv)
    context.setdefault("authorizer", {})  # the authorizer's principalId, context or claims, when there is one
    api = inv.api
    if api.canary is not None or api.is_canary:  # present only while the stage has a canary (AWS's rule)
        context["isCanaryRequest"] = api.is_canary
    inv.context_cache = (key, context)
    return context


def context_value(inv: Invocation, dotted: str) -> str | None:
    """A ``context.x.y`` parameter mapping's value (None when missing, as without an authorizer)."""
    if inv.authorizer is None and dotted.split(".", 1)[0] == "authorizer":
        return None  # templates see an empty ``$context.authorizer``; a mapping sees none
    value: object = mapping_context(inv)
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return None if value is None else str(value)
