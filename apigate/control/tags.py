"""Tags on taggable resources and the account settings: TagResource, UntagResource, GetTags for REST APIs (ARN
``arn:aws:apigateway:{region}::/restapis/{id}``, its stages, API keys, usage plans) and for HTTP and WebSocket
APIs (``/apis/{id}`` and its stages), plus GetAccount and UpdateAccount. Terraform reads tags back after every
create and update; CDK's ``AWS::ApiGateway::Account`` sets the CloudWatch role."""

from __future__ import annotations

from functools import partial
from typing import Any

from apigate.aws.errors import bad_request, not_found
from apigate.aws.wire import OperationHandler
from apigate.control.context import ControlContext

Doc = dict[str, Any]

_REST = {"restapis": "restapi", "apikeys": "apikey", "usageplans": "usageplan"}
_ACCOUNT = "account"


def _target(arn: str, v2: bool) -> tuple[str, str, str]:
    """(store kind, key, tags field) of a resource ARN."""
    path = arn.split("::", 1)[1] if "::" in arn else ""
    parts = path.strip("/").split("/")
    if v2:
        if len(parts) == 2 and parts[0] == "apis":
            return "v2api", parts[1], "Tags"
        if len(parts) == 4 and parts[0] == "apis" and parts[2] == "stages":
            return "v2stage", f"{parts[1]}/{parts[3]}", "Tags"
    else:
        if len(parts) == 2 and parts[0] in _REST:
            return _REST[parts[0]], parts[1], "tags"
        if len(parts) == 4 and parts[0] == "restapis" and parts[2] == "stages":
            return "stage", f"{parts[1]}/{parts[3]}", "tags"
    raise (
        not_found(f"Invalid resource ARN specified: {arn}")
        if parts and parts[0]
        else bad_request(f"Invalid ARN specified in the request: {arn}")
    )


def _doc(ctx: ControlContext, arn: str, v2: bool) -> tuple[str, str, str, Doc]:
    kind, key, field = _target(arn, v2)
    doc = ctx.store.get(kind, key)
    if doc is None:
        raise not_found(f"Invalid resource identifier specified: {arn}")
    return kind, key, field, doc


def _put(ctx: ControlContext, kind: str, key: str, doc: Doc) -> None:
    parent = key.split("/", 1)[0] if "/" in key else None
    if parent is None:
        ctx.store.put(kind, key, doc)
    else:
        ctx.store.put(kind, key, doc, parent=parent)


async def tag_resource(ctx: ControlContext, params: dict[str, Any], *, v2: bool = False) -> None:
    arn, tags = (
        (params["ResourceArn"], params.get("Tags")) if v2 else (params["resourceArn"], params.get("tags"))
    )
    kind, key, field, doc = _doc(ctx, arn, v2)
    merged = {**(doc.get(field) or {}), **(tags or {})}
    if len(merged) > 50:
        raise bad_request("Too many tags: a resource may have at most 50")
    doc[field] = merged
    _put(ctx, kind, key, doc)


async def untag_resource(ctx: ControlContext, params: dict[str, Any], *, v2: bool = False) -> None:
    arn, keys = (
        (params["ResourceArn"], params.get("TagKeys"))
        if v2
        else (params["resourceArn"], params.get("tagKeys"))
    )
    kind, key, field, doc = _doc(ctx, arn, v2)
    doc[field] = {k: v for k, v in (doc.get(field) or {}).items() if k not in set(keys or ())}
    _put(ctx, kind, key, doc)


async def get_tags(ctx: ControlContext, params: dict[str, Any], *, v2: bool = False) -> Doc:
    arn = params["ResourceArn"] if v2 else params["resourceArn"]
    _, _, field, doc = _doc(ctx, arn, v2)
    return {field: dict(doc.get(field) or {})}


def _settings_key(ctx: ControlContext) -> str:
    """Account settings are per region, as on AWS (the gateway's region keeps its original key)."""
    return "settings" if ctx.region == ctx.settings.region else f"settings@{ctx.region}"


def _account(ctx: ControlContext) -> Doc:
    settings = ctx.settings
    doc: Doc = {
        "throttleSettings": {"burstLimit": settings.account_burst, "rateLimit": settings.account_rate},
        "features": ["UsagePlans"],
        "apiKeyVersion": "4",
    }
    stored = ctx.store.get(_ACCOUNT, _settings_key(ctx)) or {}
    if stored.get("cloudwatchRoleArn"):
        doc["cloudwatchRoleArn"] = stored["cloudwatchRoleArn"]
    return doc


async def get_account(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _account(ctx)


async def update_account(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    """Only the CloudWatch role can be changed (what Terraform's and CDK's account resources set); the account
    throttle is the gateway's ``--account-rate``/``--account-burst``."""
    stored = dict(ctx.store.get(_ACCOUNT, _settings_key(ctx)) or {})
    for operation in params.get("patchOperations") or ():
        path, op = operation.get("path"), operation.get("op")
        if path != "/cloudwatchRoleArn" or op not in ("replace", "add", "remove"):
            raise bad_request(
                f"Invalid patch path {path}: apigate changes only /cloudwatchRoleArn (the account throttle is "
                "set by --account-rate and --account-burst)"
            )
        value = operation.get("value")
        if op == "remove" or not value:
            stored.pop("cloudwatchRoleArn", None)
        elif not str(value).startswith("arn:"):
            raise bad_request("The role ARN is not well formed")
        else:
            stored["cloudwatchRoleArn"] = str(value)
    ctx.store.put(_ACCOUNT, _settings_key(ctx), stored)
    return _account(ctx)


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    """The REST (apigateway) operations."""
    return {
        "TagResource": partial(tag_resource, ctx),
        "UntagResource": partial(untag_resource, ctx),
        "GetTags": partial(get_tags, ctx),
        "GetAccount": partial(get_account, ctx),
        "UpdateAccount": partial(update_account, ctx),
    }


def v2_handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    """The apigatewayv2 operations (same names, PascalCase members)."""
    return {
        "TagResource": partial(tag_resource, ctx, v2=True),
        "UntagResource": partial(untag_resource, ctx, v2=True),
        "GetTags": partial(get_tags, ctx, v2=True),
    }
