"""Resources and everything that hangs on them: methods, integrations, method and integration responses.

A resource document carries its methods under ``resourceMethods``, each method its ``methodResponses`` and
``methodIntegration``: the nesting AWS's GetResource returns with ``embed=methods``.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from apigate.aws import patch
from apigate.aws.errors import AwsError, bad_request, conflict, not_found
from apigate.aws.ids import short_id
from apigate.aws.wire import OperationHandler
from apigate.compile.parameters import InvalidMapping, parse_mappings
from apigate.control.authorizers import check_method_authorizer
from apigate.control.common import Doc, drop_none, page, resource, rest_api
from apigate.control.context import ControlContext
from apigate.control.models import list_models
from apigate.store.base import Conflict

VERBS = ("GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS", "HEAD", "ANY")
INTEGRATION_TYPES = ("HTTP", "AWS", "MOCK", "HTTP_PROXY", "AWS_PROXY")
_PATH_PART = re.compile(r"^(\{[A-Za-z0-9._-]+\+?\}|[A-Za-z0-9._:@~-]+)$")
_STATUS = re.compile(r"^[1-5]\d\d$")


def _key(api_id: str, resource_id: str) -> str:
    return f"{api_id}/{resource_id}"


def _is_variable(part: str | None) -> bool:
    return bool(part) and part.startswith("{")  # type: ignore[union-attr]


def _save(ctx: ControlContext, api_id: str, doc: Doc) -> None:
    ctx.store.put("resource", _key(api_id, doc["id"]), doc, parent=api_id)


def _method_of(ctx: ControlContext, params: dict[str, Any]) -> tuple[Doc, Doc]:
    res = resource(ctx, params["restApiId"], params["resourceId"])
    method = (res.get("resourceMethods") or {}).get(params["httpMethod"])
    if method is None:
        raise not_found("Invalid Method identifier specified")
    return res, method


def _integration_of(ctx: ControlContext, params: dict[str, Any]) -> tuple[Doc, Doc, Doc]:
    res, method = _method_of(ctx, params)
    integration = method.get("methodIntegration")
    if integration is None:
        raise not_found("Invalid Integration identifier specified")
    return res, method, integration


async def get_resources(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    rest_api(ctx, api_id)
    embed = "methods" in (params.get("embed") or [])
    items = [_view(doc, embed) for doc in ctx.store.list("resource", api_id)]
    return page(items, params)


async def get_resource(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    embed = "methods" in (params.get("embed") or [])
    return _view(resource(ctx, params["restApiId"], params["resourceId"]), embed)


def _check_part(ctx: ControlContext, parent: Doc, part: str) -> None:
    """AWS's rules for a path part under ``parent``. That siblings differ is the store's rule
    (``uniqueness.RULES``), checked as the resource is written: see ``save_part``."""
    if not _PATH_PART.match(part):
        raise bad_request(
            "Resource's path part only allow a-zA-Z0-9._- and curly braces at the beginning and the end "
            "and an optional plus sign before the closing brace."
        )
    if (parent.get("pathPart") or "").endswith("+}"):
        raise bad_request(
            f"Cannot create a child of a resource with a greedy path variable: {parent['pathPart']}"
        )


def _save_part(ctx: ControlContext, api_id: str, doc: Doc) -> None:
    """Write a new or renamed resource, answering AWS's errors when a sibling holds its name or the one
    variable path part a parent may have."""
    try:
        _save(ctx, api_id, doc)
    except Conflict as exc:
        if exc.rule != "variablePathPart":
            raise conflict(
                f"Another resource with the same parent already has this name: {doc['pathPart']}"
            ) from None
        sibling = next(
            (
                other.get("pathPart")
                for other in ctx.store.list("resource", api_id)
                if other.get("parentId") == doc["parentId"]
                and other["id"] != doc["id"]
                and _is_variable(other.get("pathPart"))
            ),
            None,
        )
        raise bad_request(
            f"A sibling ({sibling}) of this resource already has a variable path part -- only one is allowed"
        ) from None


async def create_resource(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    parent = resource(ctx, api_id, params["parentId"])
    part = params.get("pathPart") or ""
    _check_part(ctx, parent, part)
    doc = {
        "id": short_id(6),
        "parentId": parent["id"],
        "pathPart": part,
        "path": _child_path(parent, part),
    }
    _save_part(ctx, api_id, doc)
    return doc


async def update_resource(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    doc = resource(ctx, api_id, params["resourceId"])
    if doc.get("parentId") is None:
        raise bad_request("Root resource cannot update its pathPart.")
    patch.apply(
        doc,
        params.get("patchOperations") or [],
        {  # in the order AWS lists them in its refusal
            "parentId": patch.scalar("parentId", nullable=False),
            "pathPart": patch.scalar("pathPart", nullable=False),
        },
        replace_only=True,
    )
    parent = resource(ctx, api_id, doc["parentId"])
    everything = {d["id"]: d for d in ctx.store.list("resource", api_id)}
    ancestor: str | None = parent["id"]
    while ancestor is not None:  # moving under one's own subtree would make a cycle
        if ancestor == doc["id"]:
            raise bad_request("Resources cannot be cyclical.")
        ancestor = everything[ancestor].get("parentId")
    _check_part(ctx, parent, doc["pathPart"])
    doc["path"] = _child_path(parent, doc["pathPart"])
    everything[doc["id"]] = doc
    with ctx.store.transaction():  # the subtree's paths change with it
        _save_part(ctx, api_id, doc)
        pending = [doc]
        while pending:
            current = pending.pop()
            if current is not doc:
                _save(ctx, api_id, current)
            for child in everything.values():
                if child.get("parentId") == current["id"]:
                    child["path"] = _child_path(current, child["pathPart"])
                    pending.append(child)
    return _view(doc, embed=False)


async def delete_resource(ctx: ControlContext, params: dict[str, Any]) -> None:
    api_id = params["restApiId"]
    doc = resource(ctx, api_id, params["resourceId"])
    if doc.get("parentId") is None:
        raise bad_request("Cannot delete root resource")
    everything = ctx.store.list("resource", api_id)
    doomed = {doc["id"]}
    grew = True
    while grew:  # the subtree under the resource goes with it
        before = len(doomed)
        doomed |= {d["id"] for d in everything if d.get("parentId") in doomed}
        grew = len(doomed) > before
    with ctx.store.transaction():
        for rid in doomed:
            ctx.store.delete("resource", _key(api_id, rid))


def _check_method_references(ctx: ControlContext, api_id: str, fields: Doc) -> None:
    """A method may name only validators and models its API has, as AWS checks on write; a request
    parameter's name is used once across the query string, headers and path."""
    parameters = [key.split(".", 3)[-1] for key in fields.get("requestParameters") or {} if key.count(".") >= 3]
    if len(parameters) != len(set(parameters)):
        raise bad_request("Parameter names must be unique across querystring, header and path")
    validator_id = fields.get("requestValidatorId")
    if validator_id and ctx.store.get("validator", f"{api_id}/{validator_id}") is None:
        raise bad_request("Invalid Request Validator identifier specified")
    models = fields.get("requestModels") or {}
    names = {doc["name"] for doc in list_models(ctx.store, api_id)} if models else set()
    for model in models.values():
        if model not in names:
            raise bad_request(f"Invalid model identifier specified: {model}")
    check_method_authorizer(ctx.store, api_id, fields)


async def put_method(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    # Methods live inside the resource's document: read, check and write it in one write transaction,
    # so "already exists" holds across processes (and neither's method is lost).
    with ctx.store.transaction():
        return _new_method(ctx, params)


def _new_method(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    res = resource(ctx, api_id, params["resourceId"])
    verb = params["httpMethod"]
    if verb not in VERBS:
        raise bad_request(
            "Invalid HttpMethod specified. Valid options are GET,PUT,POST,DELETE,PATCH,OPTIONS,HEAD,ANY"
        )
    methods = res.setdefault("resourceMethods", {})
    if verb in methods:
        raise conflict("Method already exists for this resource")
    auth = _authorization_type(params.get("authorizationType"))
    _check_method_references(ctx, api_id, params)
    method = drop_none(
        {
            "httpMethod": verb,
            "authorizationType": auth,
            "authorizerId": params.get("authorizerId"),
            "apiKeyRequired": bool(params.get("apiKeyRequired", False)),
            "requestValidatorId": params.get("requestValidatorId"),
            "operationName": params.get("operationName"),
            "requestParameters": params.get("requestParameters") or None,
            "requestModels": params.get("requestModels") or None,
            "authorizationScopes": params.get("authorizationScopes") or None,
        }
    )
    methods[verb] = method
    _save(ctx, api_id, res)
    return method


async def get_method(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _method_of(ctx, params)[1]


async def update_method(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    res, method = _method_of(ctx, params)
    patch.apply(method, params.get("patchOperations") or [], _METHOD_PATCHABLE)
    method["authorizationType"] = _authorization_type(method.get("authorizationType"))
    if method["authorizationType"] in ("NONE", "AWS_IAM"):  # AWS drops the authorizer with the type
        method.pop("authorizerId", None)
    _check_method_references(ctx, params["restApiId"], method)
    _save(ctx, params["restApiId"], res)
    return method


async def delete_method(ctx: ControlContext, params: dict[str, Any]) -> None:
    res, _ = _method_of(ctx, params)
    del res["resourceMethods"][params["httpMethod"]]
    if not res["resourceMethods"]:
        del res["resourceMethods"]
    _save(ctx, params["restApiId"], res)


async def put_method_response(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    code = _status(params["statusCode"])
    res, method = _method_of(ctx, params)
    response = drop_none(
        {
            "statusCode": code,
            # empty maps given are answered back, as AWS does
            "responseParameters": params.get("responseParameters"),
            "responseModels": params.get("responseModels"),
        }
    )
    method.setdefault("methodResponses", {})[code] = response
    _save(ctx, params["restApiId"], res)
    return response


async def get_method_response(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    _, method = _method_of(ctx, params)
    response: Doc | None = (method.get("methodResponses") or {}).get(params["statusCode"])
    if response is None:
        raise not_found("Invalid Response status code specified")
    return response


async def delete_method_response(ctx: ControlContext, params: dict[str, Any]) -> None:
    res, method = _method_of(ctx, params)
    if (method.get("methodResponses") or {}).pop(params["statusCode"], None) is None:
        raise not_found("Invalid Response status code specified")
    _save(ctx, params["restApiId"], res)


async def put_integration(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    res, method = _method_of(ctx, params)
    integration = _integration(params, res["id"])
    method["methodIntegration"] = integration
    _save(ctx, params["restApiId"], res)
    return integration


async def get_integration(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _integration_of(ctx, params)[2]


async def update_integration(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    res, _, integration = _integration_of(ctx, params)
    patch.apply(integration, params.get("patchOperations") or [], _INTEGRATION_PATCHABLE)
    _check_mappings(integration.get("requestParameters"), "integration.request.")
    _save(ctx, params["restApiId"], res)
    return integration


async def delete_integration(ctx: ControlContext, params: dict[str, Any]) -> None:
    res, method, _ = _integration_of(ctx, params)
    del method["methodIntegration"]
    _save(ctx, params["restApiId"], res)


async def put_integration_response(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    code = _status(params["statusCode"])  # AWS accepts it without a method response for the code
    res, _, integration = _integration_of(ctx, params)
    response = drop_none(
        {
            "statusCode": code,
            "selectionPattern": params.get("selectionPattern"),
            "responseParameters": params.get("responseParameters") or None,
            "responseTemplates": params.get("responseTemplates") or None,
            "contentHandling": params.get("contentHandling"),
        }
    )
    _check_mappings(response.get("responseParameters"), "method.response.header.")
    integration.setdefault("integrationResponses", {})[code] = response
    _save(ctx, params["restApiId"], res)
    return response


async def update_integration_response(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    res, _, integration = _integration_of(ctx, params)
    response: Doc | None = (integration.get("integrationResponses") or {}).get(params["statusCode"])
    if response is None:
        raise not_found("Invalid Response status code specified")
    patch.apply(response, params.get("patchOperations") or [], _INTEGRATION_RESPONSE_PATCHABLE)
    _check_mappings(response.get("responseParameters"), "method.response.header.")
    _save(ctx, params["restApiId"], res)
    return response


async def update_method_response(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    res, method = _method_of(ctx, params)
    response: Doc | None = (method.get("methodResponses") or {}).get(params["statusCode"])
    if response is None:
        raise not_found("Invalid Response status code specified")
    patch.apply(response, params.get("patchOperations") or [], _METHOD_RESPONSE_PATCHABLE)
    _save(ctx, params["restApiId"], res)
    return response


async def get_integration_response(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    _status(params["statusCode"])
    _, _, integration = _integration_of(ctx, params)
    response: Doc | None = (integration.get("integrationResponses") or {}).get(params["statusCode"])
    if response is None:
        raise not_found("Invalid Response status code specified")
    return response


async def delete_integration_response(ctx: ControlContext, params: dict[str, Any]) -> None:
    res, _, integration = _integration_of(ctx, params)
    if (integration.get("integrationResponses") or {}).pop(params["statusCode"], None) is None:
        raise not_found("Invalid Response status code specified")
    _save(ctx, params["restApiId"], res)


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "GetResources": partial(get_resources, ctx),
        "GetResource": partial(get_resource, ctx),
        "CreateResource": partial(create_resource, ctx),
        "UpdateResource": partial(update_resource, ctx),
        "DeleteResource": partial(delete_resource, ctx),
        "PutMethod": partial(put_method, ctx),
        "GetMethod": partial(get_method, ctx),
        "UpdateMethod": partial(update_method, ctx),
        "DeleteMethod": partial(delete_method, ctx),
        "PutMethodResponse": partial(put_method_response, ctx),
        "GetMethodResponse": partial(get_method_response, ctx),
        "DeleteMethodResponse": partial(delete_method_response, ctx),
        "PutIntegration": partial(put_integration, ctx),
        "GetIntegration": partial(get_integration, ctx),
        "UpdateIntegration": partial(update_integration, ctx),
        "DeleteIntegration": partial(delete_integration, ctx),
        "PutIntegrationResponse": partial(put_integration_response, ctx),
        "GetIntegrationResponse": partial(get_integration_response, ctx),
        "UpdateIntegrationResponse": partial(update_integration_response, ctx),
        "UpdateMethodResponse": partial(update_method_response, ctx),
        "DeleteIntegrationResponse": partial(delete_integration_response, ctx),
    }


def _child_path(parent: Doc, part: str) -> str:
    return ("" if parent["path"] == "/" else parent["path"]) + "/" + part


def _view(doc: Doc, embed: bool) -> Doc:
    """Without ``embed=methods`` AWS lists only the verbs, each as an empty object."""
    if embed or "resourceMethods" not in doc:
        return doc
    return {**doc, "resourceMethods": {verb: {} for verb in doc["resourceMethods"]}}


def _authorization_type(value: Any) -> str:
    """AWS takes the type in any case (``none``) and answers it in capitals."""
    auth = str(value).upper() if isinstance(value, str) else ""
    if auth not in ("NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"):
        raise bad_request(
            "Invalid authorization type specified. Must be one of: [NONE, AWS_IAM, CUSTOM, COGNITO_USER_POOLS]"
        )
    return auth


def _status(code: str) -> str:
    if not _STATUS.match(code):  # AWS's front door checks the pattern before looking anything up
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{code}' at 'statusCode' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [1-5]\\d\\d",
        )
    return code


def _timeout(value: Any) -> int:
    try:
        timeout = int(value)
    except (TypeError, ValueError):
        timeout = -1
    if not 50 <= timeout <= 29000:
        raise bad_request("Timeout should be between 50 ms and 29000 ms")
    return timeout


def _check_mappings(parameters: dict[str, str] | None, target_prefix: str) -> None:
    """Mapping expressions are checked when written, as AWS does, so a deployment never meets a bad one."""
    for target in parameters or {}:
        if not target.startswith(target_prefix):
            raise bad_request(
                "Invalid mapping expression specified: Validation Result: warnings : [], errors : "
                f"[Invalid mapping expression specified: {target}]"
            )
    try:
        parse_mappings(parameters)
    except InvalidMapping as exc:
        raise bad_request(str(exc)) from exc


def _integration(params: dict[str, Any], resource_id: str) -> Doc:
    kind = params.get("type")
    if kind not in INTEGRATION_TYPES:  # AWS's front door checks the enum: a ValidationException
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{kind}' at 'putIntegrationInput.type' failed to satisfy "
            "constraint: Member must satisfy enum value set: [HTTP, MOCK, AWS_PROXY, HTTP_PROXY, AWS]",
        )
    uri = params.get("uri")
    verb = params.get("integrationHttpMethod")
    if kind != "MOCK":
        if not verb:
            raise bad_request("Enumeration value for HttpMethod must be non-empty")
        if verb not in VERBS:
            raise bad_request(
                "Invalid HttpMethod specified. Valid options are GET,PUT,POST,DELETE,PATCH,OPTIONS,HEAD,ANY"
            )
        if kind in ("HTTP", "HTTP_PROXY") and not (uri and re.match(r"^https?://", uri)):
            raise bad_request("Invalid HTTP endpoint specified for URI")
        if kind in ("AWS", "AWS_PROXY") and not (
            uri and uri.startswith("arn:") and (":path/" in uri or ":action/" in uri)
        ):
            raise bad_request("AWS ARN for integration must contain path or action")
    timeout = _timeout(params.get("timeoutInMillis") or 29000)
    _check_mappings(params.get("requestParameters"), "integration.request.")
    passthrough = params.get("passthroughBehavior") or "WHEN_NO_MATCH"
    if passthrough not in ("WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER"):
        raise bad_request(
            "Invalid passthrough behavior specified: "
            f"{passthrough}, valid values are: [WHEN_NO_MATCH, WHEN_NO_TEMPLATES, NEVER]"
        )
    return drop_none(
        {
            "type": kind,
            "httpMethod": verb if kind != "MOCK" else None,
            "uri": uri,
            "connectionType": params.get("connectionType") or ("INTERNET" if kind != "MOCK" else None),
            "connectionId": params.get("connectionId"),
            "credentials": params.get("credentials"),
            "requestParameters": params.get("requestParameters") or None,
            "requestTemplates": params.get("requestTemplates") or None,
            "passthroughBehavior": passthrough,
            "contentHandling": params.get("contentHandling"),
            "timeoutInMillis": timeout,
            "cacheNamespace": params.get("cacheNamespace") or resource_id,
            "cacheKeyParameters": params.get("cacheKeyParameters") or [],
        }
    )


_METHOD_PATCHABLE: dict[str, patch.PathHandler] = {
    "authorizationType": patch.scalar("authorizationType", nullable=False),
    "authorizerId": patch.scalar("authorizerId"),
    "authorizationScopes": patch.string_list("authorizationScopes", item_in_value=True),
    "apiKeyRequired": patch.scalar(
        "apiKeyRequired", convert=lambda v: str(v).lower() == "true", nullable=False
    ),
    "operationName": patch.scalar("operationName"),
    "requestValidatorId": patch.scalar("requestValidatorId"),
    "requestParameters": patch.bool_map("requestParameters"),
    "requestModels": patch.string_map("requestModels"),
}

_INTEGRATION_PATCHABLE: dict[str, patch.PathHandler] = {
    "uri": patch.scalar("uri", nullable=False),
    "httpMethod": patch.scalar("httpMethod", nullable=False),
    "timeoutInMillis": patch.scalar("timeoutInMillis", convert=_timeout, nullable=False),
    "passthroughBehavior": patch.scalar("passthroughBehavior", nullable=False),
    "contentHandling": patch.scalar("contentHandling"),
    "requestParameters": patch.string_map("requestParameters"),
    "requestTemplates": patch.string_map("requestTemplates"),
}

_INTEGRATION_RESPONSE_PATCHABLE: dict[str, patch.PathHandler] = {
    "selectionPattern": patch.scalar("selectionPattern"),
    "contentHandling": patch.scalar("contentHandling"),
    "responseParameters": patch.string_map("responseParameters"),
    "responseTemplates": patch.string_map("responseTemplates"),
}

_METHOD_RESPONSE_PATCHABLE: dict[str, patch.PathHandler] = {
    "responseParameters": patch.bool_map("responseParameters"),
    "responseModels": patch.string_map("responseModels"),
}
