"""An ACM subset: ImportCertificate, RequestCertificate (issued at once by the local CA), GetCertificate,
DescribeCertificate, ListCertificates, DeleteCertificate. Custom domains name these by ARN.

Documents keep what DescribeCertificate returns plus the PEMs under ``_pem`` (the store is private to the
gateway's user); nothing but the TLS listener reads the key back.
"""

from __future__ import annotations

import base64
import binascii
import time
import uuid
from functools import partial
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from apigate.aws.errors import AwsError
from apigate.aws.json_rpc import JsonHandler
from apigate.control.context import ControlContext
from apigate.control.local_ca import LocalCa
from apigate.store.regional import everywhere

__all__ = ["KIND", "handlers", "in_use_by", "pem_bundle"]

KIND = "certificate"
_DOMAIN_KINDS = ("domainname", "v2domainname")

Doc = dict[str, Any]


def _validation(message: str) -> AwsError:
    return AwsError("ValidationException", message)


def _not_found(arn: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"Could not find certificate {arn}.")


def _blob(params: Doc, name: str) -> bytes | None:
    # botocore sends blobs base64-encoded in JSON bodies
    raw = params.get(name)
    if raw is None:
        return None
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _validation(f"{name} is not valid base64") from exc


def _key_algorithm(cert: x509.Certificate) -> str:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA_{key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "EC_prime256v1", "secp384r1": "EC_secp384r1"}.get(key.curve.name, "EC_secp521r1")
    return "UNKNOWN"


def _names(cert: x509.Certificate) -> tuple[str, list[str]]:
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        sans = [
            str(n)
            for n in cert.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            ).value.get_values_for_type(x509.DNSName)
        ]
    except x509.ExtensionNotFound:
        sans = []
    primary = str(common[0].value) if common else (sans[0] if sans else "")
    return primary, sans or [primary]


def _describe(arn: str, cert: x509.Certificate, kind: str, created: float) -> Doc:
    primary, sans = _names(cert)
    return {
        "CertificateArn": arn,
        "DomainName": primary,
        "SubjectAlternativeNames": sans,
        "Serial": ":".join(f"{b:02x}" for b in cert.serial_number.to_bytes(20, "big").lstrip(b"\0")),
        "Subject": cert.subject.rfc4514_string(),
        "Issuer": cert.issuer.rfc4514_string(),
        "CreatedAt": created,
        ("ImportedAt" if kind == "IMPORTED" else "IssuedAt"): created,
        "Status": "ISSUED",
        "NotBefore": cert.not_valid_before_utc.timestamp(),
        "NotAfter": cert.not_valid_after_utc.timestamp(),
        "KeyAlgorithm": _key_algorithm(cert),
        "SignatureAlgorithm": (
            cert.signature_hash_algorithm.name.upper() if cert.signature_hash_algorithm else ""
        )
        + "WITH"
        + _key_algorithm(cert).split("_")[0],
        "Type": kind,
        "RenewalEligibility": "INELIGIBLE" if kind == "IMPORTED" else "ELIGIBLE",
    }


def _store(
    ctx: ControlContext, arn: str, certificate: bytes, key: bytes, chain: bytes | None, kind: str
) -> None:
    try:
        cert = x509.load_pem_x509_certificate(certificate)
    except ValueError as exc:
        raise _validation(
            "The certificate field contains more than one certificate or is not a PEM certificate"
        ) from exc
    try:
        private = serialization.load_pem_private_key(key, None)
    except Exception as exc:  # ValueError, TypeError, UnsupportedAlgorithm: all the caller's input
        raise _validation("The private key is not supported or is encrypted") from exc
    public = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if (
        private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        != public
    ):
        raise _validation("The private key does not match the public key in the certificate")
    doc = _describe(arn, cert, kind, time.time())
    doc["_pem"] = {
        "certificate": certificate.decode(),
        "privateKey": key.decode(),
        "chain": (chain or b"").decode(),
    }
    ctx.store.put(KIND, arn, doc)


def _new_arn(ctx: ControlContext) -> str:
    return f"arn:aws:acm:{ctx.region}:{ctx.settings.account_id}:certificate/{uuid.uuid4()}"


def _get(ctx: ControlContext, arn: Any) -> Doc:
    if not isinstance(arn, str) or not arn.startswith("arn:"):
        raise _validation(f"The certificate ARN {arn} is not valid")
    doc = ctx.store.get(KIND, arn)
    if doc is None:
        raise _not_found(arn)
    return doc


def in_use_by(ctx: ControlContext, arn: str) -> list[str]:
    """The domain names (their ARNs) whose TLS uses the certificate."""
    users = []
    with everywhere():  # an edge domain of any region may use a us-east-1 certificate
        docs = [doc for kind in _DOMAIN_KINDS for doc in ctx.store.list(kind)]
    for doc in docs:
        arns = {doc.get("certificateArn"), doc.get("regionalCertificateArn")}
        arns |= {c.get("CertificateArn") for c in doc.get("DomainNameConfigurations") or ()}
        if arn in arns:
            name = doc.get("domainName") or doc.get("DomainName")
            users.append(f"arn:aws:apigateway:{ctx.region_of(str(name))}::/domainnames/{name}")
    return users


def pem_bundle(doc: Doc) -> tuple[str, str]:
    """(certificate followed by its chain, private key): what a TLS server loads."""
    pem = doc["_pem"]
    chain = pem.get("chain") or ""
    return pem["certificate"].rstrip("\n") + "\n" + chain, pem["privateKey"]


def _public(doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if not k.startswith("_")}


async def import_certificate(ctx: ControlContext, params: Doc) -> Doc:
    certificate, key = _blob(params, "Certificate"), _blob(params, "PrivateKey")
    if not certificate or not key:
        raise _validation("Certificate and PrivateKey are required")
    arn = params.get("CertificateArn")
    if arn is not None:  # re-import in place (a renewal)
        if _get(ctx, arn).get("Type") != "IMPORTED":
            raise _validation("Only an imported certificate can be re-imported")
    else:
        arn = _new_arn(ctx)
    _store(ctx, arn, certificate, key, _blob(params, "CertificateChain"), "IMPORTED")
    return {"CertificateArn": arn}


async def request_certificate(ctx: ControlContext, ca: LocalCa, params: Doc) -> Doc:
    domain = params.get("DomainName")
    if not isinstance(domain, str) or not domain:
        raise _validation("DomainName is required")
    names = [domain, *[n for n in params.get("SubjectAlternativeNames") or () if n != domain]]
    issued = ca.issue(names)
    arn = _new_arn(ctx)
    _store(
        ctx,
        arn,
        issued.certificate.encode(),
        issued.private_key.encode(),
        issued.chain.encode(),
        "AMAZON_ISSUED",
    )
    doc = _get(ctx, arn)
    doc["DomainValidationOptions"] = [
        {"DomainName": n, "ValidationDomain": n, "ValidationStatus": "SUCCESS", "ValidationMethod": "DNS"}
        for n in names
    ]
    ctx.store.put(KIND, arn, doc)
    return {"CertificateArn": arn}


async def get_certificate(ctx: ControlContext, params: Doc) -> Doc:
    pem = _get(ctx, params.get("CertificateArn"))["_pem"]
    return {"Certificate": pem["certificate"], "CertificateChain": pem.get("chain") or None}


async def describe_certificate(ctx: ControlContext, params: Doc) -> Doc:
    doc = _public(_get(ctx, params.get("CertificateArn")))
    doc["InUseBy"] = in_use_by(ctx, doc["CertificateArn"])
    return {"Certificate": doc}


async def list_certificates(ctx: ControlContext, params: Doc) -> Doc:
    statuses = params.get("CertificateStatuses") or ()
    summaries = []
    for doc in sorted(ctx.store.list(KIND), key=lambda d: d["CreatedAt"]):
        if statuses and doc["Status"] not in statuses:
            continue
        summaries.append(
            {
                "CertificateArn": doc["CertificateArn"],
                "DomainName": doc["DomainName"],
                "SubjectAlternativeNameSummaries": doc["SubjectAlternativeNames"],
                "HasAdditionalSubjectAlternativeNames": False,
                "Status": doc["Status"],
                "Type": doc["Type"],
                "KeyAlgorithm": doc["KeyAlgorithm"],
                "InUse": bool(in_use_by(ctx, doc["CertificateArn"])),
                "NotBefore": doc["NotBefore"],
                "NotAfter": doc["NotAfter"],
                "CreatedAt": doc["CreatedAt"],
            }
        )
    return {"CertificateSummaryList": summaries}


async def delete_certificate(ctx: ControlContext, params: Doc) -> None:
    arn = _get(ctx, params.get("CertificateArn"))["CertificateArn"]
    if in_use_by(ctx, arn):
        raise AwsError(
            "ResourceInUseException", f"Certificate {arn} in account {ctx.settings.account_id} is in use."
        )
    ctx.store.delete(KIND, arn)


def handlers(ctx: ControlContext, ca: LocalCa) -> dict[str, JsonHandler]:
    return {
        "ImportCertificate": partial(import_certificate, ctx),
        "RequestCertificate": partial(request_certificate, ctx, ca),
        "GetCertificate": partial(get_certificate, ctx),
        "DescribeCertificate": partial(describe_certificate, ctx),
        "ListCertificates": partial(list_certificates, ctx),
        "DeleteCertificate": partial(delete_certificate, ctx),
    }
