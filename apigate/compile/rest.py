"""Compiling a deployment: AWS documents in, a frozen routing tree out, done once per stage change.

Everything a request would otherwise redo is done here: JSON schemas compiled to Python (fastjsonschema),
VTL templates parsed, parameter mapping expressions parsed, selection patterns compiled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import fastjsonschema
import orjson

from apigate.aws.errors import bad_request
from apigate.compile.access_log import compile_access_log
from apigate.compile.authorizers import compile_authorizer
from apigate.compile.gateway_responses import compile_responses
from apigate.compile.parameters import InvalidMapping, parse_mappings
from apigate.compile.resource_policy import attach_policy, endpoint_type
from apigate.compile.schemas import bound_schema_patterns
from apigate.config import Settings
from apigate.dataplane.mapping import Template
from apigate.dataplane.mapping.templates import compile_template
from apigate.dataplane.regex_budget import UserRegex, UserRegexError, compile_user_regex
from apigate.model import (
    BodyModel,
    CacheSetting,
    DeployedApi,
    IntegrationResponse,
    MethodIntegration,
    ParameterMapping,
    RequestValidation,
    RestAuthorizer,
    RestMethod,
    RouteNode,
    StageCache,
)
from apigate.state import Limit

# {"restApi": RestApi document, "resources": [Resource], "models": [Model], "validators": [RequestValidator]}
Snapshot = Mapping[str, Any]

_MODEL_URI = re.compile(
    r"^https://apigateway\.amazonaws\.com/restapis/(?P<api>[^/]+)/models/(?P<name>[^/#]+)"
)
_DRAFT_4 = "http://json-schema.org/draft-04/schema#"

# cacheClusterSize (GB) -> the stage cache's memory budget in bytes.
CACHE_SIZES = ("0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237")
MAX_CACHED_BYTES = 1_048_576
_AWS_ACCOUNT_LIMIT = Limit("account", 10000.0, 5000)  # AWS's default: 10,000 rps, burst 5,000 per Region


@dataclass(frozen=True, slots=True)
class StageDefaults:
    """What every stage of this gateway is compiled with, from its settings (not module globals: two gateways
    in one process, or a test, may differ)."""

    # The account-level bucket every method of every stage draws from: `apigate serve --account-rate --account-burst`.
    account_limit: Limit = _AWS_ACCOUNT_LIMIT
    # `apigate serve --cache-budget-scale` multiplies every cache budget (for tests and small hosts).
    cache_budget_scale: float = 1.0
    # `apigate serve --vpc-link-target ARN=URL`: what a VPC link's load balancer stands for here.
    vpc_link_targets: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, settings: Settings) -> StageDefaults:
        limit = Limit("account", float(settings.account_rate), int(settings.account_burst))
        return cls(limit, float(settings.cache_budget_scale), tuple(settings.vpc_link_targets))

    def cache_budget(self, size: str) -> int:
        """The stage cache's budget in bytes for a ``cacheClusterSize`` in GB (GiB, times the budget scale)."""
        return max(1, int(float(size) * 2**30 * self.cache_budget_scale))


def snapshot_of(
    rest_api: Mapping[str, Any],
    resources: list[dict[str, Any]],
    *,
    models: list[dict[str, Any]] | None = None,
    validators: list[dict[str, Any]] | None = None,
    gateway_responses: list[dict[str, Any]] | None = None,
    authorizers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "restApi": dict(rest_api),
        "resources": resources,
        "models": models or [],
        "validators": validators or [],
        "gatewayResponses": gateway_responses or [],
        "authorizers": authorizers or [],
    }


class Compiler:
    """What compiling one API's methods shares: its models (each schema compiled once) and validators."""

    def __init__(self, snapshot: Snapshot, stage_variables: Mapping[str, str] | None = None) -> None:
        self.api_id: str = snapshot["restApi"]["id"]
        # Authorizers are compiled per stage: their URIs and provider ARNs may name stage variables.
        self._authorizer_docs = {doc["id"]: doc for doc in snapshot.get("authorizers") or ()}
        self._authorizers: dict[str, RestAuthorizer] = {}
        self._stage_variables = stage_variables or {}
        self._schemas: dict[str, Any] = {}
        for model in snapshot.get("models") or ():
            try:
                self._schemas[model["name"]] = orjson.loads(model.get("schema") or "{}")
            except orjson.JSONDecodeError:
                self._schemas[model["name"]] = {}
        self._validators = {doc["id"]: doc for doc in snapshot.get("validators") or ()}
        self._compiled: dict[str, BodyModel] = {}
        self.vpc_links: dict[str, str] = {}  # VPC link id -> the address its load balancer stands for here

    def through_vpc_link(self, integration: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """An integration through a VPC link reaches the mapped address: the URI's path on the link's target
        (the URI's own host when the target is not mapped, as written)."""
        if integration is None or integration.get("connectionType") != "VPC_LINK":
            return integration
        link = str(integration.get("connectionId") or "")
        found = re.fullmatch(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}", link)
        if found is not None:
            link = self._stage_variables.get(found.group(1), "")
        address = self.vpc_links.get(link)
        uri = str(integration.get("uri") or "")
        if address is None or "://" not in uri:
            return integration
        rest = uri.split("://", 1)[1]
        path = rest[rest.index("/") :] if "/" in rest else ""
        return {**integration, "uri": address + path}

    def _resolve(self, uri: str) -> Any:
        found = _MODEL_URI.match(uri)
        if found is None or found.group("api") != self.api_id or found.group("name") not in self._schemas:
            raise bad_request(f"Invalid model schema specified: unresolvable reference {uri}")
        return self._schemas[found.group("name")]

    def model(self, name: str) -> BodyModel | None:
        if name in self._compiled:
            return self._compiled[name]
        schema = self._schemas.get(name)
        if schema is None:
            if name != "Empty":
                return None
            schema = {"type": "object"}  # AWS's default model, for APIs whose models were never listed
        if isinstance(schema, dict) and "$schema" not in schema:
            schema = {**schema, "$schema": _DRAFT_4}
        try:
            validate = fastjsonschema.compile(schema, handlers={"https": self._resolve}, use_default=False)
            timed = bound_schema_patterns(validate)
        except (fastjsonschema.JsonSchemaDefinitionException, UserRegexError) as exc:
            raise bad_request(f"Invalid model schema specified for model {name}: {exc}") from exc
        compiled = BodyModel(name, validate, timed)
        self._compiled[name] = compiled
        return compiled

    def authorizer(self, doc: Mapping[str, Any]) -> RestAuthorizer | None:
        """The compiled authorizer of a CUSTOM or COGNITO_USER_POOLS method (each compiled once per stage)."""
        if doc.get("authorizationType") not in ("CUSTOM", "COGNITO_USER_POOLS"):
            return None
        authorizer_id = doc.get("authorizerId") or ""
        if authorizer_id not in self._authorizers:
            found = self._authorizer_docs.get(authorizer_id)
            if found is None:
                return None
            self._authorizers[authorizer_id] = compile_authorizer(found, self._stage_variables)
        return self._authorizers[authorizer_id]

    def validation(self, doc: Mapping[str, Any]) -> RequestValidation | None:
        validator = self._validators.get(doc.get("requestValidatorId") or "")
        if validator is None:
            return None
        required: tuple[tuple[str, str], ...] = ()
        if validator.get("validateRequestParameters"):
            # AWS lists the missing names in the order of the sorted mapping expressions.
            for expression, needed in sorted((doc.get("requestParameters") or {}).items()):
                parts = expression.split(".", 3)
                if needed and len(parts) == 4 and parts[:2] == ["method", "request"]:
                    required += ((parts[2], parts[3]),)
        body_models: dict[str, BodyModel] | None = None
        if validator.get("validateRequestBody"):
            body_models = {}
            for content_type, name in (doc.get("requestModels") or {}).items():
                compiled = self.model(name)
                if compiled is not None:
                    body_models[content_type.lower()] = compiled
            if not body_models:
                empty = self.model("Empty")
                assert empty is not None
                body_models["$default"] = empty
        if not required and body_models is None:
            return None
        return RequestValidation(required, body_models)


def compile_stage(
    snapshot: Snapshot,
    stage: Mapping[str, Any],
    *,
    region: str,
    account_id: str,
    defaults: StageDefaults = StageDefaults(),
) -> DeployedApi:
    api = snapshot["restApi"]
    compiler = Compiler(snapshot, stage.get("variables") or {})
    targets = dict(defaults.vpc_link_targets)
    compiler.vpc_links = {
        link: targets[arn] for link, arn in (snapshot.get("vpcLinks") or {}).items() if arn in targets
    }
    resources = {doc["id"]: doc for doc in snapshot["resources"]}
    nodes = {rid: RouteNode(rid, doc["path"]) for rid, doc in resources.items()}
    root: RouteNode | None = None
    for rid, doc in resources.items():
        node = nodes[rid]
        for verb, method_doc in (doc.get("resourceMethods") or {}).items():
            node.methods[verb] = compile_method(method_doc, rid, doc["path"], compiler)
        parent_id = doc.get("parentId")
        if parent_id is None:
            root = node
            continue
        parent = nodes[parent_id]
        part: str = doc["pathPart"]
        if part.startswith("{") and part.endswith("+}"):
            parent.greedy = (part[1:-2], node)
        elif part.startswith("{") and part.endswith("}"):
            parent.variable = (part[1:-1], node)
        else:
            parent.literal[part] = node
    if root is None:
        raise ValueError("deployment snapshot has no root resource")
    _apply_method_settings(nodes.values(), api["id"], stage, defaults.account_limit)
    attach_policy(nodes.values(), api, region=region, account_id=account_id)  # the resource policy, parsed once
    return DeployedApi(
        api_id=api["id"],
        api_name=api.get("name", ""),
        stage=stage["stageName"],
        deployment_id=stage["deploymentId"],
        stage_variables=dict(stage.get("variables") or {}),
        root=root,
        binary_media_types=tuple(api.get("binaryMediaTypes") or ()),
        api_key_source=api.get("apiKeySource", "HEADER"),
        region=region,
        account_id=account_id,
        cache=_stage_cache(stage, defaults),
        gateway_responses=compile_responses(snapshot.get("gatewayResponses") or ()),
        endpoint_type=endpoint_type(api),
        execute_api_disabled=bool(api.get("disableExecuteApiEndpoint")),
        access_log=compile_access_log(stage.get("accessLogSettings")),
        tracing=bool(stage.get("tracingEnabled")),
        literal_routes=literal_routes(root),
    )


def literal_routes(root: RouteNode) -> dict[tuple[str, ...], RouteNode]:
    """Every resource whose path has no ``{param}``, by its segments."""
    found: dict[tuple[str, ...], RouteNode] = {}
    todo: list[tuple[tuple[str, ...], RouteNode]] = [((), root)]
    while todo:
        path, node = todo.pop()
        found[path] = node
        todo.extend(((*path, part), child) for part, child in node.literal.items())
    return found


def setting_key_path(key: str) -> tuple[str, str] | None:
    """A methodSettings key (``*/*``, ``~1pets/GET``, Terraform's ``pets/GET``) -> (resource path, verb)."""
    if key == "*/*":
        return None
    path, _, verb = key.rpartition("/")
    path = path.replace("~1", "/").replace("~0", "~")
    if not path.startswith("/"):
        path = "/" + path
    return path, verb


def _stage_cache(stage: Mapping[str, Any], defaults: StageDefaults) -> StageCache | None:
    if not stage.get("cacheClusterEnabled"):
        return None
    size = str(stage.get("cacheClusterSize") or "0.5")
    return StageCache(defaults.cache_budget(size), size)


def _apply_method_settings(nodes: Any, api_id: str, stage: Mapping[str, Any], account_limit: Limit) -> None:
    """Each method's stage throttle (its own setting, else ``*/*``), the account's, and its cache setting."""
    settings: dict[str, Mapping[str, Any]] = {}
    default: Mapping[str, Any] | None = None
    for key, setting in (stage.get("methodSettings") or {}).items():
        target = setting_key_path(key)
        if target is None:
            default = setting
        else:
            settings[f"{target[0]}/{target[1]}"] = setting
    caching = bool(stage.get("cacheClusterEnabled"))
    name = stage["stageName"]
    for node in nodes:
        for verb, method in list(node.methods.items()):
            key = f"{node.path}/{verb}"
            own = settings.get(key)
            setting = own if own is not None else default
            limits: tuple[Limit, ...] = (account_limit,)
            if setting is not None and "throttlingRateLimit" in setting:
                stage_limit = Limit(
                    f"m:{api_id}:{name}:{key}",
                    float(setting.get("throttlingRateLimit", 10000.0)),
                    int(setting.get("throttlingBurstLimit", 5000)),
                )
                limits = (stage_limit, account_limit)
            cache = None
            # `*/*` turns caching on for GET methods only; a method's own setting for that method whatever its verb.
            enabled = caching and setting is not None and bool(setting.get("cachingEnabled"))
            if enabled and setting is not None and (own is not None or verb == "GET"):
                cache = _cache_setting(method, setting)
            level = str((setting or {}).get("loggingLevel") or "OFF").upper()
            node.methods[verb] = replace(
                method,
                setting_key=key,
                limits=limits,
                cache=cache,
                log_level=level if level in ("INFO", "ERROR") else None,
                data_trace=bool((setting or {}).get("dataTraceEnabled")),
            )


def _cache_setting(method: RestMethod, setting: Mapping[str, Any]) -> CacheSetting | None:
    ttl = int(setting.get("cacheTtlInSeconds", 300))
    if ttl <= 0:
        return None
    integration = method.document.get("methodIntegration") or {}
    parameters: list[tuple[str, str]] = []
    for expression in integration.get("cacheKeyParameters") or ():
        parts = str(expression).split(".", 3)
        if len(parts) == 4 and parts[:2] == ["method", "request"]:
            parameters.append((parts[2], parts[3]))
    return CacheSetting(
        ttl=float(ttl),
        namespace=str(integration.get("cacheNamespace") or method.resource_id),
        key_parameters=tuple(parameters),
        require_authorization=bool(setting.get("requireAuthorizationForCacheControl", True)),
        unauthorized_strategy=str(
            setting.get("unauthorizedCacheControlHeaderStrategy", "SUCCEED_WITH_RESPONSE_HEADER")
        ),
    )


def compile_method(
    doc: Mapping[str, Any], resource_id: str, resource_path: str, compiler: Compiler
) -> RestMethod:
    integration = compiler.through_vpc_link(doc.get("methodIntegration"))
    return RestMethod(
        http_method=doc["httpMethod"],
        resource_id=resource_id,
        resource_path=resource_path,
        authorization_type=doc.get("authorizationType", "NONE"),
        api_key_required=bool(doc.get("apiKeyRequired", False)),
        integration=None if integration is None else compile_integration(integration),
        document=doc,
        validation=compiler.validation(doc),
        authorizer=compiler.authorizer(doc),
        authorization_scopes=tuple(doc.get("authorizationScopes") or ()),
    )


def compile_templates(templates: Mapping[str, str] | None) -> dict[str, Template]:
    """Parse each template once; content types compare lower-case, as media types do."""
    compiled: dict[str, Template] = {}
    for content_type, source in (templates or {}).items():
        compiled[content_type.lower()] = compile_template(source or "")
    return compiled


def _mappings(parameters: Mapping[str, str] | None) -> tuple[ParameterMapping, ...]:
    try:
        return parse_mappings(parameters)
    except InvalidMapping as exc:
        raise bad_request(str(exc)) from exc


def compile_integration(doc: Mapping[str, Any]) -> MethodIntegration:
    responses = tuple(
        IntegrationResponse(
            status_code=code,
            selection_pattern=_selection(response.get("selectionPattern")),
            response_parameters=_mappings(response.get("responseParameters")),
            response_templates=compile_templates(response.get("responseTemplates")),
            content_handling=response.get("contentHandling"),
        )
        for code, response in (doc.get("integrationResponses") or {}).items()
    )
    return MethodIntegration(
        type=doc["type"],
        http_method=doc.get("httpMethod"),
        uri=doc.get("uri"),
        request_parameters=_mappings(doc.get("requestParameters")),
        request_templates=compile_templates(doc.get("requestTemplates")),
        passthrough_behavior=doc.get("passthroughBehavior", "WHEN_NO_MATCH"),
        timeout_seconds=int(doc.get("timeoutInMillis", 29000)) / 1000.0,
        responses=responses,
        content_handling=doc.get("contentHandling"),
        uri_is_template=any(mark in (doc.get("uri") or "") for mark in ("{", "$")),
        credentials=doc.get("credentials"),
    )


def _selection(pattern: str | None) -> UserRegex | None:
    # AWS treats an empty pattern like a missing one: the default response. Patterns match the whole value.
    # The value (an error message, a status) comes from the backend: linear-time or time-bounded matching.
    if not pattern:
        return None
    try:
        return compile_user_regex(pattern, dotall=True)
    except UserRegexError:
        return compile_user_regex(re.escape(pattern))
