"""Which SigV4 credential scope a management call must be signed for: the service its path addresses, in the
region the call is made in (any: regions are partitions, store/regional.py).

One listener serves what AWS serves from many endpoints (apigateway, lambda, iam, sts, cognito-idp and the
WebSocket ``@connections`` API), so the scope a call must carry follows from the call itself, as the endpoint it would
reach on AWS decides there. IAM and STS are global services whose AWS endpoint takes ``us-east-1`` scopes;
SDKs pointed at a custom endpoint sign with their own region, so both are accepted for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import botocore.session
from botocore.loaders import Loader

from apigate.aws import sigv4
from apigate.aws.query import form_params
from apigate.server.message import Request

__all__ = ["COGNITO_TARGET", "LOGS_TARGET_PREFIX", "ManagementScope", "call_region", "management_scope", "regional"]

COGNITO_TARGET = "AWSCognitoIdentityProviderService."  # the JSON protocol names the operation in a header
_GLOBAL_REGION = "us-east-1"  # where IAM's (and STS's global) endpoint scopes its signatures
LOGS_TARGET_PREFIX = "Logs_20140328."
_LAMBDA_PATH = re.compile(r"/\d{4}-\d{2}-\d{2}/")  # every Lambda operation's path starts with its API version


@dataclass(frozen=True, slots=True)
class ManagementScope:
    service: str
    regions: tuple[str, ...]


@cache
def _aws_regions() -> frozenset[str]:
    """Every region of AWS's partitions where API Gateway has an endpoint (botocore's endpoint data)."""
    session = botocore.session.get_session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("apigateway", partition)
    )


def regional(region: str) -> tuple[str, ...]:
    """The regions a regional service's call may be signed for: any of AWS's, and the gateway's own."""
    return (region, *sorted(_aws_regions() - {region}))


@cache
def _sts_actions() -> frozenset[str]:
    model = Loader().load_service_model("sts", "service-2")
    return frozenset(model["operations"])


def _query_service(request: Request, signed_service: str | None) -> str:
    """IAM or STS: the action names the service (their action names do not overlap)."""
    action = form_params(request).get("Action")
    if action is None:
        return signed_service if signed_service in ("iam", "sts") else "iam"
    return "sts" if action in _sts_actions() else "iam"


def management_scope(request: Request, signed_service: str | None, region: str) -> ManagementScope:
    """The scope ``request`` must be signed for; ``signed_service`` is the one its signature names (the
    listener routes IAM/STS-signed calls to the query protocol, and it picks between IAM and STS only when
    the call names no action). IAM and STS are global: ``region`` (the gateway's) or us-east-1; the regional
    services take any region, which picks the partition the call sees."""
    path = request.raw_path
    if (request.header("x-amz-target") or "").startswith(COGNITO_TARGET):
        return ManagementScope("cognito-idp", (region,))
    if (request.header("x-amz-target") or "").startswith(LOGS_TARGET_PREFIX):  # CloudWatch Logs (JSON 1.1)
        return ManagementScope("logs", (region,))
    if signed_service in ("iam", "sts") or path == "/":  # no rest-json operation lives at "/"
        service = _query_service(request, signed_service)
        return ManagementScope(service, (region,) if region == _GLOBAL_REGION else (region, _GLOBAL_REGION))
    if path.startswith("/@connections/"):
        service = "execute-api"  # apigatewaymanagementapi signs as execute-api
    elif _LAMBDA_PATH.match(path):
        service = "lambda"
    else:
        service = "apigateway"  # the REST API family and /v2/ (apigatewayv2 signs as apigateway too)
    return ManagementScope(service, regional(region))


def call_region(request: Request, default: str) -> str:
    """The partition a management call sees: the AWS region its signature names, else ``default`` (unsigned
    calls, and, when signatures are not checked, ones signed for a name that is no AWS region)."""
    try:
        signed = sigv4.parse(request)
    except sigv4.SignatureError:
        return default
    if signed is None or signed.region not in _aws_regions():
        return default
    return signed.region
