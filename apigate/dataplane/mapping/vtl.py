"""Velocity templates as API Gateway runs them: parse once (at deploy time), render per request.

``Template.parse`` compiles to closures; ``render`` is thread-safe and re-parses nothing.
``render_mapping`` binds ``$input``, ``$util``, ``$context`` and ``$stageVariables`` the way AWS does and returns
what the template wrote to ``$context.requestOverride``/``$context.responseOverride``.
"""

from __future__ import annotations

from collections.abc import Mapping

from apigate.dataplane.mapping import budget as _budget
from apigate.dataplane.mapping.errors import TemplateError
from apigate.dataplane.mapping.input import InputVariable
from apigate.dataplane.mapping.util import UTIL
from apigate.dataplane.mapping.vtl_parser import parse
from apigate.dataplane.mapping.vtl_runtime import BreakLoop, Compiler, Emit, StopRender
from apigate.dataplane.regex_budget import RegexBudgetExceeded, regex_deadline, restore_regex_deadline

_REGEX_METHODS = ("matches", "replaceAll", "replaceFirst", "split")  # the String methods that take a regex


class Template:
    """A parsed, compiled template. Immutable."""

    __slots__ = ("_emit", "_regex", "source")

    def __init__(self, source: str, emit: Emit) -> None:
        self.source = source
        self._emit = emit
        # A render sets a regex deadline only when the template can run a regex: a method name written in it.
        self._regex = any(name in source for name in _REGEX_METHODS)

    @staticmethod
    def parse(source: str) -> Template:
        """Parse and compile; raises ``TemplateError`` (with line and column) on a syntax error."""
        try:
            nodes = parse(source)
        except RecursionError as exc:
            raise TemplateError("template nests too deeply") from exc
        return Template(source, Compiler().block(nodes))

    def render(self, variables: Mapping[str, object]) -> str:
        """Render with ``variables`` as the top-level references; the mapping itself is not modified.

        The render runs under a fresh ``RenderBudget`` (see ``mapping.budget``); using it up raises
        ``TemplateBudgetExceeded``.
        """
        out: list[str] = []
        outer = _budget.enter(_budget.RenderBudget())
        outer_deadline = regex_deadline(_budget.REGEX_SECONDS) if self._regex else None
        try:
            self._emit(dict(variables), out)
        except (StopRender, BreakLoop):
            pass
        except RecursionError as exc:
            raise TemplateError("template recursion too deep") from exc
        except RegexBudgetExceeded as exc:
            raise _budget.TemplateBudgetExceeded(str(exc)) from exc
        finally:
            if self._regex:
                restore_regex_deadline(outer_deadline)
            _budget.leave(outer)
        if sum(map(len, out)) > _budget.MAX_OUTPUT:  # before joining: the parts may repeat one large value
            raise _budget.TemplateBudgetExceeded(f"template output over {_budget.MAX_OUTPUT} characters")
        return "".join(out)


Params = Mapping[str, Mapping[str, str]]


def render_mapping(
    template: Template,
    *,
    body: str,
    params: Params,
    context: Mapping[str, object],
    stage_variables: Mapping[str, str],
    request_override: dict[str, object] | None = None,
) -> tuple[str, dict[str, dict[str, object]]]:
    """Render a mapping template; returns the output and the overrides it set.

    The overrides come back as ``{"requestOverride": {"header": {}, "path": {}, "querystring": {}},
    "responseOverride": {"header": {}, "status"?: value}}`` holding the values as the template set them
    (``status`` present only when set). ``context`` itself is not modified (it is copied one level deep).
    """
    if request_override is None:
        request_override = {"header": {}, "path": {}, "querystring": {}}
    response_override: dict[str, object] = {"header": {}}
    template_context = dict(context)
    template_context["requestOverride"] = request_override
    template_context["responseOverride"] = response_override
    variables: dict[str, object] = {
        "input": InputVariable(body, params),
        "util": UTIL,
        "context": template_context,
        "stageVariables": dict(stage_variables),
    }
    output = template.render(variables)
    return output, {"requestOverride": request_override, "responseOverride": response_override}
