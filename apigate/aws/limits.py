"""Limits on the documents apigate parses: definition size, nesting depth, and YAML alias expansion.

- ``MAX_DEFINITION_BYTES``: AWS takes API definition files (``ImportRestApi``/``PutRestApi``, HTTP API import)
  of at most 6 MB; we refuse larger ones the same way. Every request body is also capped at 10 MB by the server
  (``server.protocol.Limits``, AWS's payload limit) before anything parses it.
- ``MAX_DEPTH``: orjson refuses JSON nested deeper than 1024, but the code that walks a definition or a template
  afterwards recurses (a few Python frames a level), so documents are held to 128 levels, far beyond any real
  OpenAPI or CloudFormation document, and well inside Python's 1000-frame recursion limit.
- ``MAX_YAML_NODES``: YAML aliases share one Python object, so "billion laughs" (nine aliases of nine aliases
  of ...) parses into a few KB that any walk (import, export, ``orjson.dumps``) expands to billions of nodes.
  ``BoundedLoader`` counts the document's nodes with every alias expanded, before constructing anything, and
  refuses more than 1,000,000 (a 6 MB document without aliases has fewer: each node takes a few bytes);
  recursive aliases are refused too. An ordinary anchor (a shared block of settings) costs its size per use.
"""

from __future__ import annotations

from typing import Any, Final

import yaml

MAX_DEFINITION_BYTES: Final = 6 * 1024 * 1024
MAX_DEPTH: Final = 128
MAX_YAML_NODES: Final = 1_000_000


class DocumentLimitError(ValueError):
    """A document over one of the limits; the message names the limit."""


def check_size(body: bytes | str, limit: int = MAX_DEFINITION_BYTES, what: str = "API definition") -> None:
    size = len(body.encode() if isinstance(body, str) else body)
    if size > limit:
        raise DocumentLimitError(
            f"The {what} is {size} bytes; the maximum is {limit} bytes ({limit // 2**20} MB)"
        )


def check_depth(document: object, limit: int = MAX_DEPTH) -> None:
    """Refuse JSON-like data nested deeper than ``limit`` (iterative: deep data cannot overflow this check)."""
    stack: list[tuple[object, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            raise DocumentLimitError(f"The document nests deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children)


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Nodes under ``root`` with aliases expanded, computed once per distinct node (post-order, no recursion)."""
    sizes: dict[int, int] = {}
    depth_of: dict[int, int] = {id(root): 1}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            on_path.discard(key)
            total = 1 + sum(sizes[id(child)] for child in children)
            if total > limit:
                raise DocumentLimitError(
                    f"The YAML document expands to more than {limit} nodes (alias expansion)"
                )
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise DocumentLimitError("The YAML document refers to itself (recursive alias)")
        depth = depth_of[key]
        if depth > MAX_DEPTH:
            raise DocumentLimitError(f"The document nests deeper than {MAX_DEPTH} levels")
        on_path.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in on_path:
                raise DocumentLimitError("The YAML document refers to itself (recursive alias)")
            if id(child) not in sizes:
                depth_of[id(child)] = depth + 1
                stack.append((child, False))
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses alias bombs, recursive aliases and deep nesting before constructing objects."""

    max_nodes: int = MAX_YAML_NODES

    def get_single_node(self) -> Any:
        try:
            node = super().get_single_node()
        except RecursionError:  # PyYAML's composer recurses once per level of flow nesting: [[[[...
            raise DocumentLimitError(f"The document nests deeper than {MAX_DEPTH} levels") from None
        if node is not None:
            _expanded_size(node, self.max_nodes)
        return node


def load_yaml(text: str, loader: type[BoundedLoader] = BoundedLoader) -> Any:
    """``yaml.load`` with the limits above; raises ``yaml.YAMLError`` or ``DocumentLimitError``."""
    return yaml.load(text, Loader=loader)  # a SafeLoader subclass
