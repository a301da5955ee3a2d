"""Lambda layers: PublishLayerVersion, GetLayerVersion(ByArn), ListLayers, ListLayerVersions, DeleteLayerVersion,
and the ``Layers`` a function names.

A layer version's document is stored as GetLayerVersion returns it (kind ``layer-version``, key ``name:N``), its
zip in a code store of its own (unpacked once; functions/layers.py says where workers find it). Version numbers
only grow (``layer-version-seq``). Deleting a version removes its document; its content stays for the
functions that still name it, as on Lambda.
"""

from __future__ import annotations

import asyncio
import re
import time
from functools import partial
from typing import Any

from apigate.aws.errors import AwsError, invalid_parameter
from apigate.aws.wire import OperationHandler
from apigate.control.code_links import CodeLinks
from apigate.functions.code_store import InvalidZipError
from apigate.functions.directory import FunctionDirectory, layer_key
from apigate.functions.layers import MAX_LAYERS

Doc = dict[str, Any]

_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # Lambda allows 140; the code store's directories hold 64
_PAGE = 50


def _name(directory: FunctionDirectory, raw: str) -> str:
    """A layer's name from its name or its ARN (``arn:aws:lambda:region:account:layer:name``)."""
    name = raw.split(":layer:", 1)[1] if ":layer:" in raw else raw
    if not _NAME.fullmatch(name):
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{raw}' at 'layerName' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:"
            "[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+",
            400,
        )
    return name


def layer_arn(directory: FunctionDirectory, name: str) -> str:
    settings = directory.settings
    return f"arn:aws:lambda:{settings.region}:{settings.account_id}:layer:{name}"


def _created() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}+0000"


def _not_found() -> AwsError:
    return AwsError("ResourceNotFoundException", "The resource you requested does not exist.", 404)


def _with_location(directory: FunctionDirectory, links: CodeLinks, doc: Doc) -> Doc:
    name = f"@layer:{doc['LayerArn'].rsplit(':', 1)[1]}:{doc['Version']}"
    location = links.link(directory.settings.base_url, name, doc["Content"]["CodeSha256"])
    return {**doc, "Content": {**doc["Content"], "Location": location}}


async def publish_layer_version(directory: FunctionDirectory, links: CodeLinks, params: Doc) -> Doc:
    name = _name(directory, str(params["LayerName"]))
    zip_bytes = (params.get("Content") or {}).get("ZipFile")
    if not zip_bytes:
        raise invalid_parameter("apigate accepts layer content as a ZipFile only (S3 content is not served)")
    try:
        info = await asyncio.to_thread(directory.layer_code.put, name, zip_bytes)
    except InvalidZipError as exc:
        raise invalid_parameter(str(exc)) from exc
    with directory.store.transaction():
        seq = directory.store.get("layer-version-seq", name) or {"Last": 0}
        version = int(seq["Last"]) + 1
        arn = layer_arn(directory, name)
        doc: Doc = {
            "Content": {"CodeSha256": info.sha256_b64, "CodeSize": info.size},
            "LayerArn": arn,
            "LayerVersionArn": f"{arn}:{version}",
            "Description": params.get("Description") or "",
            "CreatedDate": _created(),
            "Version": version,
        }
        for field in ("CompatibleRuntimes", "LicenseInfo", "CompatibleArchitectures"):
            if params.get(field):
                doc[field] = params[field]
        directory.store.put("layer-version", f"{name}:{version}", doc, parent=f"layer:{name}")
        directory.store.put("layer-version-seq", name, {"Last": version})
    return _with_location(directory, links, doc)


def _version(directory: FunctionDirectory, name: str, number: Any) -> Doc:
    doc = directory.store.get("layer-version", f"{name}:{number}")
    if doc is None:
        raise _not_found()
    return doc


async def get_layer_version(directory: FunctionDirectory, links: CodeLinks, params: Doc) -> Doc:
    name = _name(directory, str(params["LayerName"]))
    return _with_location(directory, links, _version(directory, name, params["VersionNumber"]))


async def get_layer_version_by_arn(directory: FunctionDirectory, links: CodeLinks, params: Doc) -> Doc:
    key = layer_key(str(params["Arn"]))
    if key is None:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{params['Arn']}' at 'arn' failed to satisfy constraint: Member "
            "must satisfy regular expression pattern: arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:"
            "[a-zA-Z0-9-_]+:[0-9]+",
            400,
        )
    name, number = key.rsplit(":", 1)
    return _with_location(directory, links, _version(directory, name, number))


def _versions(
    directory: FunctionDirectory, name: str, runtime: str | None, architecture: str | None
) -> list[Doc]:
    found = directory.store.list("layer-version", f"layer:{name}")
    if runtime:
        found = [d for d in found if runtime in (d.get("CompatibleRuntimes") or ())]
    if architecture:
        found = [d for d in found if architecture in (d.get("CompatibleArchitectures") or ())]
    return sorted(found, key=lambda d: -int(d["Version"]))  # newest first, as Lambda lists them


def _page(items: list[Doc], params: Doc, field: str) -> Doc:
    marker = params.get("Marker") or "0"
    if not (marker.isascii() and marker.isdigit()):
        raise invalid_parameter("Invalid marker")
    start = int(marker)
    limit = min(int(params.get("MaxItems") or _PAGE), _PAGE)
    result: Doc = {field: items[start : start + limit]}
    if start + limit < len(items):
        result["NextMarker"] = str(start + limit)
    return result


async def list_layer_versions(directory: FunctionDirectory, links: CodeLinks, params: Doc) -> Doc:
    name = _name(directory, str(params["LayerName"]))
    found = _versions(directory, name, params.get("CompatibleRuntime"), params.get("CompatibleArchitecture"))
    # A list item is GetLayerVersion's answer without Content and LayerArn (LayerVersionsListItem)
    items = [{k: v for k, v in d.items() if k not in ("Content", "LayerArn")} for d in found]
    return _page(items, params, "LayerVersions")


async def list_layers(directory: FunctionDirectory, links: CodeLinks, params: Doc) -> Doc:
    layers = []
    for seq in sorted({str(d["LayerArn"]).rsplit(":", 1)[1] for d in directory.store.list("layer-version")}):
        found = _versions(
            directory, seq, params.get("CompatibleRuntime"), params.get("CompatibleArchitecture")
        )
        if found:
            latest = {k: v for k, v in found[0].items() if k not in ("Content", "LayerArn")}
            layers.append(
                {"LayerName": seq, "LayerArn": found[0]["LayerArn"], "LatestMatchingVersion": latest}
            )
    return _page(layers, params, "Layers")


async def delete_layer_version(directory: FunctionDirectory, links: CodeLinks, params: Doc) -> None:
    # Lambda answers 204 for a version that is not there.
    name = _name(directory, str(params["LayerName"]))
    key = f"{name}:{params['VersionNumber']}"
    doc = directory.store.get("layer-version", key)
    if doc is not None:  # functions naming it keep running it (as on Lambda): its content stays findable
        directory.store.put("layer-content", key, {"CodeSha256": doc["Content"]["CodeSha256"]})
    directory.store.delete("layer-version", key)


def function_layers(directory: FunctionDirectory, arns: list[str]) -> list[Doc]:
    """A function's ``Layers`` as its configuration shows them, checked as Lambda checks them."""
    if len(arns) > MAX_LAYERS:
        raise invalid_parameter(f"Cannot reference more than {MAX_LAYERS} layers.")
    layers: list[Doc] = []
    names: set[str] = set()
    for arn in arns:
        key = layer_key(str(arn))
        doc = directory.store.get("layer-version", key) if key else None
        if key is None or doc is None:
            raise invalid_parameter(f"Layer version {arn} does not exist.")
        name = key.rsplit(":", 1)[0]
        if name in names:
            raise invalid_parameter(
                "Two different versions of the same layer are not allowed to be referenced in the same function. "
                f"{arn} references a layer that is already used."
            )
        names.add(name)
        layers.append({"Arn": doc["LayerVersionArn"], "CodeSize": doc["Content"]["CodeSize"]})
    return layers


def handlers(directory: FunctionDirectory, links: CodeLinks) -> dict[str, OperationHandler]:
    return {
        "PublishLayerVersion": partial(publish_layer_version, directory, links),
        "GetLayerVersion": partial(get_layer_version, directory, links),
        "GetLayerVersionByArn": partial(get_layer_version_by_arn, directory, links),
        "ListLayerVersions": partial(list_layer_versions, directory, links),
        "ListLayers": partial(list_layers, directory, links),
        "DeleteLayerVersion": partial(delete_layer_version, directory, links),
    }
