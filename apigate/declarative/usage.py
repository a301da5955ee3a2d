"""API keys and usage plans in templates: ``AWS::ApiGateway::ApiKey``, ``UsagePlan`` and ``UsagePlanKey``,
created through the management handlers. A redeploy of the same stack keeps a key (its value stays what clients
hold) and a plan (its usage counts), updating a plan's stages, throttle and quota in place."""

from __future__ import annotations

from typing import Any, Protocol

from apigate.aws.wire import OperationHandler
from apigate.control import api_keys, usage_plans
from apigate.control.context import ControlContext

Doc = dict[str, Any]

RESOURCE_TYPES = ("AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlan", "AWS::ApiGateway::UsagePlanKey")
# After the stages they name exist.
RANKS = {"AWS::ApiGateway::ApiKey": 3, "AWS::ApiGateway::UsagePlan": 3, "AWS::ApiGateway::UsagePlanKey": 4}


class Run(Protocol):
    ctx: ControlContext
    physical: dict[str, tuple[str, str]]
    attributes: dict[str, dict[str, Any]]

    def _old(self, logical_id: str, kind: str) -> str | None: ...


def _handlers(run: Run) -> dict[str, OperationHandler]:
    return {**api_keys.handlers(run.ctx), **usage_plans.handlers(run.ctx)}


def _stage_keys(props: Doc) -> list[Doc]:
    return [
        {"restApiId": k.get("RestApiId"), "stageName": k.get("StageName")}
        for k in props.get("StageKeys") or ()
    ]


def _throttle(raw: Doc | None) -> Doc | None:
    if not raw:
        return None
    return {
        k: v
        for k, v in {"burstLimit": raw.get("BurstLimit"), "rateLimit": raw.get("RateLimit")}.items()
        if v is not None
    }


async def create(run: Run, logical_id: str, kind: str, props: Doc) -> None:
    handlers = _handlers(run)
    old = run._old(logical_id, kind)
    store = run.ctx.store
    if kind == "AWS::ApiGateway::ApiKey":
        if old is None or store.get("apikey", old) is None:
            params = {
                "name": props.get("Name") or logical_id,
                "description": props.get("Description"),
                "enabled": props.get("Enabled", False) in (True, "true", "True"),
                "value": props.get("Value"),
                "customerId": props.get("CustomerId"),
                "stageKeys": _stage_keys(props),
            }
            old = (await handlers["CreateApiKey"]({k: v for k, v in params.items() if v is not None}))["id"]
        run.physical[logical_id] = (kind, old)
        run.attributes[logical_id] = {"APIKeyId": old}
    elif kind == "AWS::ApiGateway::UsagePlan":
        stages = [
            {
                "apiId": s.get("ApiId"),
                "stage": s.get("Stage"),
                **({"throttle": s["Throttle"]} if s.get("Throttle") else {}),
            }
            for s in props.get("ApiStages") or ()
        ]
        quota = props.get("Quota")
        params = {
            "name": props.get("UsagePlanName") or logical_id,
            "description": props.get("Description"),
            "apiStages": stages,
            "throttle": _throttle(props.get("Throttle")),
            "quota": None
            if not quota
            else {
                k: v
                for k, v in {
                    "limit": quota.get("Limit"),
                    "offset": quota.get("Offset"),
                    "period": quota.get("Period"),
                }.items()
                if v is not None
            },
        }
        params = {k: v for k, v in params.items() if v is not None}
        if old is not None and store.get("usageplan", old) is not None:
            doc = {**store.get("usageplan", old), **params}  # type: ignore[dict-item]
            store.put("usageplan", old, doc)
            usage_plans.refresh_plans(run.ctx)
        else:
            old = (await handlers["CreateUsagePlan"](params))["id"]
        run.physical[logical_id] = (kind, old)
        run.attributes[logical_id] = {"Id": old}
    else:
        plan, key = str(props.get("UsagePlanId")), str(props.get("KeyId"))
        if store.get("usageplankey", f"{plan}/{key}") is None:
            await handlers["CreateUsagePlanKey"](
                {"usagePlanId": plan, "keyId": key, "keyType": props.get("KeyType") or "API_KEY"}
            )
        run.physical[logical_id] = (kind, f"{plan}/{key}")
