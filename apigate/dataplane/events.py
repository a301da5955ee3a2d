"""The Lambda proxy event, payload format 1.0, as REST APIs send it.

Field by field as AWS documents it: single-value maps keep the last value, multi-value maps every value,
absent maps are null, ``path`` has no stage while ``requestContext.path`` has it.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from apigate.dataplane.binary import is_binary
from apigate.dataplane.invocation import Invocation


def request_time(epoch_ms: int) -> str:
    """Common Log Format time, as ``requestContext.requestTime``: 04/Mar/2020:19:15:17 +0000."""
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms / 1000))


def _multi(pairs: list[tuple[str, str]]) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not pairs:
        return None, None
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value
        multi.setdefault(name, []).append(value)
    return single, multi


def body_of(inv: Invocation) -> tuple[str | None, bool]:
    raw = inv.request.body
    if not raw:
        return None, False
    if is_binary(inv.request.header("content-type"), inv.api.binary_media_types):
        return base64.b64encode(raw).decode(), True
    return raw.decode("utf-8", errors="replace"), False


def identity(inv: Invocation) -> dict[str, Any]:
    return {
        "cognitoIdentityPoolId": None,
        "accountId": None,
        "cognitoIdentityId": None,
        "caller": None,
        "sourceIp": inv.request.client[0],
        "principalOrgId": None,
        "accessKey": None,
        "cognitoAuthenticationType": None,
        "cognitoAuthenticationProvider": None,
        "userArn": None,
        "userAgent": inv.request.header("user-agent"),
        "user": None,
        "apiKey": inv.api_key,
        "apiKeyId": inv.api_key_id,
        "clientCert": None,
    }


def request_context(inv: Invocation) -> dict[str, Any]:
    method = inv.method
    assert method is not None
    return {
        "resourceId": method.resource_id,
        "resourcePath": method.resource_path,
        "httpMethod": inv.request.method,
        "extendedRequestId": inv.extended_request_id,
        "requestTime": request_time(inv.start_epoch_ms),
        "path": inv.stage_path,
        "accountId": inv.api.account_id,
        "protocol": f"HTTP/{inv.request.http_version}",
        "stage": inv.api.stage,
        "domainPrefix": inv.domain_name.split(".", 1)[0],
        "requestTimeEpoch": inv.start_epoch_ms,
        "requestId": inv.request_id,
        "identity": identity(inv),
        "domainName": inv.domain_name,
        "deploymentId": inv.api.deployment_id,
        "apiId": inv.api.api_id,
    }


def proxy_event_v1(inv: Invocation) -> dict[str, Any]:
    method = inv.method
    assert method is not None
    headers, multi_headers = _multi(inv.request.headers)
    query, multi_query = _multi(inv.query_pairs)
    body, is_base64 = body_of(inv)
    return {
        "resource": method.resource_path,
        "path": inv.path,
        "httpMethod": inv.request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": inv.path_parameters or None,
        "stageVariables": dict(inv.api.stage_variables) or None,
        "requestContext": request_context(inv),
        "body": body,
        "isBase64Encoded": is_base64,
    }
