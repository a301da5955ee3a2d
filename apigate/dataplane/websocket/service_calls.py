"""WebSocket ``AWS`` integrations to AWS services (not a function): the message, through the integration's
request template ``TemplateSelectionExpression`` picks, signed and sent like a REST ``AWS``
integration's request (dataplane/integrations/aws_service.py). The service's answer is what a two-way route
sends back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from apigate.aws.service_access import ServiceAccess
from apigate.dataplane.integrations.aws_service import parse_service_uri, send, service_request
from apigate.dataplane.mapping import Template, TemplateError, render_mapping
from apigate.dataplane.regex_budget import RegexBudgetExceeded
from apigate.model.websocket import WsIntegration, WsIntegrationResponse
from apigate.server.upstream import UpstreamPool

__all__ = ["call_service", "render_request", "render_response"]


def _template(integration: WsIntegration, message: str) -> Template | None:
    """The template ``TemplateSelectionExpression`` picks (``\\$default``, or ``$request.body.x``'s value),
    else ``$default``'s, else the only one."""
    return _pick(integration.request_templates, integration.template_selection, message)


def _pick(templates: Mapping[str, Template], selection: str | None, message: str) -> Template | None:
    if not templates:
        return None
    expression = selection or ""
    key = expression.lstrip("\\")
    if expression.startswith("$request.body."):
        try:
            node: Any = orjson.loads(message)
        except orjson.JSONDecodeError:
            node = None
        for part in expression[len("$request.body.") :].split("."):
            node = node.get(part) if isinstance(node, dict) else None
        key = "" if node is None else str(node)
    found = templates.get(key) or templates.get("$default")
    if found is None and len(templates) == 1:
        found = next(iter(templates.values()))
    return found


def _response(integration: WsIntegration, status: int) -> WsIntegrationResponse | None:
    """The integration response whose ``/regex/`` key matches the status code, else ``$default``'s."""
    for response in integration.responses:
        if response.pattern is None:
            return response
        try:
            if response.pattern.fullmatch(str(status)) is not None:
                return response
        except RegexBudgetExceeded:
            continue
    return None


def render_response(
    integration: WsIntegration,
    status: int,
    body: str,
    context: Mapping[str, Any],
    stage_variables: Mapping[str, str],
) -> str | None:
    """A non-proxy integration's answer through the response template its integration response selects (by
    status, then by the response's TemplateSelectionExpression); None when none applies (sent as it is)."""
    response = _response(integration, status)
    template = None if response is None else _pick(response.templates, response.template_selection, body)
    if template is None:
        return None
    try:
        output, _ = render_mapping(
            template, body=body, params={}, context=context, stage_variables=stage_variables
        )
    except TemplateError as exc:
        raise ServiceCallFailed(f"Unable to transform response: {exc}") from None
    return output


class ServiceCallFailed(Exception):
    """The service could not be called (a configuration error): the route answers an error frame."""


def render_request(
    integration: WsIntegration,
    data: str | bytes | None,
    context: Mapping[str, Any],
    stage_variables: Mapping[str, str],
) -> bytes | None:
    """The message through the request template the integration selects; None when it has no template (a
    non-proxy integration then gets the message as it is)."""
    message = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data or ""
    template = _template(integration, message)
    if template is None:
        return None
    try:
        output, _ = render_mapping(
            template, body=message, params={}, context=context, stage_variables=stage_variables
        )
    except TemplateError as exc:
        raise ServiceCallFailed(f"Unable to transform request: {exc}") from None
    return output.encode()


async def call_service(
    integration: WsIntegration,
    uri: str,
    upstream: UpstreamPool,
    access: ServiceAccess,
    data: str | bytes | None,
    context: Mapping[str, Any],
    stage_variables: Mapping[str, str],
    region: str,
) -> tuple[int, bytes]:
    target = parse_service_uri(uri, region)
    if target is None:
        raise ServiceCallFailed(f"not an AWS service integration URI: {uri}")
    message = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data or ""
    rendered = render_request(integration, message, context, stage_variables)
    body = message.encode() if rendered is None else rendered
    try:
        request = service_request(
            target,
            integration.method or "POST",
            body,
            headers={},
            credentials_arn=integration.credentials,
            access=access,
        )
    except ValueError as exc:
        raise ServiceCallFailed(str(exc)) from None
    answer = await send(upstream, request, integration.timeout_seconds)
    return answer.status, answer.body
