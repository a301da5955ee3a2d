"""``GetFunction``'s ``Code.Location``: a short-lived signed link to a function's code, as Lambda's presigned S3 link.

Lambda answers with an S3 link valid for ten minutes; the link is the credential. Here the link names the
function's code version, the moment it was signed and its lifetime, and carries an HMAC-SHA256 of those under a
secret kept in the data dir (``code-link.key``, mode 0600, made once and shared by every process serving that data
dir), so any of them can check a link another one handed out. Unsigned, altered, expired links, and links to code
that has since been replaced, are refused with S3's 403 answers.
"""

from __future__ import annotations

import calendar
import contextlib
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from urllib.parse import parse_qsl, quote

from apigate.server.message import Response

__all__ = ["LINK_SECONDS", "CodeLinks"]

LINK_SECONDS = 600  # Lambda's Code.Location is valid for ten minutes
_MAX_SECONDS = 604800  # S3's longest presigned link
_ALGORITHM = "AWS4-HMAC-SHA256"
_STAMP = "%Y%m%dT%H%M%SZ"
_KEY_FILE = "code-link.key"


def _secret(data_dir: Path) -> bytes:
    """The data dir's link secret, made on first use: written whole to a private file, then linked into place
    (a link never replaces, so processes racing to make it all end up reading the one that won)."""
    path = data_dir / _KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        return path.read_bytes()
    data_dir.mkdir(parents=True, exist_ok=True)
    draft = data_dir / f".{_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, secrets.token_bytes(32))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    try:
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_bytes()


def _s3_error(code: str, message: str, extra: str = "") -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>{extra}"
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
    )
    return Response(403, [("Content-Type", "application/xml")], body.encode())


class CodeLinks:
    """Signs and checks links to ``/_apigate/code/{name}.zip``."""

    __slots__ = ("_secret",)

    def __init__(self, data_dir: Path) -> None:
        self._secret = _secret(data_dir)

    def _signature(self, name: str, code_sha256: str, stamp: str, seconds: int) -> str:
        message = f"apigate-code\n{name}\n{code_sha256}\n{stamp}\n{seconds}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def link(self, base_url: str, name: str, code_sha256: str, *, now: float | None = None) -> str:
        stamp = time.strftime(_STAMP, time.gmtime(time.time() if now is None else now))
        signature = self._signature(name, code_sha256, stamp, LINK_SECONDS)
        return (
            f"{base_url}/_apigate/code/{quote(name, safe='')}.zip?X-Amz-Algorithm={_ALGORITHM}"
            f"&X-Amz-Date={stamp}&X-Amz-Expires={LINK_SECONDS}&X-Amz-Signature={signature}"
        )

    def refusal(
        self, query_string: str, name: str, code_sha256: str | None, *, now: float | None = None
    ) -> Response | None:
        """None when the query signs a link to this code version and has not expired; else S3's 403."""
        params = dict(parse_qsl(query_string, keep_blank_values=True))
        signature = params.get("X-Amz-Signature")
        stamp = params.get("X-Amz-Date", "")
        if not signature or params.get("X-Amz-Algorithm") != _ALGORITHM or code_sha256 is None:
            return _s3_error("AccessDenied", "Access Denied")
        try:
            seconds = int(params.get("X-Amz-Expires", ""))
            signed_at = calendar.timegm(time.strptime(stamp, _STAMP))
        except ValueError:
            return _s3_error("AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is malformed")
        if not 1 <= seconds <= _MAX_SECONDS:
            return _s3_error(
                "AuthorizationQueryParametersError",
                "X-Amz-Expires must be less than a week (in seconds) that is 604800",
            )
        expected = self._signature(name, code_sha256, stamp, seconds)
        if not hmac.compare_digest(expected, signature):
            return _s3_error(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.",
            )
        moment = time.time() if now is None else now
        if moment > signed_at + seconds:
            expired = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(signed_at + seconds))
            server = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
            return _s3_error(
                "AccessDenied",
                "Request has expired",
                f"<X-Amz-Expires>{seconds}</X-Amz-Expires><Expires>{expired}</Expires>"
                f"<ServerTime>{server}</ServerTime>",
            )
        return None
