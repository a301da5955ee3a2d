"""``Fn::Transform`` with ``AWS::Include``: a local file's YAML or JSON put where the transform stands (as a value,
or merged into the mapping that holds it as a key), before anything else reads the template. Included files may
include others; a loop is an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apigate.declarative.template import Doc, TemplateError, load_document

INCLUDE = "AWS::Include"
_MAX_DEPTH = 16


def expand(template: Doc, file: Path, read: list[Path] | None = None) -> Doc:
    """The template with every ``AWS::Include`` replaced by its file's content; ``read`` gets each file
    included (what hot reload watches besides the template)."""
    expanded = _walk(template, file, [file.resolve()], [] if read is None else read)
    assert isinstance(expanded, dict)
    return expanded


def _walk(value: Any, file: Path, trail: list[Path], read: list[Path]) -> Any:
    if isinstance(value, list):
        return [_walk(item, file, trail, read) for item in value]
    if not isinstance(value, dict):
        return value
    if "Fn::Transform" in value:
        included = _include(value["Fn::Transform"], file, trail, read)
        rest = {k: v for k, v in value.items() if k != "Fn::Transform"}
        if not rest:
            return included
        if not isinstance(included, dict):
            raise TemplateError("an AWS::Include beside other keys must include a mapping", file=file)
        return _walk({**rest, **included}, file, trail, read)
    return {key: _walk(item, file, trail, read) for key, item in value.items()}


def _include(spec: Any, file: Path, trail: list[Path], read: list[Path]) -> Any:
    name = spec.get("Name") if isinstance(spec, dict) else None
    if name != INCLUDE:
        raise TemplateError(
            f"Fn::Transform {name!r} is not run by apigate (AWS::Include of a local file is)", file=file
        )
    location = ((spec.get("Parameters") or {}) if isinstance(spec, dict) else {}).get("Location")
    if not isinstance(location, str) or location.startswith("s3://"):
        raise TemplateError(
            f"AWS::Include Location {location!r}: apigate includes local files (Location: ./part.yaml)",
            file=file,
        )
    path = (trail[-1].parent / location).resolve()
    if path in trail:
        raise TemplateError(f"AWS::Include loop: {' -> '.join(p.name for p in [*trail, path])}", file=file)
    if len(trail) > _MAX_DEPTH:
        raise TemplateError("AWS::Include nested too deep", file=file)
    read.append(path)  # watched even when missing: creating it fixes the template
    if not path.is_file():
        raise TemplateError(f"AWS::Include Location {location} does not exist (looked in {path})", file=file)
    return _walk(load_document(path), file, [*trail, path], read)
