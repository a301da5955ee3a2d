"""Request models' JSON Schemas as a deployment compiles them (fastjsonschema), with their ``pattern``s bounded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from fastjsonschema.draft04 import CodeGeneratorDraft04

from apigate.dataplane.regex_budget import compile_user_regex, is_backtracking

# fastjsonschema's own format regexes (ours, trusted): left as compiled.
_FORMAT_KEYS: Final = frozenset(f"{name}_re_pattern" for name in CodeGeneratorDraft04.FORMAT_REGEXS)


def bound_schema_patterns(validate: Callable[[Any], Any]) -> bool:
    """Swap the ``pattern``/``patternProperties`` regexes fastjsonschema compiled with ``re`` for budgeted ones.

    The generated code looks them up by their source in its ``REGEX_PATTERNS`` global, calling ``.search`` (and
    ``.match`` for the built-in formats, which are ours and stay). fastjsonschema rewrites ``$`` to ``\\Z`` for
    ``re``; RE2's ``$`` already means the very end. Raises ``UserRegexError`` for a pattern no engine accepts.

    Returns whether a pattern fell back to the backtracking engine: only then does a validation need a time
    budget (setting one up costs about a microsecond a request).
    """
    timed = False
    patterns = getattr(validate, "__globals__", {}).get("REGEX_PATTERNS")
    if isinstance(patterns, dict):
        for source in list(patterns):
            if source not in _FORMAT_KEYS:
                patterns[source] = compiled = compile_user_regex(source)
                timed = timed or is_backtracking(compiled)
    return timed
