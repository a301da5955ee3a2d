"""A REST API request as the Lambda proxy event (payload format 1.0), and its ``requestContext``, which is also
``$context`` for mapping templates: ``path`` has no stage while ``requestContext.path`` has it."""

from __future__ import annotations

import base64
from typing import Any

from apigate.dataplane.binary import is_binary
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.lambda_proxy.v1 import event_v1, multi, request_time
from apigate.server.client_cert import client_cert


def body_of(inv: Invocation) -> tuple[str | None, bool]:
    raw = inv.request.body
    if not raw:
        return None, False
    if is_binary(inv.request.header("content-type"), inv.api.binary_media_types):
        return base64.b64encode(raw).decode(), True
    return raw.decode("utf-8", errors="replace"), False


def identity(inv: Invocation) -> dict[str, Any]:
    fields: dict[str, Any] = {
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
        "clientCert": None if inv.request.tls is None else client_cert(inv.request.tls),
    }
    signer = inv.iam_identity
    if signer is not None:  # an AWS_IAM method: who signed
        fields["accessKey"] = signer.access_key
        fields["accountId"] = signer.account_id
        fields["caller"] = fields["user"] = signer.user_id
        fields["userArn"] = signer.arn
    if inv.request.vpce_id is not None:  # through a private listener, as through a VPC endpoint
        fields["vpceId"] = inv.request.vpce_id
        fields["vpcId"] = inv.request.vpc_id
    return fields


def request_context(inv: Invocation) -> dict[str, Any]:
    """``requestContext`` (and ``$context``): without the resource fields when no route matched, as for a
    gateway response."""
    method = inv.method
    context: dict[str, Any] = (
        {} if method is None else {"resourceId": method.resource_id, "resourcePath": method.resource_path}
    )
    context.update(
        httpMethod=inv.request.method,
        extendedRequestId=inv.extended_request_id,
        requestTime=request_time(inv.start_epoch_ms),
        path=inv.stage_path,
        accountId=inv.api.account_id,
        protocol=f"HTTP/{inv.request.http_version}",
        stage=inv.api.stage,
        domainPrefix=inv.domain_name.split(".", 1)[0],
        requestTimeEpoch=inv.start_epoch_ms,
        requestId=inv.request_id,
        identity=identity(inv),
        domainName=inv.domain_name,
        deploymentId=inv.api.deployment_id,
        apiId=inv.api.api_id,
    )
    if inv.authorizer is not None:
        context["authorizer"] = inv.authorizer.request_context()
    return context


def proxy_event_v1(inv: Invocation) -> dict[str, Any]:
    method = inv.method
    assert method is not None
    return event_v1(
        resource=method.resource_path,
        path=inv.path if inv.event_path is None else inv.event_path,
        http_method=inv.request.method,
        headers=multi(inv.request.headers),
        query=multi(inv.query_pairs),
        path_parameters=inv.path_parameters,
        stage_variables=inv.api.stage_variables,
        request_context=request_context(inv),
        body=body_of(inv),
    )
