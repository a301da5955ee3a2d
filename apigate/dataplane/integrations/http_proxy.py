"""HTTP_PROXY: the request goes to the backend as it came, the backend's answer comes back as it is."""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from apigate.dataplane.integrations.base import IntegrationServices
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.mapping_context import context_value
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.dataplane.substitution import stage_variables
from apigate.server.message import Response
from apigate.server.upstream import HOP_BY_HOP, UpstreamError, UpstreamTimeout

_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9._-]+)\+?\}")


def _source(inv: Invocation, expression: str) -> str | None:
    """The value of a request parameter mapping source such as ``method.request.path.proxy``."""
    if len(expression) >= 2 and expression[0] == expression[-1] == "'":
        return expression[1:-1]
    if expression.startswith("method.request.path."):
        return inv.path_parameters.get(expression[len("method.request.path.") :])
    if expression.startswith("method.request.querystring."):
        name = expression[len("method.request.querystring.") :]
        values = [v for k, v in inv.query_pairs if k == name]
        return values[-1] if values else None
    if expression.startswith("method.request.header."):
        return inv.request.header(expression[len("method.request.header.") :])
    if expression.startswith("stageVariables."):
        return inv.api.stage_variables.get(expression[len("stageVariables.") :])
    if expression.startswith("context."):
        return context_value(inv, expression[len("context.") :])
    return None


class HttpProxyIntegration:
    def __init__(self, services: IntegrationServices) -> None:
        self._services = services

    async def invoke(self, inv: Invocation) -> Response:
        method = inv.method
        assert method is not None and method.integration is not None
        integration = method.integration
        path_values: dict[str, str] = {}
        query_extra: list[tuple[str, str]] = []
        header_extra: dict[str, str] = {}
        for target, source in integration.request_parameters.items():
            value = _source(inv, source)
            if value is None:
                continue
            if target.startswith("integration.request.path."):
                path_values[target[len("integration.request.path.") :]] = value
            elif target.startswith("integration.request.querystring."):
                query_extra.append((target[len("integration.request.querystring.") :], value))
            elif target.startswith("integration.request.header."):
                header_extra[target[len("integration.request.header.") :]] = value
        url = integration.uri or ""
        if integration.uri_is_template:  # decided at deploy time: most URIs are plain
            url = stage_variables(url, inv.api.stage_variables)

            def fill(match: re.Match[str]) -> str:
                name = match.group(1)
                # Without an explicit mapping, a same-named path parameter fills the placeholder.
                value = path_values.get(name, inv.path_parameters.get(name))
                return "" if value is None else quote(value, safe="/")

            url = _PLACEHOLDER.sub(fill, url)
        query = inv.request.query_string
        if query_extra:
            query = "&".join(filter(None, [query, urlencode(query_extra)]))
        if query:
            url += ("&" if "?" in url else "?") + query
        headers = inv.request.headers  # the pool drops hop-by-hop headers and sets Host itself
        if header_extra:
            lowered = {name.lower() for name in header_extra}
            headers = [(k, v) for k, v in headers if k.lower() not in lowered] + list(header_extra.items())
        verb = inv.request.method if integration.http_method in (None, "ANY") else integration.http_method
        if inv.test_log is not None:
            inv.log(f"Endpoint request URI: {url}")
        try:
            answer = await self._services.upstream.request(
                verb, url, headers, inv.request.body, timeout=integration.timeout_seconds
            )
        except UpstreamTimeout:
            inv.log("Execution failed due to a timeout error")
            raise GatewayError(ResponseType.INTEGRATION_TIMEOUT) from None
        except UpstreamError as exc:
            inv.log(f"Execution failed due to configuration error: {exc}")
            raise GatewayError(ResponseType.API_CONFIGURATION_ERROR) from None
        inv.log(f"Received response. Status: {answer.status}")
        return Response(
            answer.status,
            [(k, v) for k, v in answer.headers if k.lower() not in HOP_BY_HOP],
            answer.body,
        )
