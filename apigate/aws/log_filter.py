"""CloudWatch Logs filter patterns (FilterLogEvents' ``filterPattern``), compiled once per call into a test on
one event's message.

Served: terms (``ERROR timeout``: every term), quoted phrases (``"Task timed out"``), optional terms
(``?ERROR ?WARN``: any of them), excluded terms (``ERROR -retry``), all case-sensitive as on CloudWatch, and
JSON patterns with simple comparisons joined by ``&&`` or ``||`` (``{ $.level = "ERROR" && $.ms > 100 }``).
Space-delimited patterns (``[ip, user, ...]``) are refused with the error CloudWatch gives a bad pattern.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["FilterPatternError", "compile_filter"]

Matcher = Callable[[str], bool]

_TERM = re.compile(r'\s*(?:([?-]?)"((?:[^"\\]|\\.)*)"|(\S+))')
_COMPARISON = re.compile(
    r'\s*\$((?:\.[A-Za-z0-9_\-]+|\[\d+\])*)\s*(=|!=|>=|<=|>|<)\s*("(?:[^"\\]|\\.)*"|[^\s&|)]+)\s*'
)


class FilterPatternError(ValueError):
    pass


def compile_filter(pattern: str | None) -> Matcher | None:
    """None matches every event."""
    if pattern is None or not pattern.strip() or pattern.strip() == '""':
        return None
    text = pattern.strip()
    if text.startswith("{"):
        return _json_filter(text)
    if text.startswith("["):
        raise FilterPatternError(
            "Invalid filter pattern: space-delimited patterns are not supported by apigate"
        )
    required: list[str] = []
    optional: list[str] = []
    excluded: list[str] = []
    position = 0
    while position < len(text):
        match = _TERM.match(text, position)
        if match is None or match.end() == position:
            break
        position = match.end()
        if match.group(3) is not None:
            word = match.group(3)
            sign = word[0] if word[0] in "?-" and len(word) > 1 else ""
            word = word[len(sign) :]
        else:
            sign, word = match.group(1), match.group(2).replace('\\"', '"')
        if not word:
            continue
        (optional if sign == "?" else excluded if sign == "-" else required).append(word)
    if not (required or optional or excluded):
        return None

    def matches(message: str) -> bool:
        if any(word not in message for word in required):
            return False
        if optional and not any(word in message for word in optional):
            return False
        return not any(word in message for word in excluded)

    return matches


def _json_filter(text: str) -> Matcher:
    if not text.endswith("}"):
        raise FilterPatternError("Invalid filter pattern: a JSON pattern ends with }")
    body = text[1:-1].strip()
    if "&&" in body and "||" in body:
        raise FilterPatternError("Invalid filter pattern: mixing && and || is not supported by apigate")
    joiner = "||" if "||" in body else "&&"
    tests = [_comparison(part) for part in body.split(joiner)]

    def matches(message: str) -> bool:
        try:
            document = orjson.loads(message)
        except orjson.JSONDecodeError:
            return False
        results = (test(document) for test in tests)
        return any(results) if joiner == "||" else all(results)

    return matches


def _comparison(part: str) -> Callable[[Any], bool]:
    match = _COMPARISON.fullmatch(part)
    if match is None:
        raise FilterPatternError(f"Invalid filter pattern: cannot read {part.strip()!r}")
    path = re.findall(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]", match.group(1))
    operator, raw = match.group(2), match.group(3)
    expected: Any
    if raw.startswith('"'):
        expected = raw[1:-1].replace('\\"', '"')
    else:
        try:
            expected = float(raw)
        except ValueError:
            expected = raw  # an unquoted string, as CloudWatch allows
    if isinstance(expected, str) and operator not in ("=", "!="):
        raise FilterPatternError("Invalid filter pattern: only = and != compare strings")
    wildcard = isinstance(expected, str) and "*" in expected
    shape = re.compile(".*".join(map(re.escape, expected.split("*"))) + r"\Z") if wildcard else None

    def test(document: Any) -> bool:
        value = document
        for key, index in path:
            if key and isinstance(value, dict) and key in value:
                value = value[key]
            elif index and isinstance(value, list) and int(index) < len(value):
                value = value[int(index)]
            else:
                return False
        if isinstance(expected, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return False
            return {
                "=": value == expected,
                "!=": value != expected,
                ">": value > expected,
                "<": value < expected,
                ">=": value >= expected,
                "<=": value <= expected,
            }[operator]
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        equal = bool(shape.match(text)) if shape is not None else text == expected
        return equal if operator == "=" else not equal

    return test
