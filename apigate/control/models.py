"""Models: JSON Schema (draft 4) documents of a REST API, used to validate request bodies.

AWS creates two models with every REST API, ``Empty`` and ``Error``; apigate adds them the first time an API's
models are looked at (its create call is not ours to change), so ``requestModels: {"application/json":
"Empty"}``, what the console and most tools write, always resolves.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

import orjson

from apigate.aws import patch
from apigate.aws.errors import bad_request, conflict, not_found
from apigate.aws.ids import short_id
from apigate.aws.wire import OperationHandler
from apigate.control.common import Doc, drop_none, page, rest_api
from apigate.control.context import ControlContext
from apigate.store.base import Conflict, DocumentStore

_NAME = re.compile(r"^[A-Za-z0-9]+$")
DEFAULT_MODELS: dict[str, Doc] = {
    "Empty": {
        "name": "Empty",
        "description": "This is a default empty schema model",
        "schema": '{\n  "$schema": "http://json-schema.org/draft-04/schema#",\n  "title" : "Empty Schema",\n'
        '  "type" : "object"\n}',
        "contentType": "application/json",
    },
    "Error": {
        "name": "Error",
        "description": "This is a default error schema model",
        "schema": '{\n  "$schema" : "http://json-schema.org/draft-04/schema#",\n  "title" : "Error Schema",\n'
        '  "type" : "object",\n  "properties" : {\n    "message" : { "type" : "string" }\n  }\n}',
        "contentType": "application/json",
    },
}


def _key(api_id: str, name: str) -> str:
    return f"{api_id}/{name}"


def list_models(store: DocumentStore, api_id: str) -> list[Doc]:
    """Every model of an API (the defaults seeded first), as GetModels returns them."""
    if store.get("modelseed", api_id) is None:
        with store.transaction():
            for name, doc in DEFAULT_MODELS.items():
                if store.get("model", _key(api_id, name)) is None:
                    store.put("model", _key(api_id, name), {"id": short_id(6), **doc}, parent=api_id)
            store.put("modelseed", api_id, {"id": api_id}, parent=api_id)
    return sorted(store.list("model", api_id), key=lambda doc: doc["name"])


def _check_schema(schema: str | None, *, imported: bool = False) -> None:
    if schema is None or not schema.strip():
        raise bad_request("Model schema must have at least 1 property or array items defined")
    try:
        document = orjson.loads(schema)
    except orjson.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        raise bad_request(
            "Invalid model specified: Validation Result: warnings : [], errors : [Invalid model schema specified]"
        )
    if not document and not imported:  # AWS's words for an empty schema ("{}"), as recorded
        raise bad_request("Model schema must have at least 1 property or array items defined")


def _references(method: Doc, name: str) -> bool:
    return name in (method.get("requestModels") or {}).values() or any(
        name in (response.get("responseModels") or {}).values()
        for response in (method.get("methodResponses") or {}).values()
    )


def _model(ctx: ControlContext, api_id: str, name: str) -> Doc:
    rest_api(ctx, api_id)
    list_models(ctx.store, api_id)
    doc = ctx.store.get("model", _key(api_id, name))
    if doc is None:
        raise not_found("Invalid model name specified: " + name)
    return doc


async def create_model(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    rest_api(ctx, api_id)
    name = params.get("name") or ""
    if not name:
        raise bad_request("Model name must be non-empty")
    if not _NAME.match(name):
        raise bad_request("Model name must be non-empty and alphanumeric")
    if not params.get("contentType"):
        raise bad_request("Model content type must be non-empty")
    _check_schema(params.get("schema"), imported=bool(params.get("_imported")))  # an OpenAPI `{}` schema is kept
    list_models(ctx.store, api_id)
    doc = drop_none(
        {
            "id": short_id(6),
            "name": name,
            "description": params.get("description"),
            "schema": params.get("schema"),
            "contentType": params["contentType"],
        }
    )
    try:
        ctx.store.insert("model", _key(api_id, name), doc, parent=api_id)
    except Conflict:
        raise conflict("Model name already exists for this REST API") from None
    return doc


async def get_model(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _model(ctx, params["restApiId"], params["modelName"])


async def get_models(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    rest_api(ctx, api_id)
    return page(list_models(ctx.store, api_id), params)


async def update_model(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    doc = _model(ctx, api_id, params["modelName"])
    patch.apply(
        doc,
        params.get("patchOperations") or [],
        {"description": patch.scalar("description"), "schema": patch.scalar("schema")},  # AWS's listing order
        replace_only=True,
    )
    _check_schema(doc.get("schema"), imported=bool(params.get("_imported")))
    ctx.store.put("model", _key(api_id, doc["name"]), doc, parent=api_id)
    return doc


async def delete_model(ctx: ControlContext, params: dict[str, Any]) -> None:
    api_id = params["restApiId"]
    name = params["modelName"]
    _model(ctx, api_id, name)
    for res in ctx.store.list("resource", api_id):
        for verb, method in (res.get("resourceMethods") or {}).items():
            if _references(method, name):
                raise bad_request(
                    f"Cannot delete model '{name}', is referenced in method request: {res['path']}/{verb}"
                )
    ctx.store.delete("model", _key(api_id, name))


async def get_model_template(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    # AWS generates a VTL skeleton from the schema; an empty object template is the honest minimum.
    _model(ctx, params["restApiId"], params["modelName"])
    return {"value": "{}"}


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "CreateModel": partial(create_model, ctx),
        "GetModel": partial(get_model, ctx),
        "GetModels": partial(get_models, ctx),
        "UpdateModel": partial(update_model, ctx),
        "DeleteModel": partial(delete_model, ctx),
        "GetModelTemplate": partial(get_model_template, ctx),
    }
