"""AWS_PROXY to a function: the whole request as a v1.0 event, the result by the proxy response rules."""

from __future__ import annotations

import functools
import re

import orjson

from apigate.dataplane.integrations.base import IntegrationServices, call_function, integration_uri
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.lambda_proxy.rest import proxy_event_v1
from apigate.dataplane.lambda_proxy.v1 import ProxyFormatError, parse_v1
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.functions.directory import qualified_name_of
from apigate.model import MethodIntegration
from apigate.server.message import Response

_FUNCTION_IN_URI = re.compile(r":lambda:path/[^/]+/functions/(?P<arn>.+?)/invocations$")


@functools.lru_cache(maxsize=4096)
def function_name(uri: str) -> str | None:
    """The function a Lambda integration URI names (a full ARN, a partial one or a bare name), as ``name`` or,
    with a version or alias, ``name:qualifier``: the key the function directory resolves. Remembered by URI:
    the search costs ~4 µs, a cached answer ~0.1 (an API's URIs are few, fixed by its deployments)."""
    found = _FUNCTION_IN_URI.search(uri)
    if found is None:
        return None
    return qualified_name_of(found.group("arn"))


class LambdaProxyIntegration:
    def __init__(self, services: IntegrationServices) -> None:
        self._services = services

    async def invoke(self, inv: Invocation, integration: MethodIntegration) -> Response:
        uri = integration_uri(inv, integration)
        name = function_name(uri)
        if name is None:
            inv.log("Execution failed due to configuration error: Invalid Lambda function ARN")
            raise GatewayError(ResponseType.API_CONFIGURATION_ERROR)
        event = orjson.dumps(proxy_event_v1(inv))
        if inv.test_log is not None:  # only TestInvokeMethod reads the log; don't decode on the hot path
            inv.log(f"Endpoint request body after transformations: {event.decode()}")
        result = await call_function(self._services, inv, name, event, integration.timeout_seconds)
        if inv.test_log is not None:
            inv.log(
                f"Endpoint response body before transformations: {result.payload.decode(errors='replace')}"
            )
        if result.function_error:
            inv.log("Lambda execution failed with status 200 due to customer function error")
            raise GatewayError(ResponseType.INTEGRATION_FAILURE)
        try:
            return parse_v1(
                result.payload, accept=inv.request.header("accept"), binary_types=inv.api.binary_media_types
            )
        except ProxyFormatError as exc:
            inv.log(
                f"Execution failed due to configuration error: Malformed Lambda proxy response ({exc.why})"
            )
            raise GatewayError(ResponseType.INTEGRATION_FAILURE) from exc
