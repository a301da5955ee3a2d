"""Published things of Lambda in templates: ``AWS::Lambda::Version``, ``AWS::Lambda::Alias`` and
``AWS::Lambda::LayerVersion`` (what SAM's ``AutoPublishAlias`` and ``AWS::Serverless::LayerVersion`` become).

Created through Lambda's management handlers. A redeploy publishes nothing new when nothing changed: a version
of an unchanged function is the same version (PublishVersion's own rule), a layer version with the same content
and description is reused, and an alias is updated in place. ``Ref`` gives what CloudFormation gives: the
version's, alias's or layer version's ARN.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from pathlib import Path
from typing import Any, Protocol

from apigate.aws.wire import OperationHandler
from apigate.control.context import ControlContext
from apigate.declarative.code_zip import zip_folder
from apigate.declarative.intrinsics import IntrinsicError

Doc = dict[str, Any]

RESOURCE_TYPES = (
    "AWS::Lambda::Version",
    "AWS::Lambda::Alias",
    "AWS::Lambda::LayerVersion",
    "AWS::Lambda::EventInvokeConfig",
)


class Run(Protocol):
    ctx: ControlContext
    base: Path
    physical: dict[str, tuple[str, str]]
    attributes: dict[str, dict[str, Any]]
    warnings: list[str]
    layer_dirs: dict[str, Path]


async def create(run: Run, logical_id: str, kind: str, props: Doc, lam: dict[str, OperationHandler]) -> None:
    if kind == "AWS::Lambda::Version":
        params = {"FunctionName": props.get("FunctionName"), "Description": props.get("Description")}
        doc = await lam["PublishVersion"]({k: v for k, v in params.items() if v is not None})
        run.physical[logical_id] = (kind, doc["FunctionArn"])
        run.attributes[logical_id] = {"Version": doc["Version"], "FunctionArn": doc["FunctionArn"]}
    elif kind == "AWS::Lambda::Alias":
        await _alias(run, logical_id, props, lam)
    elif kind == "AWS::Lambda::LayerVersion":
        await _layer_version(run, logical_id, props, lam)
    elif kind == "AWS::Lambda::EventInvokeConfig":
        await _event_invoke_config(run, logical_id, props, lam)


async def _event_invoke_config(
    run: Run, logical_id: str, props: Doc, lam: dict[str, OperationHandler]
) -> None:
    destinations: Doc = {}
    for which, target in (props.get("DestinationConfig") or {}).items():
        arn = str((target or {}).get("Destination") or "")
        if ":lambda:" in arn:
            destinations[which] = {"Destination": arn}
        elif arn:
            run.warnings.append(
                f"{logical_id}: the {which} destination {arn} is not served (Lambda functions only)"
            )
    params: Doc = {
        "FunctionName": props.get("FunctionName"),
        "Qualifier": props.get("Qualifier"),
        "MaximumRetryAttempts": props.get("MaximumRetryAttempts"),
        "MaximumEventAgeInSeconds": props.get("MaximumEventAgeInSeconds"),
        "DestinationConfig": destinations or None,
    }
    doc = await lam["PutFunctionEventInvokeConfig"]({k: v for k, v in params.items() if v is not None})
    run.physical[logical_id] = ("AWS::Lambda::EventInvokeConfig", doc["FunctionArn"])


def _routing(props: Doc) -> Doc:
    """CloudFormation's list of ``{FunctionVersion, FunctionWeight}`` as the API's map."""
    weights = (props.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or []
    return {
        "AdditionalVersionWeights": {
            str(w.get("FunctionVersion")): float(w.get("FunctionWeight")) for w in weights
        }
    }


async def _alias(run: Run, logical_id: str, props: Doc, lam: dict[str, OperationHandler]) -> None:
    params: Doc = {
        "FunctionName": props.get("FunctionName"),
        "Name": props.get("Name"),
        "FunctionVersion": str(props.get("FunctionVersion")),
        "Description": props.get("Description") or "",
        "RoutingConfig": _routing(props),
    }
    function = str(params["FunctionName"]).rsplit(":function:", 1)[-1].split(":", 1)[0]
    if run.ctx.store.get("function-alias", f"{function}:{params['Name']}") is None:
        doc = await lam["CreateAlias"](params)
    else:
        doc = await lam["UpdateAlias"](params)
    run.physical[logical_id] = ("AWS::Lambda::Alias", doc["AliasArn"])


async def _layer_version(run: Run, logical_id: str, props: Doc, lam: dict[str, OperationHandler]) -> None:
    content = props.get("Content")
    if isinstance(content, str):
        local = (run.base / content).resolve()
        if local.is_dir():
            zipped = await asyncio.to_thread(zip_folder, local)
            run.layer_dirs[str(props.get("LayerName") or logical_id)] = local  # watched: a change redeploys
        elif local.is_file() and local.suffix == ".zip":
            zipped = local.read_bytes()
        else:
            raise IntrinsicError(f"layer content {content} does not exist (looked in {local})")
    else:
        raise IntrinsicError("Content must be a local folder or zip (S3 content is not served by apigate)")
    name = str(props.get("LayerName") or logical_id)
    sha = base64.b64encode(hashlib.sha256(zipped).digest()).decode()
    description = props.get("Description") or ""
    listed = await lam["ListLayerVersions"]({"LayerName": name})
    for existing in listed["LayerVersions"]:  # newest first: an unchanged layer is not published again
        full = await lam["GetLayerVersion"]({"LayerName": name, "VersionNumber": existing["Version"]})
        if full["Content"]["CodeSha256"] == sha and full.get("Description", "") == description:
            run.physical[logical_id] = ("AWS::Lambda::LayerVersion", full["LayerVersionArn"])
            return
        break
    params: Doc = {
        "LayerName": name,
        "Description": description,
        "Content": {"ZipFile": zipped},
        "CompatibleRuntimes": props.get("CompatibleRuntimes"),
        "LicenseInfo": props.get("LicenseInfo"),
        "CompatibleArchitectures": props.get("CompatibleArchitectures"),
    }
    doc = await lam["PublishLayerVersion"]({k: v for k, v in params.items() if v})
    run.physical[logical_id] = ("AWS::Lambda::LayerVersion", doc["LayerVersionArn"])
