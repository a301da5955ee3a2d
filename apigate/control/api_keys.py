"""API keys: CreateApiKey, GetApiKey(s), UpdateApiKey, DeleteApiKey, ImportApiKeys (CSV)."""

from __future__ import annotations

import csv
import io
import secrets
import string
from functools import partial
from typing import Any

from apigate.aws import patch
from apigate.aws.errors import AwsError, bad_request, conflict, not_found
from apigate.aws.ids import short_id
from apigate.aws.wire import OperationHandler
from apigate.control.common import Doc, drop_none, now, page
from apigate.control.context import ControlContext
from apigate.control.usage_plans import refresh_plans
from apigate.store.base import Conflict

_VALUE_CHARS = string.ascii_letters + string.digits


def _generated_value() -> str:
    # AWS generates 40 characters.
    return "".join(secrets.choice(_VALUE_CHARS) for _ in range(40))


def _bool(value: Any) -> bool:
    return str(value).lower() == "true"


def get_key_doc(ctx: ControlContext, key_id: str) -> Doc:
    doc = ctx.store.get("apikey", key_id)
    if doc is None:
        raise not_found("Invalid API Key identifier specified")
    return doc


def _without_value(doc: Doc, include: bool) -> Doc:
    return doc if include else {k: v for k, v in doc.items() if k != "value"}


def _check_value(ctx: ControlContext, value: str) -> None:
    # That no other key has the value is the store's rule (uniqueness.RULES), checked as the key is written.
    if len(value) < 20:
        raise bad_request("API Key value should be at least 20 characters")
    if len(value) > 128:
        raise bad_request("API Key value should be at most 128 characters")


def _insert_key(ctx: ControlContext, doc: Doc) -> None:
    try:
        ctx.store.insert("apikey", doc["id"], doc)
    except Conflict:
        raise conflict("API Key already exists") from None


def _new_key(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    name = params.get("name")
    if name is not None and len(name) > 1024:
        raise bad_request("API Key name should be at most 1024 characters")
    value = params.get("value")
    if value is None or value == "":
        value = _generated_value()
    _check_value(ctx, value)
    for stage_key in params.get("stageKeys") or ():
        api_id = stage_key.get("restApiId") or ""
        if ctx.store.get("stage", f"{api_id}/{stage_key.get('stageName') or ''}") is None:
            raise bad_request(f"Invalid stage key: {api_id}/{stage_key.get('stageName')}")
    stamp = now()
    return drop_none(
        {
            "id": short_id(10),
            "value": value,
            "name": name,
            "customerId": params.get("customerId"),
            "description": params.get("description"),
            "enabled": bool(params.get("enabled", False)),
            "createdDate": stamp,
            "lastUpdatedDate": stamp,
            "stageKeys": [
                f"{k.get('restApiId')}/{k.get('stageName')}" for k in params.get("stageKeys") or ()
            ],
            "tags": params.get("tags") or None,
        }
    )


async def create_api_key(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    doc = _new_key(ctx, params)
    _insert_key(ctx, doc)
    refresh_plans(ctx)
    return doc


async def get_api_key(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _without_value(get_key_doc(ctx, params["apiKey"]), bool(params.get("includeValue")))


async def get_api_keys(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    docs = ctx.store.list("apikey")
    if params.get("nameQuery"):  # AWS matches names that start with the query
        docs = [d for d in docs if str(d.get("name") or "").startswith(params["nameQuery"])]
    if params.get("customerId"):
        docs = [d for d in docs if d.get("customerId") == params["customerId"]]
    include = bool(params.get("includeValues"))
    result = page([_without_value(d, include) for d in docs], params, "items")
    return result


async def update_api_key(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    doc = get_key_doc(ctx, params["apiKey"])
    patch.apply(doc, params.get("patchOperations") or [], _KEY_PATCHABLE)
    if len(str(doc.get("name") or "")) > 1024:
        raise bad_request("API Key name should be at most 1024 characters")
    doc["lastUpdatedDate"] = now()
    ctx.store.put("apikey", doc["id"], doc)
    refresh_plans(ctx)
    return doc


async def delete_api_key(ctx: ControlContext, params: dict[str, Any]) -> None:
    key_id = params["apiKey"]
    get_key_doc(ctx, key_id)
    with ctx.store.transaction():
        ctx.store.delete("apikey", key_id)
        for plan in ctx.store.list("usageplan"):
            ctx.store.delete("usageplankey", f"{plan['id']}/{key_id}")
    refresh_plans(ctx)


async def import_api_keys(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    if (params.get("format") or "").lower() != "csv":
        raise bad_request("Invalid format specified. Must be one of: [csv]")
    raw = params.get("body") or b""
    text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else str(raw)
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise bad_request("Invalid API Key CSV: no header row")
    header = [h.strip().lower() for h in rows[0]]
    if "key" not in header:
        raise bad_request("Invalid API Key CSV: the header must name a 'key' column")
    warnings: list[str] = []
    created: list[tuple[int, Doc, list[str]]] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        fields = {header[i]: cell.strip() for i, cell in enumerate(row) if i < len(header)}
        plan_ids = [p for p in (fields.get("usageplanids") or "").replace(";", ",").split(",") if p]
        try:
            doc = _new_key(ctx,
                {
                    "name": fields.get("name") or None,
                    "value": fields.get("key"),
                    "description": fields.get("description") or None,
                    "enabled": _bool(fields.get("enabled", "false")),
                    "customerId": fields.get("customerid") or None,
                }
            )
            for plan_id in plan_ids:
                if ctx.store.get("usageplan", plan_id) is None:
                    raise not_found(f"Invalid Usage Plan ID specified: {plan_id}")
        except AwsError as exc:
            if params.get("failOnWarnings"):
                raise bad_request(f"Line {number}: {exc}") from exc
            warnings.append(f"Line {number}: {exc}")
            continue
        created.append((number, doc, plan_ids))
    imported: list[Doc] = []
    with ctx.store.transaction():
        for number, doc, plan_ids in created:
            try:  # a value taken (by the store or an earlier line) is the line's warning
                _insert_key(ctx, doc)
            except AwsError as exc:
                if params.get("failOnWarnings"):
                    raise bad_request(f"Line {number}: {exc}") from exc
                warnings.append(f"Line {number}: {exc}")
                continue
            imported.append(doc)
            for plan_id in plan_ids:
                ctx.store.put(
                    "usageplankey",
                    f"{plan_id}/{doc['id']}",
                    {"id": doc["id"], "type": "API_KEY"},
                    parent=plan_id,
                )
    refresh_plans(ctx)
    warnings.sort(key=lambda line: int(line.split(":", 1)[0].removeprefix("Line ")))  # in line order
    return {"ids": [doc["id"] for doc in imported], "warnings": warnings or None}


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "CreateApiKey": partial(create_api_key, ctx),
        "GetApiKey": partial(get_api_key, ctx),
        "GetApiKeys": partial(get_api_keys, ctx),
        "UpdateApiKey": partial(update_api_key, ctx),
        "DeleteApiKey": partial(delete_api_key, ctx),
        "ImportApiKeys": partial(import_api_keys, ctx),
    }


_KEY_PATCHABLE: dict[str, patch.PathHandler] = {
    "name": patch.scalar("name"),
    "description": patch.scalar("description"),
    "customerId": patch.scalar("customerId"),
    "enabled": patch.scalar("enabled", convert=_bool, nullable=False),
}
