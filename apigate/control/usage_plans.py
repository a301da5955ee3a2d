"""Usage plans, their keys, and their usage: CreateUsagePlan ... UpdateUsage.

Every change here (and to API keys) rebuilds the data plane's ``PlanIndex`` and swaps it into the registry: keys and
plans take effect at once, without a deployment, as on AWS.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from functools import partial
from typing import Any, cast

from apigate.aws import patch
from apigate.aws.errors import AwsError, bad_request, conflict, not_found
from apigate.aws.ids import short_id
from apigate.aws.wire import OperationHandler
from apigate.compile.rest import setting_key_path
from apigate.control.common import Doc, drop_none, page
from apigate.control.context import ControlContext
from apigate.model import ApiKeyEntry, KeyPlan, PlanIndex
from apigate.state import Limit, Period, Quota, StateUnavailable
from apigate.state.quota_period import utc_day
from apigate.store.base import Conflict
from apigate.store.regional import everywhere

_PERIODS = ("DAY", "WEEK", "MONTH")


def plan_quota(plan: Doc) -> Quota | None:
    quota = plan.get("quota")
    if not quota:
        return None
    return Quota(int(quota["limit"]), cast(Period, quota["period"]), int(quota.get("offset") or 0))


def _method_key(key: str) -> str:
    """A plan's per-method throttle key (``/pets/GET``; ``~1pets/GET`` accepted) as RestMethod.setting_key."""
    target = setting_key_path(key)
    return "*/*" if target is None else f"{target[0]}/{target[1]}"


def build_index(ctx: ControlContext) -> PlanIndex:
    store = ctx.store
    keys = {
        doc["value"]: ApiKeyEntry(doc["id"], doc["value"], bool(doc.get("enabled")))
        for doc in store.list("apikey")
    }
    key_ids = {entry.id for entry in keys.values()}
    stages: dict[tuple[str, str], dict[str, KeyPlan]] = {}
    for plan in store.list("usageplan"):
        plan_id = plan["id"]
        throttle = plan.get("throttle") or {}
        quota = plan_quota(plan)
        for plan_key in store.list("usageplankey", plan_id):
            key_id = plan_key["id"]
            if key_id not in key_ids:
                continue
            per_key: tuple[Limit, ...] = ()
            if throttle:
                per_key = (
                    Limit(
                        f"k:{plan_id}:{key_id}",
                        float(throttle.get("rateLimit", 10000.0)),
                        int(throttle.get("burstLimit", 5000)),
                    ),
                )
            for api_stage in plan.get("apiStages") or ():
                api_id, stage = api_stage["apiId"], api_stage["stage"]
                method_limits: dict[str, tuple[Limit, ...]] = {}
                for key, setting in (api_stage.get("throttle") or {}).items():
                    method = _method_key(key)
                    limit = Limit(
                        f"km:{plan_id}:{key_id}:{api_id}:{stage}:{method}",
                        float(setting.get("rateLimit", 10000.0)),
                        int(setting.get("burstLimit", 5000)),
                    )
                    method_limits[method] = (limit, *per_key)
                stages.setdefault((api_id, stage), {})[key_id] = KeyPlan(
                    plan_id=plan_id,
                    key_id=key_id,
                    method_limits=method_limits,
                    default_limits=per_key,
                    quota=quota,
                    usage_key=f"{plan_id}:{key_id}",
                )
    return PlanIndex(keys, stages)


def refresh_plans(ctx: ControlContext) -> None:
    with everywhere():  # the data plane's plans, every region's
        ctx.registry.plans = build_index(ctx)


def get_plan_doc(ctx: ControlContext, plan_id: str) -> Doc:
    doc = ctx.store.get("usageplan", plan_id)
    if doc is None:
        raise not_found("Invalid Usage Plan ID specified")
    return doc


def _check_throttle(throttle: Any, where: str = "throttle") -> Doc | None:
    if throttle is None:
        return None
    out: Doc = {}
    if throttle.get("burstLimit") is not None:
        if int(throttle["burstLimit"]) < 0:
            raise bad_request(f"Invalid {where}: burstLimit must be non-negative")
        out["burstLimit"] = int(throttle["burstLimit"])
    if throttle.get("rateLimit") is not None:
        if float(throttle["rateLimit"]) < 0:
            raise bad_request(f"Invalid {where}: rateLimit must be non-negative")
        out["rateLimit"] = float(throttle["rateLimit"])
    return out


def _check_quota(quota: Any) -> Doc | None:
    if quota is None:
        return None
    if quota.get("period") not in _PERIODS:
        raise bad_request("Invalid quota period specified. Must be one of: [DAY, WEEK, MONTH]")
    limit = int(quota.get("limit") or 0)
    offset = int(quota.get("offset") or 0)
    if limit <= 0:
        raise bad_request("Invalid quota limit specified. Must be greater than 0")
    if offset < 0 or offset >= limit:
        raise bad_request("Quota offset must be greater than or equal to 0 and less than the quota limit")
    return {"limit": limit, "offset": offset, "period": quota["period"]}


def _check_stages(ctx: ControlContext, stages: list[Doc]) -> list[Doc]:
    checked = []
    seen = set()
    for item in stages:
        api_id, stage = item.get("apiId") or "", item.get("stage") or ""
        websocket = (ctx.store.get("v2api", api_id) or {}).get("ProtocolType") == "WEBSOCKET"
        if ctx.store.get("restapi", api_id) is None and not websocket:  # plans meter WebSocket APIs too
            raise not_found(f"Invalid API identifier specified {ctx.settings.account_id}:{api_id}")
        if ctx.store.get("v2stage" if websocket else "stage", f"{api_id}/{stage}") is None:
            raise not_found(f"Invalid stage identifier specified {api_id}:{stage}")
        if (api_id, stage) in seen:
            raise conflict(f"API Stage {api_id}:{stage} is already in the usage plan")
        seen.add((api_id, stage))
        entry: Doc = {"apiId": api_id, "stage": stage}
        if item.get("throttle"):
            if len(item["throttle"]) > 20:
                raise bad_request("At most 20 method throttle settings per API stage")
            entry["throttle"] = {
                key: _check_throttle(value, f"throttle for {key}")
                for key, value in item["throttle"].items()
            }
        checked.append(entry)
    return checked


def _check_key_stages(ctx: ControlContext, plan: Doc, key_id: str) -> None:
    """A key can be in several plans, but in one plan per API stage."""
    mine = {(s["apiId"], s["stage"]) for s in plan.get("apiStages") or ()}
    for other in ctx.store.list("usageplan"):
        if other["id"] == plan["id"] or ctx.store.get("usageplankey", f"{other['id']}/{key_id}") is None:
            continue
        shared = mine & {(s["apiId"], s["stage"]) for s in other.get("apiStages") or ()}
        if shared:
            raise conflict(
                f"Usage Plan {plan['id']} cannot be added because API Key {key_id} cannot reference "
                "multiple Usage Plans with the same API Stage"
            )


async def create_usage_plan(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    if not params.get("name"):
        raise bad_request("Invalid Usage Plan name specified")
    doc = drop_none(
        {
            "id": short_id(6),
            "name": params["name"],
            "description": params.get("description"),
            "apiStages": _check_stages(ctx, params.get("apiStages") or []),
            "throttle": _check_throttle(params.get("throttle")),
            "quota": _check_quota(params.get("quota")),
            "tags": params.get("tags") or None,
        }
    )
    ctx.store.put("usageplan", doc["id"], doc)
    refresh_plans(ctx)
    return doc


async def get_usage_plan(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return get_plan_doc(ctx, params["usagePlanId"])


async def get_usage_plans(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    plans = ctx.store.list("usageplan")
    if params.get("keyId"):
        plans = [
            p for p in plans if ctx.store.get("usageplankey", f"{p['id']}/{params['keyId']}") is not None
        ]
    return page(plans, params, "items")


async def update_usage_plan(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    doc = get_plan_doc(ctx, params["usagePlanId"])
    patch.apply(doc, params.get("patchOperations") or [], _PLAN_PATCHABLE)
    doc["apiStages"] = _check_stages(ctx, doc.get("apiStages") or [])
    if doc.get("throttle") is not None:
        doc["throttle"] = _check_throttle(doc["throttle"])
    if doc.get("quota") is not None:
        doc["quota"] = _check_quota(doc["quota"])
    for plan_key in ctx.store.list("usageplankey", doc["id"]):
        _check_key_stages(ctx, doc, plan_key["id"])
    ctx.store.put("usageplan", doc["id"], drop_none(doc))
    refresh_plans(ctx)
    return doc


async def delete_usage_plan(ctx: ControlContext, params: dict[str, Any]) -> None:
    plan_id = params["usagePlanId"]
    get_plan_doc(ctx, plan_id)
    with ctx.store.transaction():
        ctx.store.delete_parent(plan_id)
        ctx.store.delete("usageplan", plan_id)
    refresh_plans(ctx)


def _plan_key_doc(ctx: ControlContext, plan_id: str, key_id: str) -> Doc:
    key = ctx.store.get("apikey", key_id)
    if key is None or ctx.store.get("usageplankey", f"{plan_id}/{key_id}") is None:
        raise not_found("Invalid API Key identifier specified")
    return {"id": key_id, "type": "API_KEY", "value": key["value"], "name": key.get("name")}


async def create_usage_plan_key(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    plan = get_plan_doc(ctx, params["usagePlanId"])
    key_id = params.get("keyId") or ""
    if params.get("keyType") != "API_KEY":
        raise bad_request("Invalid key type specified. Must be one of: [API_KEY]")
    if ctx.store.get("apikey", key_id) is None:
        raise not_found("Invalid API Key identifier specified")
    # One write transaction: the stage check reads other plans' keys, which another process may be adding;
    # its error rolls the insert back.
    with ctx.store.transaction():
        try:
            ctx.store.insert(
                "usageplankey",
                f"{plan['id']}/{key_id}",
                {"id": key_id, "type": "API_KEY"},
                parent=plan["id"],
            )
        except Conflict:
            raise conflict(f"Usage Plan {plan['id']} already contains API Key {key_id}") from None
        _check_key_stages(ctx, plan, key_id)
    refresh_plans(ctx)
    return _plan_key_doc(ctx, plan["id"], key_id)


async def get_usage_plan_key(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    get_plan_doc(ctx, params["usagePlanId"])
    return _plan_key_doc(ctx, params["usagePlanId"], params["keyId"])


async def get_usage_plan_keys(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    plan_id = params["usagePlanId"]  # an unknown plan has no keys: AWS answers an empty list, not a 404
    items = [_plan_key_doc(ctx, plan_id, k["id"]) for k in ctx.store.list("usageplankey", plan_id)]
    if params.get("nameQuery"):
        items = [i for i in items if str(i.get("name") or "").startswith(params["nameQuery"])]
    return page([drop_none(i) for i in items], params, "items")


async def delete_usage_plan_key(ctx: ControlContext, params: dict[str, Any]) -> None:
    plan_id, key_id = params["usagePlanId"], params["keyId"]
    get_plan_doc(ctx, plan_id)
    _plan_key_doc(ctx, plan_id, key_id)
    ctx.store.delete("usageplankey", f"{plan_id}/{key_id}")
    refresh_plans(ctx)


async def _usage_of(ctx: ControlContext, plan: Doc, key_ids: list[str], start: date, end: date) -> Doc:
    quotas = ctx.quotas
    assert quotas is not None
    quota = plan_quota(plan)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    items: dict[str, list[list[int]]] = {}
    try:
        for key_id in key_ids:
            usage_key = f"{plan['id']}:{key_id}"
            if quota is None:  # no quota: nothing remains to report
                counts = await quotas.usage(usage_key, start, end)
                items[key_id] = [[counts.get(d.isoformat(), 0), 0] for d in days]
            else:  # [used that day, left at the end of that day]
                rows = await quotas.daily_usage(usage_key, quota, start, end)
                items[key_id] = [[used, left] for used, left in rows]
    except StateUnavailable as exc:
        raise AwsError("ServiceUnavailableException", str(exc), 503) from exc
    return {
        "usagePlanId": plan["id"],
        "startDate": start.isoformat(),
        "endDate": end.isoformat(),
        "items": items,
    }


def _parse_day(ctx: ControlContext, value: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise bad_request(f"Invalid {name}: {value}. Must be in the format yyyy-MM-dd") from exc


async def get_usage(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    plan = get_plan_doc(ctx, params["usagePlanId"])
    start, end = (
        _parse_day(ctx, params.get("startDate"), "startDate"),
        _parse_day(ctx, params.get("endDate"), "endDate"),
    )
    if end < start:
        raise bad_request("The start date must be before the end date")
    if (end - start).days > 90:
        raise bad_request("The usage data period cannot exceed 90 days")
    key_ids = [k["id"] for k in ctx.store.list("usageplankey", plan["id"])]
    if params.get("keyId"):
        if params["keyId"] not in key_ids:
            raise not_found("Invalid API Key identifier specified")
        key_ids = [params["keyId"]]
    return await _usage_of(ctx, plan, key_ids, start, end)


async def update_usage(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    plan = get_plan_doc(ctx, params["usagePlanId"])
    key_id = params["keyId"]
    _plan_key_doc(ctx, plan["id"], key_id)
    quota = plan_quota(plan)
    if quota is None:
        raise bad_request("Usage Plan has no quota to update")
    quotas = ctx.quotas
    assert quotas is not None
    for operation in params.get("patchOperations") or []:
        if operation.get("path") != "/remaining" or operation.get("op") != "replace":
            raise bad_request(f"Invalid patch path {operation.get('path')}")
        try:
            remaining = int(operation.get("value"))
        except (TypeError, ValueError) as exc:
            raise bad_request(f"Invalid value for /remaining: {operation.get('value')}") from exc
        try:
            await quotas.set_remaining(f"{plan['id']}:{key_id}", quota, max(remaining, 0))
        except StateUnavailable as exc:
            raise AwsError("ServiceUnavailableException", str(exc), 503) from exc
    today = utc_day(time.time())
    return await _usage_of(ctx, plan, [key_id], today, today)


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "CreateUsagePlan": partial(create_usage_plan, ctx),
        "GetUsagePlan": partial(get_usage_plan, ctx),
        "GetUsagePlans": partial(get_usage_plans, ctx),
        "UpdateUsagePlan": partial(update_usage_plan, ctx),
        "DeleteUsagePlan": partial(delete_usage_plan, ctx),
        "CreateUsagePlanKey": partial(create_usage_plan_key, ctx),
        "GetUsagePlanKey": partial(get_usage_plan_key, ctx),
        "GetUsagePlanKeys": partial(get_usage_plan_keys, ctx),
        "DeleteUsagePlanKey": partial(delete_usage_plan_key, ctx),
        "GetUsage": partial(get_usage, ctx),
        "UpdateUsage": partial(update_usage, ctx),
    }


def _nested(field: str, members: dict[str, Any]) -> patch.PathHandler:
    """``/throttle/rateLimit`` and ``/quota/period``: one level of named members, created as needed."""

    def handle(document: Doc, op: str, value: Any, rest: list[str]) -> None:
        if op == "remove" and not rest:
            document.pop(field, None)
            return
        if len(rest) != 1 or rest[0] not in members:
            raise bad_request(f"Invalid patch path /{'/'.join([field, *rest])}")
        if op not in ("add", "replace", "remove"):
            raise bad_request("Invalid patch operation specified. Must be one of: [add, remove, replace]")
        target = document.setdefault(field, {})
        if op == "remove":
            target.pop(rest[0], None)
        else:
            try:
                target[rest[0]] = members[rest[0]](value)
            except (TypeError, ValueError) as exc:
                raise bad_request(f"Invalid value for /{field}/{rest[0]}: {value}") from exc
        if not target:
            document.pop(field, None)

    return handle


def _api_stages(document: Doc, op: str, value: Any, rest: list[str]) -> None:
    """``add|remove /apiStages`` with value ``apiId:stage``; ``/apiStages/{apiId:stage}/throttle/{path/VERB}[/x]``."""
    stages: list[Doc] = document.setdefault("apiStages", [])
    if not rest:
        api_id, _, stage = str(value or "").partition(":")
        if op == "add":
            stages.append({"apiId": api_id, "stage": stage})
        elif op == "remove":
            before = len(stages)
            stages[:] = [s for s in stages if (s["apiId"], s["stage"]) != (api_id, stage)]
            if len(stages) == before:
                raise not_found(f"Invalid API Stage {value} specified")
        else:
            raise bad_request("Invalid patch operation specified. Must be one of: [add, remove]")
        return
    api_id, _, stage = rest[0].partition(":")
    entry = next((s for s in stages if (s["apiId"], s["stage"]) == (api_id, stage)), None)
    if entry is None or len(rest) < 2 or rest[1] != "throttle":
        raise bad_request(f"Invalid patch path /apiStages/{'/'.join(rest)}")
    throttle: Doc = entry.setdefault("throttle", {})
    tail = rest[2:]
    if tail and tail[-1] in ("rateLimit", "burstLimit"):
        method, member = "/".join(tail[:-1]), tail[-1]
        setting = throttle.setdefault(method, {})
        if op == "remove":
            setting.pop(member, None)
        else:
            setting[member] = float(value) if member == "rateLimit" else int(value)
    elif tail:
        method = "/".join(tail)
        if op == "remove":
            throttle.pop(method, None)
        else:
            throttle[method] = dict(value) if isinstance(value, dict) else {}
    elif op == "remove":
        entry.pop("throttle", None)
    if not entry.get("throttle"):
        entry.pop("throttle", None)


_PLAN_PATCHABLE: dict[str, patch.PathHandler] = {
    "name": patch.scalar("name", nullable=False),
    "description": patch.scalar("description"),
    "productCode": patch.scalar("productCode"),
    "throttle": _nested("throttle", {"rateLimit": float, "burstLimit": int}),
    "quota": _nested("quota", {"limit": int, "offset": int, "period": str}),
    "apiStages": _api_stages,
}
