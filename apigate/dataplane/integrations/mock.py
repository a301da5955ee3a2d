"""MOCK: the request template picks a status code, the matching integration response answers."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import orjson

from apigate.dataplane.invocation import Invocation
from apigate.dataplane.mapping_context import context_value, param_value
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.dataplane.substitution import template
from apigate.model import IntegrationResponse
from apigate.server.message import Response


def _pick_template(templates: Mapping[str, str] | None, content_type: str | None) -> str | None:
    if not templates:
        return None
    if content_type:
        bare = content_type.split(";", 1)[0].strip().lower()
        if bare in templates:
            return templates[bare]
    return templates.get("application/json", next(iter(templates.values())))


def select_response(responses: tuple[IntegrationResponse, ...], status: str) -> IntegrationResponse | None:
    default = None
    for response in responses:
        if response.selection_pattern is None:
            default = response
        elif response.selection_pattern.fullmatch(status):
            return response
    return default


class MockIntegration:
    async def invoke(self, inv: Invocation) -> Response:
        method = inv.method
        assert method is not None and method.integration is not None
        integration = method.integration
        substitute = _substituter(inv)
        status = "200"
        request_template = _pick_template(integration.request_templates, inv.request.header("content-type"))
        if request_template:
            try:
                status = _status_of(substitute(request_template))
            except orjson.JSONDecodeError:
                inv.log("Execution failed: the MOCK request template did not render to JSON")
                raise GatewayError(ResponseType.API_CONFIGURATION_ERROR) from None
        chosen = select_response(integration.responses, status)
        if chosen is None:
            inv.log(
                "Execution failed due to configuration error: No match for output mapping and no default output mapping configured"
            )
            raise GatewayError(ResponseType.API_CONFIGURATION_ERROR)
        headers = [("Content-Type", "application/json")]
        for target, source in chosen.response_parameters.items():
            if target.startswith("method.response.header."):
                value = _static_or_context(source, inv)
                if value is not None:
                    headers.append((target[len("method.response.header.") :], value))
        response_template = _pick_template(chosen.response_templates, "application/json")
        body = substitute(response_template).encode() if response_template else b""
        return Response(int(chosen.status_code), _dedupe_content_type(headers), body)


@functools.lru_cache(maxsize=1024)
def _status_of(rendered: str) -> str:
    """The statusCode a rendered request template asks for; cached, since most templates are constant."""
    document = orjson.loads(rendered)
    if isinstance(document, dict) and "statusCode" in document:
        return str(document["statusCode"])
    return "200"


def _substituter(inv: Invocation) -> Callable[[str], str]:
    body = inv.request.body.decode("utf-8", errors="replace")

    def run(text: str) -> str:
        if "$" not in text:  # nothing to substitute: the common constant template
            return text
        return template(
            text,
            variables=inv.api.stage_variables,
            context=lambda name: context_value(inv, name),
            param=lambda name: param_value(inv, name),
            body=body,
        )

    return run


def _static_or_context(source: str, inv: Invocation) -> str | None:
    if len(source) >= 2 and source[0] == source[-1] == "'":
        return source[1:-1]
    if source.startswith("context."):
        return context_value(inv, source[len("context.") :])
    if source.startswith("stageVariables."):
        return inv.api.stage_variables.get(source[len("stageVariables.") :])
    return None


def _dedupe_content_type(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A mapped Content-Type replaces the default one."""
    if sum(1 for name, _ in headers if name.lower() == "content-type") > 1:
        return headers[1:]
    return headers
