"""A custom domain's mutual TLS truststore, read once when the domain names it: a local file (``file:///…`` or a
path) or, as at AWS, an S3 object (``s3://bucket/key``, ``truststoreVersion`` its version).

S3 is reached the way the gateway's AWS service integrations reach it: the endpoint botocore's configuration
names (``--aws-endpoint s3=URL``, ``AWS_ENDPOINT_URL_S3``…, else AWS's own) and the gateway's keys.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from apigate.aws.service_access import ServiceAccess

__all__ = ["LIMIT", "read_truststore"]

LIMIT = 1024 * 1024  # AWS's limit on a truststore file
_CONNECT_SECONDS = 5.0
_READ_SECONDS = 10.0


def read_truststore(
    uri: str, version: str | None, region: str, access: ServiceAccess
) -> tuple[str, list[str]]:
    """The truststore's usable certificates (PEM) and the warnings about the others (AWS's
    ``truststoreWarnings``: out of their validity now, so never trusted). ``ValueError`` or ``OSError`` (the
    reason, for the caller's BadRequest) when it cannot be read, is over ``LIMIT`` or holds no usable certificate.
    """
    data = _s3_object(uri, version, region, access) if uri.startswith("s3://") else _file(uri)
    if len(data) > LIMIT:
        raise ValueError("larger than 1 MB")
    data.decode(
        "ascii"
    )  # PEM is ASCII: anything else is not a truststore (UnicodeDecodeError is a ValueError)
    now = datetime.datetime.now(datetime.UTC)
    usable: list[str] = []
    warnings: list[str] = []
    for cert in x509.load_pem_x509_certificates(data):
        subject = cert.subject.rfc4514_string()
        if cert.not_valid_after_utc < now:
            warnings.append(
                f"Certificate {subject} expired on {cert.not_valid_after_utc:%Y-%m-%d}; it is not trusted"
            )
        elif cert.not_valid_before_utc > now:
            warnings.append(
                f"Certificate {subject} is not valid before {cert.not_valid_before_utc:%Y-%m-%d}; it is not trusted"
            )
        else:
            usable.append(cert.public_bytes(serialization.Encoding.PEM).decode())
    if not usable:
        raise ValueError("no certificate within its validity")
    return "".join(usable), warnings


def _file(uri: str) -> bytes:
    path = Path(uri.removeprefix("file://"))
    if not path.is_file():
        raise OSError(f"{path} is not a file")
    with path.open("rb") as source:
        return source.read(LIMIT + 1)


def _s3_object(uri: str, version: str | None, region: str, access: ServiceAccess) -> bytes:
    # Imported here: botocore's S3 client costs start-up time most gateways never need.
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise ValueError("expected s3://bucket/key")
    endpoint = access.endpoints.configured("s3")
    keys = access.credentials.keys(None)
    config = Config(
        connect_timeout=_CONNECT_SECONDS,
        read_timeout=_READ_SECONDS,
        retries={"max_attempts": 1},
        # a local S3 (moto, MinIO) on an address: bucket names cannot go in the host name
        s3={"addressing_style": "path"} if endpoint else None,
    )
    client = botocore.session.get_session().create_client(
        "s3",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=keys.access_key,
        aws_secret_access_key=keys.secret_key,
        aws_session_token=keys.token,
        config=config,
    )
    request = {"Bucket": bucket, "Key": key, "Range": f"bytes=0-{LIMIT}"}
    if version:
        request["VersionId"] = version
    try:
        body = client.get_object(**request)["Body"]
        try:
            return bytes(body.read(LIMIT + 1))
        finally:
            body.close()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise OSError(
            f"S3 answered {error.get('Code', 'an error')}: {error.get('Message', '')}".rstrip(": ")
        ) from exc
    except BotoCoreError as exc:
        raise OSError(f"S3 could not be reached: {exc}") from exc
