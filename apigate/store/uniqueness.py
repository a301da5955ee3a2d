"""The values AWS keeps unique beyond a document's own key, as claims the store enforces on every write.

A rule turns a document (and its parent) into the value it claims, scoped by whatever the uniqueness is
within: an API key's value in the account, a path part under one parent resource, a route key in one API.
The store refuses a write whose claim another document holds, inside the write's own transaction, so the
rule holds across processes sharing one data dir and no create handler can forget it. Uniqueness of a
document's key itself (a function's name, a stage's name) needs no rule: ``insert`` refuses an existing key.

Change ``RULES`` only together with ``VERSION``: a store opened with another version rebuilds every claim
from the documents it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from apigate.store.base import Document

VERSION = 1


@dataclass(frozen=True, slots=True)
class Rule:
    name: str  # what a handler tells conflicts apart by (`Conflict.rule`)
    value: Callable[[Document, str], str | None]  # (document, parent) -> claimed value; None claims nothing


def _path_part(doc: Document, parent: str) -> str | None:
    if not doc.get("parentId"):  # the root resource
        return None
    return f"{parent}/{doc['parentId']}/{doc.get('pathPart')}"


def _variable_part(doc: Document, parent: str) -> str | None:
    # AWS allows one variable path part ({id}, {proxy+}) among a resource's children.
    if not doc.get("parentId") or not str(doc.get("pathPart") or "").startswith("{"):
        return None
    return f"{parent}/{doc['parentId']}"


def _field(name: str, *, scoped: bool = True, fold: bool = False) -> Callable[[Document, str], str | None]:
    def value(doc: Document, parent: str) -> str | None:
        raw = doc.get(name)
        if raw is None:
            return None
        text = str(raw).lower() if fold else str(raw)
        return f"{parent}/{text}" if scoped else text

    return value


def _under(owner: str, name: str) -> Callable[[Document, str], str | None]:
    """A key unique among one owner's children (route responses of a route, say)."""

    def value(doc: Document, parent: str) -> str | None:
        if doc.get(name) is None:
            return None
        return f"{parent}/{doc.get(owner)}/{doc[name]}"

    return value


# Rules are checked in this order; the first one a write breaks is the one reported.
RULES: dict[str, tuple[Rule, ...]] = {
    "apikey": (Rule("value", _field("value", scoped=False)),),
    "resource": (Rule("pathPart", _path_part), Rule("variablePathPart", _variable_part)),
    "authorizer": (Rule("name", _field("name")),),
    "v2authorizer": (Rule("name", _field("Name")),),
    "v2route": (Rule("routeKey", _field("RouteKey")),),
    "v2routeresponse": (Rule("routeResponseKey", _under("_RouteId", "RouteResponseKey")),),
    "v2integrationresponse": (
        Rule("integrationResponseKey", _under("_IntegrationId", "IntegrationResponseKey")),
    ),
    # IAM names are unique regardless of case: "Alice" cannot join "alice".
    "iam-user": (Rule("name", _field("UserName", scoped=False, fold=True)),),
    "iam-role": (Rule("name", _field("RoleName", scoped=False, fold=True)),),
}


def claims(kind: str, document: Document, parent: str) -> list[tuple[str, str]]:
    """(rule name, claimed value) for each rule of ``kind`` the document claims something under."""
    found = []
    for rule in RULES.get(kind, ()):
        value = rule.value(document, parent)
        if value is not None:
            found.append((rule.name, value))
    return found
