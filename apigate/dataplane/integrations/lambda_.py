"""AWS (non-proxy) to a function: the request template's output is the payload; the function's result, or
its error document, is the integration response body. A function error selects the integration response
whose ``selectionPattern`` matches its ``errorMessage``, so ``raise Exception("[BadRequest] ...")`` can map
to a 400; a result, or an error nothing matches, takes the default response.
"""

from __future__ import annotations

import time

import orjson

from apigate.dataplane.integrations.base import IntegrationServices, call_function, integration_uri
from apigate.dataplane.integrations.lambda_proxy import function_name
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.mapping.transform import (
    log_endpoint_request,
    no_response,
    select_response,
    transform_request,
    transform_response,
)
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.functions.directory import FunctionMissing
from apigate.model import MethodIntegration
from apigate.server.message import Response


def _error_message(payload: bytes) -> str:
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload.decode("utf-8", errors="replace")
    if isinstance(document, dict):
        return str(document.get("errorMessage", ""))
    return ""


class LambdaIntegration:
    def __init__(self, services: IntegrationServices) -> None:
        self._services = services

    async def invoke(self, inv: Invocation, integration: MethodIntegration) -> Response:
        uri = integration_uri(inv, integration)
        name = function_name(uri)
        if name is None:
            inv.log(
                f"Execution failed due to configuration error: AWS service integration not supported: {uri}"
            )
            raise GatewayError(ResponseType.API_CONFIGURATION_ERROR)
        endpoint = transform_request(inv, integration)
        payload = endpoint.body if endpoint.body.strip() else b"{}"  # Lambda is sent {} for an empty body
        if inv.test_log is not None:
            headers = [
                ("x-amzn-lambda-integration-tag", inv.request_id),
                ("X-Amz-Invocation-Type", "RequestResponse"),
                ("Content-Type", "application/json"),
            ]
            log_endpoint_request(
                inv, f"https://lambda.{inv.api.region}.amazonaws.com{_path(uri)}", headers, payload
            )
        if _asynchronous(endpoint.headers):
            return self._queue(inv, integration, name, payload)
        started = time.perf_counter()
        result = await call_function(self._services, inv, name, payload, integration.timeout_seconds)
        if inv.test_log is not None:
            latency = int((time.perf_counter() - started) * 1000)
            inv.log(f"Received response. Status: 200, Integration latency: {latency} ms")
        selector = None
        if result.function_error:
            selector = _error_message(result.payload)
            inv.log(f"Lambda execution failed with status 200 due to customer function error: {selector}")
        chosen = select_response(integration.responses, selector)
        if chosen is None:
            raise no_response(inv)
        headers = [("X-Amz-Function-Error", result.function_error)] if result.function_error else []
        return transform_response(inv, chosen, result.payload, headers)


    def _queue(self, inv: Invocation, integration: MethodIntegration, name: str, payload: bytes) -> Response:
        """``X-Amz-Invocation-Type: 'Event'`` mapped onto the request: Lambda queues the call and answers 202
        with no payload at once; the integration response is chosen as for an empty result."""
        functions = self._services.functions
        try:
            functions.spec(name)  # a missing function is still the API's configuration error
        except FunctionMissing:
            inv.log(f"Execution failed due to configuration error: Function not found: {name}")
            raise GatewayError(ResponseType.API_CONFIGURATION_ERROR) from None
        functions.events.submit(name, payload, functions.event_config(name))
        chosen = select_response(integration.responses, None)
        if chosen is None:
            raise no_response(inv)
        return transform_response(inv, chosen, b"", [])


def _asynchronous(headers: dict[str, str]) -> bool:
    for key, value in headers.items():
        if key.lower() == "x-amz-invocation-type":
            return value.strip() == "Event"
    return False


def _path(uri: str) -> str:
    marker = ":lambda:path"
    return uri.split(marker, 1)[1] if marker in uri else uri
