"""MOCK: the request template's ``statusCode`` picks the integration response; there is no endpoint."""

from __future__ import annotations

import functools

import orjson

from apigate.dataplane.invocation import Invocation
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.dataplane.transform import (
    content_type_of,
    no_response,
    select_response,
    transform_request,
    transform_response,
)
from apigate.server.message import Response


class MockIntegration:
    async def invoke(self, inv: Invocation) -> Response:
        method = inv.method
        assert method is not None and method.integration is not None
        integration = method.integration
        endpoint = transform_request(inv, integration)
        try:
            status = _status_of(endpoint.body)
        except orjson.JSONDecodeError:
            if content_type_of(inv) in integration.request_templates:
                inv.log("Execution failed: the MOCK request template did not render to JSON")
                raise GatewayError(ResponseType.API_CONFIGURATION_ERROR) from None
            status = "200"  # a passed-through body that is not JSON asks for nothing
        if inv.test_log is not None:
            inv.log(f"Endpoint request body after transformations: {endpoint.body.decode(errors='replace')}")
            inv.log(f"Received response. Status: {status}, Integration latency: 0 ms")
        chosen = select_response(integration.responses, status)
        if chosen is None:
            raise no_response(inv)
        return transform_response(inv, chosen, b"")


@functools.lru_cache(maxsize=1024)
def _status_of(rendered: bytes) -> str:
    """The statusCode a rendered request template asks for; cached, since most templates are constant."""
    if not rendered.strip():
        return "200"
    document = orjson.loads(rendered)
    if isinstance(document, dict) and "statusCode" in document:
        return str(document["statusCode"])
    return "200"
