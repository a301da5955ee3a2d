"""CreateModel, GetModel(s), UpdateModel, DeleteModel, GetModelTemplate for WebSocket APIs (apigatewayv2).

A model is a JSON Schema (draft 4) a WebSocket route's ``RequestModels`` names; HTTP APIs have none, as on AWS.
"""

from __future__ import annotations

import re
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson

from apigate.aws.errors import bad_request, conflict, not_found
from apigate.aws.wire import OperationHandler
from apigate.control.context import ControlContext
from apigate.control.v2 import common
from apigate.control.v2.common import ROUTE, Doc, drop_none, new_id

if TYPE_CHECKING:
    from apigate.dataplane.http_api import HttpApis

MODEL = "v2model"
_NAME = re.compile(r"^[A-Za-z0-9]{1,128}$")


def _websocket_api(ctx: ControlContext, api_id: str) -> Doc:
    doc = common.api(ctx, api_id)
    if not common.is_websocket(doc):
        raise bad_request("Models are not supported for HTTP APIs")
    return doc


def _check_schema(schema: Any) -> None:
    if not isinstance(schema, str) or not schema:
        raise bad_request("Schema is required")
    try:
        parsed = orjson.loads(schema)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"Invalid model specified: Validation Result: warnings : [], errors : [{exc}]") from exc
    if not isinstance(parsed, dict):
        raise bad_request("Invalid model specified: Validation Result: warnings : [], errors : [the schema must be "
                          "a JSON object]")


def model_named(ctx: ControlContext, api_id: str, name: str) -> Doc | None:
    return next((doc for doc in ctx.store.list(MODEL, api_id) if doc["Name"] == name), None)


async def create_model(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    _websocket_api(ctx, api_id)
    name = params.get("Name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise bad_request("Model name must be alphanumeric")
    _check_schema(params.get("Schema"))
    if model_named(ctx, api_id, name) is not None:
        raise conflict(f"Model name already exists for this API: {name}")
    doc = drop_none(
        {
            "ContentType": params.get("ContentType") or "application/json",
            "Description": params.get("Description"),
            "ModelId": new_id(),
            "Name": name,
            "Schema": params["Schema"],
        }
    )
    ctx.store.put(MODEL, f"{api_id}/{doc['ModelId']}", doc, parent=api_id)
    return doc


async def get_model(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    return common.child(ctx, MODEL, params["ApiId"], params["ModelId"], "Model")


async def get_models(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    common.api(ctx, params["ApiId"])
    return common.page(sorted(ctx.store.list(MODEL, params["ApiId"]), key=lambda doc: doc["Name"]), params)


async def update_model(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    doc = common.child(ctx, MODEL, api_id, params["ModelId"], "Model")
    name = params.get("Name")
    if name is not None and name != doc["Name"]:
        if not _NAME.match(name):
            raise bad_request("Model name must be alphanumeric")
        if model_named(ctx, api_id, name) is not None:
            raise conflict(f"Model name already exists for this API: {name}")
    if params.get("Schema") is not None:
        _check_schema(params["Schema"])
    common.merge(doc, params, ("ContentType", "Description", "Name", "Schema"))
    ctx.store.put(MODEL, f"{api_id}/{doc['ModelId']}", doc, parent=api_id)
    return doc


async def delete_model(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    api_id = params["ApiId"]
    doc = common.child(ctx, MODEL, api_id, params["ModelId"], "Model")
    for route in ctx.store.list(ROUTE, api_id):
        if doc["Name"] in (route.get("RequestModels") or {}).values():
            raise conflict(f"Model {doc['Name']} is referenced by route {route['RouteKey']}")
    ctx.store.delete(MODEL, f"{api_id}/{doc['ModelId']}")


async def get_model_template(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    """A mapping template that echoes the model's top-level properties, as AWS's generated template does."""
    doc = common.child(ctx, MODEL, params["ApiId"], params["ModelId"], "Model")
    schema = orjson.loads(doc["Schema"])
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        raise not_found("Unable to generate a template for this model")
    lines = [f'  "{name}" : "$inputRoot.{name}"' for name in properties]
    return {"Value": "#set($inputRoot = $input.path('$'))\n{\n" + ",\n".join(lines) + "\n}"}


def handlers(ctx: ControlContext, http: HttpApis) -> dict[str, OperationHandler]:
    return {
        "CreateModel": partial(create_model, ctx, http),
        "GetModel": partial(get_model, ctx, http),
        "GetModels": partial(get_models, ctx, http),
        "UpdateModel": partial(update_model, ctx, http),
        "DeleteModel": partial(delete_model, ctx, http),
        "GetModelTemplate": partial(get_model_template, ctx, http),
    }
