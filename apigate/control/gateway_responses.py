"""Gateway responses: an API's own answers for the errors apigate gives (no route, throttled, bad body, ...).

Only customised types are stored (``gatewayresponse`` documents keyed ``{api}/{type}``); listing fills in the
others the way AWS does, marked ``defaultResponse: true`` and carrying a customised DEFAULT_4XX or DEFAULT_5XX
where one applies. A Put or an Update starts from the type's own defaults (status and template), never from
DEFAULT_4XX/5XX: that is what AWS records. Changes reach the data plane with the next deployment.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from apigate.aws import patch
from apigate.aws.errors import AwsError, bad_request, not_found
from apigate.aws.wire import OperationHandler
from apigate.compile.parameters import InvalidMapping, parse_source
from apigate.control.common import Doc, page, rest_api
from apigate.control.context import ControlContext
from apigate.dataplane.responses import DEFAULT_TEMPLATE, GATEWAY_RESPONSE_TYPES, listed_status, status_class

KIND = "gatewayresponse"
_STATUS = re.compile(r"^[1-5]\d\d$")
# The order AWS's validation message lists the enum in (a Java set's iteration order, as recorded).
_ENUM_ORDER = (
    "REQUEST_TOO_LARGE, RESOURCE_NOT_FOUND, AUTHORIZER_CONFIGURATION_ERROR, MISSING_AUTHENTICATION_TOKEN, "
    "BAD_REQUEST_BODY, INVALID_SIGNATURE, INVALID_API_KEY, BAD_REQUEST_PARAMETERS, AUTHORIZER_FAILURE, "
    "UNAUTHORIZED, INTEGRATION_TIMEOUT, ACCESS_DENIED, DEFAULT_4XX, DEFAULT_5XX, WAF_FILTERED, QUOTA_EXCEEDED, "
    "THROTTLED, API_CONFIGURATION_ERROR, UNSUPPORTED_MEDIA_TYPE, INTEGRATION_FAILURE, EXPIRED_TOKEN"
)
_PARAMETER_PREFIXES = ("gatewayresponse.header.", "gatewayresponse.querystring.", "gatewayresponse.path.")


def _key(api_id: str, response_type: str) -> str:
    return f"{api_id}/{response_type}"


def check_type(response_type: Any) -> str:
    if response_type not in GATEWAY_RESPONSE_TYPES:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{response_type}' at 'responseType' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{_ENUM_ORDER}]",
        )
    return str(response_type)


def _check_status(value: Any) -> str:
    text = str(value)
    if not _STATUS.match(text):
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{text}' at 'statusCode' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [1-5]\\d\\d",
        )
    return text


def _check_parameters(parameters: dict[str, Any]) -> None:
    for target, source in parameters.items():
        if not str(target).startswith(_PARAMETER_PREFIXES) or not isinstance(source, str) or not source:
            raise bad_request(
                "Invalid mapping expression specified: Validation Result: warnings : [], errors : "
                f"[Invalid mapping expression specified: {target}]"
            )
        try:
            parse_source(source)
        except InvalidMapping as exc:
            raise bad_request(str(exc)) from exc


def default_document(response_type: str) -> Doc:
    """The type as AWS lists it before anyone customised it."""
    doc: Doc = {
        "responseType": response_type,
        "defaultResponse": True,
        "responseParameters": {},
        "responseTemplates": {"application/json": DEFAULT_TEMPLATE},
    }
    status = listed_status(response_type)
    if status is not None:
        doc["statusCode"] = status
    return doc


def new_document(response_type: str, params: dict[str, Any]) -> Doc:
    """A Put's document: what the call gives, the type's own defaults for the rest."""
    doc = default_document(response_type)
    doc["defaultResponse"] = False
    if params.get("statusCode") is not None:
        doc["statusCode"] = _check_status(params["statusCode"])
    if params.get("responseParameters") is not None:
        parameters = {str(k): v for k, v in dict(params["responseParameters"]).items()}
        _check_parameters(parameters)
        doc["responseParameters"] = parameters
    if params.get("responseTemplates"):
        doc["responseTemplates"] = {str(k): v for k, v in dict(params["responseTemplates"]).items()}
    return doc


def effective(documents: dict[str, Doc], response_type: str) -> Doc:
    """What GetGatewayResponse(s) shows for a type: its own document, else the defaults with a customised
    DEFAULT_4XX/5XX's status, parameters and templates folded in (still ``defaultResponse: true``)."""
    own = documents.get(response_type)
    if own is not None:
        return own
    doc = default_document(response_type)
    fallback_type = status_class(response_type)
    fallback = documents.get(fallback_type) if fallback_type else None
    if fallback is not None:
        for field in ("statusCode", "responseParameters", "responseTemplates"):
            if field in fallback:
                doc[field] = fallback[field]
    return doc


def _entry_map(field: str) -> patch.PathHandler:
    """``/responseParameters/{name}`` and ``/responseTemplates/{content type}``: AWS refuses a null value and
    a replace of an entry that is not there."""

    def handle(document: dict[str, Any], op: str, value: Any, rest: list[str]) -> None:
        if len(rest) != 1 or not rest[0]:
            raise bad_request(f"Invalid patch path /{'/'.join([field, *rest]).rstrip('/')}")
        entries: dict[str, Any] = document.setdefault(field, {})
        name = rest[0]
        if op == "remove":
            entries.pop(name, None)
            return
        if op not in ("add", "replace"):
            raise bad_request("Invalid patch operation specified. Must be one of: [add, remove, replace]")
        if value is None or value == "":
            raise bad_request(f"Invalid null or empty value in {field}")
        if op == "replace" and name not in entries:
            if field == "responseParameters":
                raise not_found("Invalid parameter name specified")
            raise not_found("Content-Type specified was not found")
        if field == "responseParameters":
            _check_parameters({name: value})
        entries[name] = str(value)

    return handle


def _status_patch(document: dict[str, Any], op: str, value: Any, rest: list[str]) -> None:
    if rest or op != "replace":
        raise bad_request("Invalid patch path /statusCode")
    document["statusCode"] = _check_status(value)


_PATCHABLE: dict[str, patch.PathHandler] = {
    "statusCode": _status_patch,
    "responseParameters": _entry_map("responseParameters"),
    "responseTemplates": _entry_map("responseTemplates"),
}


def _documents(ctx: ControlContext, api_id: str) -> dict[str, Doc]:
    return {doc["responseType"]: doc for doc in ctx.store.list(KIND, api_id)}


async def put_gateway_response(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    response_type = check_type(params.get("responseType"))
    rest_api(ctx, api_id)
    doc = new_document(response_type, params)
    ctx.store.put(KIND, _key(api_id, response_type), doc, parent=api_id)
    return doc


async def get_gateway_response(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    response_type = check_type(params.get("responseType"))
    rest_api(ctx, api_id)
    return effective(_documents(ctx, api_id), response_type)


async def get_gateway_responses(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    rest_api(ctx, api_id)
    stored = _documents(ctx, api_id)
    return page([effective(stored, t) for t in GATEWAY_RESPONSE_TYPES], params, key="items")


async def update_gateway_response(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    response_type = check_type(params.get("responseType"))
    rest_api(ctx, api_id)
    # Updating a type never customised customises it, starting from its own defaults (as AWS records).
    doc = ctx.store.get(KIND, _key(api_id, response_type)) or new_document(response_type, {})
    patch.apply(doc, params.get("patchOperations") or [], _PATCHABLE)
    doc["defaultResponse"] = False
    doc.setdefault("responseParameters", {})
    doc.setdefault("responseTemplates", {})
    ctx.store.put(KIND, _key(api_id, response_type), doc, parent=api_id)
    return doc


async def delete_gateway_response(ctx: ControlContext, params: dict[str, Any]) -> None:
    api_id = params["restApiId"]
    response_type = check_type(params.get("responseType"))
    rest_api(ctx, api_id)
    if not ctx.store.delete(KIND, _key(api_id, response_type)):
        raise not_found("Gateway response type not defined on api")


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "PutGatewayResponse": partial(put_gateway_response, ctx),
        "GetGatewayResponse": partial(get_gateway_response, ctx),
        "GetGatewayResponses": partial(get_gateway_responses, ctx),
        "UpdateGatewayResponse": partial(update_gateway_response, ctx),
        "DeleteGatewayResponse": partial(delete_gateway_response, ctx),
    }
