"""Models: JSON Schema (draft 4) documents of a REST API, used to validate request bodies.

AWS creates two models with every REST API, ``Empty`` and ``Error``; apigate adds them the first time an API's
models are looked at (its create call is not ours to change), so ``requestModels: {"application/json":
"Empty"}``, what the console and most tools write, always resolves.
"""

from __future__ import annotations

import re
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


def _check_schema(schema: str | None) -> None:
    if schema is None:
        return
    try:
        document = orjson.loads(schema)
    except orjson.JSONDecodeError:
        document = None
    if not isinstance(document, dict):
        raise bad_request(
            "Invalid model specified: Validation Result: warnings : [], errors : [Invalid model schema specified]"
        )


def _references(method: Doc, name: str) -> bool:
    return name in (method.get("requestModels") or {}).values() or any(
        name in (response.get("responseModels") or {}).values()
        for response in (method.get("methodResponses") or {}).values()
    )


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    store = ctx.store

    def model(api_id: str, name: str) -> Doc:
        rest_api(ctx, api_id)
        list_models(store, api_id)
        doc = store.get("model", _key(api_id, name))
        if doc is None:
            raise not_found("Invalid model name specified: " + name)
        return doc

    async def create_model(params: dict[str, Any]) -> Doc:
        api_id = params["restApiId"]
        rest_api(ctx, api_id)
        name = params.get("name") or ""
        if not _NAME.match(name):
            raise bad_request("Model name must be non-empty and alphanumeric")
        if not params.get("contentType"):
            raise bad_request("Model content type must be non-empty")
        _check_schema(params.get("schema"))
        list_models(store, api_id)
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
            store.insert("model", _key(api_id, name), doc, parent=api_id)
        except Conflict:
            raise conflict("Model name already exists for this REST API") from None
        return doc

    async def get_model(params: dict[str, Any]) -> Doc:
        return model(params["restApiId"], params["modelName"])

    async def get_models(params: dict[str, Any]) -> Doc:
        api_id = params["restApiId"]
        rest_api(ctx, api_id)
        return page(list_models(store, api_id), params)

    async def update_model(params: dict[str, Any]) -> Doc:
        api_id = params["restApiId"]
        doc = model(api_id, params["modelName"])
        patch.apply(
            doc,
            params.get("patchOperations") or [],
            {"schema": patch.scalar("schema"), "description": patch.scalar("description")},
        )
        _check_schema(doc.get("schema"))
        store.put("model", _key(api_id, doc["name"]), doc, parent=api_id)
        return doc

    async def delete_model(params: dict[str, Any]) -> None:
        api_id = params["restApiId"]
        name = params["modelName"]
        model(api_id, name)
        for res in store.list("resource", api_id):
            for verb, method in (res.get("resourceMethods") or {}).items():
                if _references(method, name):
                    raise bad_request(
                        f"Cannot delete model '{name}', is referenced in method request: {res['path']}/{verb}"
                    )
        store.delete("model", _key(api_id, name))

    async def get_model_template(params: dict[str, Any]) -> Doc:
        # AWS generates a VTL skeleton from the schema; an empty object template is the honest minimum.
        model(params["restApiId"], params["modelName"])
        return {"value": "{}"}

    return {
        "CreateModel": create_model,
        "GetModel": get_model,
        "GetModels": get_models,
        "UpdateModel": update_model,
        "DeleteModel": delete_model,
        "GetModelTemplate": get_model_template,
    }
