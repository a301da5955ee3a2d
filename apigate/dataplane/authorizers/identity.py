"""What an authorizer is asked about: the method ARN, and the identity source values that key its cache."""

from __future__ import annotations

from apigate.aws import arns
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.mapping.context import context_value
from apigate.model import RestAuthorizer

# identitySource expressions -> the kind of value each names.
_PREFIXES = (
    ("method.request.header.", "header"),
    ("method.request.multivalueheader.", "multivalueheader"),
    ("method.request.querystring.", "querystring"),
    ("method.request.multivaluequerystring.", "multivaluequerystring"),
    ("stageVariables.", "stageVariables"),
    ("context.", "context"),
)


class InvalidIdentitySource(ValueError):
    pass


def _source(expression: str) -> tuple[str, str]:
    for prefix, kind in _PREFIXES:
        if expression.startswith(prefix) and len(expression) > len(prefix):
            return kind, expression[len(prefix) :]
    raise InvalidIdentitySource(expression)


def parse_identity_sources(text: str | None, *, header_only: bool) -> tuple[tuple[str, str], ...]:
    """``method.request.header.Auth, method.request.querystring.name`` -> (("header", "Auth"), ...)."""
    sources = tuple(_source(raw.strip()) for raw in (text or "").split(",") if raw.strip())
    if header_only and (len(sources) != 1 or sources[0][0] != "header"):
        raise InvalidIdentitySource(text or "")
    return sources


def method_arn(inv: Invocation) -> str:
    """``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{VERB}/{path}``: the request's own verb and its
    canonical path, the one the router matched (never the raw path: ``/%61dmin`` is ``/admin`` here too).

    The one ARN that resource policies, IAM policies, Lambda authorizer policies and cache invalidation
    rights are evaluated against."""
    api = inv.api
    return arns.method_arn(
        api.region, api.account_id, api.api_id, api.stage, inv.request.method, inv.segments
    )


def _value(inv: Invocation, kind: str, name: str) -> str | None:
    if kind == "header":
        return inv.request.header(name)
    if kind == "multivalueheader":
        values = inv.request.header_values(name)
        return ",".join(values) if values else None
    if kind in ("querystring", "multivaluequerystring"):
        found = [value for key, value in inv.query_pairs if key == name]
        if not found:
            return None
        return found[-1] if kind == "querystring" else ",".join(found)
    if kind == "stageVariables":
        return inv.api.stage_variables.get(name)
    return context_value(inv, name)


def identity_values(inv: Invocation, authorizer: RestAuthorizer) -> list[str] | None:
    """Every identity source's value, or None when one is missing or empty (AWS answers 401 then)."""
    values: list[str] = []
    for kind, name in authorizer.identity_sources:
        value = _value(inv, kind, name)
        if not value:
            return None
        values.append(value)
    return values
