"""Request validators: whether a method checks its required parameters, its body against a model, or both."""

from __future__ import annotations

from functools import partial
from typing import Any

from apigate.aws import patch
from apigate.aws.errors import bad_request, not_found
from apigate.aws.ids import short_id
from apigate.aws.wire import OperationHandler
from apigate.control.common import Doc, page, rest_api
from apigate.control.context import ControlContext


def _key(api_id: str, validator_id: str) -> str:
    return f"{api_id}/{validator_id}"


def _flag(value: Any) -> bool:
    return str(value).lower() == "true"


def _validator(ctx: ControlContext, api_id: str, validator_id: str) -> Doc:
    # an unknown API is answered as an unknown validator, as AWS records it
    doc = ctx.store.get("validator", _key(api_id, validator_id))
    if doc is None:
        raise not_found("Invalid Request Validator identifier specified")
    return doc


async def create_request_validator(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    if ctx.store.get("restapi", api_id) is None:  # AWS's answer here is a 400 of its own, as recorded
        raise bad_request("Invalid REST API identifier specified")
    doc: Doc = {
        "id": short_id(6),
        "validateRequestBody": bool(params.get("validateRequestBody", False)),
        "validateRequestParameters": bool(params.get("validateRequestParameters", False)),
    }
    if params.get("name"):
        doc["name"] = params["name"]
    ctx.store.put("validator", _key(api_id, doc["id"]), doc, parent=api_id)
    return doc


async def get_request_validator(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _validator(ctx, params["restApiId"], params["requestValidatorId"])


async def get_request_validators(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    rest_api(ctx, api_id)
    return page(ctx.store.list("validator", api_id), params)


async def update_request_validator(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    doc = _validator(ctx, api_id, params["requestValidatorId"])
    patch.apply(
        doc,
        params.get("patchOperations") or [],
        {  # in the order AWS lists them in its refusal
            "name": patch.scalar("name"),
            "validateRequestParameters": patch.scalar(
                "validateRequestParameters", convert=_flag, nullable=False
            ),
            "validateRequestBody": patch.scalar("validateRequestBody", convert=_flag, nullable=False),
        },
        replace_only=True,
    )
    if not doc.get("name"):
        raise bad_request("Request Validator name cannot be blank")
    ctx.store.put("validator", _key(api_id, doc["id"]), doc, parent=api_id)
    return doc


async def delete_request_validator(ctx: ControlContext, params: dict[str, Any]) -> None:
    api_id = params["restApiId"]
    validator_id = params["requestValidatorId"]
    _validator(ctx, api_id, validator_id)
    for res in ctx.store.list("resource", api_id):
        for verb, method in (res.get("resourceMethods") or {}).items():
            if method.get("requestValidatorId") == validator_id:
                raise bad_request(
                    f"Cannot delete request validator '{validator_id}', is referenced in method: "
                    f"{res['path']}/{verb}"
                )
    ctx.store.delete("validator", _key(api_id, validator_id))


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "CreateRequestValidator": partial(create_request_validator, ctx),
        "GetRequestValidator": partial(get_request_validator, ctx),
        "GetRequestValidators": partial(get_request_validators, ctx),
        "UpdateRequestValidator": partial(update_request_validator, ctx),
        "DeleteRequestValidator": partial(delete_request_validator, ctx),
    }
