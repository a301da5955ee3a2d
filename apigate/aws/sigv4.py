"""Verifying AWS Signature Version 4: the Authorization header form and the presigned query-string form.

The canonical request is rebuilt from the request as it arrived, by the rules botocore signs with (the path
normalised and URI-encoded once more, headers lower-cased, trimmed and sorted, the payload's SHA-256 or the
client's ``x-amz-content-sha256``), so what boto3, the AWS CLI and ``botocore.auth.SigV4Auth`` sign here is
what we check. A client that percent-encodes its query string differently from botocore (the spec's
decode-then-encode rule) is checked against that form too.

Parsing (``parse``) and checking (``verify``) are separate: the caller looks the access key up in between.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from urllib.parse import quote, unquote

from botocore.utils import normalize_url_path

from apigate.aws.identity import Identities, Identity
from apigate.server.message import Request

__all__ = ["Failure", "SignatureError", "SignedRequest", "authenticate", "parse", "verify"]

_ALGORITHM = "AWS4-HMAC-SHA256"
_TERMINATOR = "aws4_request"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_SKEW = timedelta(minutes=5)
_INTEGER = re.compile(r"-?[0-9]{1,12}")
_MAX_EXPIRES = 604800  # a week: the longest a presigned link may live
_STAMP = "%Y%m%dT%H%M%SZ"


class Failure(Enum):
    MISSING = "missing"  # not signed at all
    INCOMPLETE = "incomplete"  # signed, but the signature's parameters are malformed
    INVALID = "invalid"  # wrong signature, scope or date
    EXPIRED = "expired"  # outside the clock skew, or past X-Amz-Expires
    UNKNOWN_KEY = "unknown-key"  # no such access key, or a session token that is not the key's
    TOKEN_EXPIRED = "token-expired"  # STS credentials past their expiration

    @property
    def error_type(self) -> str:
        """AWS's ``x-amzn-ErrorType`` (and rest-json error code) for the failure."""
        return _ERROR_TYPES[self]


_ERROR_TYPES = {
    Failure.MISSING: "MissingAuthenticationTokenException",
    Failure.INCOMPLETE: "IncompleteSignatureException",
    Failure.INVALID: "InvalidSignatureException",
    Failure.EXPIRED: "InvalidSignatureException",
    Failure.UNKNOWN_KEY: "UnrecognizedClientException",
    Failure.TOKEN_EXPIRED: "ExpiredTokenException",
}


class SignatureError(Exception):
    def __init__(self, failure: Failure, message: str) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a signature claims: who signed, for which day, region and service, over which headers."""

    access_key: str
    date: str  # YYYYMMDD of the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str  # YYYYMMDDTHHMMSSZ
    security_token: str | None
    expires: int | None  # the query-string form's X-Amz-Expires
    in_query: bool

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{_TERMINATOR}"


def _query_pairs(query_string: str) -> list[tuple[str, str]]:
    return [(k, v) for k, _, v in (p.partition("=") for p in query_string.split("&")) if k or v]


def parse(request: Request) -> SignedRequest | None:
    """The signature's parameters, or None when the request carries no signature at all."""
    header = request.header("authorization")
    if header is not None:
        return _parse_header(request, header)
    query = request.query_string
    if "X-Amz-" not in query:
        return None
    params = {unquote(k): unquote(v) for k, v in _query_pairs(query)}
    if "X-Amz-Algorithm" not in params and "X-Amz-Signature" not in params:
        return None
    missing = [
        name
        for name in (
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Signature",
            "X-Amz-SignedHeaders",
            "X-Amz-Date",
            "X-Amz-Expires",  # a presigned link without an end would be valid forever
        )
        if not params.get(name)
    ]
    if missing:
        raise SignatureError(
            Failure.INCOMPLETE,
            " ".join(f"AWS query-string parameters must include '{name}'." for name in missing)
            + " Re-examine the query-string parameters.",
        )
    if params["X-Amz-Algorithm"] != _ALGORITHM:
        raise SignatureError(
            Failure.INCOMPLETE, f"Unsupported AWS 'algorithm': '{params['X-Amz-Algorithm']}'"
        )
    expires = _expires(params.get("X-Amz-Expires"))
    return _signed(
        params["X-Amz-Credential"],
        params["X-Amz-SignedHeaders"],
        params["X-Amz-Signature"],
        params["X-Amz-Date"],
        params.get("X-Amz-Security-Token"),
        expires,
        in_query=True,
    )


def _expires(value: str | None) -> int:
    """X-Amz-Expires, a whole number of seconds up to a week, as S3 (the one service that documents it)
    words its limits."""
    if value is None or _INTEGER.fullmatch(value) is None:
        raise SignatureError(Failure.INCOMPLETE, "X-Amz-Expires should be a number")
    expires = int(value)
    if expires < 0:
        raise SignatureError(Failure.INCOMPLETE, "X-Amz-Expires must be non-negative")
    if expires > _MAX_EXPIRES:
        raise SignatureError(
            Failure.INCOMPLETE,
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be "
            f"less than {_MAX_EXPIRES} seconds",
        )
    return expires


def _parse_header(request: Request, header: str) -> SignedRequest:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != _ALGORITHM:
        # What AWS answers for another scheme (a Bearer token, say) on a SigV4 resource: it names the value
        # only by its hash.
        digest = base64.b64encode(hashlib.sha256(header.encode()).digest()).decode()
        raise SignatureError(
            Failure.INCOMPLETE,
            "Invalid key=value pair (missing equal-sign) in Authorization header "
            f"(hashed with SHA-256 and encoded with Base64): '{digest}'.",
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, eq, value = part.strip().partition("=")
        if not eq:
            raise SignatureError(
                Failure.INCOMPLETE,
                f"Invalid key=value pair (missing equal-sign) in Authorization header: '{part}'",
            )
        fields[name] = value
    missing = [name for name in ("Credential", "Signature", "SignedHeaders") if name not in fields]
    amz_date = request.header("x-amz-date") or _http_date(request.header("date"))
    problems = [f"Authorization header requires '{name}' parameter." for name in missing]
    if amz_date is None:
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if problems:
        raise SignatureError(Failure.INCOMPLETE, " ".join(problems) + f" Authorization={header}")
    assert amz_date is not None
    return _signed(
        fields["Credential"],
        fields["SignedHeaders"],
        fields["Signature"],
        amz_date,
        request.header("x-amz-security-token"),
        None,
        in_query=False,
    )


def _http_date(value: str | None) -> str | None:
    if not value:
        return None
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value).astimezone(UTC).strftime(_STAMP)
    except (TypeError, ValueError):
        return None


def _signed(
    credential: str,
    signed_headers: str,
    signature: str,
    amz_date: str,
    token: str | None,
    expires: int | None,
    *,
    in_query: bool,
) -> SignedRequest:
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts[:4]):
        raise SignatureError(
            Failure.INCOMPLETE,
            f"Authorization header requires 'Credential' parameter. Credential={credential}",
        )
    if parts[4] != _TERMINATOR:
        raise SignatureError(
            Failure.INVALID,
            f"Credential should be scoped with a valid terminator: '{_TERMINATOR}', not '{parts[4]}'. ",
        )
    return SignedRequest(
        access_key=parts[0],
        date=parts[1],
        region=parts[2],
        service=parts[3],
        signed_headers=tuple(h.strip().lower() for h in signed_headers.split(";") if h.strip()),
        signature=signature.strip(),
        amz_date=amz_date,
        security_token=token,
        expires=expires,
        in_query=in_query,
    )


def _canonical_headers(request: Request, names: tuple[str, ...]) -> str:
    lines = []
    for name in sorted(set(names)):
        values = request.header_values(name)
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}")
    return "\n".join(lines)


def _canonical_queries(query_string: str, in_query: bool) -> list[str]:
    """botocore's form (the pairs as sent, sorted), then the spec's (decoded and re-encoded) if different."""
    pairs = [(k, v) for k, v in _query_pairs(query_string) if not (in_query and k == "X-Amz-Signature")]
    raw = "&".join(f"{k}={v}" for k, v in sorted(pairs))
    encoded = sorted(
        (quote(unquote(k.replace("+", " ")), safe="-_.~"), quote(unquote(v.replace("+", " ")), safe="-_.~"))
        for k, v in pairs
    )
    spec = "&".join(f"{k}={v}" for k, v in encoded)
    return [raw] if spec == raw else [raw, spec]


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, _TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _check_time(signed: SignedRequest, now: datetime) -> None:
    try:
        moment = datetime.strptime(signed.amz_date, _STAMP).replace(tzinfo=UTC)
    except ValueError as exc:
        raise SignatureError(
            Failure.INCOMPLETE, f"Date must be in ISO-8601 'basic format'. Got '{signed.amz_date}'."
        ) from exc
    if signed.amz_date[:8] != signed.date:
        raise SignatureError(
            Failure.INVALID,
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{signed.date}' != '{signed.amz_date[:8]}', from '{signed.amz_date}'.",
        )
    stamp = now.strftime(_STAMP)
    if signed.expires is not None:
        expiry = moment + timedelta(seconds=signed.expires)
        if now > expiry:
            raise SignatureError(
                Failure.EXPIRED,
                f"Signature expired: {expiry.strftime(_STAMP)} is now earlier than {stamp}",
            )
        if moment - now > _SKEW:
            raise SignatureError(
                Failure.EXPIRED,
                f"Signature not yet current: {signed.amz_date} is still later than "
                f"{(now + _SKEW).strftime(_STAMP)} ({stamp} + 5 min.)",
            )
        return
    if now - moment > _SKEW:
        raise SignatureError(
            Failure.EXPIRED,
            f"Signature expired: {signed.amz_date} is now earlier than {(now - _SKEW).strftime(_STAMP)} "
            f"({stamp} - 5 min.)",
        )
    if moment - now > _SKEW:
        raise SignatureError(
            Failure.EXPIRED,
            f"Signature not yet current: {signed.amz_date} is still later than {(now + _SKEW).strftime(_STAMP)} "
            f"({stamp} + 5 min.)",
        )


_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


def verify(request: Request, signed: SignedRequest, secret: str, *, now: datetime | None = None) -> None:
    """Raise SignatureError unless ``signed`` is a valid signature of ``request`` by ``secret``, made now."""
    _check_time(signed, now or datetime.now(UTC))
    if "host" not in signed.signed_headers:
        raise SignatureError(
            Failure.INVALID, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    payload = request.header("x-amz-content-sha256")
    if payload is None:
        payload = hashlib.sha256(request.body).hexdigest() if request.body else _EMPTY_SHA256
    elif (
        payload not in ("UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        and request.body
        and not hmac.compare_digest(payload, hashlib.sha256(request.body).hexdigest())
    ):
        raise SignatureError(
            Failure.INVALID,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    path = quote(normalize_url_path(request.raw_path), safe="/~")
    headers = _canonical_headers(request, signed.signed_headers)
    key = _signing_key(secret, signed.date, signed.region, signed.service)
    first = ""
    for query in _canonical_queries(request.query_string, signed.in_query):
        canonical = "\n".join(
            (
                request.method.upper(),
                path,
                query,
                headers + "\n",
                ";".join(sorted(set(signed.signed_headers))),
                payload,
            )
        )
        to_sign = "\n".join(
            (_ALGORITHM, signed.amz_date, signed.scope, hashlib.sha256(canonical.encode()).hexdigest())
        )
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, signed.signature):
            return
        first = first or (
            f"{_MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical}'\n\n"
            f"The String-to-Sign should have been\n'{to_sign}'\n"
        )
    raise SignatureError(Failure.INVALID, first)


def authenticate(
    request: Request,
    identities: Identities,
    *,
    service: str,
    region: str | tuple[str, ...],
    now: datetime | None = None,
) -> Identity:
    """The identity that signed ``request`` for ``service`` in ``region`` (or one of the regions given), or
    SignatureError. Both are required: a signature scoped to another service or region is one made for
    another endpoint, and AWS refuses it there (403), so callers must say which endpoint they are."""
    signed = parse(request)
    if signed is None:
        raise SignatureError(Failure.MISSING, "Missing Authentication Token")
    if signed.service != service:
        raise SignatureError(
            Failure.INVALID,
            f"Credential should be scoped to correct service: '{service}'. ",
        )
    if signed.region not in ((region,) if isinstance(region, str) else region):
        raise SignatureError(
            Failure.INVALID,
            f"Credential should be scoped to a valid region, not '{signed.region}'. ",
        )
    identity = identities.identity(signed.access_key)
    if identity is None:
        raise SignatureError(Failure.UNKNOWN_KEY, "The security token included in the request is invalid.")
    moment = now or datetime.now(UTC)
    if identity.session_token is not None:
        token = signed.security_token or ""
        if not hmac.compare_digest(token.encode(), identity.session_token.encode()):
            raise SignatureError(
                Failure.UNKNOWN_KEY, "The security token included in the request is invalid."
            )
        if identity.expires_at is not None and moment.timestamp() > identity.expires_at:
            raise SignatureError(
                Failure.TOKEN_EXPIRED, "The security token included in the request is expired"
            )
    verify(request, signed, identity.secret, now=moment)
    return identity
