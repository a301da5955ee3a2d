"""The client certificate of a mutual TLS connection, as AWS shows it to functions and authorizers:
``clientCert`` {clientCertPem, subjectDN, issuerDN, serialNumber, validity {notBefore, notAfter}}."""

from __future__ import annotations

import ssl
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

__all__ = ["client_cert"]

_DATE = "%b %d %H:%M:%S %Y GMT"  # AWS's validity format: "May 28 12:30:02 2019 GMT"


def client_cert(session: ssl.SSLObject | None) -> dict[str, Any] | None:
    """``clientCert`` for an HTTPS request that presented a verified certificate; None otherwise."""
    if session is None:
        return None
    der = session.getpeercert(binary_form=True)
    if not der:
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
