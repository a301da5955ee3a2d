"""What an integration is, and the services integrations call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from apigate.aws.service_access import ServiceAccess
from apigate.dataplane import function_call
from apigate.dataplane.function_call import FunctionCallFailed
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.dataplane.substitution import stage_variables
from apigate.functions.runtime import InvokeResult
from apigate.model import MethodIntegration
from apigate.observe.tracing import function_trace_header
from apigate.server.message import Response

if TYPE_CHECKING:
    from apigate.dataplane.local_issuers import LocalIssuers
    from apigate.functions.directory import FunctionDirectory
    from apigate.server.upstream import UpstreamPool


class Integration(Protocol):
    """``integration`` is the matched method's, which the pipeline has already resolved (never None here)."""

    async def invoke(self, inv: Invocation, integration: MethodIntegration) -> Response: ...


@dataclass(slots=True)
class IntegrationServices:
    functions: FunctionDirectory
    upstream: UpstreamPool
    local_issuers: LocalIssuers | None = None  # the gateway's own user pools (Cognito authorizers' keys)
    aws: ServiceAccess = field(default_factory=ServiceAccess)  # AWS service integrations' endpoints and keys


async def call_function(
    services: IntegrationServices, inv: Invocation, name: str, payload: bytes, timeout: float
) -> InvokeResult:
    """Invoke a function for a REST API integration or authorizer: a missing function is a configuration
    error (500) and running past the integration's timeout is AWS's 504, whatever the function's own timeout."""
    traced = inv.span
    if traced is not None:
        outer = traced.enter(f"function {name}", {"faas.invoked_name": name})
    try:
        return await function_call.call_function(
            services.functions,
            name,
            payload,
            timeout=timeout,
            request_id=inv.request_id,
            trace=function_trace_header(inv.trace_id, traced),
        )
    except FunctionCallFailed as failed:
        if failed.timed_out:
            inv.log("Execution failed due to a timeout error")
            raise GatewayError(ResponseType.INTEGRATION_TIMEOUT) from None
        if failed.throttled:  # as AWS answers a throttled Lambda: 502
            inv.log("Lambda invocation failed with status: 429. Reason: Rate Exceeded.")
            raise GatewayError(ResponseType.INTEGRATION_FAILURE) from None
        inv.log(f"Execution failed due to configuration error: Function not found: {name}")
        raise GatewayError(ResponseType.API_CONFIGURATION_ERROR) from None
    finally:
        if traced is not None:
            traced.leave(outer)


def integration_uri(inv: Invocation, integration: MethodIntegration) -> str:
    """The integration's URI with the stage's variables filled in (only when deployment found any to fill)."""
    uri = integration.uri or ""
    return stage_variables(uri, inv.api.stage_variables) if integration.uri_is_template else uri
