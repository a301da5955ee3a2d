"""The Lambda proxy events HTTP APIs send: payload format 2.0, and 1.0 with ``version: "1.0"``."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from apigate.dataplane.http_api.call import HttpCall
from apigate.dataplane.lambda_proxy.v1 import event_v1, multi, request_time
from apigate.dataplane.lambda_proxy.v2 import body_v2, headers_v2, query_v2
from apigate.server.client_cert import client_cert


def route_key(call: HttpCall) -> str:
    return call.route.route_key if call.route is not None else "$default"


def request_context_v2(call: HttpCall) -> dict[str, Any]:
    request = call.request
    context: dict[str, Any] = {
        "accountId": call.api.account_id,
        "apiId": call.api.api_id,
        "domainName": call.domain_name,
        "domainPrefix": call.domain_name.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": call.raw_path,
            "protocol": f"HTTP/{request.http_version}",
            "sourceIp": request.client[0],
            "userAgent": request.header("user-agent") or "",
        },
        "requestId": call.request_id,
        "routeKey": route_key(call),
        "stage": call.api.stage,
        "time": request_time(call.start_epoch_ms),
        "timeEpoch": call.start_epoch_ms,
    }
    if call.authorizer is not None:
        context["authorizer"] = call.authorizer
    if request.tls is not None:  # mutual TLS: the client's certificate
        cert = client_cert(request.tls)
        if cert is not None:
            context["authentication"] = {"clientCert": cert}
    return context


def proxy_event_v2(call: HttpCall) -> dict[str, Any]:
    request = call.request
    headers, cookies = headers_v2(request)
    body, is_base64 = body_v2(request)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key(call),
        "rawPath": call.raw_path,
        "rawQueryString": request.query_string,
    }
    if cookies is not None:
        event["cookies"] = cookies
    event["headers"] = headers
    query = query_v2(request.query_string)
    if query is not None:
        event["queryStringParameters"] = query
    if call.path_parameters:
        event["pathParameters"] = dict(call.path_parameters)
    if call.api.stage_variables:
        event["stageVariables"] = dict(call.api.stage_variables)
    event["requestContext"] = request_context_v2(call)
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = is_base64
    return event


def proxy_event_v1(call: HttpCall) -> dict[str, Any]:
    """Payload 1.0 on an HTTP API: the REST shape, plus ``version``; the resource is the route's path."""
    request = call.request
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    body, is_base64 = body_v2(request)
    key = route_key(call)
    resource = key.split(" ", 1)[1] if " " in key else key
    authorizer = call.authorizer
    context = {
        "accountId": call.api.account_id,
        "apiId": call.api.api_id,
        "domainName": call.domain_name,
        "domainPrefix": call.domain_name.split(".", 1)[0],
        "extendedRequestId": call.request_id,
        "httpMethod": request.method,
        "identity": {
            "accessKey": None,
            "accountId": None,
            "caller": None,
            "cognitoAuthenticationProvider": None,
            "cognitoAuthenticationType": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "principalOrgId": None,
            "sourceIp": request.client[0],
            "user": None,
            "userAgent": request.header("user-agent"),
            "userArn": None,
        },
        "path": call.raw_path,
        "protocol": f"HTTP/{request.http_version}",
        "requestId": call.request_id,
        "requestTime": request_time(call.start_epoch_ms),
        "requestTimeEpoch": call.start_epoch_ms,
        "resourceId": key,
        "resourcePath": resource,
        "stage": call.api.stage,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    return event_v1(
        version="1.0",
        resource=resource,
        path=call.raw_path,
        http_method=request.method,
        headers=(headers, multi_headers),
        query=multi(parse_qsl(request.query_string, keep_blank_values=True)),
        request_context=context,
        path_parameters=call.path_parameters,
        stage_variables=call.api.stage_variables,
        body=(body, is_base64),
    )
