"""``$input``: the request (or integration response) body and parameters, as a mapping template sees them."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from apigate.dataplane.mapping import jsonpath
from apigate.dataplane.mapping.budget import MAX_NODES, TemplateBudgetExceeded, count_nodes, current
from apigate.dataplane.mapping.errors import TemplateRenderError
from apigate.dataplane.mapping.java import _NO_METHOD, VtlObject

_UNPARSED = object()


def to_json(value: object) -> str:
    """Compact JSON, as AWS writes ``$input.json(...)`` (no spaces, non-ASCII kept)."""
    budget = current()
    # Once the template has put collections into collections (maybe one many times), bound the expanded size
    # before orjson, which cannot be interrupted, writes it out.
    if (
        budget.nodes < MAX_NODES
        and isinstance(value, list | dict)
        and count_nodes(value, MAX_NODES) > MAX_NODES
    ):
        raise TemplateBudgetExceeded(f"$input.json of a value over {MAX_NODES} elements")
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return orjson.dumps(_plain(value)).decode()


def _plain(value: object) -> object:
    """Our own objects (e.g. a ``Map.Entry`` put into a list) as JSON-able values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, VtlObject):
        return value.vtl_str()
    return str(value)


def parse_json(text: str) -> object:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise TemplateRenderError(f"Invalid JSON: {exc}") from exc


class InputVariable(VtlObject):
    """``$input``. The body is parsed lazily, once per render (``path``/``json`` are called many times)."""

    __slots__ = ("_document", "_params", "body")

    def __init__(self, body: str, params: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.body = body
        params = params or {}
        # Order as AWS builds the map: path, querystring, header.
        self._params: dict[str, dict[str, str]] = {
            "path": dict(params.get("path") or {}),
            "querystring": dict(params.get("querystring") or {}),
            "header": dict(params.get("header") or {}),
        }
        self._document: object = _UNPARSED

    def _root(self) -> object:
        if self._document is _UNPARSED:
            # An absent body reads as an empty object (the passthrough template renders ``"body-json" : {}``);
            # a body that is not JSON reads as one string, so ``$input.path('$')`` gives the raw text (the
            # well-known form-urlencoded template splits it on ``&``).
            if not self.body.strip():
                self._document = {}
            else:
                try:
                    self._document = orjson.loads(self.body)
                except orjson.JSONDecodeError:
                    self._document = self.body
        return self._document

    def path(self, path: str) -> object:
        """JSONPath result as a native object (``None`` if a definite path matches nothing)."""
        found = jsonpath.select(self._root(), path)
        return None if found is jsonpath.NOT_FOUND else found

    def json(self, path: str) -> str:
        """JSONPath result as JSON text; a definite path that matches nothing renders as an empty string."""
        found = jsonpath.select(self._root(), path)
        return "" if found is jsonpath.NOT_FOUND else to_json(found)

    def params(self, name: str | None = None) -> object:
        """All parameters (a map of maps), or one: path, then query string, then header (case-insensitive)."""
        if name is None:
            return self._params
        for kind in ("path", "querystring"):
            value = self._params[kind].get(name)
            if value is not None:
                return value
        headers = self._params["header"]
        value = headers.get(name)
        if value is None:
            lowered = name.lower()
            value = next((v for k, v in headers.items() if k.lower() == lowered), None)
        return "" if value is None else value

    # -- Velocity face
    def vtl_get(self, name: str) -> object:
        return self.body if name == "body" else None

    def vtl_call(self, name: str, args: list[object]) -> object:
        if name == "params" and len(args) <= 1:
            return self.params(None if not args else str(args[0]))
        if name in ("path", "json") and len(args) == 1 and isinstance(args[0], str):
            return self.path(args[0]) if name == "path" else self.json(args[0])
        if name == "getBody" and not args:
            return self.body
        return _NO_METHOD

    def vtl_str(self) -> str:
        return self.body
