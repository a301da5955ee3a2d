"""Compiled REST API: a routing tree of resources, each method with its integration, frozen per deployment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from apigate.model.usage import CacheSetting, StageCache
from apigate.state import Limit

if TYPE_CHECKING:
    from apigate.aws.policy import Policy
    from apigate.dataplane.mapping import Template
    from apigate.dataplane.regex_budget import UserRegex
    from apigate.model.access_log import AccessLogFormat
    from apigate.server.upstream import ClientIdentity


@dataclass(frozen=True, slots=True)
class ParameterSource:
    """A parameter mapping expression's right-hand side, parsed at deploy time.

    ``kind`` is one of: literal, path, querystring, multivaluequerystring, header, multivalueheader, body
    (method request), stageVariables, context, response_header, response_multivalueheader, response_body.
    ``name`` is the parameter name, the literal text, the dotted context path, or the JSONPath of a body
    source (empty for the whole body).
    """

    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class ParameterMapping:
    location: str  # header | querystring | path (integration request); header (method response)
    name: str
    source: ParameterSource


@dataclass(frozen=True, slots=True)
class BodyModel:
    name: str
    validate: Callable[[Any], Any]  # fastjsonschema's compiled validator: raises on the first error
    timed: bool = False  # a ``pattern`` runs on the backtracking engine: validate under a time budget


@dataclass(frozen=True, slots=True)
class RequestValidation:
    """What a method's request validator checks, compiled once per deployment."""

    required_parameters: tuple[tuple[str, str], ...]  # (location, name), in the order AWS reports them
    body_models: Mapping[str, BodyModel] | None  # content type (or $default) -> schema; None: not checked


@dataclass(frozen=True, slots=True)
class IntegrationResponse:
    status_code: str
    selection_pattern: UserRegex | None  # None: the default response
    response_parameters: tuple[ParameterMapping, ...] = ()
    response_templates: Mapping[str, Template] = field(default_factory=dict)
    content_handling: str | None = None


@dataclass(frozen=True, slots=True)
class MethodIntegration:
    type: str  # MOCK | HTTP | HTTP_PROXY | AWS | AWS_PROXY
    http_method: str | None
    uri: str | None
    request_parameters: tuple[ParameterMapping, ...]
    request_templates: Mapping[str, Template]
    passthrough_behavior: str
    timeout_seconds: float
    responses: tuple[IntegrationResponse, ...]
    content_handling: str | None = None
    uri_is_template: bool = True  # holds {placeholders} or stage variables: substituted per request
    credentials: str | None = None  # the role (or keys' owner) an AWS service integration signs as


@dataclass(frozen=True, slots=True)
class CustomResponse:
    """One customised gateway response as a deployment compiles it (a type's own, or DEFAULT_4XX/5XX)."""

    status: int | None  # None: the status of the type being answered
    headers: tuple[tuple[str, ParameterSource], ...]  # gatewayresponse.header.{name} = source
    templates: Mapping[str, Template]  # content type (lower-case) -> parsed template; empty: AWS's body


@dataclass(frozen=True, slots=True)
class RestAuthorizer:
    """A CUSTOM (Lambda) or COGNITO_USER_POOLS authorizer, compiled for one stage (stage variables filled in)."""

    id: str
    name: str
    type: str  # TOKEN | REQUEST | COGNITO_USER_POOLS
    uri: str  # the Lambda invocation URI ("" for Cognito)
    # (kind, name): kind is header, multivalueheader, querystring, multivaluequerystring, stageVariables, context.
    identity_sources: tuple[tuple[str, str], ...]
    validation: UserRegex | None  # identityValidationExpression (TOKEN: the token; Cognito: ``aud``)
    ttl_seconds: int  # authorizerResultTtlInSeconds; 0: results are not cached
    user_pools: tuple[tuple[str, str], ...] = ()  # (region, pool id) of each provider ARN


@dataclass(frozen=True, slots=True)
class RestMethod:
    http_method: str
    resource_id: str
    resource_path: str
    authorization_type: str
    api_key_required: bool
    integration: MethodIntegration | None
    document: Mapping[str, Any]  # the AWS Method document, for what later steps need rarely
    validation: RequestValidation | None = None  # None: the method has no request validator
    setting_key: str = ""  # "/path/VERB": how usage plans and method settings name this method
    limits: tuple[Limit, ...] = ()  # stage method throttle, then the account's, compiled per stage
    cache: CacheSetting | None = None  # None: responses of this method are not cached
    authorizer: RestAuthorizer | None = None  # CUSTOM and COGNITO_USER_POOLS methods only
    authorization_scopes: tuple[str, ...] = ()  # Cognito: the access token must carry one of these
    resource_policy: Policy | None = (
        None  # the API's resource policy, compiled at deploy time (None: no policy)
    )
    log_level: str | None = None  # stage method setting logging/loglevel: INFO | ERROR (None: OFF)
    data_trace: bool = False  # logging/dataTrace: request and response bodies and headers in execution logs


@dataclass(slots=True)
class RouteNode:
    """One resource in the tree. Built at deploy time, never mutated after the snapshot is published."""

    resource_id: str
    path: str
    methods: dict[str, RestMethod] = field(default_factory=dict)
    literal: dict[str, RouteNode] = field(default_factory=dict)
    variable: tuple[str, RouteNode] | None = None  # {name}
    greedy: tuple[str, RouteNode] | None = None  # {name+}


@dataclass(frozen=True, slots=True)
class DeployedApi:
    api_id: str
    api_name: str
    stage: str
    deployment_id: str
    stage_variables: Mapping[str, str]
    root: RouteNode
    binary_media_types: tuple[str, ...]
    api_key_source: str
    region: str
    account_id: str
    cache: StageCache | None = None  # the stage's cache cluster, when enabled
    # Customised gateway responses by type (DEFAULT_4XX/5XX included); empty: AWS's defaults for every type.
    gateway_responses: Mapping[str, CustomResponse] = field(default_factory=dict)
    endpoint_type: str = "EDGE"  # PRIVATE: served only through a private listener (`serve --private-listen`)
    # The stage's client certificate (clientCertificateId), presented to HTTPS backends of HTTP integrations.
    client_identity: ClientIdentity | None = None
    # A canary release (compile/canary.py): the snapshot that takes canary_percent of the stage's requests.
    canary: DeployedApi | None = None
    canary_percent: float = 0.0
    is_canary: bool = False  # this is a stage's canary ($context.isCanaryRequest)
    execute_api_disabled: bool = False  # disableExecuteApiEndpoint: only custom domains reach the API
    tracing: bool = False  # the stage's tracingEnabled (spans are made only with `serve --otlp-endpoint`)
    access_log: AccessLogFormat | None = None  # the stage's accessLogSettings, compiled (observe/access_log.py)
    # The resources reached by literal segments only, by their segments below the stage (() for the root):
    # routing looks a request up here first (dataplane/routing.py). Empty: the tree is walked.
    literal_routes: Mapping[tuple[str, ...], RouteNode] = field(default_factory=dict)
