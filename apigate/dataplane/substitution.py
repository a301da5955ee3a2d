"""Plain variable substitution for MOCK templates and integration URIs.

Handles ``$context.x``, ``$stageVariables.x``, ``${stageVariables.x}``, ``$input.params('x')`` and
``$input.body``. Full Velocity templates replace this for mapping templates; integration URIs keep it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}|\$stageVariables\.([A-Za-z0-9_]+)")
_CONTEXT = re.compile(r"\$\{?context\.([A-Za-z0-9_.]+?)\}?(?![A-Za-z0-9_.])")
_PARAM = re.compile(r"\$input\.params\(\s*['\"]([^'\"]+)['\"]\s*\)")


def stage_variables(text: str, variables: Mapping[str, str]) -> str:
    return _STAGE_VARIABLE.sub(lambda m: variables.get(m.group(1) or m.group(2), ""), text)


def template(
    text: str,
    *,
    variables: Mapping[str, str],
    context: Callable[[str], str | None],
    param: Callable[[str], str | None],
    body: str,
) -> str:
    text = stage_variables(text, variables)
    text = _PARAM.sub(lambda m: param(m.group(1)) or "", text)
    text = _CONTEXT.sub(lambda m: context(m.group(1)) or "", text)
    return text.replace("$input.body", body)
