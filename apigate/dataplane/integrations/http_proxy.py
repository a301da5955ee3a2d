"""HTTP_PROXY: the request goes to the backend as it came, the backend's answer comes back as it is."""

from __future__ import annotations

from urllib.parse import urlencode

from apigate.dataplane.integrations.base import IntegrationServices
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.mapping.parameters import request_value
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.dataplane.substitution import fill_placeholders, stage_variables
from apigate.model import MethodIntegration
from apigate.server.message import Response
from apigate.server.upstream import (
    HOP_BY_HOP,
    HOP_BY_HOP_LENGTHS,
    UpstreamError,
    UpstreamTimeout,
    end_to_end,
    with_added,
)


class HttpProxyIntegration:
    def __init__(self, services: IntegrationServices) -> None:
        self._services = services

    async def invoke(self, inv: Invocation, integration: MethodIntegration) -> Response:
        path_values: dict[str, str] = {}
        query_extra: list[tuple[str, str]] = []
        header_extra: dict[str, str] = {}
        if integration.request_parameters:
            text = inv.request.body.decode("utf-8", errors="replace")
            for mapping in integration.request_parameters:
                values = request_value(inv, mapping.source, text)
                if not values:
                    continue
                if mapping.location == "path":
                    path_values[mapping.name] = values[-1]
                elif mapping.location == "querystring":
                    query_extra += [(mapping.name, value) for value in values]
                else:
                    header_extra[mapping.name] = ",".join(values)
        url = integration.uri or ""
        if integration.uri_is_template:  # decided at deploy time: most URIs are plain
            # Without an explicit mapping, a same-named path parameter fills the placeholder.
            url = stage_variables(url, inv.api.stage_variables)
            url = fill_placeholders(url, path_values, inv.path_parameters)
        query = inv.request.query_string
        if query_extra:
            query = "&".join(filter(None, [query, urlencode(query_extra)]))
        if query:
            url += ("&" if "?" in url else "?") + query
        # What the client's Connection names goes first, then the mapped headers are added: a client cannot
        # remove a header the API adds. The pool drops the fixed hop-by-hop set and sets Host itself.
        headers = end_to_end(inv.request.headers)
        trace = inv.trace_id  # the trace the response names too: one per request, as on AWS
        if not inv.trace_sent:  # AWS starts a trace when the client did not (never the request's own list)
            headers = [*headers, ("X-Amzn-Trace-Id", trace)]
        if header_extra:
            headers = with_added(headers, header_extra.items())
        verb = inv.request.method if integration.http_method in (None, "ANY") else integration.http_method
        if inv.test_log is not None:
            inv.log(f"Endpoint request URI: {url}")
        try:
            answer = await self._services.upstream.send(
                verb,
                url,
                headers,
                inv.request.body,
                timeout=integration.timeout_seconds,
                identity=inv.api.client_identity,
            )
        except UpstreamTimeout:
            inv.log("Execution failed due to a timeout error")
            raise GatewayError(ResponseType.INTEGRATION_TIMEOUT) from None
        except UpstreamError as exc:
            inv.log(f"Execution failed due to configuration error: {exc}")
            raise GatewayError(ResponseType.API_CONFIGURATION_ERROR) from None
        if inv.test_log is not None:  # skip formatting a line nobody keeps
            inv.log(f"Received response. Status: {answer.status}")
        return Response(
            answer.status,
            # lower() only names whose length a hop-by-hop header has
            [
                (k, v)
                for k, v in answer.headers
                if len(k) not in HOP_BY_HOP_LENGTHS or k.lower() not in HOP_BY_HOP
            ],
            answer.body,
        )
