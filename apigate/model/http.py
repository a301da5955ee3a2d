"""Compiled HTTP API (apigatewayv2): routes by route key, most specific first, frozen per deployment."""

from __future__ import annotations

from dataclasses import dataclass, field

from apigate.model.access_log import AccessLogFormat
from apigate.state import Limit


@dataclass(frozen=True, slots=True)
class ParameterMap:
    """One parameter mapping: ``append|overwrite|remove:header.X``, ``...:querystring.X``, ``overwrite:path``,
    ``overwrite:statuscode``; ``source`` is a ``$request.*``, ``$response.*``, ``$context.*`` or
    ``$stageVariables.*`` reference, or literal text."""

    action: str
    location: str  # header | querystring | path | statuscode
    name: str
    source: str


@dataclass(frozen=True, slots=True)
class HttpIntegration:
    id: str
    type: str  # AWS_PROXY | HTTP_PROXY
    uri: str
    method: str | None  # IntegrationMethod (HTTP_PROXY); None or ANY: the request's own verb
    payload_format_version: str  # "1.0" | "2.0"
    timeout_seconds: float
    request_parameters: tuple[ParameterMap, ...] = ()
    response_parameters: dict[str, tuple[ParameterMap, ...]] = field(default_factory=dict)  # by status code
    subtype: str | None = None  # IntegrationSubtype: an AWS service integration (SQS-SendMessage…)
    credentials: str | None = None  # CredentialsArn: the role a service integration signs as
    service_parameters: tuple[tuple[str, str], ...] = ()  # a subtype's RequestParameters: (name, source)
    # a private integration (ConnectionType VPC_LINK): ``uri`` is the mapped target, the request's rawPath
    # (the stage included for a named stage, as AWS forwards it) goes on it
    private: bool = False


@dataclass(frozen=True, slots=True)
class JwtAuthorizer:
    id: str
    name: str
    issuer: str
    audience: tuple[str, ...]
    identity_source: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LambdaAuthorizer:
    id: str
    name: str
    function: str
    payload_format_version: str
    simple_responses: bool
    ttl_seconds: int
    identity_source: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HttpRoute:
    route_key: str
    method: str | None  # None for $default; ANY matches every verb
    segments: tuple[str, ...]  # "{name}" for a variable, "{name+}" (last) for greedy
    integration: HttpIntegration | None
    authorizer: JwtAuthorizer | LambdaAuthorizer | None = None
    scopes: tuple[str, ...] = ()
    limit: Limit | None = (
        None  # the stage's throttle for this route (RouteSettings, else DefaultRouteSettings)
    )

    @property
    def greedy(self) -> bool:
        return bool(self.segments) and self.segments[-1].endswith("+}")

    def specificity(self) -> tuple[int, ...]:
        """Sort key: literal segments beat variables beat greedy, position by position; a verb beats ANY."""
        ranks = []
        for part in self.segments:
            ranks.append(2 if part.endswith("+}") else 1 if part.startswith("{") else 0)
        return (*ranks, 3, 1 if self.method == "ANY" else 0)


@dataclass(frozen=True, slots=True)
class Cors:
    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True, slots=True)
class DeployedHttpApi:
    api_id: str
    stage: str
    deployment_id: str
    account_id: str
    region: str
    stage_variables: dict[str, str]
    routes: tuple[HttpRoute, ...]  # most specific first, $default excluded
    default_route: HttpRoute | None
    cors: Cors | None = None
    access_log: AccessLogFormat | None = None  # the stage's AccessLogSettings, compiled
    api_name: str = ""  # the metrics' ApiName label and the console's live view
    execute_api_disabled: bool = False  # DisableExecuteApiEndpoint: only custom domains reach the API
