"""Regular expressions written by API owners, run over text sent by clients: linear-time, or time-bounded.

AWS evaluates ``identityValidationExpression``, ``selectionPattern``, model ``pattern``s and the regexes a
mapping template passes to ``matches``/``replaceAll``/``split`` with Java's backtracking engine. Python's ``re``
backtracks too, so ``(a|aa)+$`` against forty ``a``s and a ``!`` would hold the event loop for minutes. Every
such pattern is compiled here, once, at deploy time:

1. RE2 (``google-re2``) first: matching is linear in the subject, whatever the pattern.
2. Patterns RE2 cannot express (backreferences, lookaround, possessive quantifiers and atomic groups, all valid
   Java) fall back to the ``regex`` package, whose matcher takes a ``timeout``. Each call gets what is left of
   the current ``regex_deadline`` (or ``MATCH_SECONDS`` outside one), and exceeding it raises
   ``RegexBudgetExceeded``.

Measured here (CPython 3.11, medians of 5 x N runs, microseconds per call):

=============================================  =======  ==============  =======
operation                                      re       regex+timeout   RE2
=============================================  =======  ==============  =======
compile ``^[A-Za-z0-9._-]+@[a-z]+\\.[a-z]{2,}$``  47       158             14
fullmatch an e-mail address                    0.15     2.1 (0.37 w/o)  2.9
fullmatch ``.*\\[400\\].*`` on 220 chars          0.42     2.2             3.9
``(a+)+$`` on 30 ``a`` + ``!``                   >10^6    227             18
``(a+)+$`` on 10^6 ``a`` + ``!``                 --       --              412
``(a|aa)+$`` on 40 ``a`` + ``!``                 --       timeout (100ms) 237
=============================================  =======  ==============  =======

``re`` needs 16 ms for 18 ``a``s and 215 ms for 22 (it doubles per character). ``regex`` happens to survive
``(a+)+$`` but not ``(a|aa)+$``, so its timeout is the guarantee, and a timeout still blocks the event loop for
its length; RE2 guarantees linear time outright for ~3 us more per match, so it is the default. Java syntax
differences: the POSIX ``\\p{Alpha}``-style classes are translated before compiling; Java's class intersection
``[a-z&&[^e]]`` is accepted by RE2 as a plain union (a known wart); ``$`` under RE2 matches only at the very end
(Java and ``re`` also match before a final newline).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any, Final, Protocol

import re2  # type: ignore[import-untyped]
import regex

MATCH_SECONDS: Final = 0.05  # one fallback match outside a regex_deadline
_JAVA_CLASSES: Final = (
    ("\\p{Alpha}", "[A-Za-z]"),
    ("\\p{Digit}", "[0-9]"),
    ("\\p{Alnum}", "[A-Za-z0-9]"),
    ("\\p{Punct}", "[!-/:-@\\[-`{-~]"),
    ("\\p{Space}", "\\s"),
    ("\\p{Upper}", "[A-Z]"),
    ("\\p{Lower}", "[a-z]"),
)
_RE2_MAX_MEM: Final = 8 << 20  # RE2's default program size cap; bounds what a pattern costs to compile


class UserRegexError(ValueError):
    """The pattern is not a valid regular expression."""


class RegexBudgetExceeded(Exception):
    """A backtracking (fallback) match ran out of time."""


class Match(Protocol):
    def group(self, index: int = ..., /) -> str | Any: ...
    def start(self, index: int = ..., /) -> int: ...
    def end(self, index: int = ..., /) -> int: ...


class UserRegex(Protocol):
    """What callers use: the ``re.Pattern`` methods, returning ``re``-like matches."""

    pattern: str

    def fullmatch(self, text: str) -> Match | None: ...
    def match(self, text: str) -> Match | None: ...
    def search(self, text: str) -> Match | None: ...
    def finditer(self, text: str) -> Iterator[Match]: ...


class _Deadline(threading.local):
    at: float | None = None


_deadline = _Deadline()


def regex_deadline(seconds: float) -> float | None:
    """Share ``seconds`` among the fallback matches until ``restore_regex_deadline(<the returned value>)``.

    In between the code must not await: the deadline is per thread, and the event loop runs one request at a
    time on it. (Two plain calls rather than a context manager: a render is ~50 us and this is on its path.)
    """
    outer = _deadline.at
    mine = time.monotonic() + seconds
    _deadline.at = mine if outer is None or mine < outer else outer
    return outer


def restore_regex_deadline(outer: float | None) -> None:
    _deadline.at = outer


def _timeout() -> float:
    at = _deadline.at
    if at is None:
        return MATCH_SECONDS
    left = at - time.monotonic()
    if left <= 0:
        raise RegexBudgetExceeded("regular expression time budget used up")
    return left


class _Bounded:
    """A ``regex`` pattern whose every call carries a timeout."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str, compiled: regex.Pattern[str]) -> None:
        self.pattern = pattern
        self._compiled = compiled

    def _call(self, method: Callable[..., Any], text: str) -> Any:
        try:
            return method(text, timeout=_timeout())
        except TimeoutError as exc:
            raise RegexBudgetExceeded(f"regular expression {self.pattern!r} ran out of time") from exc

    def fullmatch(self, text: str) -> Match | None:
        return self._call(self._compiled.fullmatch, text)  # type: ignore[no-any-return]

    def match(self, text: str) -> Match | None:
        return self._call(self._compiled.match, text)  # type: ignore[no-any-return]

    def search(self, text: str) -> Match | None:
        return self._call(self._compiled.search, text)  # type: ignore[no-any-return]

    def finditer(self, text: str) -> Iterator[Match]:
        # Materialised under one timeout: a lazy iterator would escape the budget between items.
        return iter(self._call(lambda t, timeout: list(self._compiled.finditer(t, timeout=timeout)), text))


def _java(pattern: str) -> str:
    for java, portable in _JAVA_CLASSES:
        pattern = pattern.replace(java, portable)
    return pattern


@lru_cache(maxsize=1024)
def compile_user_regex(pattern: str, *, dotall: bool = False) -> UserRegex:
    """Compile an owner-supplied (Java-syntax) pattern; raises ``UserRegexError`` when it is not valid."""
    translated = _java(pattern)
    options = re2.Options()
    options.log_errors = False  # RE2 logs every rejected pattern to stderr otherwise
    options.max_mem = _RE2_MAX_MEM
    options.dot_nl = dotall
    try:
        return re2.compile(translated, options)  # type: ignore[no-any-return]
    except re2.error:
        pass
    try:
        # The compile itself is bounded by the pattern's size (patterns are owner-written, at most a few KB).
        compiled = regex.compile(translated, regex.V0 | (regex.DOTALL if dotall else 0))
    except (regex.error, OverflowError, RecursionError) as exc:
        raise UserRegexError(str(exc)) from None
    return _Bounded(pattern, compiled)


def is_backtracking(compiled: UserRegex) -> bool:
    """Whether ``compiled`` runs on the time-bounded fallback engine (RE2 could not take the pattern)."""
    return isinstance(compiled, _Bounded)


def is_valid(pattern: str) -> bool:
    try:
        compile_user_regex(pattern)
    except UserRegexError:
        return False
    return True
