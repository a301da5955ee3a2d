"""Documentation parts and versions: what a REST API says about itself, and snapshots of it tied to stages.

A part documents one location (the API, a resource, a method, a parameter, a response, a model, an authorizer)
with a JSON object of properties. Wildcards (``method: "*"``, ``statusCode: "*"``) and the resource tree make a
part apply to more than its own entity: an entity takes the most specific matching part, where a part on a
parent path applies to its children for every location type below a method (AWS's "inherit content from an API
entity with more general specifications"). A version is a snapshot of every part at the time it is created;
a stage names one in ``documentationVersion`` and its export and reference page show that snapshot.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson

from apigate.aws import openapi, patch
from apigate.aws.errors import bad_request, conflict, not_found
from apigate.aws.ids import short_id
from apigate.aws.wire import OperationHandler
from apigate.control.common import Doc, now, page, rest_api
from apigate.control.context import ControlContext
from apigate.store.base import Conflict, DocumentStore

PART = "docpart"
VERSION = "docversion"
EXTENSION = "x-amazon-apigateway-documentation"

# The location fields each type takes (every other one must be absent): AWS's DocumentationPartLocation.
_FIELDS: dict[str, tuple[str, ...]] = {
    "API": (),
    "AUTHORIZER": ("name",),
    "MODEL": ("name",),
    "RESOURCE": ("path",),
    "METHOD": ("path", "method"),
    "PATH_PARAMETER": ("path", "method", "name"),
    "QUERY_PARAMETER": ("path", "method", "name"),
    "REQUEST_HEADER": ("path", "method", "name"),
    "REQUEST_BODY": ("path", "method"),
    "RESPONSE": ("path", "method", "statusCode"),
    "RESPONSE_HEADER": ("path", "method", "statusCode", "name"),
    "RESPONSE_BODY": ("path", "method", "statusCode"),
}
_NAMED = {"AUTHORIZER", "MODEL", "PATH_PARAMETER", "QUERY_PARAMETER", "REQUEST_HEADER", "RESPONSE_HEADER"}
# Location types a part on a parent path passes on to its children (API and RESOURCE parts stay where they are).
_INHERITED_BY_PATH = set(_FIELDS) - {"API", "RESOURCE", "AUTHORIZER", "MODEL"}


def location_of(raw: Any) -> Doc:
    """A location as AWS stores it: checked against its type, with the defaults filled in."""
    if not isinstance(raw, dict) or raw.get("type") not in _FIELDS:
        kind = raw.get("type") if isinstance(raw, dict) else None
        raise bad_request(f"Invalid documentation part location type: {kind}")
    kind = raw["type"]
    allowed = _FIELDS[kind]
    for key in ("path", "method", "statusCode", "name"):
        if raw.get(key) not in (None, "") and key not in allowed:
            raise bad_request(f"Invalid location: {key} is not applicable to type {kind}")
    location: Doc = {"type": kind}
    if "path" in allowed:
        path = str(raw.get("path") or "/")
        if not path.startswith("/"):
            raise bad_request(f"Invalid location path: {path}")
        location["path"] = path
    if "method" in allowed:
        location["method"] = str(raw.get("method") or "*").upper()
    if "statusCode" in allowed:
        location["statusCode"] = str(raw.get("statusCode") or "*")
    if kind in _NAMED:
        if not raw.get("name"):
            raise bad_request(f"Invalid location: name is required for type {kind}")
        location["name"] = str(raw["name"])
    return location


def _properties(raw: Any) -> str:
    """Properties travel as a JSON object in a string; AWS refuses anything else."""
    if isinstance(raw, dict):
        return orjson.dumps(raw).decode()
    try:
        value = orjson.loads(raw) if isinstance(raw, str | bytes) else None
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise bad_request("Invalid documentation properties: must be a JSON object")
    return str(raw)


def _same(a: Doc, b: Doc) -> bool:
    return all(a.get(key) == b.get(key) for key in ("type", "path", "method", "statusCode", "name"))


def list_parts(store: DocumentStore, api_id: str) -> list[Doc]:
    return sorted(store.list(PART, api_id), key=lambda doc: str(doc["id"]))


def stage_parts(store: DocumentStore, api_id: str, stage: Doc) -> tuple[str | None, list[Doc]]:
    """The parts a stage shows: its documentation version's snapshot, or (none named) the current parts."""
    version = stage.get("documentationVersion")
    if version:
        doc = store.get(VERSION, f"{api_id}/{version}")
        if doc is not None:
            return str(version), list(doc.get("parts") or [])
    return None, list_parts(store, api_id)


def effective(parts: list[Doc], kind: str, **where: str | None) -> Doc:
    """The properties an entity shows: of the most specific part whose location covers it (AWS's inheritance:
    ``*`` covers every method or status, a parent path covers its children for types below a method)."""
    best: tuple[int, int, int] | None = None
    chosen: Doc = {}
    for part in parts:
        location = part.get("location") or {}
        if location.get("type") != kind or location.get("name") != where.get("name"):
            continue
        path, target = str(location.get("path") or "/"), str(where.get("path") or "/")
        if kind in _INHERITED_BY_PATH:
            if not (path == target or path == "/" or target.startswith(path.rstrip("/") + "/")):
                continue
        elif "path" in location and path != target:
            continue
        method, status = location.get("method"), location.get("statusCode")
        if method not in (None, "*", where.get("method")) or status not in (None, "*", where.get("statusCode")):
            continue
        rank = (len(path), int(method not in (None, "*")), int(status not in (None, "*")))
        if best is None or rank > best:
            best, chosen = rank, part
    if not chosen:
        return {}
    try:
        value = orjson.loads(chosen.get("properties") or "{}")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def extension(version: str | None, parts: list[Doc]) -> Doc:
    """``x-amazon-apigateway-documentation`` as AWS exports it."""
    out: Doc = {
        "documentationParts": [
            {"location": dict(part["location"]), "properties": orjson.loads(part.get("properties") or "{}")}
            for part in parts
        ]
    }
    if version:
        out = {"version": version, **out}
    return out


def parts_in(document: Any) -> list[Doc]:
    """The parts an OpenAPI definition's ``x-amazon-apigateway-documentation`` declares."""
    if not isinstance(document, dict):
        return []
    value = document.get(EXTENSION) or {}
    items = value.get("documentationParts") if isinstance(value, dict) else None
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict)]


def import_parts(store: DocumentStore, api_id: str, items: list[Doc], *, overwrite: bool) -> list[str]:
    """Create (or, at the same location, replace the properties of) each part; ``overwrite`` drops the rest."""
    existing = list_parts(store, api_id)
    if overwrite:
        for doc in existing:
            store.delete(PART, f"{api_id}/{doc['id']}")
        existing = []
    ids = []
    for item in items:
        location = location_of(item.get("location"))
        properties = _properties(item.get("properties") if item.get("properties") is not None else {})
        same = next((doc for doc in existing if _same(doc["location"], location)), None)
        if same is not None:
            same["properties"] = properties
            store.put(PART, f"{api_id}/{same['id']}", same, parent=api_id)
            ids.append(str(same["id"]))
            continue
        doc = {"id": short_id(6), "location": location, "properties": properties}
        store.put(PART, f"{api_id}/{doc['id']}", doc, parent=api_id)
        existing.append(doc)
        ids.append(str(doc["id"]))
    return ids


def _part(ctx: ControlContext, api_id: str, part_id: str) -> Doc:
    # Get and Update name the part, not the API, when the API is unknown (Delete names the API), as recorded
    doc = ctx.store.get(PART, f"{api_id}/{part_id}")
    if doc is None:
        raise not_found("Invalid Documentation part identifier specified")
    return doc


def _version(ctx: ControlContext, api_id: str, name: str) -> Doc:
    rest_api(ctx, api_id)
    doc = ctx.store.get(VERSION, f"{api_id}/{name}")
    if doc is None:
        raise not_found("Invalid Documentation version identifier specified")
    return doc


async def create_documentation_part(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    rest_api(ctx, api_id)
    location = location_of(params.get("location"))
    if any(_same(doc["location"], location) for doc in list_parts(ctx.store, api_id)):
        raise conflict("Documentation part already exists for the specified location")
    doc = {"id": short_id(6), "location": location, "properties": _properties(params.get("properties"))}
    ctx.store.put(PART, f"{api_id}/{doc['id']}", doc, parent=api_id)
    return doc


async def get_documentation_part(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _part(ctx, params["restApiId"], params["documentationPartId"])


async def get_documentation_parts(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    rest_api(ctx, api_id)
    items = list_parts(ctx.store, api_id)
    if params.get("type"):
        items = [doc for doc in items if doc["location"]["type"] == params["type"]]
    if params.get("nameQuery"):
        items = [doc for doc in items if str(params["nameQuery"]) in str(doc["location"].get("name") or "")]
    if params.get("path"):
        items = [doc for doc in items if doc["location"].get("path") == params["path"]]
    return page(items, params)


async def update_documentation_part(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    doc = _part(ctx, api_id, params["documentationPartId"])
    patch.apply(
        doc, params.get("patchOperations") or [], {"properties": patch.scalar("properties")}, replace_only=True
    )
    doc["properties"] = _properties(doc.get("properties"))
    ctx.store.put(PART, f"{api_id}/{doc['id']}", doc, parent=api_id)
    return doc


async def delete_documentation_part(ctx: ControlContext, params: dict[str, Any]) -> None:
    api_id = params["restApiId"]
    rest_api(ctx, api_id)
    doc = _part(ctx, api_id, params["documentationPartId"])
    ctx.store.delete(PART, f"{api_id}/{doc['id']}")


async def import_documentation_parts(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    rest_api(ctx, api_id)
    mode = params.get("mode") or "merge"
    if mode not in ("merge", "overwrite"):
        raise bad_request(f"Invalid mode: {mode}. Must be one of: [merge, overwrite]")
    try:
        document = openapi.load(params.get("body") or b"")
    except openapi.OpenApiError as exc:
        raise bad_request(str(exc)) from exc
    items = parts_in(document)
    warnings = [] if items else [f"No {EXTENSION} documentationParts found in the definition"]
    if params.get("failOnWarnings") and warnings:
        raise bad_request("Warnings found during import:\n\t" + "\n\t".join(warnings))
    with ctx.store.transaction():
        ids = import_parts(ctx.store, api_id, items, overwrite=mode == "overwrite")
    return {"ids": ids, "warnings": warnings or None}


async def create_documentation_version(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    rest_api(ctx, api_id)
    name = str(params.get("documentationVersion") or "")
    if not name:
        raise bad_request("Documentation version must be non-empty")
    stage_key = f"{api_id}/{params['stageName']}" if params.get("stageName") else None
    stage = ctx.store.get("stage", stage_key) if stage_key else None
    if stage_key and stage is None:
        raise not_found("Invalid Stage identifier specified")
    doc = {
        "version": name,
        "createdDate": now(),
        **({"description": params["description"]} if params.get("description") else {}),
    }
    with ctx.store.transaction():
        try:
            ctx.store.insert(VERSION, f"{api_id}/{name}", {**doc, "parts": list_parts(ctx.store, api_id)}, parent=api_id)
        except Conflict:
            raise conflict("Documentation version already exists") from None
        if stage is not None and stage_key is not None:
            stage["documentationVersion"] = name
            ctx.store.put("stage", stage_key, stage, parent=api_id)
    return doc


def _shown(doc: Doc) -> Doc:
    return {key: value for key, value in doc.items() if key != "parts"}


async def get_documentation_version(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _shown(_version(ctx, params["restApiId"], params["documentationVersion"]))


async def get_documentation_versions(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    rest_api(ctx, api_id)
    items = sorted(ctx.store.list(VERSION, api_id), key=lambda doc: str(doc["version"]))
    return page([_shown(doc) for doc in items], params)


async def update_documentation_version(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    doc = _version(ctx, api_id, params["documentationVersion"])
    patch.apply(doc, params.get("patchOperations") or [], {"description": patch.scalar("description")})
    ctx.store.put(VERSION, f"{api_id}/{doc['version']}", doc, parent=api_id)
    return _shown(doc)


async def delete_documentation_version(ctx: ControlContext, params: dict[str, Any]) -> None:
    api_id = params["restApiId"]
    doc = _version(ctx, api_id, params["documentationVersion"])
    for stage in ctx.store.list("stage", api_id):
        if stage.get("documentationVersion") == doc["version"]:
            raise bad_request(
                f"Documentation version {doc['version']} is associated with stage {stage['stageName']}"
            )
    ctx.store.delete(VERSION, f"{api_id}/{doc['version']}")


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "CreateDocumentationPart": partial(create_documentation_part, ctx),
        "GetDocumentationPart": partial(get_documentation_part, ctx),
        "GetDocumentationParts": partial(get_documentation_parts, ctx),
        "UpdateDocumentationPart": partial(update_documentation_part, ctx),
        "DeleteDocumentationPart": partial(delete_documentation_part, ctx),
        "ImportDocumentationParts": partial(import_documentation_parts, ctx),
        "CreateDocumentationVersion": partial(create_documentation_version, ctx),
        "GetDocumentationVersion": partial(get_documentation_version, ctx),
        "GetDocumentationVersions": partial(get_documentation_versions, ctx),
        "UpdateDocumentationVersion": partial(update_documentation_version, ctx),
        "DeleteDocumentationVersion": partial(delete_documentation_version, ctx),
    }


def _merge(target: Any, properties: Doc) -> None:
    if isinstance(target, dict):
        for key, value in properties.items():
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                _merge(target[key], value)
            else:
                target[key] = value


def document(out: Doc, parts: list[Doc], version: str | None) -> None:
    """Write the parts into an exported OpenAPI document (in place), as AWS's ``extensions=documentation``
    does: each entity takes its effective properties, and ``x-amazon-apigateway-documentation`` lists them."""
    api = effective(parts, "API")
    if api:
        info = api.get("info") if isinstance(api.get("info"), dict) else None
        _merge(out.setdefault("info", {}), info if info is not None else api)
        for key in ("tags", "externalDocs"):
            if key in api:
                out[key] = api[key]
    swagger = "swagger" in out
    for path, item in (out.get("paths") or {}).items():
        _merge(item, effective(parts, "RESOURCE", path=path))
        for verb, operation in item.items():
            if not isinstance(operation, dict) or (verb.startswith("x-") and verb != openapi.ANY_METHOD):
                continue
            method = "ANY" if verb == openapi.ANY_METHOD else verb.upper()
            at = {"path": path, "method": method}
            _merge(operation, effective(parts, "METHOD", **at))
            kinds = {"query": "QUERY_PARAMETER", "path": "PATH_PARAMETER", "header": "REQUEST_HEADER"}
            for parameter in operation.get("parameters") or []:
                if isinstance(parameter, dict) and parameter.get("in") in kinds:
                    _merge(parameter, effective(parts, kinds[parameter["in"]], name=parameter.get("name"), **at))
            body = effective(parts, "REQUEST_BODY", **at)
            if body and not swagger and isinstance(operation.get("requestBody"), dict):
                _merge(operation["requestBody"], body)
            for status, response in (operation.get("responses") or {}).items():
                where = {**at, "statusCode": str(status)}
                _merge(response, effective(parts, "RESPONSE", **where))
                _merge(response, effective(parts, "RESPONSE_BODY", **where))
                for name, header in (response.get("headers") or {}).items():
                    _merge(header, effective(parts, "RESPONSE_HEADER", name=name, **where))
    schemas = out.get("definitions") if swagger else (out.get("components") or {}).get("schemas")
    for name, schema in (schemas or {}).items():
        _merge(schema, effective(parts, "MODEL", name=name))
    schemes = out.get("securityDefinitions") if swagger else (out.get("components") or {}).get("securitySchemes")
    for name, scheme in (schemes or {}).items():
        _merge(scheme, effective(parts, "AUTHORIZER", name=name))
    out[EXTENSION] = extension(version, parts)
