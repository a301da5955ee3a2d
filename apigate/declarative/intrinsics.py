"""CloudFormation's intrinsic functions over a template's values: Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If ..."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

import orjson

_SUB = re.compile(r"\$\{([^}]*)\}")


class IntrinsicError(Exception):
    pass


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()


def references(node: Any) -> set[str]:
    """The logical names a value refers to (Ref, Fn::GetAtt, ${X} and ${X.Attr} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(node, dict):
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) and value else str(value).split(".")[0]
                if isinstance(target, str):
                    found.add(target)
            elif key == "Fn::Sub":
                text, variables = (
                    (value[0], value[1]) if isinstance(value, list) and len(value) == 2 else (value, {})
                )
                if isinstance(text, str):
                    for name in _SUB.findall(text):
                        if not name.startswith("!") and name not in (variables or {}):
                            found.add(name.split(".")[0])
                found |= references(variables)
                return found
        for value in node.values():
            found |= references(value)
    elif isinstance(node, list):
        for value in node:
            found |= references(value)
    return found


class Resolver:
    """Resolves intrinsics against parameters, pseudo parameters, conditions, mappings and resources."""

    def __init__(
        self,
        values: dict[str, Any],
        *,
        ref: Callable[[str], Any],
        get_att: Callable[[str, str], Any],
        conditions: dict[str, bool] | None = None,
        mappings: dict[str, Any] | None = None,
    ) -> None:
        self.values = values  # parameters and pseudo parameters
        self.ref = ref  # a resource's Ref value
        self.get_att = get_att
        self.conditions = conditions if conditions is not None else {}
        self.mappings = mappings or {}

    def resolve(self, node: Any) -> Any:
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, value),) = node.items()
                if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                    return self._function(key, value)
            out = {}
            for key, value in node.items():
                resolved = self.resolve(value)
                if resolved is not NO_VALUE:
                    out[key] = resolved
            return out
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not NO_VALUE]
        return node

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise IntrinsicError(f"unknown condition {name}")
        return self.conditions[name]

    def _name(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.values:
            return self.values[name]
        return self.ref(name)

    def _function(self, key: str, value: Any) -> Any:
        if key == "Ref":
            if not isinstance(value, str):
                raise IntrinsicError("Ref takes a name")
            return self._name(value)
        if key == "Condition":
            return self.condition(str(value))
        if key == "Fn::GetAtt":
            parts = value if isinstance(value, list) else str(value).split(".", 1)
            if len(parts) != 2:
                raise IntrinsicError(f"Fn::GetAtt takes [Resource, Attribute], not {value!r}")
            return self.get_att(str(parts[0]), str(self.resolve(parts[1])))
        if key == "Fn::Sub":
            return self._sub(value)
        if key == "Fn::Join":
            if not (isinstance(value, list) and len(value) == 2):
                raise IntrinsicError("Fn::Join takes [delimiter, [values]]")
            items = self.resolve(value[1])
            if not isinstance(items, list):
                raise IntrinsicError("Fn::Join takes a list of values")
            return str(value[0]).join(_text(item) for item in items)
        if key == "Fn::Select":
            if not (isinstance(value, list) and len(value) == 2):
                raise IntrinsicError("Fn::Select takes [index, [values]]")
            index = int(self.resolve(value[0]))
            items = self.resolve(value[1])
            if not isinstance(items, list) or not 0 <= index < len(items):
                raise IntrinsicError(f"Fn::Select index {index} is out of range")
            return items[index]
        if key == "Fn::Split":
            if not (isinstance(value, list) and len(value) == 2):
                raise IntrinsicError("Fn::Split takes [delimiter, string]")
            return _text(self.resolve(value[1])).split(str(value[0]))
        if key == "Fn::If":
            if not (isinstance(value, list) and len(value) == 3):
                raise IntrinsicError("Fn::If takes [condition, value if true, value if false]")
            return self.resolve(value[1] if self.condition(str(value[0])) else value[2])
        if key == "Fn::Equals":
            if not (isinstance(value, list) and len(value) == 2):
                raise IntrinsicError("Fn::Equals takes two values")
            return _text(self.resolve(value[0])) == _text(self.resolve(value[1]))
        if key == "Fn::Not":
            return not self._truth(value[0] if isinstance(value, list) else value)
        if key == "Fn::And":
            return all(self._truth(v) for v in value)
        if key == "Fn::Or":
            return any(self._truth(v) for v in value)
        if key == "Fn::Base64":
            return base64.b64encode(_text(self.resolve(value)).encode()).decode()
        if key == "Fn::FindInMap":
            name, top, second = (self.resolve(v) for v in value)
            try:
                return self.mappings[name][top][second]
            except (KeyError, TypeError) as exc:
                raise IntrinsicError(f"Fn::FindInMap: no {name}/{top}/{second} in Mappings") from exc
        if key == "Fn::GetAZs":
            region = self.resolve(value) or self.values.get("AWS::Region", "us-east-1")
            return [f"{region}a", f"{region}b", f"{region}c"]
        if key == "Fn::ToJsonString":
            return orjson.dumps(self.resolve(value)).decode()
        if key == "Fn::Length":
            resolved = self.resolve(value)
            return len(resolved) if isinstance(resolved, list) else 0
        raise IntrinsicError(f"{key} is not supported by apigate")

    def _truth(self, node: Any) -> bool:
        if isinstance(node, dict) and set(node) == {"Condition"}:
            return self.condition(str(node["Condition"]))
        return bool(self.resolve(node))

    def _sub(self, value: Any) -> str:
        if isinstance(value, list):
            if len(value) != 2 or not isinstance(value[1], dict):
                raise IntrinsicError("Fn::Sub takes a string, or [string, {variables}]")
            text, local = value[0], {k: self.resolve(v) for k, v in value[1].items()}
        else:
            text, local = value, {}
        if not isinstance(text, str):
            raise IntrinsicError("Fn::Sub takes a string")

        def replace(found: re.Match[str]) -> str:
            name = found.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                return _text(local[name])
            if name in self.values:
                return _text(self.values[name])
            if "." in name:
                resource, attribute = name.split(".", 1)
                return _text(self.get_att(resource, attribute))
            return _text(self.ref(name))

        return _SUB.sub(replace, text)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    raise IntrinsicError(f"expected a string, got {type(value).__name__}")
