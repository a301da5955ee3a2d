"""WebSocket ``AWS`` integrations to AWS services (not a function): the message, through the integration's
request template when it has one (``$default``, else its only one), signed and sent like a REST ``AWS``
integration's request (dataplane/integrations/aws_service.py). The service's answer is what a two-way route
sends back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apigate.dataplane.integrations.aws_service import parse_service_uri, send, service_request
from apigate.dataplane.mapping import TemplateError, render_mapping
from apigate.model.websocket import WsIntegration
from apigate.server.upstream import UpstreamPool

__all__ = ["call_service"]


class ServiceCallFailed(Exception):
    """The service could not be called (a configuration error): the route answers an error frame."""


async def call_service(
    integration: WsIntegration,
    uri: str,
    upstream: UpstreamPool,
    data: str | bytes | None,
    context: Mapping[str, Any],
    stage_variables: Mapping[str, str],
    region: str,
) -> tuple[int, bytes]:
    target = parse_service_uri(uri, region)
    if target is None:
        raise ServiceCallFailed(f"not an AWS service integration URI: {uri}")
    message = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data or ""
    templates = integration.request_templates
    template = templates.get("$default") or (next(iter(templates.values())) if len(templates) == 1 else None)
    body = message.encode()
    if template is not None:
        try:
            output, _ = render_mapping(
                template, body=message, params={}, context=context, stage_variables=stage_variables
            )
        except TemplateError as exc:
            raise ServiceCallFailed(f"Unable to transform request: {exc}") from None
        body = output.encode()
    try:
        request = service_request(
            target, integration.method or "POST", body, headers={}, credentials_arn=integration.credentials
        )
    except ValueError as exc:
        raise ServiceCallFailed(str(exc)) from None
    answer = await send(upstream, request, integration.timeout_seconds)
    return answer.status, answer.body
