"""Parameter mapping expressions (REST, not VTL), parsed once at deploy time into :class:`ParameterSource`:
``integration.request.header.X = method.request.querystring.y`` and kin. A request only looks values up
(``dataplane/mapping/parameters.py``)."""

from __future__ import annotations

from collections.abc import Mapping

from apigate.model import ParameterMapping, ParameterSource

_REQUEST_SOURCES = ("path", "querystring", "multivaluequerystring", "header", "multivalueheader")
_TARGETS = {
    "integration.request.header.": "header",
    "integration.request.querystring.": "querystring",
    "integration.request.path.": "path",
    "method.response.header.": "header",
}


class InvalidMapping(ValueError):
    """A mapping expression AWS would refuse; the message is AWS's."""


def parse_source(expression: str | bool | float) -> ParameterSource:
    if not isinstance(expression, str):  # YAML's `true` in an imported document: read as AWS reads it, text
        expression = str(expression).lower() if isinstance(expression, bool) else str(expression)
    expression = expression.strip()
    if len(expression) >= 2 and expression[0] == expression[-1] == "'":
        return ParameterSource("literal", expression[1:-1])
    for prefix, kind in (("stageVariables.", "stageVariables"), ("context.", "context")):
        if expression.startswith(prefix):
            return ParameterSource(kind, expression[len(prefix) :])
    if expression == "method.request.body" or expression == "integration.response.body":
        kind = "body" if expression.startswith("method.") else "response_body"
        return ParameterSource(kind, "")
    if expression.startswith("method.request.body."):
        return ParameterSource("body", "$" + expression[len("method.request.body") :])
    if expression.startswith("integration.response.body."):
        return ParameterSource("response_body", "$" + expression[len("integration.response.body") :])
    for kind in _REQUEST_SOURCES:
        prefix = f"method.request.{kind}."
        if expression.startswith(prefix):
            return ParameterSource(kind, expression[len(prefix) :])
    for kind in ("header", "multivalueheader"):
        prefix = f"integration.response.{kind}."
        if expression.startswith(prefix):
            return ParameterSource(f"response_{kind}", expression[len(prefix) :])
    raise InvalidMapping(
        f"Invalid mapping expression specified: Validation Result: warnings : [], errors : "
        f"[Invalid mapping expression parameter specified: {expression}]"
    )


def parse_mappings(parameters: Mapping[str, str] | None) -> tuple[ParameterMapping, ...]:
    mappings = []
    for target, source in (parameters or {}).items():
        for prefix, location in _TARGETS.items():
            if target.startswith(prefix):
                mappings.append(ParameterMapping(location, target[len(prefix) :], parse_source(source)))
                break
    return tuple(mappings)
