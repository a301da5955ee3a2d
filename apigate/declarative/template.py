"""Reading CloudFormation and SAM templates: JSON or YAML with CloudFormation's short tags (``!Ref``, ``!Sub``...)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import yaml

from apigate.aws import limits

Doc = dict[str, Any]


class TemplateError(Exception):
    """A template apigate cannot run; the message names the file, the resource and what is wrong."""

    def __init__(self, message: str, *, file: Path | str | None = None, resource: str | None = None) -> None:
        self.file = None if file is None else str(file)
        self.resource = resource
        self.detail = message
        super().__init__(self.render())

    def render(self) -> str:
        where = [part for part in (self.file, f"resource {self.resource}" if self.resource else None) if part]
        return ": ".join([*where, self.detail])


class _Loader(limits.BoundedLoader):
    """Safe YAML, CloudFormation's tags, and no implicit timestamps (``AWSTemplateFormatVersion: 2010-09-09``)."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_FUNCTIONS = (
    "And",
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "ToJsonString",
    "Length",
)


def _value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node.tag}", node.start_mark)


def _tag(key: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        return {key: _value(loader, node)}

    return construct


def _get_att(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    value = _value(loader, node)
    if isinstance(value, str):
        name, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [name, attribute]}
    return {"Fn::GetAtt": value}


_Loader.add_constructor("!Ref", _tag("Ref"))
_Loader.add_constructor("!Condition", _tag("Condition"))
_Loader.add_constructor("!GetAtt", _get_att)
for _name in _FUNCTIONS:
    _Loader.add_constructor(f"!{_name}", _tag(f"Fn::{_name}"))


def parse(text: str, file: Path | str = "<template>") -> Doc:
    """A template's document; size, depth and YAML alias expansion bounded as for imports (``aws.limits``)."""
    document = parse_document(text, file)
    if not isinstance(document.get("Resources"), dict) or not document["Resources"]:
        raise TemplateError("the template has no Resources", file=file)
    for logical_id, resource in document["Resources"].items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise TemplateError("every resource needs a Type", file=file, resource=str(logical_id))
    return document


def parse_document(text: str, file: Path | str = "<document>") -> Doc:
    """A JSON or YAML mapping with CloudFormation's tags (a template, an OpenAPI file, an AWS::Include part)."""
    document: Any
    try:
        limits.check_size(text, what="template")
        if text.lstrip().startswith("{"):
            try:
                document = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise TemplateError(f"invalid JSON: {exc}", file=file) from exc
        else:
            try:
                document = limits.load_yaml(text, _Loader)
            except yaml.YAMLError as exc:
                raise TemplateError(f"invalid YAML: {exc}".replace("\n", " "), file=file) from exc
        limits.check_depth(document)
    except limits.DocumentLimitError as exc:
        raise TemplateError(str(exc), file=file) from exc
    if not isinstance(document, dict):
        raise TemplateError("a template is a mapping with a Resources section", file=file)
    return document


def load(path: Path) -> Doc:
    return parse(_read(path), path)


def load_document(path: Path) -> Doc:
    return parse_document(_read(path), path)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot read {path.name}: {exc.strerror}", file=path) from exc
