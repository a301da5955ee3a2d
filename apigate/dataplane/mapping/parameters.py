"""Parameter mapping (REST, not VTL): the values of ``integration.request.header.X = method.request.querystring.y``
and kin for one request. Expressions were parsed at deploy time (``apigate/compile/parameters.py``)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from apigate.dataplane.invocation import Invocation
from apigate.dataplane.mapping import jsonpath
from apigate.dataplane.mapping.context import context_value
from apigate.dataplane.mapping.errors import TemplateRenderError
from apigate.dataplane.mapping.input import to_json
from apigate.model import ParameterSource


def _body_value(body: str, path: str) -> str | None:
    if not path:
        return body
    try:
        document = orjson.loads(body or "{}")
        found = jsonpath.select(document, path)
    except (orjson.JSONDecodeError, TemplateRenderError):
        return None
    if found is jsonpath.NOT_FOUND or found is None:
        return None
    return found if isinstance(found, str) else to_json(found)


def _last(pairs: Sequence[tuple[str, str]], name: str, *, fold: bool = False) -> list[str]:
    if fold:
        lowered = name.lower()
        return [v for k, v in pairs if k.lower() == lowered]
    return [v for k, v in pairs if k == name]


def request_value(inv: Invocation, source: ParameterSource, body: str) -> list[str] | None:
    """The value(s) of a method request source; several only for the multi-value kinds."""
    kind, name = source.kind, source.name
    value: str | None
    if kind == "literal":
        return [name]
    if kind == "path":
        value = inv.path_parameters.get(name)
    elif kind in ("querystring", "multivaluequerystring"):
        values = _last(inv.query_pairs, name)
        return (values if kind.startswith("multi") else values[-1:]) or None
    elif kind in ("header", "multivalueheader"):
        values = _last(inv.request.headers, name, fold=True)
        return (values if kind.startswith("multi") else values[-1:]) or None
    elif kind == "body":
        value = _body_value(body, name)
    elif kind == "stageVariables":
        value = inv.api.stage_variables.get(name)
    elif kind == "context":
        value = context_value(inv, name)
    else:
        value = None
    return None if value is None else [value]


def response_value(
    inv: Invocation, source: ParameterSource, headers: Sequence[tuple[str, str]], body: str
) -> str | None:
    """The value of an integration response source (literals, context and stage variables too)."""
    kind, name = source.kind, source.name
    if kind == "response_header":
        values = _last(headers, name, fold=True)
        return values[-1] if values else None
    if kind == "response_multivalueheader":
        values = _last(headers, name, fold=True)
        return ",".join(values) if values else None
    if kind == "response_body":
        return _body_value(body, name)
    if kind in ("literal", "stageVariables", "context"):
        found = request_value(inv, source, "")
        return found[0] if found else None
    return None
