"""Regions as partitions: a management call sees only what was created in the region it is signed for.

On AWS each region is its own endpoint with its own APIs, keys, usage plans, domain names, VPC links, client
certificates and functions; a call to eu-west-1 neither lists nor reaches what us-east-1 holds. One apigate
listener serves every region, so the region of a management call is the one its signature's credential scope
names (the SDK's ``region_name``), set in ``current_region`` for the call; unsigned calls, and everything that
is not a management call (the data plane, restarts, templates), are in the gateway's ``--region``.

Each top-level resource's region is a small document of its own (kind ``region``, keyed and parented by the
resource's id, so it goes when the resource does), written when the resource is created; the AWS documents
themselves stay exactly as ``Get*`` returns them. A resource without one (made before partitions existed) is in
the gateway's region. ``RegionalStore`` wraps the real store: while a call's region is set, documents of
partitioned kinds that belong to another region read as absent; with no region set it changes nothing.
"""

from __future__ import annotations

import builtins
import contextvars
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from apigate.store.base import Change, Document, DocumentStore

_Documents = list[Document]  # named here because the class's own ``list`` shadows the builtin

__all__ = ["REGION", "RegionalStore", "current_region", "everywhere", "in_region", "region_here", "region_of"]

REGION = "region"

current_region: contextvars.ContextVar[str | None] = contextvars.ContextVar("apigate_region", default=None)

# Top-level kinds: the key is the resource's own id (or name), and each document names it in this field.
_OWNERS = {
    "restapi": "id",
    "v2api": "ApiId",
    "apikey": "id",
    "usageplan": "id",
    "domainname": "domainName",
    "clientcertificate": "clientCertificateId",
    "vpclink": "id",
    "v2vpclink": "VpcLinkId",
    "function": "FunctionName",
    "portal": "PortalId",
    "certificate": "CertificateArn",
    "portalproduct": "PortalProductId",
}
# Kinds that belong to a top-level resource: their key starts with its id (``{apiId}/...``, or the id itself).
_CHILDREN = frozenset(
    {
        "resource", "stage", "snapshot", "validator", "model", "modelseed", "authorizer", "deployment",
        "openapi", "gatewayresponse", "docpart", "docversion", "usageplankey", "basepathmapping", "truststore",
        "clientcertificatekey", "v2route", "v2integration", "v2authorizer", "v2stage", "v2deployment",
        "v2snapshot", "v2model", "v2routeresponse", "v2integrationresponse", "routingrule", "productpage", "productrestendpointpage", "portalproductpolicy",
        "portalpublished", "function-concurrency",
        "function-policy", "function-tags",
    }
)  # fmt: skip


@contextmanager
def everywhere() -> Iterator[None]:
    """Inside a call, see every region's documents: for what serves all regions (usage plans, domains, the
    stages a change feed recompiles), built from the whole store whoever triggers it."""
    token = current_region.set(None)
    try:
        yield
    finally:
        current_region.reset(token)


@contextmanager
def in_region(region: str) -> Iterator[None]:
    """Serve a management call in ``region``'s partition."""
    token = current_region.set(region)
    try:
        yield
    finally:
        current_region.reset(token)


def region_here(default: str) -> str:
    """The region of the call being served (its signature's), else ``default`` (the gateway's)."""
    return current_region.get() or default


def region_of(store: DocumentStore, owner: str, default: str) -> str:
    """The region ``owner`` (a top-level resource's id or name) was created in; ``default`` when unrecorded."""
    record = store.get(REGION, owner)
    return default if record is None else str(record["region"])


def _owner(kind: str, key: str) -> str | None:
    if kind in _OWNERS:
        return key
    if kind in _CHILDREN:
        return key.split("/", 1)[0]
    return None


class RegionalStore:
    """A ``DocumentStore`` whose partitioned documents are visible only in their own region's calls."""

    def __init__(self, inner: DocumentStore, default_region: str) -> None:
        self.inner = inner
        self.default_region = default_region

    def _hidden(self, owner: str | None) -> bool:
        here = current_region.get()
        return (
            here is not None
            and owner is not None
            and region_of(self.inner, owner, self.default_region) != here
        )

    def _claim(self, kind: str, key: str) -> None:
        if kind in _OWNERS:
            region = region_here(self.default_region)
            self.inner.put(REGION, key, {"owner": key, "region": region}, parent=key)

    # The DocumentStore protocol.
    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        return None if self._hidden(_owner(kind, key)) else self.inner.get(kind, key)

    def list(self, kind: str, parent: str | None = None) -> list[dict[str, Any]]:
        docs = self.inner.list(kind, parent)
        here = current_region.get()
        if here is None:
            return docs
        if kind in _OWNERS:
            regions = {key: str(doc["region"]) for key, doc in self._regions()}
            field = _OWNERS[kind]
            return [d for d in docs if regions.get(str(d.get(field)), self.default_region) == here]
        if kind in _CHILDREN and parent:
            return [] if self._hidden(parent) else docs
        return docs

    def _regions(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for doc in self.inner.list(REGION):
            yield str(doc["owner"]), doc

    def insert(self, kind: str, key: str, document: dict[str, Any], parent: str = "") -> None:
        with self.inner.transaction():
            self.inner.insert(kind, key, document, parent)
            self._claim(kind, key)

    def put(self, kind: str, key: str, document: dict[str, Any], parent: str = "") -> None:
        with self.inner.transaction():
            self.inner.put(kind, key, document, parent)
            if kind in _OWNERS and self.inner.get(REGION, key) is None:
                self._claim(kind, key)

    def delete(self, kind: str, key: str) -> bool:
        if self._hidden(_owner(kind, key)):
            return False
        with self.inner.transaction():
            deleted = self.inner.delete(kind, key)
            if kind in _OWNERS:
                self.inner.delete(REGION, key)
        return deleted

    def delete_parent(self, parent: str) -> None:
        self.inner.delete_parent(parent)

    def transaction(self) -> AbstractContextManager[None]:
        return self.inner.transaction()

    def version(self) -> int:
        return self.inner.version()

    def changes_since(self, version: int) -> tuple[int, builtins.list[Change]] | None:
        return self.inner.changes_since(version)

    def heartbeat(self, host: str, info: dict[str, Any]) -> None:
        self.inner.heartbeat(host, info)

    def hosts(self) -> _Documents:
        return self.inner.hosts()

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:  # a backend's own extras (its path, its pool)
        return getattr(self.inner, name)
