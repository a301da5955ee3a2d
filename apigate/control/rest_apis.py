"""CreateRestApi, GetRestApi(s), UpdateRestApi, DeleteRestApi."""

from __future__ import annotations

from functools import partial
from typing import Any

from apigate.aws import patch
from apigate.aws.errors import bad_request
from apigate.aws.ids import short_id
from apigate.aws.wire import OperationHandler
from apigate.compile.resource_policy import store_form
from apigate.control.api_ids import new_api_id
from apigate.control.common import Doc, drop_none, now, page, rest_api
from apigate.control.context import ControlContext

_ENDPOINT_TYPES = {"EDGE", "REGIONAL", "PRIVATE"}


async def create_rest_api(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    name = params.get("name")
    if not name:
        raise bad_request("Invalid REST API name specified")
    if params.get("description") == "":
        raise bad_request("Description cannot be an empty string")
    endpoint = params.get("endpointConfiguration") or {"types": ["EDGE"]}
    types = endpoint.get("types")
    if types is None:
        types = ["EDGE"]
    if not types:
        raise bad_request("REGIONAL Configuration and EDGE Configuration cannot be both DISABLED.")
    if len(types) > 1:
        raise bad_request("Cannot create an api with multiple Endpoint Types.")
    if types[0] not in _ENDPOINT_TYPES:
        raise bad_request(
            "Invalid endpoint configuration type specified. Must be one of: [EDGE, REGIONAL, PRIVATE]"
        )
    ip_type = endpoint.get("ipAddressType") or ("dualstack" if types[0] == "PRIVATE" else "ipv4")
    api_id, _ = new_api_id(ctx.store, params.get("tags"))
    root_id = short_id(10)
    doc = drop_none(
        {
            "id": api_id,
            "name": name,
            "description": params.get("description"),
            "createdDate": now(),
            "version": params.get("version"),
            "binaryMediaTypes": params.get("binaryMediaTypes") or None,
            "apiKeySource": params.get("apiKeySource") or "HEADER",
            "endpointConfiguration": {"types": types, "ipAddressType": ip_type, **_vpce(endpoint)},
            "policy": store_form(
                params.get("policy"), region=ctx.settings.region, account_id=ctx.settings.account_id, api_id=api_id
            ),
            "tags": params.get("tags") or None,
            "disableExecuteApiEndpoint": bool(params.get("disableExecuteApiEndpoint", False)),
            "rootResourceId": root_id,
        }
    )
    with ctx.store.transaction():
        ctx.store.put("restapi", api_id, doc)
        ctx.store.put("resource", f"{api_id}/{root_id}", {"id": root_id, "path": "/"}, parent=api_id)
    return doc


async def get_rest_api(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return rest_api(ctx, params["restApiId"])


async def get_rest_apis(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return page(ctx.store.list("restapi"), params)


async def update_rest_api(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    doc = rest_api(ctx, params["restApiId"])
    patch.apply(doc, params.get("patchOperations") or [], _PATCHABLE)
    policy = store_form(
        doc.pop("policy", None), region=ctx.settings.region, account_id=ctx.settings.account_id, api_id=doc["id"]
    )
    if policy is not None:  # validated, kept as AWS keeps it; the next deployment compiles it
        doc["policy"] = policy
    ctx.store.put("restapi", doc["id"], doc)
    return doc


async def delete_rest_api(ctx: ControlContext, params: dict[str, Any]) -> None:
    api_id = params["restApiId"]
    rest_api(ctx, api_id)
    with ctx.store.transaction():
        ctx.store.delete_parent(api_id)
        ctx.store.delete("restapi", api_id)
    ctx.registry.forget_api(api_id)


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "CreateRestApi": partial(create_rest_api, ctx),
        "GetRestApi": partial(get_rest_api, ctx),
        "GetRestApis": partial(get_rest_apis, ctx),
        "UpdateRestApi": partial(update_rest_api, ctx),
        "DeleteRestApi": partial(delete_rest_api, ctx),
    }


def _vpce(endpoint: dict[str, Any]) -> dict[str, Any]:
    ids = endpoint.get("vpcEndpointIds")
    return {"vpcEndpointIds": ids} if ids else {}


def _compression(document: Doc, value: Any, rest: list[str]) -> None:
    if rest:
        raise bad_request(f"Invalid patch path /minimumCompressionSize/{'/'.join(rest)}")
    if value in (None, ""):  # AWS clears the setting for an empty value
        document.pop("minimumCompressionSize", None)
        return
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = -1
    if not 0 <= size <= 10485760:
        raise bad_request("Invalid minimum compression size, must be between 0 and 10485760")
    document["minimumCompressionSize"] = size


def _endpoint_type(document: Doc, op: str, value: Any, rest: list[str]) -> None:
    """``replace /endpointConfiguration/types/REGIONAL`` with ``PRIVATE`` (and back): AWS's one way to switch."""
    types = document.setdefault("endpointConfiguration", {"types": ["EDGE"]}).setdefault("types", ["EDGE"])
    if op != "replace" or len(rest) != 2 or rest[0] != "types" or rest[1] not in types:
        raise bad_request(f"Invalid patch path /endpointConfiguration/{'/'.join(rest)}")
    if value not in _ENDPOINT_TYPES:
        raise bad_request("Invalid endpoint configuration type specified. Must be one of: [EDGE, REGIONAL, PRIVATE]")
    document["endpointConfiguration"]["types"] = [value if kind == rest[1] else kind for kind in types]


_PATCHABLE: dict[str, patch.PathHandler] = {
    "endpointConfiguration": _endpoint_type,
    "name": patch.scalar("name", nullable=False),
    "description": patch.scalar("description"),
    "version": patch.scalar("version"),
    "policy": patch.scalar("policy"),
    "apiKeySource": patch.scalar("apiKeySource", nullable=False),
    "minimumCompressionSize": lambda doc, op, value, rest: _compression(doc, value, rest),
    "disableExecuteApiEndpoint": patch.scalar(
        "disableExecuteApiEndpoint", convert=lambda v: str(v).lower() == "true", nullable=False
    ),
    "binaryMediaTypes": patch.string_list("binaryMediaTypes"),
}
