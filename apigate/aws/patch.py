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


def apply(
    document: dict[str, Any],
    operations: Iterable[PatchOp],
    handlers: dict[str, PathHandler],
    *,
    replace_only: bool = False,
) -> None:
    """Apply ``operations`` to ``document`` in place, dispatching on the first path segment.

    ``replace_only`` is for the resources whose every path takes only ``replace`` (resources, models): AWS
    answers those in its listing form, naming the op and the allowed paths.
    """
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
        if replace_only and op != "replace":
            raise bad_request(f"Invalid patch path  '{path}' specified for op '{op}'. Please choose supported operations")
        if handler is None and replace_only:
            allowed = ", ".join(f"/{name}" for name in handlers)  # the caller's order is AWS's listing order
            raise bad_request(f"Invalid patch path  '{path}' specified for op '{op}'. Must be one of: [{allowed}]")
        if handler is None:
            raise bad_request(f"Invalid patch path {path}")
        if op == "copy":  # AWS's one use: promoting a canary (/canarySettings/deploymentId -> /deploymentId)
            for target, value in copied(document, operation):
                handlers[target[0]](document, "replace", value, target[1:])
            continue
        handler(document, op, operation.get("value"), parts[1:])


def copied(document: dict[str, Any], operation: PatchOp) -> list[tuple[list[str], Any]]:
    """What a ``copy`` writes: the value at ``from``, or each entry of a map at ``from`` under ``path``."""
    source = operation.get("from")
    if not isinstance(source, str):
        raise bad_request("Invalid patch operation: 'from' is required for op 'copy'")
    value: Any = document
    for part in split_path(source):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        raise bad_request(f"Invalid patch path {source}")
    target = split_path(str(operation.get("path")))
    if isinstance(value, dict):
        return [([*target, key], entry) for key, entry in value.items()]
    return [(target, value)]


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


def string_list(field: str, *, item_in_value: bool = False) -> PathHandler:
    """A handler for list-valued fields such as ``/binaryMediaTypes/image~1png``; with ``item_in_value`` the
    item may also travel as the value of the bare path (``add /providerARNs`` value ``arn:…``, as Terraform
    sends it)."""

    def handle(document: dict[str, Any], op: str, value: Any, rest: list[str]) -> None:
        if item_in_value and not rest and value is not None and op in ("add", "remove"):
            rest = [str(value)]
        if len(rest) != 1 or op not in ("add", "remove", "replace"):  # the item is in the path, as AWS wants
            raise bad_request(f"Invalid patch path /{'/'.join([field, *rest]).rstrip('/')}")
        items: list[str] = document.setdefault(field, [])
        item = rest[0]
        if op == "add" and item not in items:
            items.append(item)
        elif op == "remove" and item in items:
            items.remove(item)
        elif op == "replace" and item in items:  # AWS drops the old entry and appends the new one
            items.remove(item)
            if value is not None and str(value) not in items:
                items.append(str(value))
        if not items:
            document.pop(field, None)

    return handle
