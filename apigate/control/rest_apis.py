"""CreateRestApi, GetRestApi(s), UpdateRestApi, DeleteRestApi."""

from __future__ import annotations

from functools import partial
from typing import Any

from apigate.aws import patch
from apigate.aws.errors import AwsError, bad_request
from apigate.aws.ids import short_id
from apigate.aws.wire import OperationHandler
from apigate.compile.resource_policy import store_form
from apigate.control.api_ids import new_api_id
from apigate.control.common import Doc, drop_none, now, page, rest_api
from apigate.control.context import ControlContext

_ENDPOINT_TYPES = {"EDGE", "REGIONAL", "PRIVATE"}
_KEY_SOURCES = {"HEADER", "AUTHORIZER"}


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
    if types[0] not in _ENDPOINT_TYPES:  # AWS's front door checks the enum
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '[{', '.join(map(str, types))}]' at "
            "'createRestApiInput.endpointConfiguration.types' failed to satisfy constraint: Member must "
            "satisfy constraint: [Member must satisfy enum value set: [PRIVATE, EDGE, REGIONAL]]",
        )
    key_source = params.get("apiKeySource") or "HEADER"
    if key_source not in _KEY_SOURCES:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{key_source}' at 'createRestApiInput.apiKeySource' failed to "
            "satisfy constraint: Member must satisfy enum value set: [HEADER, AUTHORIZER]",
        )
    compression = _compression_size(params.get("minimumCompressionSize"))
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
            "apiKeySource": key_source,
            "minimumCompressionSize": compression,
            "endpointConfiguration": {"types": types, "ipAddressType": ip_type, **_vpce(endpoint)},
            "policy": store_form(
                params.get("policy"), region=ctx.region, account_id=ctx.settings.account_id, api_id=api_id
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
        doc.pop("policy", None), region=ctx.region_of(doc["id"]), account_id=ctx.settings.account_id, api_id=doc["id"]
    )
    if policy is not None:  # validated, kept as AWS keeps it; the next deployment compiles it
        doc["policy"] = policy
    ctx.store.put("restapi", doc["id"], doc)
    return {**doc, "tags": doc.get("tags") or {}}  # AWS's UpdateRestApi answer always carries tags


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


def _compression_size(value: Any) -> int | None:
    if value in (None, ""):  # AWS clears the setting for an empty value
        return None
    try:
        size = int(value)
    except (TypeError, ValueError):
        size = -1
    if not 0 <= size <= 10485760:
        raise bad_request("Invalid minimum compression size, must be between 0 and 10485760")
    return size


def _compression(document: Doc, op: str, value: Any, rest: list[str]) -> None:
    if rest:
        raise bad_request(f"Invalid patch path /minimumCompressionSize/{'/'.join(rest)}")
    if op != "replace":
        raise bad_request("Invalid patch operation specified. Must be one of: [replace]")
    size = _compression_size(value)
    if size is None:
        document.pop("minimumCompressionSize", None)
    else:
        document["minimumCompressionSize"] = size


def _key_source(document: Doc, op: str, value: Any, rest: list[str]) -> None:
    if rest or op != "replace":
        raise bad_request(f"Invalid patch path /apiKeySource{''.join('/' + part for part in rest)}")
    if value not in _KEY_SOURCES:
        raise bad_request(f"Invalid API Key Source specified: {value}. Must be one of: [HEADER, AUTHORIZER]")
    document["apiKeySource"] = value


def _endpoint_configuration(document: Doc, op: str, value: Any, rest: list[str]) -> None:
    """``replace /endpointConfiguration/types/REGIONAL`` (or ``/types/0``, as Terraform sends it) switches the
    type; ``add``/``remove /endpointConfiguration/vpcEndpointIds`` (the id as the value) edits a private API's
    endpoints; ``replace /endpointConfiguration/ipAddressType`` sets ipv4 or dualstack."""
    config = document.setdefault("endpointConfiguration", {"types": ["EDGE"]})
    types = config.setdefault("types", ["EDGE"])
    where = "/endpointConfiguration" + "".join("/" + part for part in rest)
    if rest[:1] == ["types"] and len(rest) == 2 and op == "replace":
        index = types.index(rest[1]) if rest[1] in types else _index(rest[1], len(types))
        if index is None:
            raise bad_request(f"Invalid patch path {where}")
        if value not in _ENDPOINT_TYPES:
            raise bad_request(
                "Invalid endpoint configuration type specified. Must be one of: [EDGE, REGIONAL, PRIVATE]"
            )
        types[index] = value
        if value != "PRIVATE":
            config.pop("vpcEndpointIds", None)
        return
    if rest == ["vpcEndpointIds"] and op in ("add", "remove", "replace"):
        ids: list[str] = config.setdefault("vpcEndpointIds", [])
        given = [part.strip() for part in str(value or "").split(",") if part.strip()]
        if op == "replace":
            ids[:] = given
        for endpoint in given if op != "replace" else []:
            if op == "add" and endpoint not in ids:
                ids.append(endpoint)
            elif op == "remove" and endpoint in ids:
                ids.remove(endpoint)
        if not ids:
            config.pop("vpcEndpointIds")
        return
    if rest == ["ipAddressType"] and op == "replace":
        if value not in ("ipv4", "dualstack"):
            raise bad_request("Invalid IP address type specified. Must be one of: [ipv4, dualstack]")
        config["ipAddressType"] = value
        return
    raise bad_request(f"Invalid patch path {where}")


def _index(text: str, length: int) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and int(text) < length else None


_PATCHABLE: dict[str, patch.PathHandler] = {
    "endpointConfiguration": _endpoint_configuration,
    "name": patch.scalar("name", nullable=False),
    "description": patch.scalar("description", allowed_ops=("replace", "remove")),
    "version": patch.scalar("version"),
    "policy": patch.scalar("policy", allowed_ops=("replace", "remove")),
    "apiKeySource": _key_source,
    "minimumCompressionSize": _compression,
    "disableExecuteApiEndpoint": patch.scalar(
        "disableExecuteApiEndpoint", convert=lambda v: str(v).lower() == "true", nullable=False
    ),
    "binaryMediaTypes": patch.string_list("binaryMediaTypes"),
}
