"""Parser for Velocity 1.7 templates (the engine AWS API Gateway runs), producing ``vtl_ast`` nodes.

Whitespace follows Velocity 1.7 so rendered output matches AWS byte for byte: a directive's closing ``)``, and
``#else``/``#end``, swallow the rest of their line when only spaces or tabs remain on it; ``#set`` also swallows
the indentation before it. Other directives keep their indentation. Identifiers may contain ``-`` (1.7 rule).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from apigate.dataplane.mapping import vtl_ast as ast
from apigate.dataplane.mapping.errors import TemplateError

_IDENT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_WORD: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPECIAL: Final = re.compile(r"[$#\\]")
_REST_OF_LINE: Final = re.compile(r"[ \t]*(?:\r\n|\n|\r)")
_NUMBER: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # ASCII only, as Java reads them
_UNICODE_ESCAPE: Final = re.compile(r"\\u([0-9A-Fa-f]{4})")
_WS: Final = " \t\r\n"

_BLOCK_ENDS: Final = frozenset({"elseif", "else", "end"})
_DIRECTIVES: Final = frozenset({"set", "if", "foreach", "break", "stop", "define", "macro"}) | _BLOCK_ENDS
_WORD_OPS: Final = {
    "and": "&&",
    "or": "||",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "gt": ">",
    "le": "<=",
    "ge": ">=",
}


def parse(source: str) -> tuple[ast.Node, ...]:
    return _Parser(source, {}, source, 0).parse_template()


class _Parser:
    def __init__(self, src: str, macros: dict[str, ast.Macro], origin: str, base: int) -> None:
        self.src = src
        self.pos = 0
        self.macros = macros
        self._origin = origin  # the whole template, for line/column in errors
        self._base = base  # where ``src`` starts inside ``origin`` (string literals are parsed separately)
        self._end_at = 0  # where the last #elseif/#else/#end started, for errors

    # -------------------------------------------------------------------------------------------- errors
    def error(self, message: str, pos: int | None = None) -> TemplateError:
        offset = self._base + (self.pos if pos is None else pos)
        line = self._origin.count("\n", 0, offset) + 1
        column = offset - (self._origin.rfind("\n", 0, offset) + 1) + 1
        return TemplateError(f"{message} at line {line}, column {column}")

    # ---------------------------------------------------------------------------------------- statements
    def parse_template(self) -> tuple[ast.Node, ...]:
        nodes, end = self._block()
        if end is not None:
            raise self.error(f"#{end} without a matching #if, #foreach, #define or #macro", self._end_at)
        return nodes

    def _block(self) -> tuple[tuple[ast.Node, ...], str | None]:
        """Nodes up to a ``#elseif``/``#else``/``#end`` (consumed; returned) or the end of input (None)."""
        src = self.src
        nodes: list[ast.Node] = []
        text: list[str] = []

        def flush() -> None:
            if text:
                joined = "".join(text)
                text.clear()
                if joined:
                    nodes.append(ast.Text(joined))

        while True:
            match = _SPECIAL.search(src, self.pos)
            if match is None:
                text.append(src[self.pos :])
                self.pos = len(src)
                flush()
                return tuple(nodes), None
            text.append(src[self.pos : match.start()])
            self.pos = match.start()
            char = src[self.pos]
            if char == "$":
                ref = self._reference()
                if ref is None:
                    text.append("$")
                    self.pos += 1
                else:
                    flush()
                    nodes.append(ast.Output(ref))
            elif char == "\\":
                self._backslashes(nodes, text, flush)
            else:
                end = self._hash(nodes, text, flush)
                if end is not None:
                    flush()
                    return tuple(nodes), end

    def _backslashes(self, nodes: list[ast.Node], text: list[str], flush: Callable[[], None]) -> None:
        src = self.src
        start = self.pos
        while self.pos < len(src) and src[self.pos] == "\\":
            self.pos += 1
        count = self.pos - start
        if src.startswith("$", self.pos):
            ref = self._reference()
            if ref is not None:
                flush()
                nodes.append(ast.EscapedRef(ref, count))
                return
        elif src.startswith("#", self.pos) and self._directive_word(self.pos) is not None:
            text.append("\\" * (count // 2))
            if count % 2:  # an escaped directive is plain text
                text.append("#")
                self.pos += 1
            return
        text.append("\\" * count)

    def _directive_word(self, at: int) -> tuple[str, int] | None:
        """The directive (or macro) named at ``#`` position ``at``, and where its name ends."""
        braced = self.src.startswith("{", at + 1)
        match = _WORD.match(self.src, at + 1 + braced)
        if match is None:
            return None
        end = match.end()
        if braced:
            if not self.src.startswith("}", end):
                return None
            end += 1
        word = match.group()
        if word in _DIRECTIVES or word in self.macros:
            return word, end
        return None

    def _hash(self, nodes: list[ast.Node], text: list[str], flush: Callable[[], None]) -> str | None:
        src = self.src
        at = self.pos
        if src.startswith("##", at):  # line comment, newline included
            newline = src.find("\n", at)
            self.pos = len(src) if newline < 0 else newline + 1
            return None
        if src.startswith("#*", at):
            close = src.find("*#", at + 2)
            if close < 0:
                raise self.error("unterminated #* comment")
            self.pos = close + 2
            return None
        if src.startswith("#[[", at):
            close = src.find("]]#", at + 3)
            if close < 0:
                raise self.error("unterminated #[[ block")
            text.append(src[at + 3 : close])
            self.pos = close + 3
            return None
        found = self._directive_word(at)
        if found is None:
            text.append("#")
            self.pos += 1
            return None
        word, self.pos = found
        if word in _BLOCK_ENDS:
            self._end_at = at
            if word != "elseif":
                self._gobble_line()
            return word
        if word == "set":
            # #set swallows the indentation before it.
            joined = "".join(text)
            stripped = joined.rstrip(" \t")
            if not stripped or stripped.endswith(("\n", "\r")):
                text[:] = [stripped]
            flush()
            nodes.append(self._set())
        elif word == "if":
            flush()
            nodes.append(self._if())
        elif word == "foreach":
            flush()
            nodes.append(self._foreach(at))
        elif word == "break":
            flush()
            nodes.append(ast.Break())
        elif word == "stop":
            flush()
            nodes.append(ast.Stop())
        elif word == "define":
            flush()
            nodes.append(self._define(at))
        elif word == "macro":
            flush()
            self._macro(at)
        else:
            flush()
            nodes.append(self._macro_call(self.macros[word]))
        return None

    def _gobble_line(self) -> None:
        match = _REST_OF_LINE.match(self.src, self.pos)
        if match is not None:
            self.pos = match.end()

    def _open(self, directive: str) -> None:
        self._skip_ws()
        if not self.src.startswith("(", self.pos):
            raise self.error(f"expected '(' after #{directive}")
        self.pos += 1

    def _close(self, directive: str) -> None:
        self._skip_ws()
        if not self.src.startswith(")", self.pos):
            raise self.error(f"expected ')' to close #{directive}")
        self.pos += 1
        self._gobble_line()

    def _set(self) -> ast.Set:
        self._open("set")
        self._skip_ws()
        target = self._reference() if self.src.startswith("$", self.pos) else None
        if target is None or (target.chain and isinstance(target.chain[-1], ast.Call)):
            raise self.error("#set needs a reference to assign to")
        self._skip_ws()
        if not self.src.startswith("=", self.pos):
            raise self.error("expected '=' in #set")
        self.pos += 1
        value = self._expr()
        self._close("set")
        return ast.Set(target, value)

    def _if(self) -> ast.If:
        branches: list[tuple[ast.Expr, tuple[ast.Node, ...]]] = []
        start = self.pos
        directive = "if"
        while True:
            self._open(directive)
            condition = self._expr()
            self._close(directive)
            body, end = self._block()
            branches.append((condition, body))
            if end == "elseif":
                directive = "elseif"
                continue
            if end == "else":
                otherwise, end = self._block()
                if end != "end":
                    raise self._unclosed("#else", start, end)
                return ast.If(tuple(branches), otherwise)
            if end != "end":
                raise self._unclosed("#if", start, end)
            return ast.If(tuple(branches), None)

    def _unclosed(self, what: str, start: int, found: str | None) -> TemplateError:
        if found is None:
            return self.error(f"{what} has no matching #end", start)
        return self.error(f"unexpected #{found} inside {what}", self._end_at)

    def _foreach(self, at: int) -> ast.Foreach:
        self._open("foreach")
        self._skip_ws()
        var = self._reference() if self.src.startswith("$", self.pos) else None
        if var is None or var.chain:
            raise self.error("#foreach needs a loop variable")
        self._skip_ws()
        if not (self.src.startswith("in", self.pos) and self.src[self.pos + 2 : self.pos + 3] in _WS + "$[("):
            raise self.error("expected 'in' in #foreach")
        self.pos += 2
        iterable = self._expr()
        self._close("foreach")
        body, end = self._block()
        if end != "end":
            raise self._unclosed("#foreach", at, end)
        return ast.Foreach(var.name, iterable, body)

    def _define(self, at: int) -> ast.Define:
        self._open("define")
        self._skip_ws()
        var = self._reference() if self.src.startswith("$", self.pos) else None
        if var is None or var.chain:
            raise self.error("#define needs a reference")
        self._close("define")
        body, end = self._block()
        if end != "end":
            raise self._unclosed("#define", at, end)
        return ast.Define(var.name, body)

    def _macro(self, at: int) -> None:
        self._open("macro")
        self._skip_ws()
        name = _WORD.match(self.src, self.pos)
        if name is None:
            raise self.error("#macro needs a name")
        self.pos = name.end()
        params: list[str] = []
        while True:
            self._skip_ws()
            if self.src.startswith(",", self.pos):
                self.pos += 1
                continue
            if self.src.startswith(")", self.pos):
                break
            param = self._reference() if self.src.startswith("$", self.pos) else None
            if param is None or param.chain:
                raise self.error("expected a $parameter in #macro")
            params.append(param.name)
        self._close("macro")
        body, end = self._block()
        if end != "end":
            raise self._unclosed("#macro", at, end)
        self.macros[name.group()] = ast.Macro(name.group(), tuple(params), body)

    def _macro_call(self, macro: ast.Macro) -> ast.MacroCall:
        self._open(macro.name)
        args: list[ast.Expr] = []
        while True:
            self._skip_ws()
            if self.src.startswith(",", self.pos):
                self.pos += 1
                continue
            if self.src.startswith(")", self.pos):
                break
            args.append(self._expr())
        self._close(macro.name)
        return ast.MacroCall(macro, tuple(args))

    # ---------------------------------------------------------------------------------------- references
    def _reference(self) -> ast.Ref | None:
        """``$name``, ``$!name``, ``${name}``, ``$!{name}`` with ``.prop``, ``.method(...)``, ``[index]``."""
        src = self.src
        start = self.pos
        p = start + 1
        quiet = src.startswith("!", p)
        p += quiet
        formal = src.startswith("{", p)
        p += formal
        match = _IDENT.match(src, p)
        if match is None:
            return None
        name = match.group()
        p = match.end()
        chain: list[ast.Accessor] = []
        while p < len(src):
            char = src[p]
            if char == "." and (member := _IDENT.match(src, p + 1)) is not None:
                p = member.end()
                if src.startswith("(", p):
                    self.pos = p + 1
                    chain.append(ast.Call(member.group(), self._args(")")))
                    p = self.pos
                else:
                    chain.append(ast.Prop(member.group()))
            elif char == "[":
                self.pos = p + 1
                try:
                    key = self._expr()
                    self._skip_ws()
                    if not src.startswith("]", self.pos):
                        raise self.error("expected ']'")
                except TemplateError:
                    if formal:
                        raise
                    break  # ``$x[`` that is not an index is text, as in ``$price[USD]``
                chain.append(ast.Index(key))
                p = self.pos + 1
            else:
                break
        if formal:
            if not src.startswith("}", p):
                self.pos = p
                raise self.error("expected '}' to close ${")
            p += 1
        self.pos = p
        return ast.Ref(name, tuple(chain), quiet, src[start:p])

    def _args(self, closer: str) -> tuple[ast.Expr, ...]:
        args: list[ast.Expr] = []
        self._skip_ws()
        if self.src.startswith(closer, self.pos):
            self.pos += 1
            return ()
        while True:
            args.append(self._expr())
            self._skip_ws()
            if self.src.startswith(",", self.pos):
                self.pos += 1
                continue
            if self.src.startswith(closer, self.pos):
                self.pos += 1
                return tuple(args)
            raise self.error(f"expected ',' or '{closer}'")

    # --------------------------------------------------------------------------------------- expressions
    def _skip_ws(self) -> None:
        src = self.src
        while self.pos < len(src) and src[self.pos] in _WS:
            self.pos += 1

    def _operator(self, symbols: tuple[str, ...]) -> str | None:
        """The next operator among ``symbols`` (symbolic or word form), consumed."""
        self._skip_ws()
        src = self.src
        for symbol in symbols:
            if src.startswith(symbol, self.pos):
                self.pos += len(symbol)
                return symbol
        word = _WORD.match(src, self.pos)
        if word is not None and _WORD_OPS.get(word.group()) in symbols:
            self.pos = word.end()
            return _WORD_OPS[word.group()]
        return None

    def _expr(self) -> ast.Expr:
        left = self._and()
        while self._operator(("||",)):
            left = ast.Binary("||", left, self._and())
        return left

    def _and(self) -> ast.Expr:
        left = self._equality()
        while self._operator(("&&",)):
            left = ast.Binary("&&", left, self._equality())
        return left

    def _equality(self) -> ast.Expr:
        left = self._relational()
        while op := self._operator(("==", "!=")):
            left = ast.Binary(op, left, self._relational())
        return left

    def _relational(self) -> ast.Expr:
        left = self._additive()
        while op := self._operator(("<=", ">=", "<", ">")):
            left = ast.Binary(op, left, self._additive())
        return left

    def _additive(self) -> ast.Expr:
        left = self._multiplicative()
        while op := self._operator(("+", "-")):
            left = ast.Binary(op, left, self._multiplicative())
        return left

    def _multiplicative(self) -> ast.Expr:
        left = self._unary()
        while op := self._operator(("*", "/", "%")):
            left = ast.Binary(op, left, self._unary())
        return left

    def _unary(self) -> ast.Expr:
        self._skip_ws()
        src = self.src
        if src.startswith("!", self.pos) and not src.startswith("!=", self.pos):
            self.pos += 1
            return ast.Unary("!", self._unary())
        word = _WORD.match(src, self.pos)
        if word is not None and word.group() == "not":
            self.pos = word.end()
            return ast.Unary("!", self._unary())
        if src.startswith("-", self.pos):
            self.pos += 1
            operand = self._unary()
            if isinstance(operand, ast.Literal) and isinstance(operand.value, int | float):
                return ast.Literal(-operand.value)
            return ast.Unary("-", operand)
        return self._primary()

    def _primary(self) -> ast.Expr:
        self._skip_ws()
        src = self.src
        if self.pos >= len(src):
            raise self.error("unexpected end of template in expression")
        char = src[self.pos]
        if char == "$":
            ref = self._reference()
            if ref is None:
                raise self.error("expected a reference after '$'")
            return ref
        if char == '"':
            return self._string('"')
        if char == "'":
            return self._string("'")
        if "0" <= char <= "9":  # not str.isdigit(): "¹" is a digit to Python, not to VTL
            number = _NUMBER.match(src, self.pos)
            assert number is not None
            self.pos = number.end()
            text = number.group()
            return ast.Literal(float(text) if "." in text else int(text))
        if char == "[":
            return self._list()
        if char == "{":
            return self._map()
        if char == "(":
            self.pos += 1
            inner = self._expr()
            self._skip_ws()
            if not src.startswith(")", self.pos):
                raise self.error("expected ')'")
            self.pos += 1
            return inner
        word = _WORD.match(src, self.pos)
        if word is not None and word.group() in ("true", "false", "null"):
            self.pos = word.end()
            return ast.Literal({"true": True, "false": False, "null": None}[word.group()])
        raise self.error(f"unexpected {char!r} in expression")

    def _string(self, quote: str) -> ast.Expr:
        src = self.src
        start = self.pos + 1
        p = start
        while True:
            if p >= len(src):
                raise self.error("unterminated string literal")
            char = src[p]
            if char == "\\" and quote == '"':
                p += 2
            elif char == quote:
                if src.startswith(quote, p + 1) and p != start:  # doubled quote is a literal quote
                    p += 2
                else:
                    break
            else:
                p += 1
        raw = src[start:p]
        self.pos = p + 1
        value = raw.replace(quote * 2, quote)
        if quote == "'":
            return ast.Literal(value)
        value = _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
        if "$" not in value and "#" not in value:
            return ast.Literal(value)
        body = _Parser(value, self.macros, self._origin, self._base + start).parse_template()
        if all(isinstance(node, ast.Text) for node in body):
            return ast.Literal("".join(node.text for node in body if isinstance(node, ast.Text)))
        return ast.Interpolated(body)

    def _list(self) -> ast.Expr:
        self.pos += 1
        self._skip_ws()
        if self.src.startswith("]", self.pos):
            self.pos += 1
            return ast.ListLit(())
        first = self._expr()
        self._skip_ws()
        if self.src.startswith("..", self.pos):
            self.pos += 2
            end = self._expr()
            self._skip_ws()
            if not self.src.startswith("]", self.pos):
                raise self.error("expected ']' to close a range")
            self.pos += 1
            return ast.Range(first, end)
        items = [first]
        while True:
            self._skip_ws()
            if self.src.startswith("]", self.pos):
                self.pos += 1
                return ast.ListLit(tuple(items))
            if not self.src.startswith(",", self.pos):
                raise self.error("expected ',' or ']' in a list")
            self.pos += 1
            items.append(self._expr())

    def _map(self) -> ast.Expr:
        self.pos += 1
        pairs: list[tuple[ast.Expr, ast.Expr]] = []
        self._skip_ws()
        if self.src.startswith("}", self.pos):
            self.pos += 1
            return ast.MapLit(())
        while True:
            key = self._expr()
            self._skip_ws()
            if not self.src.startswith(":", self.pos):
                raise self.error("expected ':' in a map")
            self.pos += 1
            pairs.append((key, self._expr()))
            self._skip_ws()
            if self.src.startswith("}", self.pos):
                self.pos += 1
                return ast.MapLit(tuple(pairs))
            if not self.src.startswith(",", self.pos):
                raise self.error("expected ',' or '}' in a map")
            self.pos += 1
