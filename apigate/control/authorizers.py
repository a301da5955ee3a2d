"""REST API authorizers: Lambda (TOKEN, REQUEST) and Cognito user pools, their management calls, and how a
deployment compiles one for a stage.

CreateAuthorizer, GetAuthorizer(s), UpdateAuthorizer, DeleteAuthorizer, TestInvokeAuthorizer and
FlushStageAuthorizersCache. A method names its authorizer with ``authorizationType`` CUSTOM or
COGNITO_USER_POOLS and ``authorizerId``; ``check_method_authorizer`` is the check PutMethod and UpdateMethod make.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from apigate.aws import patch
from apigate.aws.errors import bad_request, conflict, not_found
from apigate.aws.ids import short_id
from apigate.aws.wire import OperationHandler
from apigate.compile.authorizers import DEFAULT_TTL, PROVIDER_ARN, compile_authorizer
from apigate.control.common import Doc, drop_none, page, rest_api
from apigate.control.context import ControlContext
from apigate.dataplane.authorizers.cognito import stringified_claims
from apigate.dataplane.authorizers.identity import (
    InvalidIdentitySource,
    identity_values,
    method_arn,
    parse_identity_sources,
)
from apigate.dataplane.authorizers.result import AuthResult
from apigate.dataplane.authorizers.step import AuthorizerStep
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.regex_budget import is_valid as is_valid_user_regex
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.model import DeployedApi, RestAuthorizer, RestMethod, RouteNode
from apigate.server.message import Request
from apigate.store.base import Conflict, DocumentStore

TYPES = ("TOKEN", "REQUEST", "COGNITO_USER_POOLS")
MAX_TTL = 3600
_LAMBDA_URI = re.compile(r"^arn:aws[\w-]*:apigateway:[^:]+:lambda:path/.+/functions/.+/invocations$")

_TEST_STAGE = "ESTestInvoke-stage"  # the stage name AWS puts in a test invocation's method ARN


def _key(api_id: str, authorizer_id: str) -> str:
    return f"{api_id}/{authorizer_id}"


def _ttl(value: Any) -> int:
    try:
        ttl = int(value)
    except (TypeError, ValueError):
        ttl = -1
    if not 0 <= ttl <= MAX_TTL:
        raise bad_request(f"Invalid authorizer result TTL: must be between 0 and {MAX_TTL} seconds")
    return ttl


def _check(doc: Doc) -> None:
    """AWS's rules for an authorizer document, on create and again after every update."""
    kind = doc.get("type")
    if kind not in TYPES:
        raise bad_request(f"Invalid authorizer type specified: {kind}. Must be one of: [{', '.join(TYPES)}]")
    if not doc.get("name"):
        raise bad_request("Authorizer name must be specified")
    ttl = _ttl(doc.get("authorizerResultTtlInSeconds", DEFAULT_TTL))
    source = doc.get("identitySource")
    if kind == "COGNITO_USER_POOLS":
        arns = doc.get("providerARNs") or []
        if not arns:
            raise bad_request(
                "ProviderARNs need to be specified for an authorizer of type COGNITO_USER_POOLS"
            )
        for arn in arns:
            if PROVIDER_ARN.match(str(arn)) is None:
                raise bad_request(f"Invalid provider ARN specified: {arn}")
    else:
        uri = doc.get("authorizerUri")
        if not uri:
            raise bad_request(f"Authorizer URI must be specified for an authorizer of type {kind}")
        if _LAMBDA_URI.match(str(uri)) is None:
            raise bad_request(f"Invalid Authorizer URI specified: {uri}")
    if kind != "REQUEST" and not source:
        raise bad_request(f"Identity source must be specified for an authorizer of type {kind}")
    if kind == "REQUEST" and ttl > 0 and not source:
        raise bad_request("Identity source must be specified when authorizer result caching is enabled")
    try:
        parse_identity_sources(source, header_only=kind != "REQUEST")
    except InvalidIdentitySource:
        raise bad_request(f"Invalid identity source specified: {source}") from None
    expression = doc.get("identityValidationExpression")
    if expression and not is_valid_user_regex(expression):
        raise bad_request(f"Invalid identity validation expression specified: {expression}") from None


def check_method_authorizer(store: DocumentStore, api_id: str, method: Mapping[str, Any]) -> None:
    """CUSTOM needs a Lambda authorizer of the API, COGNITO_USER_POOLS a Cognito one, named by ``authorizerId``
    (as AWS checks: a method of these types without one would be served unprotected)."""
    auth = method.get("authorizationType")
    authorizer_id = method.get("authorizerId")
    if auth not in ("CUSTOM", "COGNITO_USER_POOLS"):
        return
    doc = store.get("authorizer", _key(api_id, str(authorizer_id))) if authorizer_id else None
    wanted = ("COGNITO_USER_POOLS",) if auth == "COGNITO_USER_POOLS" else ("TOKEN", "REQUEST")
    if doc is None or doc.get("type") not in wanted:
        raise bad_request(
            "Invalid authorizer ID specified. Setting the authorization type to CUSTOM or COGNITO_USER_POOLS "
            "requires a valid authorizer."
        )


_REPLACEABLE = (
    "name",
    "type",
    "authType",
    "authorizerUri",
    "authorizerCredentials",
    "identitySource",
    "identityValidationExpression",
)


def patch_operations(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[dict[str, Any]]:
    """UpdateAuthorizer's operations turning ``current`` into the CreateAuthorizer fields ``wanted``: how a
    re-import or a redeployed template changes an authorizer in place (its id, and so its methods, stay)."""
    operations: list[dict[str, Any]] = [
        {"op": "replace", "path": f"/{key}", "value": wanted.get(key)}
        for key in _REPLACEABLE
        if wanted.get(key) != current.get(key)
    ]
    ttl = wanted.get("authorizerResultTtlInSeconds", DEFAULT_TTL)
    if str(ttl) != str(current.get("authorizerResultTtlInSeconds")):
        operations.append({"op": "replace", "path": "/authorizerResultTtlInSeconds", "value": str(ttl)})
    old, new = list(current.get("providerARNs") or []), list(wanted.get("providerARNs") or [])
    operations += [{"op": "add", "path": "/providerARNs", "value": arn} for arn in new if arn not in old]
    operations += [
        {"op": "remove", "path": "/providerARNs/" + arn.replace("~", "~0").replace("/", "~1")}
        for arn in old
        if arn not in new
    ]
    return operations


def _stamp() -> str:
    return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime())


_PATCHABLE: dict[str, patch.PathHandler] = {
    "name": patch.scalar("name", nullable=False),
    "type": patch.scalar("type", nullable=False),
    "authType": patch.scalar("authType"),
    "authorizerUri": patch.scalar("authorizerUri"),
    "authorizerCredentials": patch.scalar("authorizerCredentials"),
    "identitySource": patch.scalar("identitySource"),
    "identityValidationExpression": patch.scalar("identityValidationExpression"),
    "authorizerResultTtlInSeconds": patch.scalar(
        "authorizerResultTtlInSeconds", convert=_ttl, nullable=False
    ),
    "providerARNs": patch.string_list("providerARNs", item_in_value=True),
}


def _authorizer(ctx: ControlContext, api_id: str, authorizer_id: str) -> Doc:
    rest_api(ctx, api_id)
    doc = ctx.store.get("authorizer", _key(api_id, authorizer_id))
    if doc is None:
        raise not_found("Invalid Authorizer identifier specified")
    return doc


def _save(ctx: ControlContext, api_id: str, doc: Doc) -> None:
    try:  # names are unique in an API: the store's rule (uniqueness.RULES)
        ctx.store.put("authorizer", _key(api_id, doc["id"]), doc, parent=api_id)
    except Conflict:
        raise bad_request(
            f"Authorizer name must be unique. Authorizer {doc['name']} already exists in this RestApi."
        ) from None


async def create_authorizer(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    if ctx.store.get("restapi", api_id) is None:  # what AWS answers for an unknown API here, as recorded
        raise conflict("Unable to complete operation due to concurrent modification. Please try again later.")
    doc = drop_none(
        {
            "id": short_id(6),
            "name": params.get("name"),
            "type": params.get("type"),
            "providerARNs": params.get("providerARNs") or None,
            "authType": params.get("authType"),
            "authorizerUri": params.get("authorizerUri"),
            "authorizerCredentials": params.get("authorizerCredentials"),
            "identitySource": params.get("identitySource"),
            "identityValidationExpression": params.get("identityValidationExpression"),
            "authorizerResultTtlInSeconds": params.get("authorizerResultTtlInSeconds", DEFAULT_TTL),
        }
    )
    _check(doc)  # AWS checks the document before it looks the API up
    rest_api(ctx, api_id)
    _save(ctx, api_id, doc)
    return doc


async def get_authorizer(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _authorizer(ctx, params["restApiId"], params["authorizerId"])


async def get_authorizers(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    rest_api(ctx, api_id)
    return page(ctx.store.list("authorizer", api_id), params)


async def update_authorizer(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    doc = _authorizer(ctx, api_id, params["authorizerId"])
    patch.apply(doc, params.get("patchOperations") or [], _PATCHABLE)
    _check(doc)
    _save(ctx, api_id, doc)
    return doc


async def delete_authorizer(ctx: ControlContext, params: dict[str, Any]) -> None:
    api_id = params["restApiId"]
    authorizer_id = params["authorizerId"]
    _authorizer(ctx, api_id, authorizer_id)
    for res in ctx.store.list("resource", api_id):
        for verb, method in (res.get("resourceMethods") or {}).items():
            if method.get("authorizerId") == authorizer_id and method.get("authorizationType") in (
                "CUSTOM",
                "COGNITO_USER_POOLS",
            ):
                raise bad_request(
                    f"Cannot delete authorizer, is referenced in method: {verb}/{res['path']}"
                )
    ctx.store.delete("authorizer", _key(api_id, authorizer_id))


async def flush_stage_authorizers_cache(ctx: ControlContext, params: dict[str, Any]) -> None:
    api_id = params["restApiId"]
    name = params["stageName"]
    rest_api(ctx, api_id)
    if ctx.store.get("stage", f"{api_id}/{name}") is None:
        raise not_found("Invalid Stage identifier specified")
    if ctx.pipeline is not None:
        ctx.pipeline.state.authorizers.flush(api_id, name)


async def test_invoke_authorizer(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    api = rest_api(ctx, api_id)
    doc = _authorizer(ctx, api_id, params["authorizerId"])
    compiled = compile_authorizer(doc, params.get("stageVariables") or {})
    inv = _test_invocation(ctx, api, params)
    step = _step(ctx)
    inv.log(f"Starting authorizer: {compiled.id} for request: {inv.request_id}")
    started = time.perf_counter()
    status = 200
    result: AuthResult | None = None
    claims: dict[str, Any] | None = None
    try:
        if compiled.type == "COGNITO_USER_POOLS":
            token = (
                inv.request.header(compiled.identity_sources[0][1]) if compiled.identity_sources else None
            )
            if not token:
                inv.log("Unauthorized request: the token is missing")
                status = 401
            else:
                claims = await step.cognito.verify(inv, compiled, token)
        else:
            result = await _invoke_lambda(step, inv, compiled)
    except GatewayError as error:
        status = error.response_type.value.status
    latency = int((time.perf_counter() - started) * 1000)
    if status == 200:
        inv.log("Successfully completed authorizer execution")
    stamp = _stamp()
    first, *rest = inv.test_log or [""]
    # AWS's API reference: clientStatus is 0 when the authorizer succeeded, else what the client would get.
    answer: Doc = {
        "clientStatus": 0 if status == 200 else status,
        "log": "\n".join([first, *(f"{stamp} : {line}" for line in rest)]) + "\n",
        "latency": latency,
    }
    if result is not None:
        answer["principalId"] = result.principal_id
        if result.policy is not None:
            answer["policy"] = result.policy.document
    if claims is not None:
        answer["claims"] = stringified_claims(claims)
    return answer


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "CreateAuthorizer": partial(create_authorizer, ctx),
        "GetAuthorizer": partial(get_authorizer, ctx),
        "GetAuthorizers": partial(get_authorizers, ctx),
        "UpdateAuthorizer": partial(update_authorizer, ctx),
        "DeleteAuthorizer": partial(delete_authorizer, ctx),
        "TestInvokeAuthorizer": partial(test_invoke_authorizer, ctx),
        "FlushStageAuthorizersCache": partial(flush_stage_authorizers_cache, ctx),
    }


def _step(ctx: ControlContext) -> AuthorizerStep:
    assert ctx.pipeline is not None
    for step in ctx.pipeline.request_steps:
        if isinstance(step, AuthorizerStep):
            return step
    raise AssertionError("the pipeline has no authorizer step")


async def _invoke_lambda(step: AuthorizerStep, inv: Invocation, authorizer: RestAuthorizer) -> AuthResult:
    """The function's answer as the data plane would read it, without the cache or a method to check against."""
    values = identity_values(inv, authorizer)
    if authorizer.type == "TOKEN":
        if values is None:
            inv.log("Unauthorized request: the incoming identity is missing or empty")
            raise GatewayError(ResponseType.UNAUTHORIZED)
        token = values[0]
        inv.log(f"Incoming identity: {'*' * max(0, len(token) - 3)}{token[-3:]}")
        if authorizer.validation is not None and authorizer.validation.fullmatch(token) is None:
            inv.log("Unauthorized request: the incoming identity does not match the validation expression")
            raise GatewayError(ResponseType.UNAUTHORIZED)
    return await step.lambdas.call(inv, authorizer, values or [], method_arn(inv))


def _test_invocation(ctx: ControlContext, api: Doc, params: dict[str, Any]) -> Invocation:
    """A request as TestInvokeAuthorizer describes it, on a stage that exists only for the test."""
    target = urlsplit(params.get("pathWithQueryString") or "/")
    path = target.path or "/"
    headers: list[tuple[str, str]] = list((params.get("headers") or {}).items())
    for name, values in (params.get("multiValueHeaders") or {}).items():
        headers += [(name, value) for value in values]
    request = Request(
        "GET", path, target.query, headers, (params.get("body") or "").encode(), ("127.0.0.1", 0)
    )
    roots = [doc for doc in ctx.store.list("resource", api["id"]) if doc.get("parentId") is None]
    root_id = roots[0]["id"] if roots else ""
    deployed = DeployedApi(
        api_id=api["id"],
        api_name=api.get("name", ""),
        stage=_TEST_STAGE,
        deployment_id="test-invoke-deployment",
        stage_variables=dict(params.get("stageVariables") or {}),
        root=RouteNode(root_id, "/"),
        binary_media_types=tuple(api.get("binaryMediaTypes") or ()),
        api_key_source=api.get("apiKeySource", "HEADER"),
        region=ctx.region_of(api["id"]),
        account_id=ctx.settings.account_id,
    )
    inv = Invocation(
        request, deployed, path, f"/{_TEST_STAGE}{path}", f"{api['id']}.execute-api.localhost", test_log=[]
    )
    inv.method = RestMethod("GET", root_id, path, "CUSTOM", False, None, {})
    inv.log(f"Execution log for request {inv.request_id}")
    return inv
