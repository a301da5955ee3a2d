"""JSON patch operations as API Gateway's Update* calls take them.

AWS's dialect: ``op`` is add/remove/replace/move/copy/test, ``path`` is slash-separated with ``~1`` for a
slash inside a key, and each resource accepts only the paths its documentation lists. Callers pass the
paths they accept; everything else is AWS's BadRequestException.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from apigate.aws.errors import AwsError, bad_request

PatchOp = dict[str, Any]
# A handler for one path prefix: (document, op, value, rest of the path) -> None.
PathHandler = Callable[[dict[str, Any], str, Any, list[str]], None]


def split_path(path: str) -> list[str]:
    if not path.startswith("/"):
        raise bad_request(f"Invalid patch path {path}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def apply(document: dict[str, Any], operations: Iterable[PatchOp], handlers: dict[str, PathHandler]) -> None:
    """Apply ``operations`` to ``document`` in place, dispatching on the first path segment."""
    for index, operation in enumerate(operations, start=1):
        op = operation.get("op")
        path = operation.get("path")
        if op not in {"add", "remove", "replace", "move", "copy", "test"}:
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value '{op}' at 'patchOperations.{index}.member.op' failed to "
                "satisfy constraint: Member must satisfy enum value set: [add, remove, move, test, replace, copy]",
            )
        if not isinstance(path, str):
            raise bad_request("Invalid patch path null")
        parts = split_path(path)
        handler = handlers.get(parts[0])
        if handler is None:
            raise bad_request(f"Invalid patch path {path}")
        handler(document, op, operation.get("value"), parts[1:])


def scalar(
    field: str,
    *,
    allowed_ops: tuple[str, ...] = ("replace",),
    convert: Callable[[Any], Any] | None = None,
    nullable: bool = True,
) -> PathHandler:
    """A handler for a top-level scalar field such as ``/description``."""

    def handle(document: dict[str, Any], op: str, value: Any, rest: list[str]) -> None:
        if rest:
            raise bad_request(f"Invalid patch path /{field}/{'/'.join(rest)}")
        if op not in allowed_ops:
            raise bad_request(
                f"Invalid patch operation specified. Must be one of: [{', '.join(allowed_ops)}]"
            )
        if op == "remove" or (value is None and nullable):
            document.pop(field, None)
            return
        if convert is None:
            document[field] = value
            return
        try:
            document[field] = convert(value)
        except (TypeError, ValueError) as exc:
            raise bad_request(f"Invalid value '{value}' for /{field}") from exc

    return handle


def string_map(field: str) -> PathHandler:
    """A handler for ``/field/key`` entries of a string map such as stage ``variables``."""
    return _map(field, lambda value: "" if value is None else str(value))


def bool_map(field: str) -> PathHandler:
    """A handler for maps of booleans such as a method's ``requestParameters`` (``required`` flags)."""
    return _map(field, lambda value: str(value).lower() == "true")


def _map(field: str, convert: Callable[[Any], Any]) -> PathHandler:
    def handle(document: dict[str, Any], op: str, value: Any, rest: list[str]) -> None:
        if len(rest) != 1 or not rest[0]:
            raise bad_request(f"Invalid patch path /{'/'.join([field, *rest]).rstrip('/')}")
        entries: dict[str, Any] = document.setdefault(field, {})
        if op == "remove":
            entries.pop(rest[0], None)
        elif op in ("add", "replace"):
            entries[rest[0]] = convert(value)
        else:
            raise bad_request("Invalid patch operation specified. Must be one of: [add, remove, replace]")
        if not entries:
            document.pop(field, None)

    return handle


def string_list(field: str) -> PathHandler:
    """A handler for list-valued fields such as ``/binaryMediaTypes/image~1png``."""

    def handle(document: dict[str, Any], op: str, value: Any, rest: list[str]) -> None:
        items: list[str] = document.setdefault(field, [])
        item = rest[0] if rest else value
        if op == "add" and item is not None and item not in items:
            items.append(str(item))
        elif op == "remove" and item in items:
            items.remove(item)
        elif op == "replace" and rest and rest[0] in items:
            items[items.index(rest[0])] = str(value)
        if not items:
            document.pop(field, None)

    return handle
