"""SigV4 canonicalisation: whatever botocore signs, apigate verifies; whatever is changed after signing, it refuses.

botocore is the signer every AWS SDK for Python uses, so it is the reference: generated methods, paths (with
characters that need escaping), query strings (repeated keys, empty values, reserved characters), headers and
bodies are signed by it and checked by ``apigate.aws.sigv4`` as the data plane and the management API do.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from apigate.aws import sigv4
from apigate.aws.identity import Identity
from apigate.aws.policy import Policy
from apigate.server.message import Request

_KEY, _SECRET = "AKIDPROPERTYTEST0001", "property-test-secret"
_IDENTITY = Identity(_KEY, _SECRET, "arn:aws:iam::000000000000:user/p", "000000000000", "AIDAPROPERTY")


class _OneIdentity:
    def identity(self, access_key: str) -> Identity | None:
        return _IDENTITY if access_key == _KEY else None

    def policies(self, identity: Identity) -> Sequence[Policy]:
        return ()


_segment = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/?#\x00", exclude_categories=("Cs", "Cc")),
    min_size=1,
    max_size=12,
)
_query_part = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="&=#\x00", exclude_categories=("Cs", "Cc")),
    max_size=10,
)
_header_value = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)


@st.composite
def _requests(draw: st.DrawFn) -> tuple[str, str, list[tuple[str, str]], dict[str, str], bytes]:
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]))
    path = "/" + "/".join(draw(st.lists(_segment, max_size=4)))
    query = draw(st.lists(st.tuples(st.text(alphabet="abcXYZ-_.~", min_size=1, max_size=5), _query_part), max_size=4))
    headers = draw(st.dictionaries(st.sampled_from(["x-custom", "x-trace", "content-type"]), _header_value))
    body = draw(st.binary(max_size=64)) if method != "GET" else b""
    return method, path, query, headers, body


def _signed(
    method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes, *, in_query: bool
) -> Request:
    """Sign with botocore, then rebuild the request as our server core would hand it to the application."""
    if in_query:  # presigned URLs carry no body (botocore would fold a form or JSON body into the query)
        body, headers = b"", {k: v for k, v in headers.items() if k != "content-type"}
    aws = AWSRequest(method=method, url=f"http://api.example:4566{path}", params=query, data=body, headers=headers)
    credentials = Credentials(_KEY, _SECRET)
    if in_query:
        SigV4QueryAuth(credentials, "execute-api", "us-east-1", expires=300).add_auth(aws)
    else:
        SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(aws)
    prepared = aws.prepare()
    url = urlsplit(prepared.url)
    wire_headers = [("Host", "api.example:4566"), *((k, str(v)) for k, v in prepared.headers.items())]
    return Request(method, url.path, url.query, wire_headers, body, ("127.0.0.1", 1))


@settings(max_examples=150, deadline=None)
@given(_requests(), st.booleans())
def test_what_botocore_signs_verifies(
    request: tuple[str, str, list[tuple[str, str]], dict[str, str], bytes], in_query: bool
) -> None:
    signed = _signed(*request, in_query=in_query)
    assert sigv4.authenticate(signed, _OneIdentity(), service="execute-api", region="us-east-1") is _IDENTITY


@settings(max_examples=100, deadline=None)
@given(_requests(), st.sampled_from(["path", "query", "header", "method"]))
def test_a_change_after_signing_is_refused(
    request: tuple[str, str, list[tuple[str, str]], dict[str, str], bytes], change: str
) -> None:
    signed = _signed(*request, in_query=False)
    if change == "path":
        signed.raw_path += "x"
    elif change == "query":
        signed.query_string += ("&" if signed.query_string else "") + "extra=1"
    elif change == "header":
        signed.headers = [(k, v + "!" if k.lower() == "x-amz-date" else v) for k, v in signed.headers]
    else:
        signed.method = "OPTIONS"
    try:
        sigv4.authenticate(signed, _OneIdentity(), service="execute-api", region="us-east-1")
    except sigv4.SignatureError:
        return
    raise AssertionError(f"a request changed in its {change} still verified")


@settings(max_examples=50, deadline=None)
@given(_requests())
def test_a_changed_body_is_refused(request: tuple[str, str, list[tuple[str, str]], dict[str, str], bytes]) -> None:
    _, path, query, headers, body = request
    signed = _signed("POST", path, query, headers, body, in_query=False)
    signed.body = body + b"!"
    try:
        sigv4.authenticate(signed, _OneIdentity(), service="execute-api", region="us-east-1")
    except sigv4.SignatureError:
        return
    raise AssertionError("a request with a changed body still verified")
