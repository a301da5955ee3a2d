"""MOCK: the request template's ``statusCode`` picks the integration response; there is no endpoint."""

from __future__ import annotations

import functools

import orjson

from apigate.dataplane.invocation import Invocation
from apigate.dataplane.mapping.templates import ConstantTemplate
from apigate.dataplane.mapping.transform import (
    content_type_of,
    no_response,
    select_response,
    transform_request,
    transform_response,
)
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.model import MethodIntegration
from apigate.server.message import Response


class MockIntegration:
    def __init__(self) -> None:
        # (integration, request media type) -> the answer, for mocks whose templates are constant: most are.
        self._static: dict[tuple[int, str], tuple[MethodIntegration, Response | None]] = {}

    async def invoke(self, inv: Invocation, integration: MethodIntegration) -> Response:
        if inv.test_log is None:
            static = self._static_answer(integration, content_type_of(inv))
            if static is not None:
                return Response(static.status, list(static.headers), static.body)
        endpoint = transform_request(inv, integration)
        try:
            status = _status_of(endpoint.body)
        except orjson.JSONDecodeError:
            if content_type_of(inv) in integration.request_templates:
                inv.log("Execution failed: the MOCK request template did not render to JSON")
                raise GatewayError(ResponseType.API_CONFIGURATION_ERROR) from None
            status = "200"  # a passed-through body that is not JSON asks for nothing
        # TestInvokeMethod's log has no endpoint lines for a MOCK: AWS goes from the method request to the
        # method response (as recorded).
        chosen = select_response(integration.responses, status)
        if chosen is None:
            raise no_response(inv)
        return transform_response(inv, chosen, b"")

    def _static_answer(self, integration: MethodIntegration, media_type: str) -> Response | None:
        """The response, when nothing in it can depend on the request; worked out once per integration."""
        key = (id(integration), media_type)
        entry = self._static.get(key)
        if entry is not None and entry[0] is integration:
            return entry[1]
        if len(self._static) > 10_000:  # integrations of old deployments: forget them rather than grow
            self._static.clear()
        answer = _constant_answer(integration, media_type)
        self._static[key] = (integration, answer)
        return answer


def _constant_answer(integration: MethodIntegration, media_type: str) -> Response | None:
    template = integration.request_templates.get(media_type)
    if not isinstance(template, ConstantTemplate) or integration.content_handling:
        return None  # passthrough, or a template that reads the request
    try:
        status = _status_of(template.source.encode())
    except orjson.JSONDecodeError:
        return None
    chosen = select_response(integration.responses, status)
    if chosen is None or chosen.response_parameters or chosen.content_handling:
        return None
    templates = chosen.response_templates
    if len(templates) > 1:
        return None  # the Accept header picks one
    if not templates:
        return Response(int(chosen.status_code), [("Content-Type", "application/json")], b"")
    media, response_template = next(iter(templates.items()))
    if not isinstance(response_template, ConstantTemplate):
        return None
    return Response(int(chosen.status_code), [("Content-Type", media)], response_template.source.encode())


@functools.lru_cache(maxsize=1024)
def _status_of(rendered: bytes) -> str:
    """The statusCode a rendered request template asks for; cached, since most templates are constant."""
    if not rendered.strip():
        return "200"
    document = orjson.loads(rendered)
    if isinstance(document, dict) and "statusCode" in document:
        return str(document["statusCode"])
    return "200"
