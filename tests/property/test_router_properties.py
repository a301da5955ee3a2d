"""The REST routing tree against a reference written from AWS's rules, on random resource trees.

The reference tries every resource: a template matches when each literal equals its segment, each
``{param}`` takes one non-empty segment and a trailing ``{proxy+}`` takes one or more; of the resources with
the verb (or ANY) the most specific wins, comparing part by part: literal, then ``{param}``, then ``{proxy+}``.
A resource's own verb beats its ANY.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from apigate.compile.rest import compile_stage
from apigate.dataplane.routing import route_rest

VERBS = ("GET", "POST", "ANY")
SEGMENTS = ("a", "b", "c", "", "x y")


@dataclass
class Node:
    part: str  # "" for the root
    methods: list[str]
    children: list[Node] = field(default_factory=list)


@st.composite
def trees(draw: st.DrawFn, depth: int = 0, part: str = "") -> Node:
    methods = draw(st.lists(st.sampled_from(VERBS), unique=True, max_size=3))
    node = Node(part, methods)
    if depth >= 3 or part.endswith("+}"):  # nothing below a greedy resource, as AWS requires
        return node
    for literal in draw(st.lists(st.sampled_from(("a", "b")), unique=True, max_size=2)):
        node.children.append(draw(trees(depth + 1, literal)))
    if draw(st.booleans()):  # at most one variable child per resource; unique names along a path
        node.children.append(draw(trees(depth + 1, f"{{v{depth}}}")))
    if draw(st.booleans()):
        node.children.append(draw(trees(depth + 1, f"{{g{depth}+}}")))
    return node


def _documents(root: Node) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []

    def visit(node: Node, path: str, parent: str | None) -> None:
        rid = f"r{len(docs)}"
        doc: dict[str, Any] = {
            "id": rid,
            "path": path,
            "resourceMethods": {verb: {"httpMethod": verb} for verb in node.methods},
        }
        if parent is not None:
            doc["parentId"], doc["pathPart"] = parent, node.part
        docs.append(doc)
        for child in node.children:
            visit(child, (path.rstrip("/") + "/" + child.part), rid)

    visit(root, "/", None)
    return docs


def _rank(part: str) -> int:
    if part.endswith("+}"):
        return 0
    return 1 if part.startswith("{") else 2


def _match(template: list[str], segments: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for index, part in enumerate(template):
        if part.endswith("+}"):
            rest = segments[index:]
            if not rest:
                return None
            params[part[1:-2]] = "/".join(rest)
            return params
        if index >= len(segments):
            return None
        if part.startswith("{"):
            if not segments[index]:
                return None
            params[part[1:-1]] = segments[index]
        elif part != segments[index]:
            return None
    return params if len(template) == len(segments) else None


def reference(
    docs: list[dict[str, Any]], verb: str, segments: list[str]
) -> tuple[str, str, dict[str, str]] | None:
    best: tuple[list[int], str, str, dict[str, str]] | None = None
    for doc in docs:
        template = [p for p in doc["path"].split("/") if p]
        params = _match(template, segments)
        methods = doc["resourceMethods"]
        chosen = verb if verb in methods else "ANY" if "ANY" in methods else None
        if params is None or chosen is None:
            continue
        ranks = [_rank(p) for p in template]
        if best is None or ranks > best[0]:
            best = (ranks, doc["path"], chosen, params)
    return None if best is None else (best[1], best[2], best[3])


@settings(max_examples=120, deadline=None)
@given(
    tree=trees(),
    requests=st.lists(
        st.tuples(st.sampled_from(("GET", "POST", "PUT")), st.lists(st.sampled_from(SEGMENTS), max_size=5)),
        min_size=1,
        max_size=20,
    ),
)
def test_routing_matches_the_reference(tree: Node, requests: list[tuple[str, list[str]]]) -> None:
    docs = _documents(tree)
    snapshot = {"restApi": {"id": "api1", "name": "routes"}, "resources": docs}
    api = compile_stage(
        snapshot, {"stageName": "s", "deploymentId": "d"}, region="us-east-1", account_id="000000000000"
    )
    for verb, segments in requests:
        found = route_rest(api, verb, list(segments))
        actual = (
            None
            if found is None
            else (found.method.resource_path, found.method.http_method, found.path_parameters)
        )
        assert actual == reference(docs, verb, segments), (verb, segments, [d["path"] for d in docs])
