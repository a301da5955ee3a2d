"""The domain router: a custom domain (by ``Host``; SNI chose its certificate) and the longest base path
mapping that prefixes the request's path name the API and stage that serve it; or, by the domain's routing
mode, the first of its routing rules (lowest priority first) whose conditions the request meets.

Built from the store's domain and mapping documents whenever they change (``DomainRouter.build``), swapped in
whole. AWS's rules: a base path matches whole segments (``/v1`` does not match ``/v10``); ``(none)`` takes
what no other mapping takes; no mapping at all answers 403 Forbidden.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from apigate.aws.policy import Decision, Policy, PolicyError, evaluate, parse_policy
from apigate.store.base import Document

__all__ = ["DomainRoute", "DomainRouter", "Mapping", "PrivateDomain", "RoutingRule", "glob_matches"]

Headers = Callable[[str], str | None]  # a request's header by name (any case)


@dataclass(frozen=True, slots=True)
class Mapping:
    base_path: str  # "" for (none), else "v1" or "v1/pets", no outer slashes
    api_id: str
    stage: str | None  # None: the path's first segment below the base path names the stage (v1 only)


@dataclass(frozen=True, slots=True)
class DomainRoute:
    mapping: Mapping
    below: str  # the path below the base path, from "/" (still percent-encoded)


def glob_matches(glob: str, value: str) -> bool:
    """A routing rule's header glob: ``*`` only at either end (prefix, suffix or contains), case-sensitive."""
    if len(glob) > 1 and glob.startswith("*") and glob.endswith("*"):
        return glob[1:-1] in value
    if glob.endswith("*"):
        return value.startswith(glob[:-1])
    if glob.startswith("*"):
        return value.endswith(glob[1:])
    return value == glob


def _below(path: str, base: str) -> str | None:
    """The path below ``base`` (whole segments), or None when ``path`` is not under it."""
    if not base:
        return path or "/"
    prefix = "/" + base
    if path == prefix or path.startswith(prefix + "/"):
        return path[len(prefix) :] or "/"
    return None


@dataclass(frozen=True, slots=True)
class RoutingRule:
    priority: int
    base_paths: tuple[str, ...] | None  # None: no base path condition
    headers: tuple[tuple[tuple[str, str], ...], ...]  # conditions, all met; each any of (header, value glob)
    api_id: str
    stage: str
    strip_base_path: bool

    @classmethod
    def of(cls, doc: Document) -> RoutingRule:
        """From a stored rule (CreateRoutingRule's answer)."""
        base_paths: tuple[str, ...] | None = None
        headers = []
        for condition in doc.get("Conditions") or ():
            if "MatchBasePaths" in condition:
                base_paths = tuple(p.strip("/") for p in condition["MatchBasePaths"]["AnyOf"])
            else:
                headers.append(
                    tuple((h["Header"].lower(), h["ValueGlob"]) for h in condition["MatchHeaders"]["AnyOf"])
                )
        action = doc["Actions"][0]["InvokeApi"]
        return cls(
            int(doc["Priority"]),
            base_paths,
            tuple(headers),
            action["ApiId"],
            action["Stage"],
            bool(action.get("StripBasePath", False)),
        )

    def route(self, path: str, header: Headers) -> DomainRoute | None:
        for any_of in self.headers:
            if not any((value := header(name)) is not None and glob_matches(glob, value) for name, glob in any_of):
                return None
        if self.base_paths is None:
            return DomainRoute(Mapping("", self.api_id, self.stage), path or "/")
        for base in self.base_paths:
            below = _below(path, base)
            if below is not None:
                if self.strip_base_path:
                    return DomainRoute(Mapping(base, self.api_id, self.stage), below)
                return DomainRoute(Mapping("", self.api_id, self.stage), path or "/")
        return None


@dataclass(frozen=True, slots=True)
class PrivateDomain:
    """A private custom domain: reached only through the VPC endpoints associated with it, and only for calls
    its resource policy allows (a missing or unreadable policy allows nothing)."""

    arn: str  # the domain in execute-api form: arn:aws:execute-api:{region}:{account}:/domainnames/{name}+{id}
    policy: Policy | None
    endpoints: frozenset[str]  # VPC endpoint ids with an access association

    @classmethod
    def of(cls, domain: Document, associations: Sequence[Document]) -> PrivateDomain:
        arn = str(domain["domainNameArn"]).replace(":apigateway:", ":execute-api:", 1)
        try:
            policy = parse_policy(domain["policy"]) if domain.get("policy") else None
        except PolicyError:
            policy = None
        return cls(arn, policy, frozenset(a["accessAssociationSource"] for a in associations))

    def admits(self, vpce_id: str | None, path: str, source_ip: str) -> bool:
        if vpce_id is None or vpce_id not in self.endpoints or self.policy is None:
            return False
        context = {"aws:sourcevpce": vpce_id, "aws:sourceip": source_ip}
        return evaluate(self.policy, "execute-api:Invoke", self.arn + path, context) is Decision.ALLOW


class DomainRouter:
    def __init__(self) -> None:
        self._hosts: dict[str, tuple[Mapping, ...]] = {}
        # By domain, when its routing mode uses them: its routing rules by priority, tried before its mappings;
        # in ``_rules_only`` domains the mappings are not consulted at all.
        self._rules: dict[str, tuple[RoutingRule, ...]] = {}
        self._rules_only: frozenset[str] = frozenset()
        self.private: dict[str, PrivateDomain] = {}
        self.endpoint_types: dict[str, str] = {}
        self.mutual_tls: frozenset[str] = frozenset()  # domains whose clients must present a certificate

    def __bool__(self) -> bool:
        return bool(self._hosts)

    def build(
        self,
        domains: Sequence[Document],
        mappings: dict[str, list[Document]],
        rules: dict[str, list[Document]] | None = None,
        associations: dict[str, list[Document]] | None = None,
    ) -> None:
        hosts: dict[str, tuple[Mapping, ...]] = {}
        types: dict[str, str] = {}
        by_domain: dict[str, tuple[RoutingRule, ...]] = {}
        rules_only = set()
        private = {}
        for domain in domains:
            if domain.get("domainNameId"):
                private[domain["domainName"]] = PrivateDomain.of(
                    domain, (associations or {}).get(domain["domainName"], ())
                )
            mode = domain.get("routingMode") or "BASE_PATH_MAPPING_ONLY"
            if mode != "BASE_PATH_MAPPING_ONLY":
                found_rules = [RoutingRule.of(doc) for doc in (rules or {}).get(domain["domainName"], ())]
                by_domain[domain["domainName"]] = tuple(sorted(found_rules, key=lambda r: r.priority))
                if mode == "ROUTING_RULE_ONLY":
                    rules_only.add(domain["domainName"])
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
        self._rules, self._rules_only = by_domain, frozenset(rules_only)
        self.private = private
        self.mutual_tls = frozenset(d["domainName"] for d in domains if d.get("mutualTlsAuthentication"))

    def serves(self, host: str) -> str | None:
        """The domain name serving ``host`` (itself, or the wildcard domain covering it), or None."""
        if host in self._hosts:
            return host
        wildcard = "*." + host.partition(".")[2]
        return wildcard if wildcard in self._hosts else None

    def route(self, domain: str, path: str, header: Headers = lambda name: None) -> DomainRoute | None:
        """The mapping for ``path`` on ``domain`` (one ``serves`` named), or None: Forbidden."""
        for rule in self._rules.get(domain, ()):
            found = rule.route(path, header)
            if found is not None:
                return found
        if domain in self._rules_only:
            return None
        for mapping in self._hosts.get(domain, ()):
            below = _below(path, mapping.base_path)
            if below is not None:
                return DomainRoute(mapping, below)
        return None
