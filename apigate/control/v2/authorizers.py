"""CreateAuthorizer, GetAuthorizer(s), UpdateAuthorizer, DeleteAuthorizer for HTTP APIs (JWT, REQUEST)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from apigate.aws.errors import bad_request, conflict
from apigate.aws.wire import OperationHandler
from apigate.control.context import ControlContext
from apigate.control.v2 import common
from apigate.control.v2.common import AUTHORIZER, ROUTE, Doc, drop_none, new_id
from apigate.control.v2.deploy import auto_deploy
from apigate.store.base import Conflict

if TYPE_CHECKING:
    from apigate.dataplane.http_api import HttpApis

_UPDATABLE = (
    "AuthorizerCredentialsArn",
    "AuthorizerPayloadFormatVersion",
    "AuthorizerResultTtlInSeconds",
    "AuthorizerType",
    "AuthorizerUri",
    "EnableSimpleResponses",
    "IdentitySource",
    "JwtConfiguration",
    "Name",
)


def check_authorizer(doc: Doc) -> None:
    if not doc.get("Name"):
        raise bad_request("Name is required")
    kind = doc.get("AuthorizerType")
    if kind == "JWT":
        config = doc.get("JwtConfiguration") or {}
        if not config.get("Issuer"):
            raise bad_request("JwtConfiguration.Issuer is required for JWT authorizers")
        if len(config.get("Audience") or []) > 50:
            raise bad_request("A JWT authorizer accepts at most 50 audiences")
        if len(doc.get("IdentitySource") or []) != 1:
            raise bad_request("A JWT authorizer takes exactly one identity source")
    elif kind == "REQUEST":
        if not doc.get("AuthorizerUri"):
            raise bad_request("AuthorizerUri is required for REQUEST authorizers")
        if doc.get("AuthorizerPayloadFormatVersion") not in ("1.0", "2.0"):
            raise bad_request("AuthorizerPayloadFormatVersion must be 1.0 or 2.0")
        if doc.get("EnableSimpleResponses") and doc["AuthorizerPayloadFormatVersion"] != "2.0":
            raise bad_request("Simple responses need AuthorizerPayloadFormatVersion 2.0")
        ttl = int(doc.get("AuthorizerResultTtlInSeconds") or 0)
        if not 0 <= ttl <= 3600:
            raise bad_request("AuthorizerResultTtlInSeconds must be between 0 and 3600")
        if ttl and not doc.get("IdentitySource"):
            raise bad_request("Caching needs at least one identity source")
    else:
        raise bad_request(f"Unsupported authorizer type {kind}: use JWT or REQUEST")


def _save(ctx: ControlContext, http: HttpApis, api_id: str, doc: Doc) -> None:
    try:  # names are unique in an API: the store's rule (uniqueness.RULES)
        ctx.store.put(AUTHORIZER, f"{api_id}/{doc['AuthorizerId']}", doc, parent=api_id)
    except Conflict:
        raise bad_request(
            f"Authorizer name must be unique. Authorizer {doc['Name']} already exists in this RestApi."
        ) from None


async def create_authorizer(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    common.api(ctx, api_id)
    authorizer_id = new_id()
    kind = params.get("AuthorizerType")
    doc = drop_none(
        {
            "AuthorizerCredentialsArn": params.get("AuthorizerCredentialsArn"),  # kept and returned, as AWS does
            "AuthorizerId": authorizer_id,
            "AuthorizerPayloadFormatVersion": params.get("AuthorizerPayloadFormatVersion"),
            "AuthorizerResultTtlInSeconds": params.get("AuthorizerResultTtlInSeconds")
            if kind == "REQUEST"
            else None,
            "AuthorizerType": kind,
            "AuthorizerUri": params.get("AuthorizerUri"),
            "EnableSimpleResponses": params.get("EnableSimpleResponses") if kind == "REQUEST" else None,
            "IdentitySource": params.get("IdentitySource")
            or (["$request.header.Authorization"] if kind == "JWT" else None),
            "JwtConfiguration": params.get("JwtConfiguration"),
            "Name": params.get("Name"),
        }
    )
    check_authorizer(doc)
    _save(ctx, http, api_id, doc)
    auto_deploy(ctx, http, api_id)
    return doc


async def get_authorizer(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    return common.child(ctx, AUTHORIZER, params["ApiId"], params["AuthorizerId"], "Authorizer")


async def get_authorizers(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    common.api(ctx, params["ApiId"])
    return common.page(ctx.store.list(AUTHORIZER, params["ApiId"]), params)


async def update_authorizer(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    doc = common.child(ctx, AUTHORIZER, api_id, params["AuthorizerId"], "Authorizer")
    common.merge(doc, params, _UPDATABLE)
    check_authorizer(doc)
    _save(ctx, http, api_id, doc)
    auto_deploy(ctx, http, api_id)
    return doc


async def delete_authorizer(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    api_id = params["ApiId"]
    authorizer_id = params["AuthorizerId"]
    common.child(ctx, AUTHORIZER, api_id, authorizer_id, "Authorizer")
    if any(r.get("AuthorizerId") == authorizer_id for r in ctx.store.list(ROUTE, api_id)):
        raise conflict("Cannot delete an authorizer that routes still use")
    ctx.store.delete(AUTHORIZER, f"{api_id}/{authorizer_id}")
    auto_deploy(ctx, http, api_id)


def handlers(ctx: ControlContext, http: HttpApis) -> dict[str, OperationHandler]:
    return {
        "CreateAuthorizer": partial(create_authorizer, ctx, http),
        "GetAuthorizer": partial(get_authorizer, ctx, http),
        "GetAuthorizers": partial(get_authorizers, ctx, http),
        "UpdateAuthorizer": partial(update_authorizer, ctx, http),
        "DeleteAuthorizer": partial(delete_authorizer, ctx, http),
    }
