"""HTTP (non-proxy): a request built by templates and parameter mappings; the status picks the response.

Unlike HTTP_PROXY, nothing of the method request reaches the endpoint unless it is mapped: no query string,
no headers (AWS sends its own Accept, Content-Type and User-Agent).
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from apigate.dataplane.integrations.base import IntegrationServices
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.mapping.transform import (
    log_endpoint_request,
    no_response,
    select_response,
    transform_request,
    transform_response,
)
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.dataplane.substitution import fill_placeholders, stage_variables
from apigate.model import MethodIntegration
from apigate.server.message import Response
from apigate.server.upstream import UpstreamError, UpstreamTimeout, with_added


class HttpIntegration:
    def __init__(self, services: IntegrationServices) -> None:
        self._services = services

    async def invoke(self, inv: Invocation, integration: MethodIntegration) -> Response:
        endpoint = transform_request(inv, integration)
        url = integration.uri or ""
        if integration.uri_is_template:
            url = stage_variables(url, inv.api.stage_variables)
            url = fill_placeholders(url, endpoint.path, inv.path_parameters)
        if endpoint.query:
            url += ("&" if "?" in url else "?") + urlencode(endpoint.query)
        headers = [
            ("x-amzn-apigateway-api-id", inv.api.api_id),
            ("Accept", inv.request.header("accept") or "application/json"),
            ("User-Agent", f"AmazonAPIGateway_{inv.api.api_id}"),
            ("Content-Type", inv.request.header("content-type") or "application/json"),
            ("X-Amzn-Trace-Id", _trace_header(inv)),
        ]
        if endpoint.headers:  # no client header is forwarded here: only what the API maps
            headers = with_added(headers, endpoint.headers.items())
        verb = inv.request.method if integration.http_method in (None, "ANY") else integration.http_method
        if inv.test_log is not None:
            log_endpoint_request(inv, url, headers, endpoint.body)
        started = time.perf_counter()
        try:
            answer = await self._services.upstream.send(
                verb,
                url,
                headers,
                endpoint.body,
                timeout=integration.timeout_seconds,
                identity=inv.api.client_identity,
            )
        except UpstreamTimeout:
            inv.log("Execution failed due to a timeout error")
            raise GatewayError(ResponseType.INTEGRATION_TIMEOUT) from None
        except UpstreamError as exc:
            inv.log(f"Execution failed due to configuration error: {exc}")
            raise GatewayError(ResponseType.API_CONFIGURATION_ERROR) from None
        if inv.test_log is not None:
            latency = int((time.perf_counter() - started) * 1000)
            inv.log(f"Received response. Status: {answer.status}, Integration latency: {latency} ms")
        chosen = select_response(integration.responses, str(answer.status))
        if chosen is None:
            raise no_response(inv)
        return transform_response(inv, chosen, answer.body, answer.headers)


def _trace_header(inv: Invocation) -> str:
    """The client's X-Amzn-Trace-Id when it names a root (Parent and Sampled kept), else the request's trace."""
    given = inv.request.header("x-amzn-trace-id")
    return given if given and "Root=1-" in given else inv.trace_id
