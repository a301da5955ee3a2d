"""What a client library is made of, read from a stage's OpenAPI 3 export: its operations and its models.

Operation names follow AWS's generated SDKs: the path's words in camelCase, then the verb (``GET /pets/{id}`` is
``petsIdGet``, ``GET /`` is ``rootGet``). Models are the export's component schemas; a property whose schema is
no plain type or model reference is typed loosely (``Any`` / ``unknown``) rather than guessed.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

_WORD = re.compile(r"[A-Za-z0-9]+")
_REF = "#/components/schemas/"


@dataclass(slots=True)
class Param:
    name: str  # as on the wire
    ident: str  # as a Python identifier
    required: bool


@dataclass(slots=True)
class Prop:
    name: str
    ident: str
    required: bool
    py: str  # Python type
    ts: str  # TypeScript type
    model: str | None = None  # a model it holds (directly or as list items), for (de)serialising
    is_list: bool = False


@dataclass(slots=True)
class Model:
    name: str
    description: str
    props: list[Prop] = field(default_factory=list)


@dataclass(slots=True)
class Operation:
    name: str  # AWS's camelCase name
    py_name: str
    verb: str
    path: str
    summary: str
    path_params: list[Param]
    query_params: list[Param]
    header_params: list[Param]
    body_model: str | None
    has_body: bool
    result_py: str
    result_ts: str
    result_model: str | None
    result_is_list: bool
    iam: bool
    api_key: bool


@dataclass(slots=True)
class Spec:
    title: str
    description: str
    base_url: str
    operations: list[Operation]
    models: list[Model]


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def operation_name(path: str, verb: str) -> str:
    words = [w for part in path.strip("/").split("/") for w in _words(part)] or ["root"]
    head, *rest = words
    return head[0].lower() + head[1:] + "".join(w[0].upper() + w[1:] for w in rest) + verb.capitalize()


def identifier(name: str) -> str:
    """A Python identifier for a wire name: snake_case, never a keyword."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    ident = "_".join(w.lower() for w in _words(spaced)) or "value"
    if ident[0].isdigit():
        ident = "_" + ident
    return ident + "_" if keyword.iskeyword(ident) or ident in ("self", "body") else ident


def _types(schema: Any, schemas: dict[str, Any]) -> tuple[str, str, str | None, bool]:
    """(Python type, TypeScript type, model name, is a list of it) for a property's schema. A model that is
    only an array of another (``Pets``: ``Pet[]``) is read as that list."""
    if not isinstance(schema, dict):
        return "Any", "unknown", None, False
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF):
        name = ref[len(_REF) :]
        target = schemas.get(name)
        if isinstance(target, dict) and target.get("type") == "array":
            return _types(target, schemas)
        if not isinstance(target, dict) or target.get("type", "object") != "object":
            return "Any", "unknown", None, False
        return name, name, name, False
    kind = schema.get("type")
    if kind == "array":
        py, ts, model, nested = _types(schema.get("items"), schemas)
        if nested:
            return "list[Any]", "unknown[]", None, False
        return f"list[{py}]", f"{ts}[]" if "|" not in ts else f"({ts})[]", model, True
    simple = {"string": ("str", "string"), "integer": ("int", "number"), "number": ("float", "number"),
              "boolean": ("bool", "boolean")}
    if kind in simple:
        py, ts = simple[kind]
        return py, ts, None, False
    if kind == "object":
        return "dict[str, Any]", "Record<string, unknown>", None, False
    return "Any", "unknown", None, False


def _model(name: str, schema: Any, schemas: dict[str, Any]) -> Model:
    schema = schema if isinstance(schema, dict) else {}
    required = set(schema.get("required") or [])
    props = []
    for prop, sub in (schema.get("properties") or {}).items():
        py, ts, model, is_list = _types(sub, schemas)
        props.append(Prop(str(prop), identifier(str(prop)), prop in required, py, ts, model, is_list))
    props.sort(key=lambda p: not p.required)  # dataclass fields without defaults come first
    return Model(name, str(schema.get("description") or schema.get("title") or ""), props)


def _json_schema(content: Any) -> Any:
    if isinstance(content, dict):
        for media, entry in content.items():
            if "json" in media and isinstance(entry, dict):
                return entry.get("schema")
    return None


def read(document: dict[str, Any], base_url: str) -> Spec:
    """The operations and models of an OpenAPI 3 export (``GetExport`` with ``oas30``)."""
    schemas = (document.get("components") or {}).get("schemas") or {}
    models = [
        _model(str(name), schema, schemas)
        for name, schema in sorted(schemas.items())
        if isinstance(schema, dict) and schema.get("type", "object") == "object"
    ]
    operations = []
    for path, item in sorted((document.get("paths") or {}).items()):
        for verb, op in item.items():
            if not isinstance(op, dict) or (verb.startswith("x-") and verb != "x-amazon-apigateway-any-method"):
                continue
            verb = "ANY" if verb.startswith("x-") else verb.upper()
            if verb == "ANY":
                continue  # no single HTTP method to call; AWS's SDKs leave these out too
            groups: dict[str, list[Param]] = {"path": [], "query": [], "header": []}
            for p in op.get("parameters") or []:
                if isinstance(p, dict) and p.get("in") in groups:
                    name = str(p["name"])
                    groups[p["in"]].append(Param(name, identifier(name), bool(p.get("required"))))
            body_schema = _json_schema((op.get("requestBody") or {}).get("content"))
            _, _, body_model, body_list = _types(body_schema, schemas)
            responses = sorted((op.get("responses") or {}).items())
            ok: Any = next((r for code, r in responses if str(code).startswith("2")), {})
            py, ts, result_model, is_list = _types(_json_schema((ok or {}).get("content")), schemas)
            security = [name for entry in op.get("security") or [] for name in entry]
            operations.append(
                Operation(
                    name=operation_name(path, verb),
                    py_name=identifier(operation_name(path, verb)),
                    verb=verb,
                    path=path,
                    summary=str(op.get("summary") or op.get("description") or ""),
                    path_params=groups["path"],
                    query_params=groups["query"],
                    header_params=groups["header"],
                    body_model=None if body_list else body_model,
                    has_body="requestBody" in op or verb in ("POST", "PUT", "PATCH"),
                    result_py=py,
                    result_ts=ts,
                    result_model=result_model,
                    result_is_list=is_list,
                    iam="sigv4" in security,
                    api_key="api_key" in security,
                )
            )
    info = document.get("info") or {}
    return Spec(str(info.get("title") or "api"), str(info.get("description") or ""), base_url, operations, models)
