"""One request's journey through the data plane, as a single object the steps enrich in turn."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from apigate.aws.ids import request_ids, trace_id, trace_root
from apigate.dataplane.request_path import canonical_segments
from apigate.model import DeployedApi, KeyPlan, RestMethod
from apigate.server.message import Request, Response

if TYPE_CHECKING:
    from apigate.aws.identity import Identity
    from apigate.dataplane.authorizers.result import AuthResult


class Invocation:
    """Built once per request: a class with slots and its own ``__init__``, which costs about two thirds of what
    the dataclass form with 35 defaulted fields did (counted with benchmarks/gateway_cost.py). Class-level
    defaults instead of stores in ``__init__`` cost as much again in slower reads."""

    __slots__ = (
        "_query_pairs",
        "_trace_id",
        "_trace_sent",
        "api",
        "api_key",
        "api_key_id",
        "authorizer",
        "cache_key",
        "cache_status",
        "cache_warning",
        "context_cache",
        "domain_name",
        "error_type",
        "event_path",
        "execution_log",
        "extended_request_id",
        "iam_identity",
        "integration_ms",
        "key_plan",
        "mapping_params",
        "method",
        "path",
        "path_parameters",
        "policy_allowed",
        "request",
        "request_id",
        "request_override",
        "response",
        "segments",
        "span",
        "stage_path",
        "start_epoch_ms",
        "started",
        "test_log",
        "validation_error",
    )

    request: Request
    api: DeployedApi
    path: str  # the path below the stage as sent (still percent-encoded, as AWS passes it), from "/"
    stage_path: str  # the same with the stage in front: requestContext.path
    domain_name: str
    request_id: str
    extended_request_id: str
    start_epoch_ms: int
    method: RestMethod | None
    path_parameters: dict[str, str]
    response: Response | None
    test_log: list[str] | None  # set by TestInvokeMethod, which returns the execution log
    # The same lines for the stage's execution log, when its method setting logging/loglevel is INFO or ERROR.
    execution_log: list[str] | None
    span: Any  # the request's OpenTelemetry span, on a traced stage (observe/tracing.py)
    # $context.error.validationErrorString of a failed request validation, for gateway responses.
    validation_error: str | None
    # $input.params() of this request, built the first time a mapping template needs them.
    mapping_params: dict[str, dict[str, str]] | None
    # what the request template wrote to $context.requestOverride: response templates see it too, as on AWS
    request_override: dict[str, object] | None
    # $context, with the step state it was built from (mapping/context.py): built once, rebuilt only when a
    # step has since changed what it shows (the matched method, the authorizer's answer, the signer, the key).
    context_cache: tuple[tuple[object, ...], dict[str, object]] | None
    _query_pairs: list[tuple[str, str]] | None
    _trace_id: str | None
    _trace_sent: bool  # set with _trace_id
    started: float  # perf_counter at the start, for Latency
    api_key: str | None  # $context.identity.apiKey, once the key was accepted
    api_key_id: str | None
    key_plan: KeyPlan | None  # the key's usage plan on this stage
    error_type: str | None  # the gateway response type's name when a step raised GatewayError
    integration_ms: float | None  # IntegrationLatency, when the integration was called
    cache_key: str | None  # set on a cache miss (or an invalidation): the response is stored under it
    cache_status: int  # 0: not cached, 1: hit, 2: miss
    cache_warning: bool  # an unauthorized Cache-Control: max-age=0 was ignored (and says so)
    authorizer: AuthResult | None  # what a CUSTOM or Cognito authorizer said: $context.authorizer
    iam_identity: Identity | None  # who signed the request (AWS_IAM methods): $context.identity.*
    # The resource policy explicitly allowed the call: a Lambda authorizer's silence then suffices (Table A).
    policy_allowed: bool
    # The Lambda proxy event's ``path`` when it is not ``path``: under a custom domain, AWS sends the whole
    # path, base path included (``/v1/pets``), while routing and ``resource`` see what is below it.
    event_path: str | None
    # The path below the stage as routing sees it (decoded, empty and dot segments resolved): the router, the
    # method ARN and every key derive from these, never from ``path`` (see request_path.py).
    segments: list[str]

    def __init__(
        self,
        request: Request,
        api: DeployedApi,
        path: str,
        stage_path: str,
        domain_name: str,
        test_log: list[str] | None = None,
    ) -> None:
        self.request = request
        self.api = api
        self.path = path
        self.stage_path = stage_path
        self.domain_name = domain_name
        self.test_log = test_log
        self.request_id, self.extended_request_id = request_ids()
        self.start_epoch_ms = int(time.time() * 1000)
        self.started = time.perf_counter()
        self.segments = canonical_segments(path)
        self.path_parameters = {}
        self.cache_status = 0
        self.cache_warning = self.policy_allowed = False
        self.method = self.response = self.execution_log = self.span = self.validation_error = None
        self.mapping_params = self.request_override = self.context_cache = self._query_pairs = None
        self._trace_id = self.api_key = self.api_key_id = self.key_plan = self.error_type = None
        self.integration_ms = self.cache_key = self.authorizer = self.iam_identity = self.event_path = None

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
            self._trace_sent = sent is not None
            trace = self._trace_id = trace_root(sent) or trace_id(self.start_epoch_ms // 1000)
        return trace

    @property
    def trace_sent(self) -> bool:
        """Whether the client sent an X-Amzn-Trace-Id (found by the same scan as ``trace_id``)."""
        _ = self.trace_id
        return self._trace_sent

    @property
    def query_pairs(self) -> list[tuple[str, str]]:
        """The query string's pairs in order, parsed the first time a step asks (read-only: shared)."""
        pairs = self._query_pairs
        if pairs is None:
            pairs = self._query_pairs = parse_qsl(self.request.query_string, keep_blank_values=True)
        return pairs
