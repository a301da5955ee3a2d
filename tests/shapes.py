"""Every management answer checked against botocore's model of its output, on the wire.

botocore's parser keeps only the members its model names and never checks their types, so an answer carrying a
field AWS does not send (or a number where AWS sends a string) passes through boto3 unnoticed. ``check_answers``
hooks a client's ``after-call`` event and walks the raw JSON body against the operation's output shape: a key
the model does not name, or a value of the wrong JSON type, fails the call that received it.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ShapeError", "check_answers", "shape_errors"]

_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "timestamp": (int, float, str),  # epoch seconds (REST) or ISO 8601 (v2), as the member's format says
    "blob": (str,),
}


class ShapeError(AssertionError):
    pass


def shape_errors(shape: Any, value: Any, where: str = "$") -> list[str]:
    """What in ``value`` (decoded JSON) the botocore ``shape`` does not allow."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} where the model has a structure"]
        wire = {member.serialization.get("name", name): member for name, member in shape.members.items()}
        errors = []
        for key, item in value.items():
            member = wire.get(key)
            if member is None:
                errors.append(f"{where}.{key}: not in {shape.name}")
            elif item is not None:
                errors.extend(shape_errors(member, item, f"{where}.{key}"))
        return errors
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__} where the model has a list"]
        return [
            error
            for i, item in enumerate(value)
            for error in shape_errors(shape.member, item, f"{where}[{i}]")
        ]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} where the model has a map"]
        return [
            error
            for key, item in value.items()
            for error in shape_errors(shape.value, item, f"{where}.{key}")
        ]
    allowed = _SCALARS.get(kind)
    if allowed is None:
        return []
    if isinstance(value, bool) and bool not in allowed:
        return [f"{where}: a boolean where the model has {kind}"]
    if not isinstance(value, allowed):
        return [f"{where}: {type(value).__name__} where the model has {kind}"]
    return []


def _is_json_document(operation: Any) -> bool:
    """Whether the answer is a JSON document: not a payload (an export, an SDK, Invoke's stream, which reading
    here would consume) and not another protocol (IAM's and STS's XML)."""
    output = operation.output_shape
    return (
        output is not None
        and not output.serialization.get("payload")
        and not operation.has_event_stream_output  # StartLiveTail's stream: read by the test, as it comes
        and operation.service_model.protocol in ("rest-json", "json")
    )


def _body_errors(operation: Any, content: bytes) -> list[str]:
    output = operation.output_shape
    if not content.strip():
        return []
    body = json.loads(content)
    in_body = {
        name: member for name, member in output.members.items() if "location" not in member.serialization
    }
    view = type("BodyView", (), {"type_name": "structure", "name": output.name, "members": in_body})()
    return shape_errors(view, body)


def check_answers(client: Any) -> Any:
    """``client`` with every successful answer's body checked against the model; returns the client."""

    def check(http_response: Any, model: Any, **_: Any) -> None:
        if http_response.status_code >= 300 or not _is_json_document(model):
            return  # errors have their own shape (code and message), checked where tests expect them
        errors = _body_errors(model, http_response.content)
        if errors:
            raise ShapeError(f"{model.name} answered outside its model: " + "; ".join(errors[:10]))

    client.meta.events.register("after-call", check)
    return client
