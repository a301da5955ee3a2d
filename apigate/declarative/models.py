"""Request models and validators in templates: ``AWS::ApiGateway::Model`` and ``AWS::ApiGateway::RequestValidator``,
created through the management handlers before the methods that name them (``Ref`` gives a model's name and a
validator's id, as on AWS)."""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from apigate.control import models, validators
from apigate.control.context import ControlContext

Doc = dict[str, Any]

MODEL, VALIDATOR = "AWS::ApiGateway::Model", "AWS::ApiGateway::RequestValidator"
RESOURCE_TYPES = (MODEL, VALIDATOR)


class Run(Protocol):
    ctx: ControlContext
    physical: dict[str, tuple[str, str]]


async def create(run: Run, logical_id: str, kind: str, props: Doc) -> None:
    ctx = run.ctx
    api_id = str(props.get("RestApiId"))
    if kind == MODEL:
        name = str(props.get("Name") or logical_id)
        schema = props.get("Schema")
        handlers = models.handlers(ctx)
        if ctx.store.get("model", f"{api_id}/{name}") is not None:  # a redeploy: the template's schema again
            await handlers["DeleteModel"]({"restApiId": api_id, "modelName": name})
        params = {
            "restApiId": api_id,
            "name": name,
            "contentType": props.get("ContentType") or "application/json",
            "description": props.get("Description"),
            "schema": None
            if schema is None
            else schema
            if isinstance(schema, str)
            else orjson.dumps(schema).decode(),
        }
        await handlers["CreateModel"]({k: v for k, v in params.items() if v is not None})
        run.physical[logical_id] = (kind, name)
        return
    handlers = validators.handlers(ctx)
    given = props.get("Name")
    for old in ctx.store.list("validator", api_id):  # a redeploy: replaced, not added twice
        if given and old.get("name") == given:
            await handlers["DeleteRequestValidator"]({"restApiId": api_id, "requestValidatorId": old["id"]})
    params = {
        "restApiId": api_id,
        "name": given,
        "validateRequestBody": bool(props.get("ValidateRequestBody") in (True, "true", "True")),
        "validateRequestParameters": bool(props.get("ValidateRequestParameters") in (True, "true", "True")),
    }
    created = await handlers["CreateRequestValidator"]({k: v for k, v in params.items() if v is not None})
    run.physical[logical_id] = (kind, str(created["id"]))
