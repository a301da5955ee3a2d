"""Compiled WebSocket API (apigatewayv2, protocol WEBSOCKET): routes by route key, frozen per deployment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson

from apigate.model.access_log import AccessLogFormat
from apigate.state.base import Limit

if TYPE_CHECKING:
    from apigate.dataplane.mapping import Template
    from apigate.dataplane.regex_budget import UserRegex
    from apigate.server.upstream import ClientIdentity

CONNECT = "$connect"
DISCONNECT = "$disconnect"
DEFAULT = "$default"


@dataclass(frozen=True, slots=True)
class WsIntegrationResponse:
    """An integration response of a non-proxy integration: which statuses it takes (``/regex/`` keys matched
    against the status code; None for ``$default``) and the templates that turn the answer into the message
    a two-way route sends back."""

    pattern: UserRegex | None
    templates: Mapping[str, Template]
    template_selection: str | None = None


@dataclass(frozen=True, slots=True)
class WsIntegration:
    id: str
    type: str  # AWS_PROXY | MOCK | HTTP | HTTP_PROXY
    uri: str
    method: str
    timeout_seconds: float
    # MOCK: what a two-way route sends back (the $default integration response's $default template, as text)
    mock_response: str | None = None
    # AWS to a service: the request templates (by selection key) and the role the call is signed as
    request_templates: Mapping[str, Template] = field(default_factory=dict)
    credentials: str | None = None
    template_selection: str | None = None  # TemplateSelectionExpression: which request template a message uses
    responses: tuple[WsIntegrationResponse, ...] = ()  # AWS and HTTP (non-proxy): /regex/ keys first, $default last


@dataclass(frozen=True, slots=True)
class WsAuthorizer:
    """A REQUEST Lambda authorizer; WebSocket APIs allow it on $connect only."""

    id: str
    name: str
    function: str
    identity_source: tuple[
        str, ...
    ]  # route.request.header.X | route.request.querystring.X | stageVariables.X


@dataclass(frozen=True, slots=True)
class WsRoute:
    route_key: str
    integration: WsIntegration | None
    two_way: bool = False  # a $default route response: the integration's answer goes back to the sender
    authorizer: WsAuthorizer | None = None
    api_key_required: bool = False
    # RequestModels: a message's body is checked against the model ModelSelectionExpression picks (by key)
    request_models: Mapping[str, Callable[[object], object]] = field(default_factory=dict)
    model_selection: RouteSelection | None = None
    limit: Limit | None = None  # the stage's RouteSettings (or DefaultRouteSettings) throttle for this route
    iam: bool = False  # AuthorizationType AWS_IAM ($connect only): a SigV4-signed handshake its policies allow
    # RequestParameters marked Required ($connect): ("header", name) or ("querystring", name)
    required_parameters: tuple[tuple[str, str], ...] = ()
    # The stage's RouteSettings (or DefaultRouteSettings) LoggingLevel and DataTraceEnabled: execution logs
    log_level: str = "OFF"  # OFF | ERROR | INFO
    data_trace: bool = False


@dataclass(frozen=True, slots=True)
class RouteSelection:
    """A route selection expression, parsed once: literal text and ``$request.body`` JSON paths, in order.

    ``$request.body.action`` is one path; ``${request.body.a}/${request.body.b}`` two paths and a literal.
    """

    parts: tuple[str | tuple[str, ...], ...]

    @classmethod
    def parse(cls, expression: str) -> RouteSelection:
        prefix = "request.body"
        if "${" not in expression:
            if expression.startswith("$" + prefix):
                return cls((_path(expression[1 + len(prefix) :]),))
            return cls((expression.replace("\\$", "$"),))
        parts: list[str | tuple[str, ...]] = []
        rest = expression
        while rest:
            start = rest.find("${")
            if start < 0 or (start > 0 and rest[start - 1] == "\\"):
                if start < 0:
                    parts.append(rest.replace("\\$", "$"))
                    break
                parts.append(rest[: start - 1] + "$")
                rest = rest[start + 1 :]
                continue
            end = rest.find("}", start)
            if end < 0:
                parts.append(rest)
                break
            if start:
                parts.append(rest[:start].replace("\\$", "$"))
            variable = rest[start + 2 : end]
            parts.append(_path(variable[len(prefix) :]) if variable.startswith(prefix) else "")
            rest = rest[end + 1 :]
        return cls(tuple(parts))

    def evaluate(self, body: object) -> str:
        """The route key for a parsed JSON body: a missing path gives ``""``, objects and arrays their JSON."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            node = body
            for name in part:
                if isinstance(node, dict):
                    node = node.get(name)
                elif isinstance(node, list) and name.isascii() and name.isdigit() and int(name) < len(node):
                    node = node[int(name)]
                else:
                    node = None
                if node is None:
                    break
            if node is None:
                continue
            if isinstance(node, str):
                out.append(node)
            elif isinstance(node, bool):
                out.append("true" if node else "false")
            else:
                out.append(orjson.dumps(node).decode())
        return "".join(out)


def _path(text: str) -> tuple[str, ...]:
    """``.a.b[0]`` -> ("a", "b", "0")."""
    names = text.replace("[", ".").replace("]", "").strip(".")
    return tuple(n for n in names.split(".") if n) if names else ()


@dataclass(frozen=True, slots=True)
class DeployedWebSocketApi:
    api_id: str
    api_name: str
    stage: str
    deployment_id: str
    account_id: str
    region: str
    stage_variables: dict[str, str]
    routes: dict[str, WsRoute]  # by route key, $connect/$disconnect/$default included
    selection: RouteSelection
    api_key_selection: str = "$request.header.x-api-key"
    has_custom_routes: bool = False  # any route besides $connect, $disconnect and $default
    execute_api_disabled: bool = False  # DisableExecuteApiEndpoint: only custom domains reach the API
    client_identity: ClientIdentity | None = None  # the stage's ClientCertificateId, for HTTPS backends
    access_log: AccessLogFormat | None = None  # the stage's AccessLogSettings, compiled
    # DefaultRouteSettings' LoggingLevel and DataTraceEnabled (for a message no route takes); and whether any
    # route logs at all, so that a stage without execution logs costs its messages nothing
    log_level: str = "OFF"
    data_trace: bool = False
    execution_logging: bool = False

    def route_for(self, message: str | bytes) -> WsRoute | None:
        """The message's route: the one the selection expression names, else $default (where non-JSON messages
        always go), else None."""
        routes = self.routes
        if self.has_custom_routes:
            try:
                body = orjson.loads(message)
            except orjson.JSONDecodeError:
                body = None
            if body is not None:
                key = self.selection.evaluate(body)
                if key not in (CONNECT, DISCONNECT):
                    route = routes.get(key)
                    if route is not None:
                        return route
        return routes.get(DEFAULT)
