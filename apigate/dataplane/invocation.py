"""One request's journey through the data plane, as a single object the steps enrich in turn."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from apigate.aws.ids import extended_request_id, request_id, trace_id, trace_root
from apigate.dataplane.request_path import canonical_segments
from apigate.model import DeployedApi, KeyPlan, RestMethod
from apigate.server.message import Request, Response

if TYPE_CHECKING:
    from apigate.aws.identity import Identity
    from apigate.dataplane.authorizers.result import AuthResult


@dataclass(slots=True)
class Invocation:
    request: Request
    api: DeployedApi
    path: str  # the path below the stage as sent (still percent-encoded, as AWS passes it), from "/"
    stage_path: str  # the same with the stage in front: requestContext.path
    domain_name: str
    request_id: str = field(default_factory=request_id)
    extended_request_id: str = field(default_factory=extended_request_id)
    start_epoch_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    method: RestMethod | None = None
    path_parameters: dict[str, str] = field(default_factory=dict)
    response: Response | None = None
    test_log: list[str] | None = None  # set by TestInvokeMethod, which returns the execution log
    # The same lines for the stage's execution log, when its method setting logging/loglevel is INFO or ERROR.
    execution_log: list[str] | None = None
    span: Any = None  # the request's OpenTelemetry span, on a traced stage (observe/tracing.py)
    # $context.error.validationErrorString of a failed request validation, for gateway responses.
    validation_error: str | None = None
    # $input.params() of this request, built the first time a mapping template needs them.
    mapping_params: dict[str, dict[str, str]] | None = None
    # what the request template wrote to $context.requestOverride: response templates see it too, as on AWS
    request_override: dict[str, object] | None = None
    # $context, with the step state it was built from (mapping/context.py): built once, rebuilt only when a
    # step has since changed what it shows (the matched method, the authorizer's answer, the signer, the key).
    context_cache: tuple[tuple[object, ...], dict[str, object]] | None = None
    _query_pairs: list[tuple[str, str]] | None = None
    _trace_id: str | None = None
    started: float = field(default_factory=time.perf_counter)  # for Latency
    api_key: str | None = None  # $context.identity.apiKey, once the key was accepted
    api_key_id: str | None = None
    key_plan: KeyPlan | None = None  # the key's usage plan on this stage
    error_type: str | None = None  # the gateway response type's name when a step raised GatewayError
    integration_ms: float | None = None  # IntegrationLatency, when the integration was called
    cache_key: str | None = None  # set on a cache miss (or an invalidation): the response is stored under it
    cache_status: int = 0  # 0: not cached, 1: hit, 2: miss
    cache_warning: bool = False  # an unauthorized Cache-Control: max-age=0 was ignored (and says so)
    authorizer: AuthResult | None = None  # what a CUSTOM or Cognito authorizer said: $context.authorizer
    iam_identity: Identity | None = None  # who signed the request (AWS_IAM methods): $context.identity.*
    # The resource policy explicitly allowed the call: a Lambda authorizer's silence then suffices (Table A).
    policy_allowed: bool = False
    # The Lambda proxy event's ``path`` when it is not ``path``: under a custom domain, AWS sends the whole
    # path, base path included (``/v1/pets``), while routing and ``resource`` see what is below it.
    event_path: str | None = None
    # The path below the stage as routing sees it (decoded, empty and dot segments resolved): the router, the
    # method ARN and every key derive from these, never from ``path`` (see request_path.py).
    segments: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.segments = canonical_segments(self.path)

    def log(self, line: str) -> None:
        if self.test_log is not None:
            self.test_log.append(line)
        elif self.execution_log is not None:
            self.execution_log.append(line)

    @property
    def trace_id(self) -> str:
        """X-Amzn-Trace-Id: the caller's trace root if it sent one, else a new one; made on first use."""
        trace = self._trace_id
        if trace is None:
            # A scan by length, not request.header(): that builds the lower-cased header index, which most
            # requests never need otherwise (measured: ~14% of a MOCK request's throughput).
            sent = None
            for name, value in self.request.headers:
                if len(name) == 15 and name.lower() == "x-amzn-trace-id":
                    sent = value
            trace = self._trace_id = trace_root(sent) or trace_id(self.start_epoch_ms // 1000)
        return trace

    @property
    def query_pairs(self) -> list[tuple[str, str]]:
        """The query string's pairs in order, parsed the first time a step asks (read-only: shared)."""
        pairs = self._query_pairs
        if pairs is None:
            pairs = self._query_pairs = parse_qsl(self.request.query_string, keep_blank_values=True)
        return pairs
