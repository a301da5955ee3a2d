"""CreateIntegration, GetIntegration(s), UpdateIntegration, DeleteIntegration for HTTP APIs."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from apigate.aws.errors import bad_request, conflict
from apigate.aws.integration_subtypes import SUBTYPES
from apigate.aws.wire import OperationHandler
from apigate.control.context import ControlContext
from apigate.control.v2 import common
from apigate.control.v2.common import INTEGRATION, ROUTE, Doc, drop_none, new_id
from apigate.control.v2.deploy import auto_deploy

if TYPE_CHECKING:
    from apigate.dataplane.http_api import HttpApis

_TYPES = {"AWS_PROXY", "HTTP_PROXY"}
_UPDATABLE = (
    "ConnectionId",
    "ConnectionType",
    "CredentialsArn",
    "Description",
    "IntegrationMethod",
    "IntegrationSubtype",
    "IntegrationType",
    "IntegrationUri",
    "PayloadFormatVersion",
    "RequestParameters",
    "ResponseParameters",
    "TimeoutInMillis",
    "TlsConfig",
)


def _check_subtype(doc: Doc) -> None:
    """An AWS service integration (``IntegrationSubtype``): AWS_PROXY, payload 1.0, its subtype's parameters."""
    subtype = SUBTYPES.get(str(doc["IntegrationSubtype"]))
    if subtype is None:
        raise bad_request(
            f"Invalid integration subtype {doc['IntegrationSubtype']}: use one of {', '.join(sorted(SUBTYPES))}"
        )
    if doc.get("IntegrationType") != "AWS_PROXY":
        raise bad_request("IntegrationSubtype requires IntegrationType AWS_PROXY")
    if doc.get("PayloadFormatVersion") != "1.0":
        raise bad_request("PayloadFormatVersion must be 1.0 for AWS service integrations")
    parameters = doc.get("RequestParameters") or {}
    unknown = sorted(set(parameters) - subtype.names)
    if unknown:
        raise bad_request(f"Invalid request parameters for {doc['IntegrationSubtype']}: {', '.join(unknown)}")
    missing = [name for name in subtype.required if name not in parameters]
    if missing:
        raise bad_request(
            f"Missing required request parameters for {doc['IntegrationSubtype']}: {', '.join(missing)}"
        )
    timeout = doc.get("TimeoutInMillis")
    if not isinstance(timeout, int) or not 50 <= timeout <= 30000:
        raise bad_request("Timeout must be between 50 milliseconds and 30000 milliseconds.")


def _check(doc: Doc) -> None:
    if doc.get("IntegrationSubtype"):
        _check_subtype(doc)
        return
    kind = doc.get("IntegrationType")
    if kind not in _TYPES:
        raise bad_request(f"Unsupported integration type {kind} for an HTTP API: use AWS_PROXY or HTTP_PROXY")
    if not doc.get("IntegrationUri"):
        raise bad_request("IntegrationUri is required")
    version = doc.get("PayloadFormatVersion")
    if kind == "AWS_PROXY" and version not in ("1.0", "2.0"):
        raise bad_request("PayloadFormatVersion must be 1.0 or 2.0 for AWS_PROXY integrations")
    if kind == "HTTP_PROXY":
        if version != "1.0":
            raise bad_request("PayloadFormatVersion must be 1.0 for HTTP_PROXY integrations")
        private = doc.get("ConnectionType") == "VPC_LINK"
        if private and not doc.get("ConnectionId"):
            raise bad_request("ConnectionId is required for VPC_LINK integrations")
        if private and not str(doc["IntegrationUri"]).startswith("arn:"):  # a listener or Cloud Map service
            raise bad_request("IntegrationUri must be a load balancer listener or Cloud Map service ARN")
        if not private and not str(doc["IntegrationUri"]).startswith(("http://", "https://")):
            raise bad_request("IntegrationUri must be an HTTP(S) URL for HTTP_PROXY integrations")
    for key in doc.get("RequestParameters") or {}:
        action, _, target = key.partition(":")
        location = target.partition(".")[0]
        if action not in ("append", "overwrite", "remove") or location not in (
            "header",
            "querystring",
            "path",
        ):
            raise bad_request(f"Invalid mapping expression specified: {key}")
    for status, maps in (doc.get("ResponseParameters") or {}).items():
        if not (str(status).isascii() and str(status).isdigit()):
            raise bad_request(f"Invalid status code in ResponseParameters: {status}")
        for key in maps or {}:
            action, _, target = key.partition(":")
            location = target.partition(".")[0]
            if action not in ("append", "overwrite", "remove") or location not in ("header", "statuscode"):
                raise bad_request(f"Invalid mapping expression specified: {key}")
    timeout = doc.get("TimeoutInMillis")
    if not isinstance(timeout, int) or not 50 <= timeout <= 30000:
        raise bad_request("Timeout must be between 50 milliseconds and 30000 milliseconds.")


def new_integration(
    ctx: ControlContext, api_id: str, params: dict[str, Any], *, managed: bool = False
) -> Doc:
    kind = params.get("IntegrationType")
    integration_id = new_id()
    doc = drop_none(
        {
            "ApiGatewayManaged": True if managed else None,
            "ConnectionId": params.get("ConnectionId"),
            "ConnectionType": params.get("ConnectionType") or "INTERNET",
            "CredentialsArn": params.get("CredentialsArn"),
            "Description": params.get("Description"),
            "IntegrationId": integration_id,
            "IntegrationSubtype": params.get("IntegrationSubtype"),
            "IntegrationMethod": params.get("IntegrationMethod")
            or ("POST" if kind == "AWS_PROXY" else "ANY"),
            "IntegrationType": kind,
            "IntegrationUri": params.get("IntegrationUri"),
            "PayloadFormatVersion": params.get("PayloadFormatVersion")
            or ("1.0" if kind == "HTTP_PROXY" or params.get("IntegrationSubtype") else None),
            "RequestParameters": params.get("RequestParameters") or None,
            "ResponseParameters": params.get("ResponseParameters") or None,
            "TimeoutInMillis": params.get("TimeoutInMillis", 30000),
            "TlsConfig": params.get("TlsConfig"),
        }
    )
    _check(doc)
    ctx.store.put(INTEGRATION, f"{api_id}/{integration_id}", doc, parent=api_id)
    return doc


async def create_integration(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    common.api(ctx, api_id)
    doc = new_integration(ctx, api_id, params)
    auto_deploy(ctx, http, api_id)
    return doc


async def get_integration(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    return common.child(ctx, INTEGRATION, params["ApiId"], params["IntegrationId"], "Integration")


async def get_integrations(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    common.api(ctx, params["ApiId"])
    return common.page(ctx.store.list(INTEGRATION, params["ApiId"]), params)


async def update_integration(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    api_id = params["ApiId"]
    doc = common.child(ctx, INTEGRATION, api_id, params["IntegrationId"], "Integration")
    common.merge(doc, params, _UPDATABLE)
    _check(doc)
    ctx.store.put(INTEGRATION, f"{api_id}/{doc['IntegrationId']}", doc, parent=api_id)
    auto_deploy(ctx, http, api_id)
    return doc


async def delete_integration(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    api_id = params["ApiId"]
    integration_id = params["IntegrationId"]
    common.child(ctx, INTEGRATION, api_id, integration_id, "Integration")
    target = f"integrations/{integration_id}"
    if any(route.get("Target") == target for route in ctx.store.list(ROUTE, api_id)):
        raise conflict("Cannot delete an integration that routes still target")
    ctx.store.delete(INTEGRATION, f"{api_id}/{integration_id}")
    auto_deploy(ctx, http, api_id)


def handlers(ctx: ControlContext, http: HttpApis) -> dict[str, OperationHandler]:
    return {
        "CreateIntegration": partial(create_integration, ctx, http),
        "GetIntegration": partial(get_integration, ctx, http),
        "GetIntegrations": partial(get_integrations, ctx, http),
        "UpdateIntegration": partial(update_integration, ctx, http),
        "DeleteIntegration": partial(delete_integration, ctx, http),
    }
