"""What one template render may compute: steps, characters and container nodes, counted deterministically.

Renders run on the event loop (a thread hop would cost more than most renders), so a template that loops
``1000 x 1000 x 1000`` times, doubles a string forty times or nests a list in itself would stall every other
request. Each render gets one ``RenderBudget``:

- **fuel**: every ``#foreach`` iteration burns the static size (AST nodes) of its body, every macro call and
  ``#define`` render the size of theirs. 2,000,000 units is about 0.1-0.3 s of Python here (a ``1000 x 1000``
  loop with a one-``#set`` body measured 0.16 s) and ~40x what a 1000-item loop over a 50-node body needs.
  AWS caps each ``#foreach`` at 1000 iterations (``MAX_FOREACH``) but documents no total; ours is the total.
- **chars**: every string the template builds (interpolation, ``+``, ``concat``, ``replace``, ``toString`` of a
  collection, ``$input.json``, a loop body's literal text, ...) is charged by its length; the output's size is
  checked once, before it is joined. ``MAX_STRING`` (one string)
  and ``MAX_OUTPUT`` (the rendered text) are AWS's 10 MB payload limit: nothing larger could be sent on.
  ``MAX_CHARS`` (the total built) allows a few passes over a 10 MB payload.
- **nodes**: a list or map put into another collection is charged by its expanded size, so repeated
  self-nesting (``#set($a = [$a, $a])``) cannot build a value whose JSON or ``toString`` is exponential.

Exceeding any of them raises ``TemplateBudgetExceeded`` (a ``TemplateRenderError``): the client gets the same 500
``Internal server error`` as for any template failure.
"""

from __future__ import annotations

import threading
from typing import Final

from apigate.dataplane.mapping.errors import TemplateRenderError

MAX_FUEL: Final = 2_000_000
MAX_STRING: Final = 10 * 1024 * 1024
MAX_OUTPUT: Final = 10 * 1024 * 1024
MAX_CHARS: Final = 64 * 1024 * 1024
MAX_NODES: Final = 1_000_000
MAX_RANGE: Final = 100_000  # [a..b] is built eagerly; #foreach reads at most 1000 of it anyway
REGEX_SECONDS: Final = 0.1  # backtracking-regex time shared by one render (see dataplane.regex_budget)


class TemplateBudgetExceeded(TemplateRenderError):
    """A render used up one of its budgets."""


class RenderBudget:
    __slots__ = ("chars", "fuel", "nodes")

    def __init__(self) -> None:
        self.fuel = MAX_FUEL
        self.chars = MAX_CHARS
        self.nodes = MAX_NODES

    def burn(self, units: int, chars: int = 0) -> None:
        """One pass over a block: ``units`` of fuel, ``chars`` of literal text it may write."""
        self.fuel -= units
        self.chars -= chars
        if self.fuel < 0:
            raise TemplateBudgetExceeded(f"template exceeded its step budget ({MAX_FUEL} units)")
        if self.chars < 0:
            raise TemplateBudgetExceeded(f"template built over {MAX_CHARS} characters in all")

    def text(self, value: str) -> str:
        """Charge a string the template built; returns it."""
        size = len(value)
        if size > MAX_STRING:
            raise TemplateBudgetExceeded(f"template built a string over {MAX_STRING} characters")
        self.chars -= size
        if self.chars < 0:
            raise TemplateBudgetExceeded(f"template built over {MAX_CHARS} characters in all")
        return value

    def joined(self, parts: list[str]) -> str:
        """``"".join(parts)``, charged, and refused before joining when it would be over ``MAX_STRING``."""
        size = sum(map(len, parts))
        self.expect(size)
        self.chars -= size
        if self.chars < 0:
            raise TemplateBudgetExceeded(f"template built over {MAX_CHARS} characters in all")
        return "".join(parts)

    def expect(self, size: int) -> None:
        """Refuse up front an operation that would build a string of ``size`` characters."""
        if size > MAX_STRING:
            raise TemplateBudgetExceeded(f"template would build a string over {MAX_STRING} characters")

    def nest(self, value: object) -> None:
        """Charge a value being put into a collection by its expanded size (bounded walk)."""
        if isinstance(value, list | dict | tuple):
            self.nodes -= count_nodes(value, self.nodes)
            if self.nodes < 0:
                raise TemplateBudgetExceeded(f"template built collections over {MAX_NODES} elements")


def count_nodes(value: object, limit: int) -> int:
    """Elements reachable from ``value`` counting repeats, stopping once past ``limit``."""
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        count += 1
        if count > limit:
            return count
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return count


class _Current(threading.local):
    budget: RenderBudget | None = None


_current = _Current()


def current() -> RenderBudget:
    """The budget of the render running on this thread; a fresh one outside a render (direct calls, tests)."""
    budget = _current.budget
    return budget if budget is not None else RenderBudget()


def enter(budget: RenderBudget) -> RenderBudget | None:
    outer = _current.budget
    _current.budget = budget
    return outer


def leave(outer: RenderBudget | None) -> None:
    _current.budget = outer
