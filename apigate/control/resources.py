"""Resources and everything that hangs on them: methods, integrations, method and integration responses.

A resource document carries its methods under ``resourceMethods``, each method its ``methodResponses`` and
``methodIntegration``: the nesting AWS's GetResource returns with ``embed=methods``.
"""

from __future__ import annotations

import re
from typing import Any

from apigate.aws import patch
from apigate.aws.errors import bad_request, conflict, not_found
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


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    store = ctx.store

    def save(api_id: str, doc: Doc) -> None:
        store.put("resource", _key(api_id, doc["id"]), doc, parent=api_id)

    def method_of(params: dict[str, Any]) -> tuple[Doc, Doc]:
        res = resource(ctx, params["restApiId"], params["resourceId"])
        method = (res.get("resourceMethods") or {}).get(params["httpMethod"])
        if method is None:
            raise not_found("Invalid Method identifier specified")
        return res, method

    def integration_of(params: dict[str, Any]) -> tuple[Doc, Doc, Doc]:
        res, method = method_of(params)
        integration = method.get("methodIntegration")
        if integration is None:
            raise not_found("Invalid Integration identifier specified")
        return res, method, integration

    async def get_resources(params: dict[str, Any]) -> Doc:
        api_id = params["restApiId"]
        rest_api(ctx, api_id)
        embed = "methods" in (params.get("embed") or [])
        items = [_view(doc, embed) for doc in store.list("resource", api_id)]
        return page(items, params)

    async def get_resource(params: dict[str, Any]) -> Doc:
        embed = "methods" in (params.get("embed") or [])
        return _view(resource(ctx, params["restApiId"], params["resourceId"]), embed)

    def check_part(parent: Doc, part: str) -> None:
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

    def save_part(api_id: str, doc: Doc) -> None:
        """Write a new or renamed resource, answering AWS's errors when a sibling holds its name or the one
        variable path part a parent may have."""
        try:
            save(api_id, doc)
        except Conflict as exc:
            if exc.rule != "variablePathPart":
                raise conflict(
                    f"Another resource with the same parent already has this name: {doc['pathPart']}"
                ) from None
            sibling = next(
                (
                    other.get("pathPart")
                    for other in store.list("resource", api_id)
                    if other.get("parentId") == doc["parentId"]
                    and other["id"] != doc["id"]
                    and _is_variable(other.get("pathPart"))
                ),
                None,
            )
            raise bad_request(
                f"A sibling ({sibling}) of this resource already has a variable path part -- only one is allowed"
            ) from None

    async def create_resource(params: dict[str, Any]) -> Doc:
        api_id = params["restApiId"]
        parent = resource(ctx, api_id, params["parentId"])
        part = params.get("pathPart") or ""
        check_part(parent, part)
        doc = {
            "id": short_id(6),
            "parentId": parent["id"],
            "pathPart": part,
            "path": _child_path(parent, part),
        }
        save_part(api_id, doc)
        return doc

    async def update_resource(params: dict[str, Any]) -> Doc:
        api_id = params["restApiId"]
        doc = resource(ctx, api_id, params["resourceId"])
        if doc.get("parentId") is None:
            raise bad_request("Root resource cannot update its pathPart.")
        patch.apply(
            doc,
            params.get("patchOperations") or [],
            {
                "pathPart": patch.scalar("pathPart", nullable=False),
                "parentId": patch.scalar("parentId", nullable=False),
            },
        )
        parent = resource(ctx, api_id, doc["parentId"])
        everything = {d["id"]: d for d in store.list("resource", api_id)}
        ancestor: str | None = parent["id"]
        while ancestor is not None:  # moving under one's own subtree would make a cycle
            if ancestor == doc["id"]:
                raise bad_request("Resources cannot be cyclical.")
            ancestor = everything[ancestor].get("parentId")
        check_part(parent, doc["pathPart"])
        doc["path"] = _child_path(parent, doc["pathPart"])
        everything[doc["id"]] = doc
        with store.transaction():  # the subtree's paths change with it
            save_part(api_id, doc)
            pending = [doc]
            while pending:
                current = pending.pop()
                if current is not doc:
                    save(api_id, current)
                for child in everything.values():
                    if child.get("parentId") == current["id"]:
                        child["path"] = _child_path(current, child["pathPart"])
                        pending.append(child)
        return _view(doc, embed=False)

    async def delete_resource(params: dict[str, Any]) -> None:
        api_id = params["restApiId"]
        doc = resource(ctx, api_id, params["resourceId"])
        if doc.get("parentId") is None:
            raise bad_request("Cannot delete root resource")
        everything = store.list("resource", api_id)
        doomed = {doc["id"]}
        grew = True
        while grew:  # the subtree under the resource goes with it
            before = len(doomed)
            doomed |= {d["id"] for d in everything if d.get("parentId") in doomed}
            grew = len(doomed) > before
        with store.transaction():
            for rid in doomed:
                store.delete("resource", _key(api_id, rid))

    def check_method_references(api_id: str, fields: Doc) -> None:
        """A method may name only validators and models its API has, as AWS checks on write."""
        validator_id = fields.get("requestValidatorId")
        if validator_id and store.get("validator", f"{api_id}/{validator_id}") is None:
            raise bad_request("Invalid Request Validator identifier specified")
        models = fields.get("requestModels") or {}
        names = {doc["name"] for doc in list_models(store, api_id)} if models else set()
        for model in models.values():
            if model not in names:
                raise bad_request(f"Invalid model identifier specified: {model}")
        check_method_authorizer(store, api_id, fields)

    async def put_method(params: dict[str, Any]) -> Doc:
        # Methods live inside the resource's document: read, check and write it in one write transaction,
        # so "already exists" holds across processes (and neither's method is lost).
        with store.transaction():
            return new_method(params)

    def new_method(params: dict[str, Any]) -> Doc:
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
        auth = params.get("authorizationType")
        if auth not in ("NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"):
            raise bad_request(
                "Invalid authorization type specified. Must be one of: [NONE, AWS_IAM, CUSTOM, COGNITO_USER_POOLS]"
            )
        check_method_references(api_id, params)
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
        save(api_id, res)
        return method

    async def get_method(params: dict[str, Any]) -> Doc:
        return method_of(params)[1]

    async def update_method(params: dict[str, Any]) -> Doc:
        res, method = method_of(params)
        patch.apply(method, params.get("patchOperations") or [], _METHOD_PATCHABLE)
        check_method_references(params["restApiId"], method)
        save(params["restApiId"], res)
        return method

    async def delete_method(params: dict[str, Any]) -> None:
        res, _ = method_of(params)
        del res["resourceMethods"][params["httpMethod"]]
        if not res["resourceMethods"]:
            del res["resourceMethods"]
        save(params["restApiId"], res)

    async def put_method_response(params: dict[str, Any]) -> Doc:
        res, method = method_of(params)
        code = _status(params["statusCode"])
        response = drop_none(
            {
                "statusCode": code,
                "responseParameters": params.get("responseParameters") or None,
                "responseModels": params.get("responseModels") or None,
            }
        )
        method.setdefault("methodResponses", {})[code] = response
        save(params["restApiId"], res)
        return response

    async def get_method_response(params: dict[str, Any]) -> Doc:
        _, method = method_of(params)
        response: Doc | None = (method.get("methodResponses") or {}).get(params["statusCode"])
        if response is None:
            raise not_found("Invalid Response status code specified")
        return response

    async def delete_method_response(params: dict[str, Any]) -> None:
        res, method = method_of(params)
        if (method.get("methodResponses") or {}).pop(params["statusCode"], None) is None:
            raise not_found("Invalid Response status code specified")
        save(params["restApiId"], res)

    async def put_integration(params: dict[str, Any]) -> Doc:
        res, method = method_of(params)
        integration = _integration(params, res["id"])
        method["methodIntegration"] = integration
        save(params["restApiId"], res)
        return integration

    async def get_integration(params: dict[str, Any]) -> Doc:
        return integration_of(params)[2]

    async def update_integration(params: dict[str, Any]) -> Doc:
        res, _, integration = integration_of(params)
        patch.apply(integration, params.get("patchOperations") or [], _INTEGRATION_PATCHABLE)
        _check_mappings(integration.get("requestParameters"), "integration.request.")
        save(params["restApiId"], res)
        return integration

    async def delete_integration(params: dict[str, Any]) -> None:
        res, method, _ = integration_of(params)
        del method["methodIntegration"]
        save(params["restApiId"], res)

    async def put_integration_response(params: dict[str, Any]) -> Doc:
        res, method, integration = integration_of(params)
        code = _status(params["statusCode"])
        if code not in (method.get("methodResponses") or {}):
            raise not_found("Invalid Response status code specified")
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
        save(params["restApiId"], res)
        return response

    async def update_integration_response(params: dict[str, Any]) -> Doc:
        res, _, integration = integration_of(params)
        response: Doc | None = (integration.get("integrationResponses") or {}).get(params["statusCode"])
        if response is None:
            raise not_found("Invalid Response status code specified")
        patch.apply(response, params.get("patchOperations") or [], _INTEGRATION_RESPONSE_PATCHABLE)
        _check_mappings(response.get("responseParameters"), "method.response.header.")
        save(params["restApiId"], res)
        return response

    async def update_method_response(params: dict[str, Any]) -> Doc:
        res, method = method_of(params)
        response: Doc | None = (method.get("methodResponses") or {}).get(params["statusCode"])
        if response is None:
            raise not_found("Invalid Response status code specified")
        patch.apply(response, params.get("patchOperations") or [], _METHOD_RESPONSE_PATCHABLE)
        save(params["restApiId"], res)
        return response

    async def get_integration_response(params: dict[str, Any]) -> Doc:
        _, _, integration = integration_of(params)
        response: Doc | None = (integration.get("integrationResponses") or {}).get(params["statusCode"])
        if response is None:
            raise not_found("Invalid Response status code specified")
        return response

    async def delete_integration_response(params: dict[str, Any]) -> None:
        res, _, integration = integration_of(params)
        if (integration.get("integrationResponses") or {}).pop(params["statusCode"], None) is None:
            raise not_found("Invalid Response status code specified")
        save(params["restApiId"], res)

    return {
        "GetResources": get_resources,
        "GetResource": get_resource,
        "CreateResource": create_resource,
        "UpdateResource": update_resource,
        "DeleteResource": delete_resource,
        "PutMethod": put_method,
        "GetMethod": get_method,
        "UpdateMethod": update_method,
        "DeleteMethod": delete_method,
        "PutMethodResponse": put_method_response,
        "GetMethodResponse": get_method_response,
        "DeleteMethodResponse": delete_method_response,
        "PutIntegration": put_integration,
        "GetIntegration": get_integration,
        "UpdateIntegration": update_integration,
        "DeleteIntegration": delete_integration,
        "PutIntegrationResponse": put_integration_response,
        "GetIntegrationResponse": get_integration_response,
        "UpdateIntegrationResponse": update_integration_response,
        "UpdateMethodResponse": update_method_response,
        "DeleteIntegrationResponse": delete_integration_response,
    }


def _child_path(parent: Doc, part: str) -> str:
    return ("" if parent["path"] == "/" else parent["path"]) + "/" + part


def _view(doc: Doc, embed: bool) -> Doc:
    """Without ``embed=methods`` AWS lists only the verbs, each as an empty object."""
    if embed or "resourceMethods" not in doc:
        return doc
    return {**doc, "resourceMethods": {verb: {} for verb in doc["resourceMethods"]}}


def _status(code: str) -> str:
    if not _STATUS.match(code):
        raise bad_request("Invalid response status code specified")
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
    if kind not in INTEGRATION_TYPES:
        raise bad_request(
            "Invalid integration type specified. Must be one of: [HTTP, AWS, MOCK, HTTP_PROXY, AWS_PROXY]"
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
    "authorizationScopes": patch.string_list("authorizationScopes"),
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
