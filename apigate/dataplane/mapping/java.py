"""Java semantics the templates expect: ``toString`` of values and the methods AWS users call on them.

Velocity runs on the JVM, so templates call ``String``/``List``/``Map`` methods. Our values are plain Python
``str``/``list``/``dict``/``int``/``float``/``bool``/``None``; this module gives them their Java faces.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

from apigate.dataplane.mapping.budget import MAX_STRING, TemplateBudgetExceeded, current
from apigate.dataplane.mapping.errors import TemplateRenderError
from apigate.dataplane.regex_budget import UserRegex, UserRegexError, compile_user_regex


class VtlObject:
    """Base of the engine's own objects (``$input``, ``$util``, ``$foreach``, ...): explicit whitelists only."""

    __slots__ = ()

    def vtl_get(self, name: str) -> object:
        return None

    def vtl_call(self, name: str, args: list[object]) -> object:
        return _NO_METHOD

    def vtl_str(self) -> str:
        return object.__repr__(self)


class _NoMethod:
    __slots__ = ()


_NO_METHOD: Any = _NoMethod()


# ---------------------------------------------------------------------------------------------- toString


def java_double(value: float) -> str:
    """``Double.toString``: ``1.0``, ``0.001``, ``1.0E-4``, ``1.0E7``, ``NaN``, ``Infinity``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "." in text else text + ".0"
    # Java switches to d.dddE<n> outside [1e-3, 1e7), with the same shortest round-tripping digits.
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    mantissa = f"{digits[0]}." + ("".join(map(str, digits[1:])) or "0")
    return ("-" if sign else "") + f"{mantissa}E{len(digits) - 1 + exponent}"


def to_str(value: object) -> str:
    """Java's ``String.valueOf``: how Velocity renders a non-null value."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if value is None:
        return "null"
    if isinstance(value, list | tuple | dict):
        out: list[str] = []
        _collection_str(value, out, [MAX_STRING])
        return "".join(out)
    if isinstance(value, VtlObject):
        return value.vtl_str()
    return str(value)


def _collection_str(value: object, out: list[str], left: list[int]) -> None:
    """``toString`` of a list or map, refused once past ``MAX_STRING``: shared or self-nested collections
    would otherwise print exponentially (``left`` is the remaining size, shared by the recursion)."""
    if isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(", ")
            _collection_str(item, out, left)
        out.append("]")
        left[0] -= 2 + 2 * len(value)
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(", ")
            _collection_str(key, out, left)
            out.append("=")
            _collection_str(item, out, left)
        out.append("}")
        left[0] -= 2 + 3 * len(value)
    else:
        text = to_str(value)
        out.append(text)
        left[0] -= len(text)
    if left[0] < 0:
        raise TemplateBudgetExceeded(f"toString of a collection over {MAX_STRING} characters")


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------- regexes


def java_regex(pattern: str) -> UserRegex:
    """A template's pattern: linear-time or time-bounded (``dataplane.regex_budget``), compiled once."""
    try:
        return compile_user_regex(pattern)
    except UserRegexError as exc:
        raise TemplateRenderError(f"invalid regular expression {pattern!r}: {exc}") from exc


@lru_cache(maxsize=512)
def _java_replacement(replacement: str) -> tuple[str | int, ...]:
    """A Java replacement string as literal pieces and group numbers: ``$1`` is a group, ``\\x`` is ``x``."""
    out: list[str | int] = []
    i = 0
    while i < len(replacement):
        char = replacement[i]
        if char == "\\" and i + 1 < len(replacement):
            out.append(replacement[i + 1])
            i += 2
        elif char == "$" and i + 1 < len(replacement) and "0" <= replacement[i + 1] <= "9":
            j = i + 1
            while j < len(replacement) and "0" <= replacement[j] <= "9":
                j += 1
            out.append(int(replacement[i + 1 : j]))
            i = j
        else:
            out.append(char)
            i += 1
    return tuple(out)


def _replace_all(text: str, regex: str, replacement: str, count: int = 0) -> str:
    """``replaceAll``/``replaceFirst``, refusing (before building it) a result over ``MAX_STRING``."""
    pattern = java_regex(regex)
    parts = _java_replacement(replacement)
    budget = current()
    out: list[str] = []
    size = last = 0
    for done, match in enumerate(pattern.finditer(text), 1):
        start, end = match.start(), match.end()
        out.append(text[last:start])
        size += start - last
        for part in parts:
            piece = part if isinstance(part, str) else (match.group(part) or "")
            out.append(piece)
            size += len(piece)
        budget.expect(size)
        last = end
        if done == count:
            break
    out.append(text[last:])
    return "".join(out)


def _replace(text: str, target: object, replacement: object) -> str:
    """``String.replace``: the result's size is known up front, so ``"a"*10**6`` times a long string is refused."""
    old, new = to_str(target), to_str(replacement)
    hits = text.count(old) if old else len(text) + 1
    current().expect(len(text) + hits * (len(new) - len(old)))
    return text.replace(old, new)


def _split(text: str, regex: str, limit: int = 0) -> list[str]:
    """``String.split``: a zero-width leading match gives no empty head; trailing empties dropped (limit 0)."""
    pattern = java_regex(regex)
    parts: list[str] = []
    start = 0
    for match in pattern.finditer(text):
        if limit > 0 and len(parts) == limit - 1:
            break
        if match.end() == 0:
            continue
        if match.start() == match.end() and match.start() >= len(text):
            break
        parts.append(text[start : match.start()])
        start = match.end()
    parts.append(text[start:])
    if limit == 0:
        while parts and parts[-1] == "":
            parts.pop()
        if not parts:
            return [] if text else [""]
    return parts


def _java_trim(text: str) -> str:
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]


def _index_of(text: str, needle: object, start: object = 0) -> int:
    return text.find(to_str(needle), _int(start))


def _last_index_of(text: str, needle: object, *rest: object) -> int:
    if rest:
        return text.rfind(to_str(needle), 0, _int(rest[0]) + len(to_str(needle)))
    return text.rfind(to_str(needle))


def _int(value: object) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    raise TypeError("not a number")


def _substring(text: str, begin: object, *end: object) -> str:
    b = _int(begin)
    e = _int(end[0]) if end else len(text)
    if b < 0 or e > len(text) or b > e:
        raise TemplateRenderError(f"String index out of range: begin {b}, end {e}, length {len(text)}")
    return text[b:e]


def _char_at(text: str, index: object) -> str:
    i = _int(index)
    if not 0 <= i < len(text):
        raise TemplateRenderError(f"String index out of range: {i}")
    return text[i]


def _compare_to(text: str, other: object) -> int:
    o = to_str(other)
    for a, b in zip(text, o, strict=False):
        if a != b:
            return ord(a) - ord(b)
    return len(text) - len(o)


_Method = Callable[..., object]

STRING_METHODS: dict[str, _Method] = {
    "length": len,
    "isEmpty": lambda s: not s,
    "toString": lambda s: s,
    "trim": _java_trim,
    "strip": lambda s: s.strip(),
    "toLowerCase": lambda s: s.lower(),
    "toUpperCase": lambda s: s.upper(),
    "contains": lambda s, x: to_str(x) in s,
    "startsWith": lambda s, x, *off: s.startswith(to_str(x), *[_int(o) for o in off]),
    "endsWith": lambda s, x: s.endswith(to_str(x)),
    "equals": lambda s, x: isinstance(x, str) and s == x,
    "equalsIgnoreCase": lambda s, x: isinstance(x, str) and s.lower() == x.lower(),
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "substring": _substring,
    "charAt": _char_at,
    "concat": lambda s, x: s + to_str(x),
    "replace": _replace,
    "replaceAll": lambda s, r, x: _replace_all(s, to_str(r), to_str(x)),
    "replaceFirst": lambda s, r, x: _replace_all(s, to_str(r), to_str(x), 1),
    "matches": lambda s, r: java_regex(to_str(r)).fullmatch(s) is not None,
    "split": lambda s, r, *limit: _split(s, to_str(r), *[_int(n) for n in limit]),
    "compareTo": _compare_to,
    "hashCode": lambda s: _java_hash(s),
}


def _java_hash(text: str) -> int:
    h = 0
    for char in text:
        h = (31 * h + ord(char)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def _list_get(items: list[object], index: object) -> object:
    i = _int(index)
    if not 0 <= i < len(items):
        raise TemplateRenderError(f"Index {i} out of bounds for length {len(items)}")
    return items[i]


def _list_add(items: list[object], *args: object) -> object:
    if len(args) == 2:
        items.insert(_int(args[0]), args[1])
        return None
    items.append(args[0])
    return True


def _list_remove(items: list[object], what: object) -> object:
    if is_number(what) and not isinstance(what, float):
        return items.pop(_int(what))
    if what in items:
        items.remove(what)
        return True
    return False


def _list_set(items: list[object], index: object, value: object) -> object:
    i = _int(index)
    previous = items[i]
    items[i] = value
    return previous


def _list_index_of(items: list[object], value: object) -> int:
    return items.index(value) if value in items else -1


LIST_METHODS: dict[str, _Method] = {
    "size": len,
    "isEmpty": lambda x: not x,
    "get": _list_get,
    "contains": lambda x, v: v in x,
    "add": _list_add,
    "addAll": lambda x, v: x.extend(v) is None,
    "remove": _list_remove,
    "set": _list_set,
    "indexOf": _list_index_of,
    "clear": lambda x: x.clear(),
    "subList": lambda x, a, b: x[_int(a) : _int(b)],
    "toString": to_str,
}


def _map_put(mapping: dict[object, object], key: object, value: object) -> object:
    previous = mapping.get(key)
    mapping[key] = value
    return previous


class MapEntry(VtlObject):
    """``Map.Entry`` from ``entrySet()``: ``$e.key``, ``$e.value``."""

    __slots__ = ("key", "value")

    def __init__(self, key: object, value: object) -> None:
        self.key = key
        self.value = value

    def vtl_get(self, name: str) -> object:
        return self.key if name == "key" else self.value if name == "value" else None

    def vtl_call(self, name: str, args: list[object]) -> object:
        if name == "getKey" and not args:
            return self.key
        if name == "getValue" and not args:
            return self.value
        if name == "toString" and not args:
            return self.vtl_str()
        return _NO_METHOD

    def vtl_str(self) -> str:
        return f"{to_str(self.key)}={to_str(self.value)}"


MAP_METHODS: dict[str, _Method] = {
    "size": len,
    "isEmpty": lambda m: not m,
    "get": lambda m, k: m.get(k),
    "getOrDefault": lambda m, k, d: m.get(k, d),
    "containsKey": lambda m, k: k in m,
    "containsValue": lambda m, v: v in m.values(),
    "keySet": lambda m: list(m),
    "values": lambda m: list(m.values()),
    "entrySet": lambda m: [MapEntry(k, v) for k, v in m.items()],
    "put": _map_put,
    "putAll": lambda m, o: m.update(o),
    "remove": lambda m, k: m.pop(k, None),
    "clear": lambda m: m.clear(),
    "toString": to_str,
}

NUMBER_METHODS: dict[str, _Method] = {
    "toString": to_str,
    "intValue": lambda n: int(n),
    "longValue": lambda n: int(n),
    "doubleValue": lambda n: float(n),
    "floatValue": lambda n: float(n),
    "equals": lambda n, o: type(n) is type(o) and n == o,
    "compareTo": lambda n, o: (n > o) - (n < o),
}

BOOLEAN_METHODS: dict[str, _Method] = {
    "toString": to_str,
    "booleanValue": lambda b: b,
    "equals": lambda b, o: b is o,
}


def call_method(target: object, name: str, args: list[object]) -> object:
    """Invoke ``$target.name(args)``; ``None`` when no such method (Velocity then renders the reference literally)."""
    if isinstance(target, str):
        table = STRING_METHODS
    elif isinstance(target, dict):
        table = MAP_METHODS
    elif isinstance(target, list):
        table = LIST_METHODS
    elif isinstance(target, bool):
        table = BOOLEAN_METHODS
    elif isinstance(target, int | float):
        table = NUMBER_METHODS
    elif isinstance(target, VtlObject):
        found = target.vtl_call(name, args)
        if type(found) is str and len(found) > _FREE_CHARS:
            current().text(found)  # $util.escapeJavaScript, $input.json, ...: strings built per call
        return None if found is _NO_METHOD else found
    else:
        return None
    method = table.get(name)
    if method is None:
        return None
    if name in _GROWING and table is not STRING_METHODS:
        budget = current()
        for arg in args:
            budget.nest(arg)  # addAll($self) doubles a list per call: charge what goes in
    try:
        result = method(target, *args)
    except TypeError:  # wrong arity or argument type: no such Java overload
        return None
    except (IndexError, ValueError, KeyError, re.error) as exc:  # IndexError: a replacement's missing group
        raise TemplateRenderError(f"{name}() failed: {exc}") from exc
    if type(result) is str and len(result) > _FREE_CHARS and result is not target:
        current().text(result)
    return result


# Shorter strings are not charged (this is the hot path): each call is a syntax node, so the fuel (one unit per
# node per pass) already bounds them to MAX_FUEL x 256 characters built in all.
_FREE_CHARS: Final = 256


_GROWING = frozenset({"add", "addAll", "put", "putAll", "set"})


def get_property(target: object, name: str) -> object:
    """``$target.name``: a map key, our objects' properties, else a Java bean getter (``getX()``/``isX()``)."""
    if isinstance(target, dict):
        return target.get(name)
    if isinstance(target, VtlObject):
        return target.vtl_get(name)
    if target is None:
        return None
    cap = name[:1].upper() + name[1:]
    for getter in ("get" + cap, "is" + cap):
        result = call_method(target, getter, [])
        if result is not None:
            return result
    return None


def iterate(value: object) -> Iterator[object] | list[object] | None:
    """What ``#foreach`` walks: lists as they are, a map's values (as Velocity does), else nothing."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, tuple):
        return list(value)
    return None
