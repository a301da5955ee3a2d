"""TLS for the HTTPS listener: contexts per certificate, TLS policies by AWS's names, SNI picking a custom
domain's certificate. uvloop's TLS transport runs Python's ``ssl`` objects, so the SNI callback is Python's.

``ssl`` loads certificates only from files: each certificate (with its chain and key) is written once into a
private folder of the data dir, named by its content's digest.
"""

from __future__ import annotations

import hashlib
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from apigate.server.peer_verify import accept_untrusted

__all__ = [
    "POLICIES",
    "Site",
    "TlsSites",
    "below_policy",
    "minimum_version",
    "server_context",
    "write_private",
]

# AWS's security policies by the lowest TLS version each accepts (ciphers are OpenSSL's defaults at that version).
POLICIES: dict[str, ssl.TLSVersion] = {
    "TLS_1_0": ssl.TLSVersion.TLSv1,
    "TLS_1_2": ssl.TLSVersion.TLSv1_2,
    "SecurityPolicy_TLS13_1_3_2025_09": ssl.TLSVersion.TLSv1_3,
    "SecurityPolicy_TLS13_1_3_FIPS_2025_09": ssl.TLSVersion.TLSv1_3,
    "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09": ssl.TLSVersion.TLSv1_2,
    "SecurityPolicy_TLS13_1_2_FIPS_PQ_2025_09": ssl.TLSVersion.TLSv1_2,
    "SecurityPolicy_TLS13_1_2_PQ_2025_09": ssl.TLSVersion.TLSv1_2,
    "SecurityPolicy_TLS13_1_2_2021_06": ssl.TLSVersion.TLSv1_2,
    "SecurityPolicy_TLS13_2025_EDGE": ssl.TLSVersion.TLSv1_3,
    "SecurityPolicy_TLS12_PFS_2025_EDGE": ssl.TLSVersion.TLSv1_2,
    "SecurityPolicy_TLS12_2018_EDGE": ssl.TLSVersion.TLSv1_2,
}


# OpenSSL's X509_V_FLAG_NO_CHECK_TIME (ssl names no constant for it)
_NO_CHECK_TIME = ssl.VerifyFlags(0x200000)


def minimum_version(policy: str | None) -> ssl.TLSVersion:
    return POLICIES.get(policy or "TLS_1_2", ssl.TLSVersion.TLSv1_2)


def server_context(
    cert_file: str | Path,
    key_file: str | Path | None = None,
    policy: str | None = None,
    truststore: str | None = None,
) -> ssl.SSLContext:
    """A server context for one certificate: HTTP/1.1 by ALPN, the policy's lowest TLS version; with a
    ``truststore`` (PEM), client certificates are verified against it."""
    context = _PolicyContext(ssl.PROTOCOL_TLS_SERVER)
    version = context.floor = minimum_version(policy)
    if version < ssl.TLSVersion.TLSv1_2:
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 refuses TLS 1.0/1.1 at its default level
    context.minimum_version = version
    context.set_alpn_protocols(["http/1.1"])
    context.load_cert_chain(str(cert_file), None if key_file is None else str(key_file))
    if truststore:
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(cadata=truststore)
    return context


class _PolicyContext(ssl.SSLContext):
    """A context that remembers its policy's lowest TLS version (``floor``): the listener's context may accept
    lower versions than its own policy, so that a legacy domain's handshake can settle on them."""

    floor: ssl.TLSVersion


@dataclass(frozen=True, slots=True)
class Site:
    """One custom domain's TLS: its certificate (PEM, chain after it), key and policy."""

    certificate: str
    private_key: str
    policy: str | None = None
    truststore: str | None = None  # PEM: mutual TLS, client certificates must chain to one of these


class TlsSites:
    """The HTTPS listener's context: a default certificate, and per host name (``*.`` wildcards too) the
    context of the custom domain named by SNI. ``install`` swaps the whole table (domains changed)."""

    def __init__(self, folder: Path, default: ssl.SSLContext) -> None:
        self._folder = folder
        self._default = default
        self._by_host: dict[str, ssl.SSLContext] = {}
        self._cache: dict[str, ssl.SSLContext] = {}
        self._floor = default.minimum_version  # the listener's own policy
        self._untrusted_tried = False
        default.sni_callback = self._pick

    @property
    def context(self) -> ssl.SSLContext:
        return self._default

    def domain_context(self, domain: str) -> ssl.SSLContext | None:
        """The context SNI switches to for the custom domain ``domain`` (its name, ``*.`` wildcard or not)."""
        return self._by_host.get(domain.lower())

    def install(self, sites: dict[str, Site]) -> None:
        table: dict[str, ssl.SSLContext] = {}
        cache: dict[str, ssl.SSLContext] = {}
        for host, site in sites.items():
            fields = (site.certificate, site.private_key, site.policy or "", site.truststore or "")
            digest = hashlib.sha256("\0".join(fields).encode()).hexdigest()
            context = self._cache.get(digest) or cache.get(digest)
            if context is None:
                context = server_context(
                    self._file(digest, site), policy=site.policy, truststore=site.truststore
                )
            cache[digest] = context
            table[host.lower()] = context
        self._by_host, self._cache = table, cache
        # OpenSSL decides whether to ask for a client certificate by the listener's context, before SNI
        # switches to the domain's; the domain's truststore then verifies it. So the listener asks whenever a
        # domain uses mutual TLS. Its verify callback lets a chain that fails through (peer_verify), so that
        # the gateway answers AWS's 403, and a domain without mutual TLS ignores a certificate offered to it.
        mutual = any(site.truststore for site in sites.values())
        if mutual and not self._untrusted_tried:
            self._untrusted_tried = True  # once: where it cannot be, the reason is logged once
            accept_untrusted(self._default)
        self._default.verify_mode = ssl.CERT_OPTIONAL if mutual else ssl.CERT_NONE
        # The verification parameters are the listener's too. Dates are not checked in the handshake: a client
        # certificate out of its validity gets AWS's HTTP 403 instead of a failed handshake (client_cert.current).
        self._default.verify_flags |= _NO_CHECK_TIME
        # The version is chosen by the listener's context too: it accepts the lowest any domain's policy does
        # (`TLS_1_0`). Its own policy still holds: its security level refuses TLS 1.0/1.1 ciphers, and
        # below_policy checks every handshake against the floor of the context SNI settled on.
        lowest = min([self._floor, *(minimum_version(site.policy) for site in sites.values())])
        self._default.minimum_version = lowest

    def _file(self, digest: str, site: Site) -> Path:
        self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._folder / f"{digest[:32]}.pem"
        if not path.exists():
            write_private(path, site.private_key.rstrip("\n") + "\n" + site.certificate)
        return path

    def _pick(
        self, sslobj: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> int | None:
        if not server_name:
            return None
        name = server_name.lower()
        context = self._by_host.get(name)
        if context is None and "." in name:
            context = self._by_host.get("*." + name.split(".", 1)[1])
        if context is not None:
            sslobj.context = context
        return None


def write_private(path: Path, text: str) -> None:
    """Write a key bundle readable by its owner only, whole or not at all: the workers of ``--workers`` write
    the same files when domains change, and one must never load another's half-written file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(temporary, path)


_VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


def below_policy(session: ssl.SSLObject) -> bool:
    """The handshake settled on a version below the policy of the context SNI switched to: OpenSSL chose the
    version by the listener's context, before SNI named the domain, so a domain's stricter policy is checked
    here, once the handshake is done."""
    version = _VERSIONS.get(session.version() or "")
    floor = getattr(session.context, "floor", session.context.minimum_version)
    return version is not None and version < floor
