"""The domain router: a custom domain (by ``Host``; SNI chose its certificate) and the longest base path
mapping that prefixes the request's path name the API and stage that serve it.

Built from the store's domain and mapping documents whenever they change (``DomainRouter.build``), swapped in
whole. AWS's rules: a base path matches whole segments (``/v1`` does not match ``/v10``); ``(none)`` takes
what no other mapping takes; no mapping at all answers 403 Forbidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from apigate.store.base import Document

__all__ = ["DomainRoute", "DomainRouter", "Mapping"]


@dataclass(frozen=True, slots=True)
class Mapping:
    base_path: str  # "" for (none), else "v1" or "v1/pets", no outer slashes
    api_id: str
    stage: str | None  # None: the path's first segment below the base path names the stage (v1 only)


@dataclass(frozen=True, slots=True)
class DomainRoute:
    mapping: Mapping
    below: str  # the path below the base path, from "/" (still percent-encoded)


class DomainRouter:
    def __init__(self) -> None:
        self._hosts: dict[str, tuple[Mapping, ...]] = {}
        self.endpoint_types: dict[str, str] = {}
        self.mutual_tls: frozenset[str] = frozenset()  # domains whose clients must present a certificate

    def __bool__(self) -> bool:
        return bool(self._hosts)

    def build(self, domains: Sequence[Document], mappings: dict[str, list[Document]]) -> None:
        hosts: dict[str, tuple[Mapping, ...]] = {}
        types: dict[str, str] = {}
        for domain in domains:
            name = domain["domainName"]
            found = [
                Mapping("" if m["basePath"] == "(none)" else m["basePath"], m["restApiId"], m.get("stage"))
                for m in mappings.get(name, ())
            ]
            # Longest base path first: `v1/pets` before `v1` before (none).
            found.sort(key=lambda m: (-(m.base_path.count("/") + 1 if m.base_path else 0), m.base_path))
            hosts[name] = tuple(found)
            types[name] = domain["endpointConfiguration"]["types"][0]
        self._hosts, self.endpoint_types = hosts, types
        self.mutual_tls = frozenset(d["domainName"] for d in domains if d.get("mutualTlsAuthentication"))

    def serves(self, host: str) -> str | None:
        """The domain name serving ``host`` (itself, or the wildcard domain covering it), or None."""
        if host in self._hosts:
            return host
        wildcard = "*." + host.partition(".")[2]
        return wildcard if wildcard in self._hosts else None

    def route(self, domain: str, path: str) -> DomainRoute | None:
        """The mapping for ``path`` on ``domain`` (one ``serves`` named), or None: Forbidden."""
        for mapping in self._hosts.get(domain, ()):
            base = mapping.base_path
            if not base:
                return DomainRoute(mapping, path or "/")
            prefix = "/" + base
            if path == prefix or path.startswith(prefix + "/"):
                return DomainRoute(mapping, path[len(prefix) :] or "/")
        return None
