"""GenerateClientCertificate, GetClientCertificate(s), UpdateClientCertificate, DeleteClientCertificate.

AWS generates a key pair and a self-signed certificate valid for a year and hands out only the public PEM (a
backend pins it to know calls come from API Gateway). apigate does the same with ``cryptography``; the key stays
in the store beside it.
"""

from __future__ import annotations

import datetime
import os
from functools import partial
from typing import Any

from apigate.aws import patch
from apigate.aws.errors import not_found
from apigate.aws.ids import short_id
from apigate.aws.wire import OperationHandler
from apigate.control.common import Doc, drop_none, now, page
from apigate.control.context import ControlContext
from apigate.server.upstream import ClientIdentity

KIND = "clientcertificate"
_KEYS = "clientcertificatekey"
_VALIDITY = datetime.timedelta(days=365)


def _generate() -> tuple[str, str, int]:
    """A self-signed certificate (public PEM), its private key (PEM) and its expiry (epoch seconds)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ApiGateway")])
    start = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _VALIDITY)
        .sign(key, hashes.SHA256())
    )
    public = certificate.public_bytes(serialization.Encoding.PEM).decode()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return public, private, int((start + _VALIDITY).timestamp())


def _certificate(ctx: ControlContext, certificate_id: str) -> Doc:
    doc = ctx.store.get(KIND, certificate_id)
    if doc is None:
        raise not_found("Invalid Client Certificate identifier specified")
    return doc


def client_identity(ctx: ControlContext, certificate_id: str) -> ClientIdentity | None:
    """The certificate a stage names, as the upstream pool presents it: its PEM and key in a file of the data
    dir only the gateway's user reads (written when missing or changed); None if it no longer exists."""
    doc = ctx.store.get(KIND, certificate_id)
    key = ctx.store.get(_KEYS, certificate_id)
    if doc is None or key is None:
        return None
    folder = ctx.settings.data_dir / "client-certificates"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{certificate_id}.pem"
    content = (doc["pemEncodedCertificate"].rstrip("\n") + "\n" + key["privateKey"]).encode()
    if not path.exists() or path.read_bytes() != content:
        partial_path = path.with_suffix(".tmp")
        fd = os.open(partial_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(partial_path, path)
    return ClientIdentity(certificate_id, str(path))


async def generate_client_certificate(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    public, private, expires = _generate()
    certificate_id = short_id(6)
    doc = drop_none(
        {
            "clientCertificateId": certificate_id,
            "description": params.get("description"),
            "pemEncodedCertificate": public,
            "createdDate": now(),
            "expirationDate": expires,
            "tags": params.get("tags") or None,
        }
    )
    with ctx.store.transaction():
        ctx.store.put(KIND, certificate_id, doc)
        ctx.store.put(_KEYS, certificate_id, {"id": certificate_id, "privateKey": private})
    return doc


async def get_client_certificate(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _certificate(ctx, params["clientCertificateId"])


async def get_client_certificates(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return page(ctx.store.list(KIND), params)


async def update_client_certificate(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    doc = _certificate(ctx, params["clientCertificateId"])
    patch.apply(
        doc,
        params.get("patchOperations") or [],
        {"description": patch.scalar("description", allowed_ops=("replace", "remove"))},
    )
    ctx.store.put(KIND, doc["clientCertificateId"], doc)
    return doc


async def delete_client_certificate(ctx: ControlContext, params: dict[str, Any]) -> None:
    certificate_id = params["clientCertificateId"]
    _certificate(ctx, certificate_id)
    with ctx.store.transaction():
        ctx.store.delete(KIND, certificate_id)
        ctx.store.delete(_KEYS, certificate_id)


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "GenerateClientCertificate": partial(generate_client_certificate, ctx),
        "GetClientCertificate": partial(get_client_certificate, ctx),
        "GetClientCertificates": partial(get_client_certificates, ctx),
        "UpdateClientCertificate": partial(update_client_certificate, ctx),
        "DeleteClientCertificate": partial(delete_client_certificate, ctx),
    }
