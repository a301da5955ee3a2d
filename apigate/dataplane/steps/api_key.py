"""API key check for methods with ``apiKeyRequired``: a known, enabled key in a usage plan of this stage."""

from __future__ import annotations

from apigate.dataplane.invocation import Invocation
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.model import RestMethod
from apigate.registry import Registry


class ApiKeyStep:
    __slots__ = ("_registry",)

    @staticmethod
    def applies(method: RestMethod) -> bool:
        return method.api_key_required

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def __call__(self, inv: Invocation) -> None:
        method = inv.method
        assert method is not None
        if not method.api_key_required or inv.test_log is not None:  # TestInvokeMethod skips keys, as on AWS
            return
        # apiKeySource AUTHORIZER takes the usageIdentifierKey of the authorizer, which ran before this step.
        if inv.api.api_key_source == "HEADER":
            value = inv.request.header("x-api-key")
        else:
            value = inv.authorizer.usage_identifier_key if inv.authorizer is not None else None
        plans = self._registry.plans
        entry = plans.keys.get(value) if value else None
        if entry is None or not entry.enabled:
            raise GatewayError(ResponseType.INVALID_API_KEY)
        stage_plans = plans.stages.get((inv.api.api_id, inv.api.stage))
        key_plan = stage_plans.get(entry.id) if stage_plans is not None else None
        if key_plan is None:
            raise GatewayError(ResponseType.INVALID_API_KEY)
        inv.api_key = entry.value
        inv.api_key_id = entry.id
        inv.key_plan = key_plan
