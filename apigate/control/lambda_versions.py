"""Lambda's versions and aliases: PublishVersion, ListVersionsByFunction, and the alias operations.

A published version is a copy of ``$LATEST``'s configuration document (store kind ``function-version``, key
``name:N``). Its code needs no copy: the code store is content-addressed and keeps every zip a function was
given until the function is deleted, so the version's ``CodeSha256`` names an immutable snapshot (and its
built requirements, keyed by their content, stay as well). Version numbers only grow, deleted ones are not
reused (``function-version-seq``). An alias (``function-alias``, key ``name:alias``) names a version, or two
with a routing weight; the function directory resolves it when first called (functions/directory.py).
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import orjson

from apigate.aws.errors import AwsError, function_not_found, invalid_parameter, resource_conflict
from apigate.control.code_links import CodeLinks
from apigate.functions.directory import FunctionDirectory, qualified_name_of
from apigate.store.base import Conflict

Doc = dict[str, Any]

_ALIAS_NAME = re.compile(r"(?!^[0-9]+$)[a-zA-Z0-9_-]{1,128}")
_PAGE = 50  # what Lambda returns at most per page of versions and aliases
# What makes two configurations "the same" for PublishVersion (which publishes nothing new then).
_UNVERSIONED = frozenset(
    {
        "FunctionArn",
        "Version",
        "LastModified",
        "RevisionId",
        "State",
        "LastUpdateStatus",
        "LastUpdateStatusReason",
    }
)


def target(params: Doc) -> tuple[str, str | None]:
    """The function's name and the qualifier its call names: in ``FunctionName`` (``name:3``, an ARN with an
    alias) or ``Qualifier``; both must agree, as Lambda checks."""
    qualified = qualified_name_of(str(params["FunctionName"]))
    name, _, derived = qualified.partition(":")
    qualifier = params.get("Qualifier")
    if derived and qualifier and derived != qualifier:
        raise invalid_parameter(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return name, (qualifier or derived or None)


def precondition_failed(kind: str) -> AwsError:
    return AwsError(
        "PreconditionFailedException",
        f"The Revision Id provided does not match the latest Revision Id. Call the {kind} API to retrieve the "
        "latest Revision Id",
        412,
    )


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}+0000"


def _fingerprint(doc: Doc) -> str:
    return orjson.dumps(
        {k: v for k, v in doc.items() if k not in _UNVERSIONED}, option=orjson.OPT_SORT_KEYS
    ).decode()


def version_configuration(directory: FunctionDirectory, name: str, qualifier: str | None) -> Doc:
    """The configuration a qualified call names: ``$LATEST``'s, a version's, or the version an alias names."""
    latest = directory.configuration(name)
    if qualifier is None or qualifier == "$LATEST":
        return latest
    version = qualifier
    if not qualifier.isdigit():
        alias = directory.store.get("function-alias", f"{name}:{qualifier}")
        if alias is None:
            raise function_not_found(f"{directory.arn(name)}:{qualifier}")
        version = alias["FunctionVersion"]
        if version == "$LATEST":
            return latest
    doc = directory.store.get("function-version", f"{name}:{version}")
    if doc is None:
        raise function_not_found(f"{directory.arn(name)}:{qualifier}")
    return doc


async def publish_version(directory: FunctionDirectory, links: CodeLinks, params: Doc) -> Doc:
    name, _ = target(params)
    with directory.store.transaction():  # the next number is taken once, across processes
        latest = directory.configuration(name)
        if params.get("RevisionId") and params["RevisionId"] != latest.get("RevisionId"):
            raise precondition_failed("GetFunction or the GetAlias")
        wanted = params.get("CodeSha256")
        if wanted and wanted != latest["CodeSha256"]:
            raise invalid_parameter(
                f"CodeSHA256 ({wanted}) is different from current CodeSHA256 in $LATEST "
                f"({latest['CodeSha256']}). Please try again with the CodeSHA256 in $LATEST."
            )
        seq = directory.store.get("function-version-seq", name) or {"Last": 0, "Fingerprint": ""}
        snapshot = dict(latest)
        if params.get("Description") is not None:
            snapshot["Description"] = params["Description"]
        fingerprint = _fingerprint(snapshot)
        if seq["Last"] and seq["Fingerprint"] == fingerprint:
            # Nothing changed since the last version: Lambda answers with that version, publishing nothing.
            existing = directory.store.get("function-version", f"{name}:{seq['Last']}")
            if existing is not None:
                return existing
        number = str(int(seq["Last"]) + 1)
        snapshot.update(
            Version=number,
            FunctionArn=f"{directory.arn(name)}:{number}",
            LastModified=_timestamp(),
            RevisionId=str(uuid.uuid4()),
        )
        directory.store.put("function-version", f"{name}:{number}", snapshot, parent=f"function:{name}")
        directory.store.put("function-version-seq", name, {"Last": int(number), "Fingerprint": fingerprint})
    return snapshot


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


def versions_of(directory: FunctionDirectory, name: str) -> list[Doc]:
    return sorted(
        directory.store.list("function-version", f"function:{name}"), key=lambda d: int(d["Version"])
    )


async def list_versions_by_function(directory: FunctionDirectory, links: CodeLinks, params: Doc) -> Doc:
    name, _ = target(params)
    latest = dict(directory.configuration(name))
    latest["FunctionArn"] = f"{directory.arn(name)}:$LATEST"  # as Lambda lists it: qualified
    return _page([latest, *versions_of(directory, name)], params, "Versions")


def aliases_of(directory: FunctionDirectory, name: str) -> list[Doc]:
    return sorted(directory.store.list("function-alias", f"function:{name}"), key=lambda d: d["Name"])


def _alias_arn(directory: FunctionDirectory, name: str, alias: str) -> str:
    return f"{directory.arn(name)}:{alias}"


def _check_version(directory: FunctionDirectory, name: str, version: str) -> None:
    if version != "$LATEST" and directory.store.get("function-version", f"{name}:{version}") is None:
        raise function_not_found(f"{directory.arn(name)}:{version}")


def _routing(directory: FunctionDirectory, name: str, version: str, routing: Doc | None) -> Doc | None:
    """A checked RoutingConfig: at most one other published version, with a weight in [0, 1]."""
    weights = (routing or {}).get("AdditionalVersionWeights") or {}
    if not weights:
        return None
    if len(weights) > 1:
        raise invalid_parameter(
            "An alias can route to at most one additional version (AdditionalVersionWeights)."
        )
    (other, weight), *_ = weights.items()
    if not 0.0 <= float(weight) <= 1.0:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{weight}' at 'routingConfig.additionalVersionWeights' failed to "
            "satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal "
            "to 1.0, Member must have value greater than or equal to 0.0]",
            400,
        )
    if version == "$LATEST" or other == "$LATEST" or not str(other).isdigit():
        raise invalid_parameter("$LATEST is not supported for an alias pointing to more than 1 version")
    if other == version:
        raise invalid_parameter(
            f"Invalid function version {other}. Function version {other} is already included in routing "
            "configuration."
        )
    _check_version(directory, name, str(other))
    return {"AdditionalVersionWeights": {str(other): float(weight)}}


async def create_alias(directory: FunctionDirectory, links: CodeLinks, params: Doc) -> Doc:
    name, _ = target(params)
    alias = str(params["Name"])
    if not _ALIAS_NAME.fullmatch(alias):
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{alias}' at 'name' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
            400,
        )
    directory.configuration(name)
    version = str(params["FunctionVersion"])
    _check_version(directory, name, version)
    doc: Doc = {
        "AliasArn": _alias_arn(directory, name, alias),
        "Name": alias,
        "FunctionVersion": version,
        "Description": params.get("Description") or "",
        "RevisionId": str(uuid.uuid4()),
    }
    routing = _routing(directory, name, version, params.get("RoutingConfig"))
    if routing is not None:
        doc["RoutingConfig"] = routing
    try:
        directory.store.insert("function-alias", f"{name}:{alias}", doc, parent=f"function:{name}")
    except Conflict:
        raise resource_conflict(f"Alias already exists: {doc['AliasArn']}") from None
    directory.aliases_changed(name)
    return doc


def _alias(directory: FunctionDirectory, params: Doc) -> tuple[str, Doc]:
    name, _ = target(params)
    directory.configuration(name)
    doc = directory.store.get("function-alias", f"{name}:{params['Name']}")
    if doc is None:
        raise AwsError(
            "ResourceNotFoundException",
            f"Alias not found: {_alias_arn(directory, name, str(params['Name']))}",
            404,
        )
    return name, doc


async def get_alias(directory: FunctionDirectory, links: CodeLinks, params: Doc) -> Doc:
    return _alias(directory, params)[1]


async def update_alias(directory: FunctionDirectory, links: CodeLinks, params: Doc) -> Doc:
    with directory.store.transaction():
        name, doc = _alias(directory, params)
        if params.get("RevisionId") and params["RevisionId"] != doc["RevisionId"]:
            raise precondition_failed("GetFunction or the GetAlias")
        version = str(params.get("FunctionVersion") or doc["FunctionVersion"])
        _check_version(directory, name, version)
        doc = dict(doc, FunctionVersion=version, RevisionId=str(uuid.uuid4()))
        if params.get("Description") is not None:
            doc["Description"] = params["Description"]
        routing = params["RoutingConfig"] if "RoutingConfig" in params else doc.get("RoutingConfig")
        checked = _routing(directory, name, version, routing)
        if checked is None:
            doc.pop("RoutingConfig", None)
        else:
            doc["RoutingConfig"] = checked
        directory.store.put("function-alias", f"{name}:{doc['Name']}", doc, parent=f"function:{name}")
    directory.aliases_changed(name)
    return doc


async def delete_alias(directory: FunctionDirectory, links: CodeLinks, params: Doc) -> None:
    name, doc = _alias(directory, params)
    directory.store.delete("function-alias", f"{name}:{doc['Name']}")
    directory.aliases_changed(name)


async def list_aliases(directory: FunctionDirectory, links: CodeLinks, params: Doc) -> Doc:
    name, _ = target(params)
    directory.configuration(name)
    aliases = aliases_of(directory, name)
    version = params.get("FunctionVersion")
    if version:
        aliases = [
            a for a in aliases
            if a["FunctionVersion"] == version or version in ((a.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})
        ]  # fmt: skip
    return _page(aliases, params, "Aliases")


async def delete_version(directory: FunctionDirectory, name: str, qualifier: str) -> None:
    """DeleteFunction with a Qualifier: one published version, unless an alias still routes to it."""
    if qualifier == "$LATEST":
        raise invalid_parameter("$LATEST version cannot be deleted without deleting the function.")
    if not qualifier.isdigit():
        raise invalid_parameter(
            "Deletion of aliases is not supported by DeleteFunction; use DeleteAlias to delete an alias."
        )
    with directory.store.transaction():
        if directory.store.get("function-version", f"{name}:{qualifier}") is None:
            raise function_not_found(f"{directory.arn(name)}:{qualifier}")
        users = [
            a["Name"] for a in aliases_of(directory, name)
            if a["FunctionVersion"] == qualifier
            or qualifier in ((a.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {})
        ]  # fmt: skip
        if users:
            raise resource_conflict(
                f"Unable to delete version because the following aliases reference it: [{', '.join(users)}]"
            )
        directory.store.delete("function-version", f"{name}:{qualifier}")
    directory.aliases_changed(name)
    await directory.runtime.retire(f"{name}:{qualifier}")  # that version's pool (see FunctionSpec.pool_key)


def delete_all(directory: FunctionDirectory, name: str) -> None:
    """Everything versioned of a function, inside the caller's transaction (DeleteFunction)."""
    for doc in directory.store.list("function-version", f"function:{name}"):
        directory.store.delete("function-version", f"{name}:{doc['Version']}")
    for doc in directory.store.list("function-alias", f"function:{name}"):
        directory.store.delete("function-alias", f"{name}:{doc['Name']}")
    directory.store.delete("function-version-seq", name)
