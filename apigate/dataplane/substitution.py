"""Filling an integration URI: stage variables, then ``{placeholders}`` from path values (the one URL filler
of REST, HTTP and WebSocket APIs).

Stage variables are ``${stageVariables.x}`` and ``$stageVariables.x`` in REST and WebSocket APIs; HTTP APIs take
the braced form only. Mapping templates are full Velocity (``apigate.dataplane.mapping``); URIs only ever take
stage variables and placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from apigate.dataplane.request_path import path_value

_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}|\$stageVariables\.([A-Za-z0-9_]+)")
_BRACED_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9._-]+)\+?\}")
_NONE: Mapping[str, str] = {}


def stage_variables(text: str, variables: Mapping[str, str], *, braced_only: bool = False) -> str:
    if braced_only:
        return _BRACED_STAGE_VARIABLE.sub(lambda m: variables.get(m.group(1), ""), text)
    return _STAGE_VARIABLE.sub(lambda m: variables.get(m.group(1) or m.group(2), ""), text)


def fill_placeholders(url: str, values: Mapping[str, str], fallback: Mapping[str, str] = _NONE) -> str:
    """``{name}`` and ``{name+}`` from ``values``, else ``fallback`` (a same-named path parameter), else "".
    Each value goes through ``path_value``: it never climbs above the URI's base."""

    def fill(found: re.Match[str]) -> str:
        name = found.group(1)
        value = values.get(name, fallback.get(name))
        return "" if value is None else path_value(value)

    return _PLACEHOLDER.sub(fill, url)
