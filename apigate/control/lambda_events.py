"""Asynchronous invocation's configuration: the FunctionEventInvokeConfig operations.

One document per function and qualifier (kind ``function-event-invoke-config``, key ``name:qualifier``, with
``$LATEST`` for an unqualified one), as GetFunctionEventInvokeConfig returns it. What an ``Event`` call does
with it lives in functions/events.py.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from apigate.aws.errors import AwsError, function_not_found, invalid_parameter
from apigate.aws.wire import OperationHandler
from apigate.control.lambda_versions import target
from apigate.functions.directory import FunctionDirectory
from apigate.functions.events import EventConfig

Doc = dict[str, Any]
_KIND = "function-event-invoke-config"


def version_exists(directory: FunctionDirectory, name: str, qualifier: str | None) -> None:
    """ResourceNotFoundException unless the qualifier names ``$LATEST``, a version or an alias."""
    if qualifier is None or qualifier == "$LATEST":
        return
    kind = "function-version" if qualifier.isdigit() else "function-alias"
    if directory.store.get(kind, f"{name}:{qualifier}") is None:
        raise function_not_found(f"{directory.arn(name)}:{qualifier}")


def _key(name: str, qualifier: str | None) -> str:
    return f"{name}:{qualifier or '$LATEST'}"


def config_for(directory: FunctionDirectory, name: str, qualifier: str | None) -> EventConfig:
    return directory.event_config(name if qualifier is None else f"{name}:{qualifier}")


def _checked(directory: FunctionDirectory, params: Doc, base: Doc) -> Doc:
    retries = params.get("MaximumRetryAttempts", base.get("MaximumRetryAttempts"))
    age = params.get("MaximumEventAgeInSeconds", base.get("MaximumEventAgeInSeconds"))
    if retries is not None and not 0 <= int(retries) <= 2:
        raise _range("maximumRetryAttempts", retries, "less than or equal to 2")
    if age is not None and not 60 <= int(age) <= 21600:
        raise _range("maximumEventAgeInSeconds", age, "less than or equal to 21600" if int(age) > 60 else
                     "greater than or equal to 60")  # fmt: skip
    destinations = params.get("DestinationConfig", base.get("DestinationConfig"))
    for which in ("OnSuccess", "OnFailure"):
        arn = ((destinations or {}).get(which) or {}).get("Destination")
        if arn and ":lambda:" not in arn:
            raise invalid_parameter(
                f"apigate delivers asynchronous invocation records to Lambda functions only, not {arn}"
            )
    doc: Doc = {"LastModified": time.time(), "FunctionArn": ""}
    if retries is not None:
        doc["MaximumRetryAttempts"] = int(retries)
    if age is not None:
        doc["MaximumEventAgeInSeconds"] = int(age)
    doc["DestinationConfig"] = {
        "OnSuccess": (destinations or {}).get("OnSuccess") or {},
        "OnFailure": (destinations or {}).get("OnFailure") or {},
    }
    return doc


def _range(field: str, value: Any, constraint: str) -> AwsError:
    return AwsError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must have "
        f"value {constraint}",
        400,
    )


def _missing(directory: FunctionDirectory, name: str, qualifier: str | None) -> AwsError:
    return AwsError(
        "ResourceNotFoundException",
        f"The function {directory.arn(name)}:{qualifier or '$LATEST'} doesn't have an EventInvokeConfig",
        404,
    )


async def put_function_event_invoke_config(directory: FunctionDirectory, params: Doc) -> Doc:
    name, qualifier = target(params)
    directory.configuration(name)
    version_exists(directory, name, qualifier)
    doc = _checked(directory, params, {})  # Put replaces the whole configuration
    doc["FunctionArn"] = f"{directory.arn(name)}:{qualifier or '$LATEST'}"
    directory.store.put(_KIND, _key(name, qualifier), doc, parent=f"function:{name}")
    return doc


async def update_function_event_invoke_config(directory: FunctionDirectory, params: Doc) -> Doc:
    name, qualifier = target(params)
    directory.configuration(name)
    current = directory.store.get(_KIND, _key(name, qualifier))
    if current is None:
        raise _missing(directory, name, qualifier)
    doc = _checked(directory, params, current)  # Update changes only what it names
    doc["FunctionArn"] = current["FunctionArn"]
    directory.store.put(_KIND, _key(name, qualifier), doc, parent=f"function:{name}")
    return doc


async def get_function_event_invoke_config(directory: FunctionDirectory, params: Doc) -> Doc:
    name, qualifier = target(params)
    directory.configuration(name)
    doc = directory.store.get(_KIND, _key(name, qualifier))
    if doc is None:
        raise _missing(directory, name, qualifier)
    return doc


async def delete_function_event_invoke_config(directory: FunctionDirectory, params: Doc) -> None:
    name, qualifier = target(params)
    directory.configuration(name)
    if not directory.store.delete(_KIND, _key(name, qualifier)):
        raise _missing(directory, name, qualifier)


async def list_function_event_invoke_configs(directory: FunctionDirectory, params: Doc) -> Doc:
    name, _ = target(params)
    directory.configuration(name)
    configs = sorted(directory.store.list(_KIND, f"function:{name}"), key=lambda d: str(d["FunctionArn"]))
    marker = params.get("Marker") or "0"
    if not (marker.isascii() and marker.isdigit()):
        raise invalid_parameter("Invalid marker")
    start, limit = int(marker), min(int(params.get("MaxItems") or 50), 50)
    result: Doc = {"FunctionEventInvokeConfigs": configs[start : start + limit]}
    if start + limit < len(configs):
        result["NextMarker"] = str(start + limit)
    return result


def delete_all(directory: FunctionDirectory, name: str) -> None:
    """Every configuration of a function, inside the caller's transaction (DeleteFunction)."""
    for doc in directory.store.list(_KIND, f"function:{name}"):
        directory.store.delete(_KIND, f"{name}:{str(doc['FunctionArn']).rsplit(':', 1)[1]}")


def handlers(directory: FunctionDirectory) -> dict[str, OperationHandler]:
    return {
        "PutFunctionEventInvokeConfig": partial(put_function_event_invoke_config, directory),
        "UpdateFunctionEventInvokeConfig": partial(update_function_event_invoke_config, directory),
        "GetFunctionEventInvokeConfig": partial(get_function_event_invoke_config, directory),
        "DeleteFunctionEventInvokeConfig": partial(delete_function_event_invoke_config, directory),
        "ListFunctionEventInvokeConfigs": partial(list_function_event_invoke_configs, directory),
    }
