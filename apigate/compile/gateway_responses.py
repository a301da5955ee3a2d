"""An API's customised gateway responses, compiled once per deployment (applied by dataplane/responses/gateway.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from apigate.compile.parameters import InvalidMapping, parse_source
from apigate.dataplane.mapping.templates import compile_template
from apigate.model import CustomResponse, ParameterSource

_HEADER = "gatewayresponse.header."


def compile_responses(documents: Iterable[Mapping[str, Any]]) -> dict[str, CustomResponse]:
    """GatewayResponse documents (the customised ones) -> compiled responses by type name."""
    compiled: dict[str, CustomResponse] = {}
    for doc in documents:
        headers: list[tuple[str, ParameterSource]] = []
        for target, source in (doc.get("responseParameters") or {}).items():
            if not target.startswith(_HEADER):
                continue  # querystring/path targets mean nothing on a response
            try:
                headers.append((target[len(_HEADER) :], parse_source(str(source))))
            except InvalidMapping:
                continue  # refused at Put time; an old document must not stop a deployment
        templates = {
            content_type.lower(): compile_template(source or "")
            for content_type, source in (doc.get("responseTemplates") or {}).items()
        }
        status = doc.get("statusCode")
        compiled[doc["responseType"]] = CustomResponse(
            int(status) if status else None, tuple(headers), templates
        )
    return compiled
