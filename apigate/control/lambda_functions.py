"""Lambda's management API: create, update, invoke, permissions.

Function configurations are stored as Lambda's FunctionConfiguration documents; code goes to the code
store, unpacked once per version of the code.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import uuid
from functools import partial
from typing import Any

import orjson

from apigate.aws.errors import AwsError, function_not_found, invalid_parameter, resource_conflict
from apigate.aws.wire import REQUEST_ID_FIELD, OperationHandler
from apigate.control import lambda_events, lambda_layers, lambda_versions
from apigate.control.code_links import CodeLinks
from apigate.control.lambda_versions import target, version_configuration
from apigate.functions.code_store import InvalidZipError
from apigate.functions.deps import DependencyBuildError
from apigate.functions.directory import FunctionDirectory, FunctionMissing, FunctionThrottled
from apigate.functions.interpreters import RuntimeUnavailable
from apigate.functions.spec import RESERVED_ENVIRONMENT_KEYS
from apigate.store.base import Conflict

Doc = dict[str, Any]


def _timestamp() -> str:
    """Lambda's LastModified: ISO 8601 with milliseconds and a +0000 offset."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}+0000"


def _validation(field: str, value: Any, constraint: str) -> AwsError:
    return AwsError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}",
        400,
    )


def _check_configuration(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> None:
    runtime = params.get("Runtime")
    if runtime is not None:
        _runtime_reason(directory, str(runtime))
    timeout = params.get("Timeout")
    if timeout is not None and not 1 <= int(timeout) <= 900:
        raise _validation("timeout", timeout, "Member must have value less than or equal to 900")
    memory = params.get("MemorySize")
    if memory is not None and not 128 <= int(memory) <= 10240:
        raise _validation("memorySize", memory, "Member must have value greater than or equal to 128")
    variables = (params.get("Environment") or {}).get("Variables") or {}
    reserved = sorted(set(variables) & RESERVED_ENVIRONMENT_KEYS)
    if reserved:
        raise invalid_parameter(
            f"Lambda was unable to configure your environment variables because the environment variables you "
            f"have provided contains reserved keys that are currently not supported for modification. "
            f"Reserved keys used in this request: {', '.join(reserved)}"
        )


def _runtime_reason(directory: FunctionDirectory, runtime: str) -> str | None:
    """Whether ``runtime`` can run here: the reason a fallback runs it (for LastUpdateStatusReason), or None;
    InvalidParameterValueException when it cannot run (see functions/interpreters.py)."""
    try:
        return directory.interpreters.choose(runtime).reason
    except RuntimeUnavailable as exc:
        raise invalid_parameter(str(exc)) from exc


async def _build_packages(directory: FunctionDirectory, name: str, sha256_b64: str, runtime: str) -> None:
    """The function's requirements.txt installed for its interpreter, before its configuration changes: a
    failure leaves the previous version serving (see functions/deps.py)."""
    interpreter = directory.interpreters.choose(runtime).interpreter
    try:
        code_dir = directory.code.code_dir(name, sha256_b64)
        await directory.packages.build(code_dir, interpreter)
        await directory.node_packages.build(code_dir, interpreter)
    except DependencyBuildError as exc:
        raise invalid_parameter(f"The function's requirements could not be installed: {exc}") from exc


def _set_status_reason(doc: Doc, reason: str | None) -> None:
    if reason:
        doc["LastUpdateStatusReason"] = reason
    else:
        doc.pop("LastUpdateStatusReason", None)


async def _store_code(directory: FunctionDirectory, links: CodeLinks, name: str, zip_bytes: bytes | None, doc: Doc) -> None:
    if not zip_bytes:
        raise invalid_parameter(
            "apigate accepts function code as a ZipFile only (S3 and images are not served)"
        )
    try:
        # Unpacking a large zip takes a while: keep the event loop serving meanwhile.
        info = await asyncio.to_thread(directory.code.put, name, zip_bytes)
    except InvalidZipError as exc:
        raise invalid_parameter(str(exc)) from exc
    await _build_packages(directory, name, info.sha256_b64, doc["Runtime"])
    doc["CodeSha256"] = info.sha256_b64
    doc["CodeSize"] = info.size


def _touch(directory: FunctionDirectory, links: CodeLinks, doc: Doc) -> None:
    doc["LastModified"] = _timestamp()
    doc["RevisionId"] = str(uuid.uuid4())


async def create_function(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> Doc:
    name = params["FunctionName"]
    # Answered early, before the upload is unpacked; the insert below is what holds across processes.
    if directory.store.get("function", name) is not None:
        raise resource_conflict(f"Function already exist: {name}")
    if not params.get("Handler"):
        raise invalid_parameter("Handler is required for functions of package type Zip")
    _check_configuration(directory, links, params)
    doc: Doc = {
        "FunctionName": name,
        "FunctionArn": directory.arn(name),
        "Runtime": params.get("Runtime", "python3.12"),
        "Role": params.get("Role", f"arn:aws:iam::{directory.settings.account_id}:role/lambda-role"),
        "Handler": params["Handler"],
        "CodeSize": 0,
        "Description": params.get("Description", ""),
        "Timeout": int(params.get("Timeout", 3)),
        "MemorySize": int(params.get("MemorySize", 128)),
        "CodeSha256": "",
        "Version": "$LATEST",
        "TracingConfig": {"Mode": "PassThrough"},
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": params.get("Architectures") or ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
    }
    _set_status_reason(doc, _runtime_reason(directory, doc["Runtime"]))
    if (params.get("Environment") or {}).get("Variables"):
        doc["Environment"] = {"Variables": dict(params["Environment"]["Variables"])}
    if params.get("Layers"):
        doc["Layers"] = lambda_layers.function_layers(directory, params["Layers"])
    await _store_code(directory, links, name, (params.get("Code") or {}).get("ZipFile"), doc)
    _touch(directory, links, doc)
    try:  # the check that holds when another process creates the same name meanwhile
        directory.store.insert("function", name, doc)
    except Conflict:
        raise resource_conflict(f"Function already exist: {name}") from None
    if params.get("Tags"):
        directory.store.put("function-tags", name, {"Tags": {str(k): str(v) for k, v in params["Tags"].items()}})
    if params.get("Publish"):  # version 1 at once: the answer is its configuration
        return await lambda_versions.publish_version(directory, links, {"FunctionName": name})
    return doc


async def get_function(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> Doc:
    doc = version_configuration(directory, *target(params))
    # A published version's link names it (its code may no longer be $LATEST's): /_apigate/code/name:3.zip
    linked = doc["FunctionName"] if doc["Version"] == "$LATEST" else f"{doc['FunctionName']}:{doc['Version']}"
    location = links.link(directory.settings.base_url, linked, doc["CodeSha256"])
    answer: Doc = {"Configuration": doc, "Code": {"RepositoryType": "S3", "Location": location}}
    tags = (directory.store.get("function-tags", doc["FunctionName"]) or {}).get("Tags")
    if tags:
        answer["Tags"] = tags
    return answer


async def get_function_configuration(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> Doc:
    return version_configuration(directory, *target(params))


async def list_functions(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> Doc:
    functions = directory.store.list("function")
    if params.get("FunctionVersion") == "ALL":  # each function's $LATEST, then its published versions
        functions = [
            version for latest in functions
            for version in (latest, *lambda_versions.versions_of(directory, latest["FunctionName"]))
        ]  # fmt: skip
    marker = params.get("Marker") or "0"
    if not (marker.isascii() and marker.isdigit()):  # not a marker we handed out ("²" is a digit too)
        raise invalid_parameter("Invalid marker")
    start = int(marker)
    limit = int(params.get("MaxItems") or 50)
    result: Doc = {"Functions": functions[start : start + limit]}
    if start + limit < len(functions):
        result["NextMarker"] = str(start + limit)
    return result


async def update_function_code(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> Doc:
    doc = directory.configuration(params["FunctionName"])
    await _store_code(directory, links, doc["FunctionName"], params.get("ZipFile"), doc)
    _touch(directory, links, doc)
    directory.store.put("function", doc["FunctionName"], doc)
    await directory.changed(doc["FunctionName"])
    if params.get("Publish"):
        return await lambda_versions.publish_version(directory, links, {"FunctionName": doc["FunctionName"]})
    return doc


async def update_function_configuration(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> Doc:
    doc = directory.configuration(params["FunctionName"])
    _check_configuration(directory, links, params)
    if "Runtime" in params and doc.get("CodeSha256"):  # a new runtime: requirements built for its Python
        await _build_packages(directory, doc["FunctionName"], doc["CodeSha256"], params["Runtime"])
    for field in ("Handler", "Runtime", "Role", "Description", "Timeout", "MemorySize"):
        if field in params:
            doc[field] = params[field]
    _set_status_reason(doc, _runtime_reason(directory, doc["Runtime"]))
    if "Layers" in params:
        layers = lambda_layers.function_layers(directory, params["Layers"] or [])
        if layers:
            doc["Layers"] = layers
        else:
            doc.pop("Layers", None)
    if "Environment" in params:
        variables = (params["Environment"] or {}).get("Variables") or {}
        if variables:
            doc["Environment"] = {"Variables": dict(variables)}
        else:
            doc.pop("Environment", None)
    _touch(directory, links, doc)
    directory.store.put("function", doc["FunctionName"], doc)
    await directory.changed(doc["FunctionName"])
    return doc


async def delete_function(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> None:
    name, qualifier = target(params)
    doc = directory.configuration(name)
    if qualifier is not None:
        await lambda_versions.delete_version(directory, name, qualifier)
        return
    name = doc["FunctionName"]
    with directory.store.transaction():
        directory.store.delete("function", name)
        directory.store.delete("function-policy", name)
        directory.store.delete("function-tags", name)
        directory.store.delete("function-concurrency", name)
        lambda_versions.delete_all(directory, name)
        lambda_events.delete_all(directory, name)
    await directory.changed(name, versions=True)
    await asyncio.to_thread(directory.code.delete, name)


async def invoke(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> Doc:
    name, qualifier = target(params)
    directory.configuration(name)
    key = name if qualifier is None else f"{name}:{qualifier}"
    payload = params.get("Payload") or b"{}"
    try:
        orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise AwsError(
            "InvalidRequestContentException", f"Could not parse request body into json: {exc}", 400
        ) from exc
    kind = params.get("InvocationType") or "RequestResponse"
    if kind == "DryRun":
        return {"StatusCode": 204}
    # The invocation's request id answers as x-amzn-RequestId, as Lambda's does: the one its log lines carry.
    invocation_id = str(uuid.uuid4())
    if kind == "Event":
        lambda_events.version_exists(directory, name, qualifier)
        directory.events.submit(key, payload, lambda_events.config_for(directory, name, qualifier))
        return {"StatusCode": 202, REQUEST_ID_FIELD: invocation_id}
    try:
        result = await directory.invoke(key, payload, request_id=invocation_id)
    except FunctionThrottled:
        raise AwsError("TooManyRequestsException", "Rate Exceeded.", 429) from None
    except FunctionMissing:  # a version or alias that does not exist
        raise function_not_found(f"{directory.arn(name)}:{qualifier}") from None
    out: Doc = {
        "StatusCode": 200,
        "ExecutedVersion": result.version,
        "Payload": result.payload,
        REQUEST_ID_FIELD: invocation_id,
    }
    if result.function_error:
        out["FunctionError"] = result.function_error
    if params.get("LogType") == "Tail":
        out["LogResult"] = base64.b64encode(result.log_tail.encode()[-4096:]).decode()
    return out


def _policy_of(directory: FunctionDirectory, links: CodeLinks, name: str) -> Doc:
    return directory.store.get("function-policy", name) or {
        "Version": "2012-10-17",
        "Id": "default",
        "Statement": [],
    }


async def add_permission(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> Doc:
    doc = directory.configuration(params["FunctionName"])
    name = doc["FunctionName"]
    # Read, check and write in one write transaction: a statement id stays unique across processes.
    with directory.store.transaction():
        policy = _policy_of(directory, links, name)
        sid = params["StatementId"]
        if any(statement["Sid"] == sid for statement in policy["Statement"]):
            raise resource_conflict(
                f"The statement id ({sid}) provided already exists. Please specify a new statement id, "
                "or remove the existing statement."
            )
        principal = params["Principal"]
        statement: Doc = {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": principal}
            if "." in principal and not principal.isdigit()
            else {"AWS": principal},
            "Action": params["Action"],
            "Resource": doc["FunctionArn"],
        }
        conditions: Doc = {}
        if params.get("SourceArn"):
            conditions.setdefault("ArnLike", {})["AWS:SourceArn"] = params["SourceArn"]
        if params.get("SourceAccount"):
            conditions.setdefault("StringEquals", {})["AWS:SourceAccount"] = params["SourceAccount"]
        if conditions:
            statement["Condition"] = conditions
        policy["Statement"].append(statement)
        directory.store.put("function-policy", name, policy)
    return {"Statement": orjson.dumps(statement).decode()}


async def get_policy(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> Doc:
    doc = directory.configuration(params["FunctionName"])
    policy = directory.store.get("function-policy", doc["FunctionName"])
    if not policy or not policy["Statement"]:
        raise AwsError("ResourceNotFoundException", "The resource you requested does not exist.", 404)
    body = orjson.dumps(policy)
    return {"Policy": body.decode(), "RevisionId": hashlib.sha256(body).hexdigest()[:36]}


async def remove_permission(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> None:
    doc = directory.configuration(params["FunctionName"])
    name = doc["FunctionName"]
    policy = _policy_of(directory, links, name)
    sid = params["StatementId"]
    kept = [statement for statement in policy["Statement"] if statement["Sid"] != sid]
    if len(kept) == len(policy["Statement"]):
        raise AwsError(
            "ResourceNotFoundException", f"Statement {sid} is not found in resource policy.", 404
        )
    policy["Statement"] = kept
    directory.store.put("function-policy", name, policy)


def _tags_of(directory: FunctionDirectory, resource: str) -> tuple[str, dict[str, str]]:
    name = directory.configuration(resource)["FunctionName"]  # ResourceNotFoundException for an unknown one
    return name, dict((directory.store.get("function-tags", name) or {}).get("Tags") or {})


async def tag_resource(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> None:
    name, tags = _tags_of(directory, params["Resource"])
    tags.update({str(k): str(v) for k, v in (params.get("Tags") or {}).items()})
    if len(tags) > 50:
        raise invalid_parameter("The number of tags exceeds the limit of 50 tags per resource.")
    directory.store.put("function-tags", name, {"Tags": tags})


async def untag_resource(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> None:
    name, tags = _tags_of(directory, params["Resource"])
    for key in params.get("TagKeys") or ():
        tags.pop(key, None)
    directory.store.put("function-tags", name, {"Tags": tags})


async def list_tags(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> Doc:
    return {"Tags": _tags_of(directory, params["Resource"])[1]}


async def get_account_settings(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> Doc:
    functions = directory.store.list("function")
    return {
        # Lambda's default quotas: apigate enforces the payload and memory limits, not these counts.
        "AccountLimit": {
            "TotalCodeSize": 80530636800,
            "CodeSizeUnzipped": 262144000,
            "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": 1000,
            "UnreservedConcurrentExecutions": 1000,
        },
        "AccountUsage": {
            "TotalCodeSize": sum(int(f.get("CodeSize") or 0) for f in functions),
            "FunctionCount": len(functions),
        },
    }


async def put_function_concurrency(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> Doc:
    name = directory.configuration(params["FunctionName"])["FunctionName"]
    reserved = int(params["ReservedConcurrentExecutions"])
    if reserved < 0:
        raise _validation("reservedConcurrentExecutions", reserved, "Member must have value greater than or equal to 0")
    doc = {"ReservedConcurrentExecutions": reserved}
    directory.store.put("function-concurrency", name, doc)
    await directory.changed(name)
    return doc


async def get_function_concurrency(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> Doc:
    name = directory.configuration(params["FunctionName"])["FunctionName"]
    return directory.store.get("function-concurrency", name) or {}


async def delete_function_concurrency(directory: FunctionDirectory, links: CodeLinks, params: dict[str, Any]) -> None:
    name = directory.configuration(params["FunctionName"])["FunctionName"]
    directory.store.delete("function-concurrency", name)
    await directory.changed(name)


def handlers(directory: FunctionDirectory) -> dict[str, OperationHandler]:
    links = CodeLinks(directory.settings.data_dir)  # Code.Location: signed, short-lived, as Lambda's S3 link
    return {
        "CreateFunction": partial(create_function, directory, links),
        "GetFunction": partial(get_function, directory, links),
        "GetFunctionConfiguration": partial(get_function_configuration, directory, links),
        "ListFunctions": partial(list_functions, directory, links),
        "UpdateFunctionCode": partial(update_function_code, directory, links),
        "UpdateFunctionConfiguration": partial(update_function_configuration, directory, links),
        "DeleteFunction": partial(delete_function, directory, links),
        "Invoke": partial(invoke, directory, links),
        "AddPermission": partial(add_permission, directory, links),
        "GetPolicy": partial(get_policy, directory, links),
        "RemovePermission": partial(remove_permission, directory, links),
        "TagResource": partial(tag_resource, directory, links),
        "UntagResource": partial(untag_resource, directory, links),
        "ListTags": partial(list_tags, directory, links),
        "GetAccountSettings": partial(get_account_settings, directory, links),
        "PutFunctionConcurrency": partial(put_function_concurrency, directory, links),
        "GetFunctionConcurrency": partial(get_function_concurrency, directory, links),
        "DeleteFunctionConcurrency": partial(delete_function_concurrency, directory, links),
        "PublishVersion": partial(lambda_versions.publish_version, directory, links),
        "ListVersionsByFunction": partial(lambda_versions.list_versions_by_function, directory, links),
        "CreateAlias": partial(lambda_versions.create_alias, directory, links),
        "GetAlias": partial(lambda_versions.get_alias, directory, links),
        "UpdateAlias": partial(lambda_versions.update_alias, directory, links),
        "DeleteAlias": partial(lambda_versions.delete_alias, directory, links),
        "ListAliases": partial(lambda_versions.list_aliases, directory, links),
        **lambda_layers.handlers(directory, links),
        **lambda_events.handlers(directory),
    }

