"""Documentation in templates: ``AWS::ApiGateway::DocumentationPart`` and ``AWS::ApiGateway::DocumentationVersion``
(and a stage's ``DocumentationVersion``), through the same code as the management calls.

A part is put at its location (a redeploy replaces its properties there, keeping its id); a version is a snapshot
of the parts when it is first created, as on AWS, so it is ranked after every part.
"""

from __future__ import annotations

from typing import Any, Protocol

from apigate.control import documentation
from apigate.control.context import ControlContext

Doc = dict[str, Any]
PART = "AWS::ApiGateway::DocumentationPart"
VERSION = "AWS::ApiGateway::DocumentationVersion"
RESOURCE_TYPES = (PART, VERSION)


class Run(Protocol):
    ctx: ControlContext
    physical: dict[str, tuple[str, str]]


def _location(props: Doc) -> Doc:
    raw = props.get("Location") or {}
    keys = {"Type": "type", "Path": "path", "Method": "method", "StatusCode": "statusCode", "Name": "name"}
    return {ours: raw[theirs] for theirs, ours in keys.items() if raw.get(theirs) not in (None, "")}


async def create(run: Run, logical_id: str, kind: str, props: Doc) -> None:
    api_id = str(props.get("RestApiId"))
    handlers = documentation.handlers(run.ctx)
    if kind == PART:
        item = {"location": _location(props), "properties": props.get("Properties") or "{}"}
        await handlers["GetDocumentationParts"]({"restApiId": api_id})  # AWS's NotFound for an unknown API
        (part_id,) = documentation.import_parts(run.ctx.store, api_id, [item], overwrite=False)
        run.physical[logical_id] = (kind, part_id)  # Ref gives the part's id
    else:
        version = str(props.get("DocumentationVersion") or "")
        if run.ctx.store.get(documentation.VERSION, f"{api_id}/{version}") is None:
            params = {"restApiId": api_id, "documentationVersion": version, "description": props.get("Description")}
            await handlers["CreateDocumentationVersion"]({k: v for k, v in params.items() if v is not None})
        run.physical[logical_id] = (kind, version)  # Ref gives the version's name


async def remove(run: Run, kind: str, physical: str, api_ids: set[str]) -> None:
    """A part or version the template no longer declares (``api_ids``: the stack's REST APIs, then and now)."""
    store = run.ctx.store
    for api_id in sorted(api_ids):
        if kind == VERSION:
            in_use = any(stage.get("documentationVersion") == physical for stage in store.list("stage", api_id))
            if store.get(documentation.VERSION, f"{api_id}/{physical}") is not None and not in_use:
                store.delete(documentation.VERSION, f"{api_id}/{physical}")
        elif store.get(documentation.PART, f"{api_id}/{physical}") is not None:
            store.delete(documentation.PART, f"{api_id}/{physical}")
