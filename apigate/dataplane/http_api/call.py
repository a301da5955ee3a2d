"""One request to an HTTP API, as the route, authorizer and integration steps share it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apigate.aws.ids import request_id
from apigate.dataplane.request_path import canonical_segments
from apigate.model.http import DeployedHttpApi, HttpRoute
from apigate.server.message import Request


@dataclass(slots=True)
class HttpCall:
    """One request to an HTTP API: what the route, authorizer and integration steps share."""

    request: Request
    api: DeployedHttpApi
    path: str  # below the stage, still percent-encoded
    raw_path: str  # rawPath: with the stage segment for a named stage
    domain_name: str
    start_epoch_ms: int
    route: HttpRoute | None = None
    path_parameters: dict[str, str] = field(default_factory=dict)
    authorizer: dict[str, Any] | None = None  # requestContext.authorizer
    request_id: str = field(default_factory=request_id)
    integration_ms: float | None = None  # time in the integration, when it was called (IntegrationLatency)
    span: Any = None  # its OpenTelemetry span (a RequestTrace) under `serve --otlp-endpoint`
    # The path as routing sees it (decoded, empty and dot segments resolved): the router and the route ARN
    # derive from these, never from ``path`` (see request_path.py).
    segments: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.segments = canonical_segments(self.path)
