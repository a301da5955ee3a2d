"""HTTP APIs' AWS service integrations (``IntegrationSubtype``): the request parameters, evaluated against the
request, become the service call's parameters; the call is signed and sent like a REST ``AWS`` integration's
(dataplane/integrations/aws_service.py), and the service's answer is the response."""

from __future__ import annotations

import base64
import re
from typing import Any

import orjson

from apigate.aws.integration_subtypes import SUBTYPES, Subtype
from apigate.aws.service_access import ServiceAccess
from apigate.aws.service_endpoints import service_model
from apigate.dataplane.http_api.call import HttpCall
from apigate.dataplane.http_api.parameters import value_of
from apigate.dataplane.http_api.responses import HttpApiError, internal_error, unavailable
from apigate.dataplane.integrations.aws_service import ServiceTarget, send, service_request
from apigate.model.http import HttpIntegration
from apigate.server.message import Response
from apigate.server.upstream import UpstreamError, UpstreamPool, UpstreamTimeout

__all__ = ["call_service"]

_KEPT_HEADERS = frozenset({"content-type", "x-amzn-requestid", "x-amz-request-id"})
_MISSING = object()


def _body_value(call: HttpCall, path: str) -> Any:
    """``$request.body`` / ``$request.body.a.b``: the JSON body, or a member of it."""
    try:
        node: Any = orjson.loads(call.request.body) if call.request.body else None
    except orjson.JSONDecodeError:
        return call.request.body.decode("utf-8", errors="replace") if not path else _MISSING
    for part in filter(None, path.split(".")):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _source(call: HttpCall, source: str) -> Any:
    if source == "$request.body" or source.startswith("$request.body."):
        return _body_value(call, source[len("$request.body") :])
    if "${request.body" in source:
        source = re.sub(
            r"\$\{request\.body(\.[^}]*)?\}",
            lambda m: "" if (v := _body_value(call, m.group(1) or "")) is _MISSING else _text(v),
            source,
        )
    value = value_of(call, source)
    return _MISSING if value is None else value


def _typed(subtype: Subtype, name: str, value: Any) -> Any:
    if name in subtype.integers:
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    if name in subtype.lists or name in subtype.objects:
        if isinstance(value, str):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                return [value] if name in subtype.lists else value
        return value
    text = _text(value)
    if name in subtype.blobs:
        return base64.b64encode(text.encode()).decode()
    return text


def _parameters(call: HttpCall, integration: HttpIntegration, subtype: Subtype) -> tuple[dict[str, Any], str]:
    region = call.api.region
    out: dict[str, Any] = {}
    for name, source in integration.service_parameters:
        value = _source(call, source)
        if value is _MISSING:
            continue
        if name == "Region":
            region = _text(value)
        else:
            out[name] = _typed(subtype, name, value)
    missing = [name for name in subtype.required if name not in out]
    if missing:  # AWS answers a request whose mapped values are absent with a 400
        raise HttpApiError(400, f"Missing required parameters: {', '.join(missing)}")
    return out, region


async def call_service(
    call: HttpCall, integration: HttpIntegration, upstream: UpstreamPool, access: ServiceAccess
) -> Response:
    subtype = SUBTYPES.get(integration.subtype or "")
    if subtype is None:
        raise internal_error()
    parameters, region = _parameters(call, integration, subtype)
    model = service_model(subtype.service)
    if subtype.service == "appconfig":
        path = "applications/{Application}/environments/{Environment}/configurations/{Configuration}"
        target = ServiceTarget(subtype.service, "", region, "path", path)
        query = [("client_id", str(parameters["ClientId"]))]
        if "ClientConfigurationVersion" in parameters:
            query.append(("client_configuration_version", str(parameters["ClientConfigurationVersion"])))
        verb, body, headers = "GET", b"", {}
        path_values = {k: str(v) for k, v in parameters.items()}
    else:
        target = ServiceTarget(subtype.service, "", region, "action", subtype.action)
        if subtype.camel_case:
            parameters = {name[:1].lower() + name[1:]: value for name, value in parameters.items()}
        document = {subtype.wrap: [parameters]} if subtype.wrap else parameters
        body = orjson.dumps(document)
        version = model.json_version if model.protocol == "json" else "1.0"
        prefix = model.target_prefix or "AmazonSQS"  # SQS speaks JSON 1.0 as well as its query API
        headers = {
            "X-Amz-Target": f"{prefix}.{subtype.action}",
            "Content-Type": f"application/x-amz-json-{version}",
        }
        verb, query, path_values = "POST", [], {}
    request = service_request(
        target,
        verb,
        body,
        headers=headers,
        query=query,
        path_values=path_values,
        credentials_arn=integration.credentials,
        access=access,
    )
    try:
        answer = await send(upstream, request, integration.timeout_seconds)
    except UpstreamTimeout:
        raise unavailable() from None
    except UpstreamError:
        raise internal_error() from None
    return Response(
        answer.status, [(k, v) for k, v in answer.headers if k.lower() in _KEPT_HEADERS], answer.body
    )
