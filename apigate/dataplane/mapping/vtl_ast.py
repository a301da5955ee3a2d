"""Syntax tree of a Velocity template: what the parser builds and the compiler turns into closures."""

from __future__ import annotations

from dataclasses import dataclass

# ----------------------------------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Prop:
    name: str


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Index:
    key: Expr


Accessor = Prop | Call | Index


@dataclass(frozen=True, slots=True)
class Ref:
    """``$name.a.b(x)[0]``; ``source`` is the text as written (an undefined reference renders as it)."""

    name: str
    chain: tuple[Accessor, ...]
    quiet: bool
    source: str


@dataclass(frozen=True, slots=True)
class Literal:
    value: object


@dataclass(frozen=True, slots=True)
class Interpolated:
    """A double-quoted string with ``$refs`` or directives in it."""

    body: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class MapLit:
    pairs: tuple[tuple[Expr, Expr], ...]


@dataclass(frozen=True, slots=True)
class Range:
    start: Expr
    end: Expr


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "!" or "-"
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # normalised: "||", "&&", "==", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "%"
    left: Expr
    right: Expr


Expr = Ref | Literal | Interpolated | ListLit | MapLit | Range | Unary | Binary

# ------------------------------------------------------------------------------------------ statements


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Output:
    ref: Ref


@dataclass(frozen=True, slots=True)
class EscapedRef:
    """``\\$ref``: ``backslashes`` of them before the reference."""

    ref: Ref
    backslashes: int


@dataclass(frozen=True, slots=True)
class Set:
    target: Ref
    value: Expr


@dataclass(frozen=True, slots=True)
class If:
    branches: tuple[tuple[Expr, tuple[Node, ...]], ...]
    otherwise: tuple[Node, ...] | None


@dataclass(frozen=True, slots=True)
class Foreach:
    var: str
    iterable: Expr
    body: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Break:
    pass


@dataclass(frozen=True, slots=True)
class Stop:
    pass


@dataclass(frozen=True, slots=True)
class Define:
    var: str
    body: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Macro:
    name: str
    params: tuple[str, ...]
    body: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MacroCall:
    macro: Macro
    args: tuple[Expr, ...]


Node = Text | Output | EscapedRef | Set | If | Foreach | Break | Stop | Define | MacroCall
