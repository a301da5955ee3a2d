"""The local certificate authority: a root apigate creates once per data dir, which RequestCertificate issues
from, so a developer trusts one root (``apigate ca export``) and every custom domain's certificate verifies."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["IssuedCertificate", "LocalCa"]

_ROOT_DAYS = 3650
_LEAF_DAYS = 395  # ACM's certificates last 13 months


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    certificate: str  # PEM
    private_key: str  # PEM (PKCS#8, unencrypted)
    chain: str  # PEM: the root


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


class LocalCa:
    """``LocalCa(data_dir / "ca")``: loads the root there, or creates it (key 0600) on first use."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._key: ec.EllipticCurvePrivateKey | None = None
        self._root: x509.Certificate | None = None

    @property
    def root_pem(self) -> str:
        self._load()
        assert self._root is not None
        return self._root.public_bytes(serialization.Encoding.PEM).decode()

    def _load(self) -> None:
        if self._root is not None:
            return
        cert_path, key_path = self._folder / "root.pem", self._folder / "root.key"
        if cert_path.exists() and key_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            self._key, self._root = key, x509.load_pem_x509_certificate(cert_path.read_bytes())
            return
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "apigate"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"apigate local CA {os.urandom(4).hex()}"),
            ]
        )
        start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
        root = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=_ROOT_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(key_path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(_pem_key(key))
        cert_path.write_bytes(root.public_bytes(serialization.Encoding.PEM))
        self._key, self._root = key, root

    def issue(
        self,
        domain_names: list[str],
        *,
        client: bool = False,
        valid: tuple[datetime.datetime, datetime.datetime] | None = None,
    ) -> IssuedCertificate:
        """A certificate for ``domain_names`` (the first is the subject; all are SANs, wildcards allowed);
        ``client``: for TLS client authentication (mutual TLS tests) instead of a server; ``valid``: its
        (not before, not after), by default from now for the usual term."""
        self._load()
        assert self._key is not None and self._root is not None
        key = ec.generate_private_key(ec.SECP256R1())
        start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain_names[0])]))
            .issuer_name(self._root.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid[0] if valid else start)
            .not_valid_after(valid[1] if valid else start + datetime.timedelta(days=_LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(name) for name in domain_names]), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )
        return IssuedCertificate(
            cert.public_bytes(serialization.Encoding.PEM).decode(), _pem_key(key), self.root_pem
        )
