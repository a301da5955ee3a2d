"""An OpenAPI 3.0 description of a management API, made from the same botocore model that routes it.

AWS publishes no OpenAPI for its own control planes; the botocore models are the authority boto3 and the
AWS CLI use, so the description is derived from them, limited to the operations apigate implements. It serves
API fuzzers (schemathesis) and anyone who wants to browse the surface: ``/_apigate/openapi/{service}.json``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# botocore's scalar types and their JSON Schema types.
_SCALARS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer", "format": "int32"},
    "long": {"type": "integer", "format": "int64"},
    "boolean": {"type": "boolean"},
    "double": {"type": "number"},
    "float": {"type": "number"},
    "timestamp": {"type": "string"},
    "blob": {"type": "string", "format": "byte"},
}
_ERROR_BODY = {
    "type": "object",
    "properties": {"message": {"type": "string"}},
}


def describe(model: Any, operations: Iterable[str]) -> dict[str, Any]:
    """The OpenAPI document for ``operations`` of the botocore service ``model``."""
    builder = _Builder()
    paths: dict[str, dict[str, Any]] = {}
    # OpenAPI allows one operation per path and method; where AWS tells two apart by a fixed query parameter
    # (ImportRestApi is CreateRestApi's POST /restapis with ?mode=import), the plain one is described.
    ordered = sorted(operations, key=lambda name: ("?" not in model.operation_model(name).http["requestUri"], name))
    for name in ordered:
        op = model.operation_model(name)
        path, operation = builder.operation(op)
        paths.setdefault(path, {})[op.http["method"].lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": f"apigate {model.service_name}", "version": model.api_version},
        "paths": paths,
        "components": {"schemas": builder.schemas},
    }


class _Builder:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def operation(self, op: Any) -> tuple[str, dict[str, Any]]:
        uri, _, fixed_query = op.http["requestUri"].partition("?")
        # Greedy labels ({proxy+}) are plain path parameters to OpenAPI, which knows no greedy form.
        path = re.sub(r"\{([^}+]+)\+\}", r"{\1}", uri)
        parameters: list[dict[str, Any]] = []
        body: dict[str, Any] = {"type": "object", "properties": {}}
        required_body: list[str] = []
        shape = op.input_shape
        payload = shape.serialization.get("payload") if shape is not None else None
        members = shape.members if shape is not None else {}
        required = set(shape.required_members) if shape is not None else set()
        for member, member_shape in members.items():
            location = member_shape.serialization.get("location")
            wire_name = member_shape.serialization.get("name", member)
            if location in ("uri", "querystring", "header"):
                if location == "querystring" and member_shape.type_name not in _SCALARS:
                    continue  # map/list query members: rare here, and awkward to describe
                parameters.append(
                    {
                        "name": wire_name,
                        "in": {"uri": "path", "querystring": "query", "header": "header"}[location],
                        "required": location == "uri" or member in required,
                        "schema": self.schema(member_shape),
                    }
                )
            elif member != payload:
                body["properties"][member] = self.schema(member_shape)
                if member in required:
                    required_body.append(member)
        for key, value in (p.split("=", 1) if "=" in p else (p, "") for p in fixed_query.split("&") if p):
            parameters.append({"name": key, "in": "query", "required": True, "schema": {"enum": [value]}})
        operation: dict[str, Any] = {"operationId": op.name, "parameters": parameters}
        if payload is not None:
            payload_shape = members[payload]
            media = "application/json" if payload_shape.type_name == "structure" else "application/octet-stream"
            schema = self.schema(payload_shape) if media == "application/json" else {"type": "string"}
            operation["requestBody"] = {"required": payload in required, "content": {media: {"schema": schema}}}
        elif body["properties"]:
            if required_body:
                body["required"] = required_body
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        status = str(op.http.get("responseCode", 200))
        operation["responses"] = {
            status: {"description": "success"},
            "default": {"description": "an AWS error", "content": {"application/json": {"schema": _ERROR_BODY}}},
        }
        return path, operation

    def schema(self, shape: Any) -> dict[str, Any]:
        kind = shape.type_name
        if kind in _SCALARS:
            schema = dict(_SCALARS[kind])
            enum = getattr(shape, "enum", None)  # only string shapes carry one
            if enum:
                schema["enum"] = list(enum)
            return schema
        if kind == "list":
            return {"type": "array", "items": self.schema(shape.member)}
        if kind == "map":
            return {"type": "object", "additionalProperties": self.schema(shape.value)}
        # Structures go to components and are referenced, which also ends recursion.
        if shape.name not in self.schemas:
            self.schemas[shape.name] = {}  # placeholder while the members are described
            properties = {name: self.schema(member) for name, member in shape.members.items()}
            described: dict[str, Any] = {"type": "object", "properties": properties}
            if shape.required_members:
                described["required"] = list(shape.required_members)
            self.schemas[shape.name] = described
        return {"$ref": f"#/components/schemas/{shape.name}"}
