"""AWS (non-proxy) to any AWS service: the request template's output, signed with SigV4, goes to the service.

URIs come in two forms. ``arn:aws:apigateway:{region}:{service}:action/{Action}`` posts to the service's root:
query-protocol services (SQS, SNS, STS) get ``Action`` in the query string, JSON 1.x services (Kinesis,
DynamoDB, Step Functions, EventBridge) get ``X-Amz-Target`` and their JSON content type, unless
``requestParameters`` map those headers themselves. ``arn:aws:apigateway:{region}:{service}:path/{path}`` sends
``integrationHttpMethod`` to that path (S3 ``path/{bucket}/{key}``). The service's status selects the integration
response (``selectionPattern``), as for HTTP integrations; a service that cannot be reached is a 500 with the reason
in the execution log. URIs naming Lambda's ``functions/…/invocations`` stay with the function integration.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from apigate.aws.service_access import ServiceAccess
from apigate.aws.service_credentials import Keys
from apigate.aws.service_endpoints import service_model
from apigate.dataplane.integrations.base import IntegrationServices, integration_uri
from apigate.dataplane.integrations.lambda_ import LambdaIntegration
from apigate.dataplane.integrations.lambda_proxy import function_name
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.mapping.transform import (
    log_endpoint_request,
    no_response,
    select_response,
    transform_request,
    transform_response,
)
from apigate.dataplane.request_path import path_value
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.model import MethodIntegration
from apigate.server.message import Response
from apigate.server.upstream import UpstreamError, UpstreamPool, UpstreamResponse, UpstreamTimeout

__all__ = ["AwsIntegration", "ServiceTarget", "SignedRequest", "parse_service_uri", "send", "service_request"]

_URI = re.compile(
    r"^arn:aws[a-z-]*:apigateway:(?P<region>[a-z0-9-]*):(?P<service>[^:]+):(?P<kind>action|path)/(?P<rest>.*)$"
)
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9._-]+)\+?\}")
_SECRET_HEADERS = frozenset({"authorization", "x-amz-security-token"})
PASS_THROUGH = "arn:aws:iam::*:user/*"  # integration credentials: the caller's own


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    service: str  # the endpoint prefix: kinesis, sqs, states, events, dynamodb, s3…
    subdomain: str  # `{subdomain}.{service}` in the URI (an S3 bucket, an IoT endpoint)
    region: str
    kind: str  # action | path
    value: str  # the Action, or the path with its {placeholders}


@functools.lru_cache(maxsize=4096)
def parse_service_uri(uri: str, default_region: str) -> ServiceTarget | None:
    found = _URI.match(uri)
    if found is None:
        return None
    subdomain, _, service = found.group("service").rpartition(".")
    return ServiceTarget(
        service=service,
        subdomain=subdomain,
        region=found.group("region") or default_region,
        kind=found.group("kind"),
        value=found.group("rest"),
    )


@dataclass(slots=True)
class SignedRequest:
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes
    region: str
    service: str


def _has(headers: Mapping[str, str], name: str) -> bool:
    lowered = name.lower()
    return any(key.lower() == lowered for key in headers)


def service_request(
    target: ServiceTarget,
    verb: str,
    body: bytes,
    *,
    headers: Mapping[str, str],
    query: Sequence[tuple[str, str]] = (),
    path_values: Mapping[str, str] | None = None,
    content_type: str | None = None,
    credentials_arn: str | None = None,
    caller_keys: Keys | None = None,
    access: ServiceAccess,
) -> SignedRequest:
    """The signed HTTP request an AWS integration makes, to the endpoint and with the keys of ``access``;
    ValueError when the URI names an unknown service."""
    model = service_model(target.service)
    out: dict[str, str] = dict(headers)
    query_pairs = list(query)
    base = access.endpoints.resolve(model.endpoint_prefix, target.region, target.subdomain)
    if target.kind == "action":
        path = "/"
        if model.protocol == "query" and not _has(out, "X-Amz-Target"):
            if not any(key == "Action" for key, _ in query_pairs):
                query_pairs.insert(0, ("Action", target.value))
            if model.api_version and not any(key == "Version" for key, _ in query_pairs):
                query_pairs.insert(1, ("Version", model.api_version))
            if not _has(out, "Content-Type"):
                out["Content-Type"] = "application/x-www-form-urlencoded"
            if _is_form(out):
                # One form holds every parameter: query-protocol services read the query string and the
                # form alike, and some AWS-compatible servers read only the form when there is one.
                fields = urlencode(query_pairs, quote_via=quote, safe="-_.~").encode()
                body = fields + b"&" + body if body.strip() else fields
                query_pairs = []
        elif model.protocol == "json":
            if not _has(out, "X-Amz-Target"):
                out["X-Amz-Target"] = f"{model.target_prefix}.{target.value}"
            if not _has(out, "Content-Type"):
                out["Content-Type"] = f"application/x-amz-json-{model.json_version}"
    else:
        values = path_values or {}

        def fill(match: re.Match[str]) -> str:
            value = values.get(match.group(1))
            return "" if value is None else path_value(value)  # never climbs above the service's root

        path = "/" + _PLACEHOLDER.sub(fill, target.value).lstrip("/")
        if not _has(out, "Content-Type"):
            if model.protocol == "json":
                out["Content-Type"] = f"application/x-amz-json-{model.json_version}"
            else:
                out["Content-Type"] = content_type or "application/json"
    url = base + path
    if query_pairs:
        url += "?" + urlencode(query_pairs, quote_via=quote, safe="-_.~")
    keys = caller_keys or access.credentials.keys(credentials_arn)
    return _signed(verb, url, out, body, target.region, model.signing_name, keys)


def _signed(
    verb: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    region: str,
    signing_name: str,
    keys: Keys,
) -> SignedRequest:
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=verb, url=url, data=body, headers=headers)
    signer = S3SigV4Auth if signing_name == "s3" else SigV4Auth
    signer(Credentials(keys.access_key, keys.secret_key, keys.token), signing_name, region).add_auth(request)
    return SignedRequest(verb, url, list(request.headers.items()), body, region, signing_name)


async def send(upstream: UpstreamPool, request: SignedRequest, timeout: float) -> UpstreamResponse:
    return await upstream.send(request.method, request.url, request.headers, request.body, timeout=timeout)


def logged_headers(headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers for the execution log: the signature and session token hidden, as AWS shows them."""
    return [(k, "*" * 10 if k.lower() in _SECRET_HEADERS else v) for k, v in headers]


class AwsIntegration:
    """``AWS``: a function (Lambda's invocation URI) or any other service."""

    def __init__(self, services: IntegrationServices) -> None:
        self._services = services
        self._function = LambdaIntegration(services)

    async def invoke(self, inv: Invocation, integration: MethodIntegration) -> Response:
        uri = integration_uri(inv, integration)
        if function_name(uri) is not None:
            return await self._function.invoke(inv, integration)
        target = parse_service_uri(uri, inv.api.region)
        if target is None or (target.service == "lambda" and target.kind == "action"):
            inv.log(
                f"Execution failed due to configuration error: Invalid AWS service integration URI: {uri}"
            )
            raise GatewayError(ResponseType.API_CONFIGURATION_ERROR)
        endpoint = transform_request(inv, integration)
        path_values = {**inv.path_parameters, **endpoint.path}
        verb = integration.http_method if integration.http_method not in (None, "ANY") else inv.request.method
        try:
            request = service_request(
                target,
                verb or "POST",
                endpoint.body,
                headers=endpoint.headers,
                query=endpoint.query,
                path_values=path_values,
                content_type=inv.request.header("content-type"),
                credentials_arn=integration.credentials,
                caller_keys=_caller_keys(inv, integration.credentials),
                access=self._services.aws,
            )
        except ValueError as exc:
            inv.log(f"Execution failed due to configuration error: {exc}")
            raise GatewayError(ResponseType.API_CONFIGURATION_ERROR) from None
        if inv.test_log is not None:
            log_endpoint_request(inv, request.url, logged_headers(request.headers), request.body)
        started = time.perf_counter()
        try:
            answer = await send(self._services.upstream, request, integration.timeout_seconds)
        except UpstreamTimeout:
            inv.log("Execution failed due to a timeout error")
            raise GatewayError(ResponseType.INTEGRATION_TIMEOUT) from None
        except UpstreamError as exc:
            inv.log(
                f"Execution failed due to configuration error: {target.service} endpoint "
                f"{request.url} could not be reached: {exc}"
            )
            raise GatewayError(ResponseType.API_CONFIGURATION_ERROR) from None
        if inv.test_log is not None:
            latency = int((time.perf_counter() - started) * 1000)
            inv.log(f"Received response. Status: {answer.status}, Integration latency: {latency} ms")
        chosen = select_response(integration.responses, str(answer.status))
        if chosen is None:
            raise no_response(inv)
        return transform_response(inv, chosen, answer.body, answer.headers)


def _caller_keys(inv: Invocation, credentials: str | None) -> Keys | None:
    """``arn:aws:iam::*:user/*``: the call is made as the caller who signed the method request (AWS_IAM)."""
    identity = inv.iam_identity
    if credentials != PASS_THROUGH or identity is None:
        return None
    return Keys(identity.access_key, identity.secret, identity.session_token)


def _is_form(headers: Mapping[str, str]) -> bool:
    return any(k.lower() == "content-type" and "x-www-form-urlencoded" in v for k, v in headers.items())
