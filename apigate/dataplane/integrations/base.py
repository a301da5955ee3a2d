"""What an integration is, and the services integrations call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from apigate.dataplane.invocation import Invocation
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.dataplane.substitution import stage_variables
from apigate.functions.directory import FunctionMissing
from apigate.functions.runtime import InvokeResult
from apigate.model import MethodIntegration
from apigate.server.message import Response

if TYPE_CHECKING:
    from apigate.functions.directory import FunctionDirectory
    from apigate.server.upstream import UpstreamPool


class Integration(Protocol):
    async def invoke(self, inv: Invocation) -> Response: ...


@dataclass(slots=True)
class IntegrationServices:
    functions: FunctionDirectory
    upstream: UpstreamPool


async def call_function(
    services: IntegrationServices, inv: Invocation, name: str, payload: bytes, timeout: float
) -> InvokeResult:
    """Invoke a function for an integration: a missing function is a configuration error (500) and
    running past the integration's timeout is AWS's 504, whatever the function's own timeout."""
    try:
        return await services.functions.invoke(name, payload, request_id=inv.request_id, timeout=timeout)
    except FunctionMissing:
        inv.log(f"Execution failed due to configuration error: Function not found: {name}")
        raise GatewayError(ResponseType.API_CONFIGURATION_ERROR) from None
    except TimeoutError:
        inv.log("Execution failed due to a timeout error")
        raise GatewayError(ResponseType.INTEGRATION_TIMEOUT) from None


def integration_uri(inv: Invocation, integration: MethodIntegration) -> str:
    """The integration's URI with the stage's variables filled in (only when deployment found any to fill)."""
    uri = integration.uri or ""
    return stage_variables(uri, inv.api.stage_variables) if integration.uri_is_template else uri
