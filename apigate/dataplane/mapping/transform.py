"""Non-proxy integrations (MOCK, HTTP, AWS): the integration request built from the method request by
templates and parameter mappings, and the method response built from the integration response.

Order, as AWS does it: pick the request template by Content-Type (``passthroughBehavior`` decides when none
matches), apply ``contentHandling``, render, map ``requestParameters``, then ``$context.requestOverride``.
On the way back: pick the integration response by ``selectionPattern``, render its template (picked by the
first ``Accept`` type, else ``application/json``, else the first), map ``responseParameters``, then
``$context.responseOverride``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from apigate.dataplane.binary import first_accept, is_binary
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.mapping import Template, TemplateError, render_mapping
from apigate.dataplane.mapping.context import mapping_context
from apigate.dataplane.mapping.parameters import request_value, response_value
from apigate.dataplane.mapping.templates import ConstantTemplate
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.model import IntegrationResponse, MethodIntegration
from apigate.server.message import Response


def java_map(values: Mapping[str, object] | Sequence[tuple[str, object]]) -> str:
    """Maps in the execution log print the way API Gateway's Java runtime prints them: {a=1, b=2}."""
    pairs = values.items() if isinstance(values, Mapping) else values
    return "{" + ", ".join(f"{k}={v}" for k, v in pairs) + "}"


@dataclass(slots=True)
class EndpointRequest:
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)  # from requestParameters and requestOverride
    query: list[tuple[str, str]] = field(default_factory=list)
    path: dict[str, str] = field(default_factory=dict)


def content_type_of(inv: Invocation) -> str:
    """The method request's media type, lower-case and bare; AWS assumes JSON when there is none."""
    raw = inv.request.header("content-type")
    return raw.split(";", 1)[0].strip().lower() if raw else "application/json"


def template_params(inv: Invocation) -> dict[str, dict[str, str]]:
    return {
        "path": inv.path_parameters,
        "querystring": dict(inv.query_pairs),
        "header": dict(inv.request.headers),
    }


def template_context(inv: Invocation) -> dict[str, object]:
    return mapping_context(inv)


def render(inv: Invocation, template: Template, body: str) -> tuple[str, dict[str, dict[str, object]] | None]:
    if isinstance(template, ConstantTemplate):  # decided at deploy time: no $context to build
        return template.source, None
    params = inv.mapping_params
    if params is None:  # built once per request, shared by request and response templates
        params = inv.mapping_params = template_params(inv)
    context = mapping_context(inv)
    try:
        return render_mapping(
            template,
            body=body,
            params=params,
            context=context,
            stage_variables=inv.api.stage_variables,
            request_override=inv.request_override,
        )
    except TemplateError as exc:
        inv.log(f"Execution failed due to configuration error: Unable to transform request: {exc}")
        raise GatewayError(ResponseType.API_CONFIGURATION_ERROR) from None


def _decode_base64(raw: bytes) -> bytes:
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return raw


def transform_request(inv: Invocation, integration: MethodIntegration) -> EndpointRequest:
    content_type = content_type_of(inv)
    templates = integration.request_templates
    template = templates.get(content_type)
    if template is None:
        behaviour = integration.passthrough_behavior
        if behaviour == "NEVER" or (behaviour == "WHEN_NO_TEMPLATES" and templates):
            inv.log(f"Execution failed: no mapping template for content type {content_type}")
            raise GatewayError(ResponseType.UNSUPPORTED_MEDIA_TYPE)
    raw = inv.request.body
    binary = is_binary(content_type, inv.api.binary_media_types)
    handling = integration.content_handling
    if binary and (handling == "CONVERT_TO_TEXT" or template is not None):
        raw = base64.b64encode(raw)  # a template always sees a binary payload as base64 text
    elif not binary and handling == "CONVERT_TO_BINARY":
        raw = _decode_base64(raw)
    text = inv.request.body.decode("utf-8", errors="replace")
    overrides: dict[str, dict[str, object]] | None = None
    if template is not None:
        output, overrides = render(inv, template, raw.decode("utf-8", errors="replace"))
        raw = output.encode()
        if handling == "CONVERT_TO_BINARY":
            raw = _decode_base64(raw)
    endpoint = EndpointRequest(raw, content_type)
    for mapping in integration.request_parameters:
        values = request_value(inv, mapping.source, text)
        if not values:
            continue
        if mapping.location == "header":
            endpoint.headers[mapping.name] = ",".join(values)
        elif mapping.location == "querystring":
            endpoint.query += [(mapping.name, value) for value in values]
        else:
            endpoint.path[mapping.name] = values[-1]
    if overrides is not None:
        request_override = inv.request_override = overrides["requestOverride"]
        for name, value in _strings(request_override.get("header")).items():
            endpoint.headers[name] = value
        query = _strings(request_override.get("querystring"))
        if query:
            endpoint.query = [(k, v) for k, v in endpoint.query if k not in query] + list(query.items())
        endpoint.path.update(_strings(request_override.get("path")))
    return endpoint


def _strings(values: object) -> dict[str, str]:
    if not isinstance(values, dict):
        return {}
    return {str(k): _text(v) for k, v in values.items() if v is not None}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def select_response(
    responses: tuple[IntegrationResponse, ...], value: str | None
) -> IntegrationResponse | None:
    """The response whose selectionPattern matches ``value`` (the whole of it), else the default one.

    ``value`` None (a function that succeeded) selects the default response.
    """
    default = None
    for response in responses:
        if response.selection_pattern is None:
            default = response
        elif value is not None and response.selection_pattern.fullmatch(value):
            return response
    return default


def no_response(inv: Invocation) -> GatewayError:
    inv.log(
        "Execution failed due to configuration error: "
        "No match for output mapping and no default output mapping configured"
    )
    return GatewayError(ResponseType.API_CONFIGURATION_ERROR)


def pick_template(inv: Invocation, templates: Mapping[str, Template]) -> tuple[str, Template] | None:
    """The template for the client's first Accept type, else application/json's, else the first one."""
    if not templates:
        return None
    accept = first_accept(inv.request.header("accept"))
    if accept:
        bare = accept.split(";", 1)[0].strip().lower()
        if bare in templates:
            return bare, templates[bare]
    if "application/json" in templates:
        return "application/json", templates["application/json"]
    return next(iter(templates.items()))


def transform_response(
    inv: Invocation,
    chosen: IntegrationResponse,
    body: bytes,
    headers: Sequence[tuple[str, str]] = (),
) -> Response:
    """The method response for integration response ``chosen`` given the endpoint's body and headers."""
    mock = inv.method is not None and inv.method.integration is not None and inv.method.integration.type == "MOCK"
    if inv.test_log is not None and not mock:
        inv.log(f"Endpoint response headers: {java_map(headers)}")
        inv.log(f"Endpoint response body before transformations: {body.decode('utf-8', errors='replace')}")
    if chosen.content_handling == "CONVERT_TO_TEXT":
        body = base64.b64encode(body)
    elif chosen.content_handling == "CONVERT_TO_BINARY":
        body = _decode_base64(body)
    text = body.decode("utf-8", errors="replace")
    status = int(chosen.status_code)
    out_headers: dict[str, str] = {"Content-Type": "application/json"}
    picked = pick_template(inv, chosen.response_templates)
    overrides: dict[str, dict[str, object]] | None = None
    if picked is not None:
        media_type, template = picked
        output, overrides = render(inv, template, text)
        body = output.encode()
        out_headers["Content-Type"] = media_type
    for mapping in chosen.response_parameters:
        value = response_value(inv, mapping.source, headers, text)
        if value is not None:
            set_header(out_headers, mapping.name, value)
    if overrides is not None:
        response_override = overrides["responseOverride"]
        for name, value in _strings(response_override.get("header")).items():
            set_header(out_headers, name, value)
        override_status = response_override.get("status")
        if override_status is not None:
            try:
                status = int(str(override_status))
            except ValueError:
                inv.log(f"Execution failed: invalid $context.responseOverride.status {override_status}")
                raise GatewayError(ResponseType.API_CONFIGURATION_ERROR) from None
    if inv.test_log is not None:
        inv.log(f"Method response body after transformations: {body.decode('utf-8', errors='replace')}")
        inv.log(f"Method response headers: {java_map(out_headers)}")
        inv.log("Successfully completed execution")
    return Response(status, list(out_headers.items()), body)


def set_header(headers: dict[str, str], name: str, value: str) -> None:
    """Header names compare case-insensitively: a mapped Content-Type replaces the default one."""
    lowered = name.lower()
    for existing in [key for key in headers if key.lower() == lowered]:
        del headers[existing]
    headers[name] = value


def log_endpoint_request(inv: Invocation, uri: str, headers: Sequence[tuple[str, str]], body: bytes) -> None:
    inv.log(f"Endpoint request URI: {uri}")
    inv.log(f"Endpoint request headers: {java_map(headers)}")
    inv.log(f"Endpoint request body after transformations: {body.decode('utf-8', errors='replace')}")
    inv.log(f"Sending request to {uri}")
