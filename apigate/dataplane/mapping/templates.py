"""Mapping templates as a deployment keeps them: parsed once, with two special cases decided at deploy time.

A template without ``$`` or ``#`` renders to its own text, so requests skip building ``$context`` for it (the
common MOCK ``{"statusCode": 200}``); a template that does not parse still deploys, and answers 500 when used.
"""

from __future__ import annotations

from collections.abc import Mapping

from apigate.dataplane.mapping import Template, TemplateError, TemplateRenderError


class ConstantTemplate(Template):
    __slots__ = ()

    def render(self, variables: Mapping[str, object]) -> str:
        return self.source


class BrokenTemplate(Template):
    __slots__ = ("error",)

    def __init__(self, source: str, error: str) -> None:
        super().__init__(source, lambda variables, out: None)
        self.error = error

    def render(self, variables: Mapping[str, object]) -> str:
        raise TemplateRenderError(self.error)


def compile_template(source: str) -> Template:
    if "$" not in source and "#" not in source:
        return ConstantTemplate(source, lambda variables, out: None)
    try:
        return Template.parse(source)
    except TemplateError as exc:
        return BrokenTemplate(source, str(exc))
