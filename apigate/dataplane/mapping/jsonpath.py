"""The JSONPath subset mapping templates use: ``$``, ``.a``, ``['a']``, ``[0]``, ``[-1]``, ``[*]``, ``.*``, ``..a``.

A *definite* path (no wildcard, no ``..``) selects one value or nothing; an indefinite one selects a list, as
Jayway JsonPath (which AWS runs) does. Paths are compiled once and cached: templates repeat the same few.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from apigate.dataplane.mapping.errors import TemplateRenderError

# Step kinds.
_KEY: Final = 0
_INDEX: Final = 1
_WILDCARD: Final = 2
_DESCEND: Final = 3

_Step = tuple[int, str | int]

_TOKEN = re.compile(
    r"""\.\.(?P<deep>[^.\[\]]+|\*)?    # ..name / ..*
      | \.(?P<name>[^.\[\]]+)            # .name or .*
      | \[\s*(?P<quoted>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*\]   # ['name']
      | \[\s*(?P<index>-?\d+)\s*\]       # [0]
      | \[\s*\*\s*\]                     # [*]
    """,
    re.VERBOSE,
)


class _NotFound:
    __slots__ = ()


NOT_FOUND: Final = _NotFound()


@lru_cache(maxsize=1024)
def compile_path(path: str) -> tuple[tuple[_Step, ...], bool]:
    """Steps of ``path`` and whether it is definite."""
    text = path.strip()
    if not text.startswith("$"):
        # AWS accepts a bare member name: ``$input.json('a.b')`` means ``$.a.b``.
        text = "$." + text if text else "$"
    steps: list[_Step] = []
    definite = True
    pos = 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise TemplateRenderError(f"invalid JSONPath {path!r} at offset {pos}")
        pos = match.end()
        if match.group(0).startswith(".."):
            definite = False
            steps.append((_DESCEND, ""))
            deep = match.group("deep")
            steps.append((_WILDCARD, "") if deep in (None, "*") else (_KEY, deep))
        elif (name := match.group("name")) is not None:
            if name == "*":
                definite = False
                steps.append((_WILDCARD, ""))
            else:
                steps.append((_KEY, name))
        elif (quoted := match.group("quoted")) is not None:
            steps.append((_KEY, re.sub(r"\\(.)", r"\1", quoted[1:-1])))
        elif (index := match.group("index")) is not None:
            steps.append((_INDEX, int(index)))
        else:
            definite = False
            steps.append((_WILDCARD, ""))
    return tuple(steps), definite


def _descendants(value: object, out: list[object]) -> None:
    out.append(value)
    if isinstance(value, dict):
        for child in value.values():
            _descendants(child, out)
    elif isinstance(value, list):
        for child in value:
            _descendants(child, out)


def _apply(step: _Step, value: object, out: list[object]) -> None:
    kind, arg = step
    if kind == _KEY:
        if isinstance(value, dict) and arg in value:
            out.append(value[arg])
    elif kind == _INDEX:
        if isinstance(value, list) and isinstance(arg, int) and -len(value) <= arg < len(value):
            out.append(value[arg])
    elif kind == _WILDCARD:
        if isinstance(value, dict):
            out.extend(value.values())
        elif isinstance(value, list):
            out.extend(value)
    else:
        _descendants(value, out)


def select(document: object, path: str) -> object:
    """The value at ``path`` (``NOT_FOUND`` if a definite path misses), or the list of matches."""
    steps, definite = compile_path(path)
    current: list[object] = [document]
    for step in steps:
        nxt: list[object] = []
        for value in current:
            _apply(step, value, nxt)
        current = nxt
    if definite:
        return current[0] if current else NOT_FOUND
    return current
