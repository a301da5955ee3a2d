"""Which of a resource's properties the engine acted on: a resource's resolved properties are handed to its
handler as a ``Tracked`` mapping that remembers each property read, so every property no handler read gets one
warning naming the resource and the property, without a list per type to keep in step with the handlers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values

__all__ = ["Tracked", "ignored", "unread"]

# Why a property commonly written is not acted on, where a reason helps more than "ignored".
_REASONS = {
    ("AWS::Lambda::Function", "TracingConfig"): "X-Ray tracing of function calls is not run",
    ("AWS::Lambda::Function", "LoggingConfig"): "function logs are kept as text under the data dir",
    ("AWS::Lambda::Function", "Layers"): "layers are not served; put shared code in the function's folder",
    ("AWS::Lambda::Function", "VpcConfig"): "functions run on this host's network",
    ("AWS::Lambda::Function", "DeadLetterConfig"): "asynchronous invocations are not retried or dead-lettered",
    ("AWS::Lambda::Function", "FileSystemConfigs"): "no EFS file system is mounted",
    ("AWS::Lambda::Function", "EphemeralStorage"): "/tmp is the host's",
    ("AWS::Lambda::Function", "SnapStart"): "functions start from their code each time",
    ("AWS::Lambda::Function", "KmsKeyArn"): "environment variables are not encrypted",
    ("AWS::Lambda::Function", "ImageConfig"): "container images are not run",
    ("AWS::Lambda::Function", "CodeSigningConfigArn"): "code signatures are not checked",
}


class Tracked(dict[str, Any]):
    """A dict of properties that records the names read (``get``, ``[]``, ``in``; iterating reads them all)."""

    __slots__ = ("read",)

    def __init__(self, properties: dict[str, Any]) -> None:
        super().__init__(properties)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self.read.update(super().keys())
        return super().__iter__()

    def keys(self) -> dict_keys[str, Any]:
        self.read.update(super().keys())
        return super().keys()

    def items(self) -> dict_items[str, Any]:
        self.read.update(super().keys())
        return super().items()

    def values(self) -> dict_values[str, Any]:
        self.read.update(super().keys())
        return super().values()


def ignored(logical_id: str, kind: str, name: str) -> str:
    """The warning for one property not acted on."""
    reason = _REASONS.get((kind, name))
    return f"{logical_id} ({kind}) property {name} is ignored" + (f": {reason}" if reason else " by apigate")


def unread(props: Tracked) -> list[str]:
    """The properties given but never read, in the template's order."""
    return [name for name in dict.keys(props) if name not in props.read]
