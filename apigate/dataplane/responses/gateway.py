"""An API's customised gateway responses: compiled once per deployment, applied when a step raises.

The lookup is AWS's: the type's own customisation, else DEFAULT_4XX or DEFAULT_5XX by the type's default
status, else the built-in answer (``responses.render``, pre-rendered). An API without customisations takes
that last path at the cost of one empty-dict check. ``x-amzn-ErrorType`` is always the type's own.

Templates run through our VTL engine. AWS documents gateway response templates as simple substitution
(``$context.*``, ``$stageVariables.*``, ``$input.params()``); every such template means the same in VTL.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson

from apigate.dataplane.invocation import Invocation
from apigate.dataplane.mapping import TemplateError, render_mapping
from apigate.dataplane.mapping.parameters import request_value
from apigate.dataplane.mapping.transform import pick_template, set_header, template_context, template_params
from apigate.dataplane.responses import GatewayError, render, status_class
from apigate.model import CustomResponse, ParameterSource
from apigate.server.message import Response

log = logging.getLogger("apigate.dataplane")

def respond(inv: Invocation, error: GatewayError) -> Response:
    """The response for ``error`` through ``inv``'s API's gateway responses."""
    customised = inv.api.gateway_responses
    if not customised:
        return render(error)
    name = error.response_type.name
    custom = customised.get(name)
    if custom is None:
        fallback = status_class(name)
        custom = customised.get(fallback) if fallback else None
        if custom is None:
            return render(error)
    return _apply(inv, error, custom)


def _apply(inv: Invocation, error: GatewayError, custom: CustomResponse) -> Response:
    default = error.response_type.value
    context = _context(inv, error)
    body = inv.request.body.decode("utf-8", errors="replace")
    headers: dict[str, str] = {"Content-Type": "application/json"}
    content: bytes | None = None
    picked = pick_template(inv, custom.templates)
    if picked is not None:
        media_type, template = picked
        try:
            output, _ = render_mapping(
                template,
                body=body,
                params=template_params(inv),
                context=context,
                stage_variables=inv.api.stage_variables,
            )
        except TemplateError as exc:
            inv.log(f"Gateway response template failed: {exc}")
            log.warning("gateway response template for %s failed: %s", error.response_type.name, exc)
        else:
            content = output.encode()
            headers["Content-Type"] = media_type
    if content is None:
        content = orjson.dumps({"message": error.message})
    for name, source in custom.headers:
        value = _value(inv, source, context, body)
        if value is not None:
            set_header(headers, name, value)
    out = list(headers.items())
    out.append(("x-amzn-ErrorType", default.error_type))
    return Response(custom.status or default.status, out, content)


def _context(inv: Invocation, error: GatewayError) -> dict[str, Any]:
    """``$context`` for a gateway response, also when no route matched (no resource fields then), with what an
    authorizer said if one ran before the error."""
    context: dict[str, Any] = {**template_context(inv)}  # a copy: the invocation's own is shared
    context["error"] = {
        "message": "" if error.message is None else error.message,
        "messageString": orjson.dumps(error.message).decode(),  # quoted: a JSON value as it stands
        "responseType": error.response_type.name,
        "validationErrorString": inv.validation_error or "",
    }
    return context


def _value(inv: Invocation, source: ParameterSource, context: Mapping[str, Any], body: str) -> str | None:
    if source.kind == "context":
        value: Any = context
        for part in source.name.split("."):
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return None if value is None else str(value)
    values = request_value(inv, source, body)
    return ",".join(values) if values else None
