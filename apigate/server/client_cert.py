"""The client certificate of a mutual TLS connection, as AWS shows it to functions and authorizers:
``clientCert`` {clientCertPem, subjectDN, issuerDN, serialNumber, validity {notBefore, notAfter}}."""

from __future__ import annotations

import ssl
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from apigate.server.peer_verify import verified

__all__ = ["client_cert", "current"]

_DATE = "%b %d %H:%M:%S %Y GMT"  # AWS's validity format: "May 28 12:30:02 2019 GMT"


def client_cert(session: ssl.SSLObject | None) -> dict[str, Any] | None:
    """``clientCert`` for an HTTPS request that presented a certificate chaining to its domain's truststore; None
    otherwise (the listener also completes handshakes with untrusted certificates, for the gateway to refuse)."""
    if session is None:
        return None
    der = session.getpeercert(binary_form=True)
    if not der or not verified(session):
        return None
    cert = x509.load_der_x509_certificate(der)
    return {
        "clientCertPem": cert.public_bytes(serialization.Encoding.PEM).decode(),
        "subjectDN": cert.subject.rfc4514_string(),
        "issuerDN": cert.issuer.rfc4514_string(),
        "serialNumber": ":".join(f"{b:02x}" for b in cert.serial_number.to_bytes(20, "big").lstrip(b"\0")),
        "validity": {
            "notBefore": cert.not_valid_before_utc.strftime(_DATE),
            "notAfter": cert.not_valid_after_utc.strftime(_DATE),
        },
    }


@lru_cache(maxsize=1024)
def _validity(der: bytes) -> tuple[float, float]:
    """(not before, not after) as epoch seconds, parsed once per certificate (a client reconnects with the same)."""
    cert = x509.load_der_x509_certificate(der)
    return cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp()


def current(der: bytes, now: float) -> bool:
    """The client certificate ``der`` is within its validity at ``now`` (the handshake leaves dates to us)."""
    not_before, not_after = _validity(der)
    return not_before <= now <= not_after
