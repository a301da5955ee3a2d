"""Compiles ``vtl_ast`` nodes once into Python closures; rendering then only calls them (no tree walking).

Variables live in one ``dict`` per render, so a compiled template is shared by every thread and request.
Semantics are Velocity 1.7's: a null ``#set`` value leaves the target unchanged; ``#if`` is false only for null
and ``false``; ``==`` across types compares ``toString()``; ``#foreach`` over a map walks its values.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Final

from apigate.dataplane.mapping import vtl_ast as ast
from apigate.dataplane.mapping.budget import MAX_RANGE, TemplateBudgetExceeded, current
from apigate.dataplane.mapping.errors import TemplateError
from apigate.dataplane.mapping.java import (
    _NO_METHOD,
    VtlObject,
    call_method,
    get_property,
    is_number,
    iterate,
    to_str,
)

Vars = dict[str, object]
Emit = Callable[[Vars, list[str]], None]
Eval = Callable[[Vars], object]
_Access = Callable[[object, Vars], object]

MAX_FOREACH: Final = 1000  # AWS's cap on #foreach iterations
CALL_COST: Final = 8  # fuel of a macro call or #define render beyond its body: they cost ~8 loop steps each
_MISSING: Final = object()


class StopRender(Exception):
    """``#stop``: end the render, keeping what was written so far."""


class BreakLoop(Exception):
    """``#break``: leave the innermost ``#foreach`` (or the template, outside a loop)."""


class ForeachState(VtlObject):
    """``$foreach``: one object per loop, updated in place each iteration."""

    __slots__ = ("count", "has_next", "index", "last", "parent")

    def __init__(self, parent: object) -> None:
        self.parent = parent
        self.index = 0
        self.count = 1
        self.has_next = False
        self.last = False

    def vtl_get(self, name: str) -> object:
        if name == "hasNext":
            return self.has_next
        if name == "index":
            return self.index
        if name == "count":
            return self.count
        if name == "first":
            return self.index == 0
        if name == "last":
            return self.last
        if name == "parent":
            return self.parent
        return None

    def vtl_call(self, name: str, args: list[object]) -> object:
        if args:
            return _NO_METHOD
        if name == "hasNext":
            return self.has_next
        prop = {
            "getIndex": "index",
            "getCount": "count",
            "getHasNext": "hasNext",
            "isFirst": "first",
            "getFirst": "first",
            "isLast": "last",
            "getLast": "last",
            "getParent": "parent",
        }.get(name)
        return _NO_METHOD if prop is None else self.vtl_get(prop)

    def vtl_str(self) -> str:
        return f"foreach(index={self.index})"


class DefinedBlock(VtlObject):
    """``#define($x)...#end``: ``$x`` renders the block at the time it is referenced."""

    __slots__ = ("_body", "_vars", "_weight")

    def __init__(self, body: Emit, variables: Vars, weight: int) -> None:
        self._body = body
        self._vars = variables
        self._weight = weight

    def vtl_str(self) -> str:
        budget = current()
        budget.burn(self._weight)  # blocks that reference each other twice would otherwise double per level
        out: list[str] = []
        self._body(self._vars, out)
        return budget.joined(out)


def weight(nodes: tuple[ast.Node, ...]) -> tuple[int, int]:
    """(syntax nodes, literal characters) of a block, not counting nested loop bodies (they charge their own).

    What one pass over the block costs at most, apart from what its loops, macros and values cost.
    """
    count = chars = 0
    stack: list[object] = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):
            stack.extend(node)
            continue
        if not dataclasses.is_dataclass(node):
            continue
        count += 1
        if isinstance(node, ast.Text):
            chars += len(node.text)
        elif isinstance(node, ast.Foreach):
            stack.append(node.iterable)
        elif not isinstance(node, ast.Macro):
            stack.extend(getattr(node, f.name) for f in dataclasses.fields(node))
    return count, chars


# ------------------------------------------------------------------------------------------ operators


def truthy(value: object) -> bool:
    return value is not None and value is not False


def java_equals(left: object, right: object) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if is_number(left) and is_number(right):
        return left == right
    if type(left) is type(right):
        return left == right
    return to_str(left) == to_str(right)  # Velocity 1.7 compares toString() across types


def _add(left: object, right: object) -> object:
    if left is None or right is None:
        return None
    if isinstance(left, str) or isinstance(right, str):
        a, b = to_str(left), to_str(right)
        budget = current()
        budget.expect(len(a) + len(b))
        return budget.text(a + b)
    if is_number(left) and is_number(right):
        return left + right  # type: ignore[operator]
    return None


def _arith(op: str, left: object, right: object) -> object:
    if not (is_number(left) and is_number(right)):
        return None
    a: float = left  # type: ignore[assignment]
    b: float = right  # type: ignore[assignment]
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        return None  # Velocity logs division by zero and yields null
    if isinstance(a, int) and isinstance(b, int):
        quotient = abs(a) // abs(b)  # Java truncates toward zero
        if op == "/":
            return quotient if (a < 0) == (b < 0) else -quotient
        return a - b * (quotient if (a < 0) == (b < 0) else -quotient)
    return a / b if op == "/" else math.fmod(a, b)


def _compare(op: str, left: object, right: object) -> bool:
    if not (is_number(left) and is_number(right)):
        return False
    a: float = left  # type: ignore[assignment]
    b: float = right  # type: ignore[assignment]
    if op == "<":
        return a < b
    if op == ">":
        return a > b
    if op == "<=":
        return a <= b
    return a >= b


def _index(target: object, key: object) -> object:
    if isinstance(target, list):
        if is_number(key) and 0 <= int(key) < len(target):  # type: ignore[call-overload]
            return target[int(key)]  # type: ignore[call-overload]
        return None
    if isinstance(target, dict):
        try:
            return target.get(key)
        except TypeError:  # an unhashable key (a list, a map): Java's Map.get finds nothing
            return None
    return get_property(target, key) if isinstance(key, str) else None


def _as_int(value: object) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


# ------------------------------------------------------------------------------------------- compiler


class Compiler:
    """One per template: caches compiled macro bodies so each is compiled once."""

    def __init__(self) -> None:
        self._macros: dict[int, Emit] = {}

    def block(self, nodes: tuple[ast.Node, ...]) -> Emit:
        emits = [self.node(node) for node in nodes]
        if not emits:
            return lambda v, out: None
        if len(emits) == 1:
            return emits[0]
        if all(isinstance(node, ast.Text) for node in nodes):
            text = "".join(node.text for node in nodes if isinstance(node, ast.Text))
            return lambda v, out: out.append(text)
        run = tuple(emits)

        def emit_block(v: Vars, out: list[str]) -> None:
            for emit in run:
                emit(v, out)

        return emit_block

    def node(self, node: ast.Node) -> Emit:
        if isinstance(node, ast.Text):
            text = node.text
            return lambda v, out: out.append(text)
        if isinstance(node, ast.Output):
            return self._output(node.ref)
        if isinstance(node, ast.EscapedRef):
            return self._escaped(node)
        if isinstance(node, ast.Set):
            return self._set(node)
        if isinstance(node, ast.If):
            return self._if(node)
        if isinstance(node, ast.Foreach):
            return self._foreach(node)
        if isinstance(node, ast.Break):
            return _raise_break
        if isinstance(node, ast.Stop):
            return _raise_stop
        if isinstance(node, ast.Define):
            return self._define(node)
        return self._macro_call(node)

    # --------------------------------------------------------------------------------------- statements
    def _output(self, ref: ast.Ref) -> Emit:
        evaluate = self.ref(ref)
        literal = "" if ref.quiet else ref.source  # Velocity prints an undefined reference as written

        def emit_ref(v: Vars, out: list[str]) -> None:
            value = evaluate(v)
            if value is None:
                out.append(literal)
            elif type(value) is str:
                out.append(value)  # no charge here: the rendered total is checked once, before the join
            else:
                out.append(to_str(value))

        return emit_ref

    def _escaped(self, node: ast.EscapedRef) -> Emit:
        evaluate = self.ref(node.ref)
        source = node.ref.source
        count = node.backslashes
        defined_prefix = "\\" * (count // 2)
        undefined = "\\" * count + source

        def emit_escaped(v: Vars, out: list[str]) -> None:
            value = evaluate(v)
            if value is None:
                out.append(undefined)  # \$undefined stays as written
            elif count % 2:
                out.append(defined_prefix + source)
            else:
                out.append(defined_prefix + to_str(value))

        return emit_escaped

    def _set(self, node: ast.Set) -> Emit:
        value_of = self.expr(node.value)
        target = node.target
        name = target.name
        if not target.chain:

            def emit_set(v: Vars, out: list[str]) -> None:
                value = value_of(v)
                if value is not None:  # Velocity 1.7: a null right-hand side leaves the target alone
                    v[name] = value

            return emit_set
        container_of = self.ref(ast.Ref(name, target.chain[:-1], False, target.source))
        last = target.chain[-1]
        key_of: Eval = (lambda v, k=last.name: k) if isinstance(last, ast.Prop) else self.expr(last.key)  # type: ignore[union-attr,misc]

        def emit_set_member(v: Vars, out: list[str]) -> None:
            value = value_of(v)
            if value is None:
                return
            container = container_of(v)
            key = key_of(v)
            if isinstance(container, dict | list):
                current().nest(value)
            if isinstance(container, dict):
                container[key] = value
            elif isinstance(container, list) and is_number(key) and 0 <= int(key) < len(container):  # type: ignore[call-overload]
                container[int(key)] = value  # type: ignore[call-overload]

        return emit_set_member

    def _if(self, node: ast.If) -> Emit:
        branches = tuple((self.condition(cond), self.block(body)) for cond, body in node.branches)
        otherwise = self.block(node.otherwise) if node.otherwise is not None else None
        if len(branches) == 1:
            test, body = branches[0]

            def emit_if(v: Vars, out: list[str]) -> None:
                if test(v):
                    body(v, out)
                elif otherwise is not None:
                    otherwise(v, out)

            return emit_if

        def emit_if_chain(v: Vars, out: list[str]) -> None:
            for test, body in branches:
                if test(v):
                    body(v, out)
                    return
            if otherwise is not None:
                otherwise(v, out)

        return emit_if_chain

    def _foreach(self, node: ast.Foreach) -> Emit:
        items_of = self.expr(node.iterable)
        body = self.block(node.body)
        var = node.var
        nodes, chars = weight(node.body)
        cost = nodes + 1

        def emit_foreach(v: Vars, out: list[str]) -> None:
            items = iterate(items_of(v))
            if not items:
                return
            items = list(items)
            budget = current()
            saved = (v.get(var, _MISSING), v.get("foreach", _MISSING), v.get("velocityCount", _MISSING))
            state = ForeachState(None if saved[1] is _MISSING else saved[1])
            v["foreach"] = state
            total = len(items)
            try:
                for index in range(min(total, MAX_FOREACH)):
                    state.index = index
                    state.count = index + 1
                    state.has_next = index + 1 < total  # the iterator's hasNext, even past the cap
                    state.last = not state.has_next
                    v[var] = items[index]
                    v["velocityCount"] = index + 1
                    budget.burn(
                        cost, chars
                    )  # the body's literal text; values are charged as they are written
                    body(v, out)
            except BreakLoop:
                pass
            finally:
                for key, old in zip((var, "foreach", "velocityCount"), saved, strict=True):
                    if old is _MISSING:
                        v.pop(key, None)
                    else:
                        v[key] = old

        return emit_foreach

    def _define(self, node: ast.Define) -> Emit:
        body = self.block(node.body)
        var = node.var
        cost = weight(node.body)[0] + CALL_COST

        def emit_define(v: Vars, out: list[str]) -> None:
            v[var] = DefinedBlock(body, v, cost)

        return emit_define

    def _macro_call(self, node: ast.MacroCall) -> Emit:
        macro = node.macro
        body = self._macros.get(id(macro))
        if body is None:
            body = self._macros[id(macro)] = self.block(macro.body)
        compiled_body = body
        args = tuple(self.expr(arg) for arg in node.args)
        params = macro.params
        nodes, chars = weight(macro.body)
        cost = nodes + CALL_COST

        def emit_macro(v: Vars, out: list[str]) -> None:
            budget = current()
            budget.burn(cost, chars)  # a macro calling itself twice would otherwise double per level
            values = [arg(v) for arg in args]
            saved = [v.get(param, _MISSING) for param in params]
            for param, value in zip(params, values, strict=False):
                v[param] = value
            try:
                compiled_body(v, out)
            finally:
                for param, old in zip(params, saved, strict=True):
                    if old is _MISSING:
                        v.pop(param, None)
                    else:
                        v[param] = old

        return emit_macro

    # -------------------------------------------------------------------------------------- expressions
    def ref(self, ref: ast.Ref) -> Eval:
        name = ref.name
        if not ref.chain:
            return lambda v: v.get(name)
        steps = tuple(self._accessor(accessor) for accessor in ref.chain)

        def evaluate_ref(v: Vars) -> object:
            value = v.get(name)
            for step in steps:
                if value is None:
                    return None
                value = step(value, v)
            return value

        return evaluate_ref

    def _accessor(self, accessor: ast.Accessor) -> _Access:
        if isinstance(accessor, ast.Prop):
            prop = accessor.name
            return lambda obj, v: obj.get(prop) if type(obj) is dict else get_property(obj, prop)
        if isinstance(accessor, ast.Call):
            method = accessor.name
            args = tuple(self.expr(arg) for arg in accessor.args)
            if not args:
                return lambda obj, v: call_method(obj, method, [])
            return lambda obj, v: call_method(obj, method, [arg(v) for arg in args])
        key_of = self.expr(accessor.key)
        return lambda obj, v: _index(obj, key_of(v))

    def condition(self, expr: ast.Expr) -> Callable[[Vars], bool]:
        if isinstance(expr, ast.Binary) and expr.op in ("&&", "||", "==", "!=", "<", ">", "<=", ">="):
            return self.expr(expr)  # type: ignore[return-value]  # these already yield bool
        if isinstance(expr, ast.Unary) and expr.op == "!":
            return self.expr(expr)  # type: ignore[return-value]
        evaluate = self.expr(expr)
        return lambda v: truthy(evaluate(v))

    def expr(self, expr: ast.Expr) -> Eval:
        if isinstance(expr, ast.Ref):
            return self.ref(expr)
        if isinstance(expr, ast.Literal):
            value = expr.value
            return lambda v: value
        if isinstance(expr, ast.Interpolated):
            body = self.block(expr.body)

            def interpolate(v: Vars) -> object:
                out: list[str] = []
                body(v, out)
                return current().joined(out)

            return interpolate
        if isinstance(expr, ast.ListLit):
            items = tuple(self.expr(item) for item in expr.items)
            return lambda v: _nested([item(v) for item in items])
        if isinstance(expr, ast.MapLit):
            pairs = tuple((self.expr(k), self.expr(val)) for k, val in expr.pairs)
            return lambda v: _nested({k(v): val(v) for k, val in pairs})
        if isinstance(expr, ast.Range):
            return self._range(expr)
        if isinstance(expr, ast.Unary):
            operand = self.expr(expr.operand)
            if expr.op == "!":
                return lambda v: not truthy(operand(v))
            return lambda v: _arith("-", 0, operand(v))
        return self._binary(expr)

    def _range(self, expr: ast.Range) -> Eval:
        start_of, end_of = self.expr(expr.start), self.expr(expr.end)

        def evaluate_range(v: Vars) -> object:
            start, end = _as_int(start_of(v)), _as_int(end_of(v))
            if start is None or end is None:
                return None
            step = 1 if end >= start else -1
            if abs(end - start) >= MAX_RANGE:
                raise TemplateBudgetExceeded(f"range [{start}..{end}] is over {MAX_RANGE} elements")
            return list(range(start, end + step, step))

        return evaluate_range

    def _binary(self, expr: ast.Binary) -> Eval:
        left, right = self.expr(expr.left), self.expr(expr.right)
        op = expr.op
        if op == "&&":
            return lambda v: truthy(left(v)) and truthy(right(v))
        if op == "||":
            return lambda v: truthy(left(v)) or truthy(right(v))
        if op == "==":
            return lambda v: java_equals(left(v), right(v))
        if op == "!=":
            return lambda v: not java_equals(left(v), right(v))
        if op in ("<", ">", "<=", ">="):
            return lambda v: _compare(op, left(v), right(v))
        if op == "+":
            return lambda v: _add(left(v), right(v))
        if op in ("-", "*", "/", "%"):
            return lambda v: _arith(op, left(v), right(v))
        raise TemplateError(f"unknown operator {op}")  # pragma: no cover - the parser only builds known ones


_Collection = list[object] | dict[object, object]


def _nested(collection: _Collection) -> _Collection:
    """A list or map literal: charge the collections it holds (see ``RenderBudget.nest``)."""
    values = collection.values() if isinstance(collection, dict) else collection
    for value in values:
        if isinstance(value, list | dict | tuple):
            current().nest(value)
    return collection


def _raise_break(v: Vars, out: list[str]) -> None:
    raise BreakLoop


def _raise_stop(v: Vars, out: list[str]) -> None:
    raise StopRender
