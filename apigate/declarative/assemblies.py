"""Other tools' build output as templates: a CDK cloud assembly (``cdk.out``: ``manifest.json``, a template per
stack, asset folders), a Serverless Framework package (``.serverless/cloudformation-template-update-stack.json``
and its zip), and ``sam build`` output (``.aws-sam/build/template.yaml``, whose CodeUri folders are already local).

Code that those tools upload to S3 is found where they left it: a CDK asset by the ``aws:asset:path`` metadata
CDK writes on the resource, a Serverless package by its zip's file name beside the template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from apigate.declarative.template import Doc, TemplateError

_SERVERLESS_TEMPLATE = "cloudformation-template-update-stack.json"


def template_path(path: Path, stack: str | None = None) -> Path:
    """The template a path given to ``apigate serve`` stands for: the file itself, a CDK assembly's stack
    template (``stack`` picks one of several), a Serverless package's template, or a folder's template.yaml."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise TemplateError("no such template or folder", file=path)
    if (path / "manifest.json").is_file():
        return _cdk_stack(path, stack)
    for candidate in (path / _SERVERLESS_TEMPLATE, path / ".serverless" / _SERVERLESS_TEMPLATE):
        if candidate.is_file():
            return candidate
    for name in ("template.yaml", "template.yml", "template.json"):
        for folder in (path / ".aws-sam" / "build", path):
            if (folder / name).is_file():
                return folder / name
    raise TemplateError(
        "the folder has no template (template.yaml, a cdk.out manifest.json, or a .serverless package)",
        file=path,
    )


def _cdk_stack(assembly: Path, stack: str | None) -> Path:
    try:
        manifest = orjson.loads((assembly / "manifest.json").read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise TemplateError(
            f"unreadable cloud assembly manifest: {exc}", file=assembly / "manifest.json"
        ) from exc
    stacks = {
        name: artifact
        for name, artifact in (manifest.get("artifacts") or {}).items()
        if artifact.get("type") == "aws:cloudformation:stack"
    }
    if stack is not None and stack in stacks:
        chosen = stacks[stack]
    elif len(stacks) == 1:
        chosen = next(iter(stacks.values()))
    else:
        raise TemplateError(
            f"the cloud assembly has {len(stacks)} stacks; name one with --stack-name: {', '.join(sorted(stacks))}",
            file=assembly,
        )
    return assembly / str((chosen.get("properties") or {}).get("templateFile"))


def local_code(template: Doc, base: Path) -> None:
    """Point resources whose code the tool uploaded to S3 at the local copy it left (in place)."""
    for resource in (template.get("Resources") or {}).values():
        props = resource.get("Properties")
        if not isinstance(props, dict):
            continue
        metadata = resource.get("Metadata") or {}
        asset, prop = metadata.get("aws:asset:path"), metadata.get("aws:asset:property")
        if isinstance(asset, str) and isinstance(prop, str) and (base / asset).exists():
            props[prop] = asset  # CDK: the asset folder (or zip) beside the template
            continue
        code: Any = props.get("Code") if resource.get("Type") == "AWS::Lambda::Function" else None
        if isinstance(code, dict) and isinstance(code.get("S3Key"), str):
            packaged = base / code["S3Key"].rsplit("/", 1)[-1]
            if packaged.is_file():  # Serverless Framework: the service's zip beside its template
                props["Code"] = packaged.name
