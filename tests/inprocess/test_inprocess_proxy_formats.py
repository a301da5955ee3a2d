"""The Lambda proxy formats shared by REST and HTTP APIs (dataplane/lambda_proxy): one 1.0 parser, strict for
REST APIs and lenient for HTTP APIs, and the 2.0 rules."""

from __future__ import annotations

import orjson
import pytest

from apigate.dataplane.lambda_proxy.v1 import ProxyFormatError, parse_v1
from apigate.dataplane.lambda_proxy.v2 import parse_v2


def _doc(**fields: object) -> bytes:
    return orjson.dumps(fields)


def test_v1_strict_refuses_what_lenient_ignores() -> None:
    odd = _doc(statusCode=200, extra=1, multiValueHeaders={"a": "not a list"}, headers={"n": 5})
    with pytest.raises(ProxyFormatError):
        parse_v1(odd)
    response = parse_v1(odd, lenient=True, content_type_header="content-type")
    assert response.headers == [("n", "5"), ("content-type", "application/json")]


def test_v1_multi_value_headers_win_and_status_defaults_to_200() -> None:
    response = parse_v1(_doc(headers={"a": "1", "Content-Type": "text/plain"}, multiValueHeaders={"a": ["2", "3"]}))
    assert response.status == 200
    assert response.headers == [("a", "2"), ("a", "3"), ("Content-Type", "text/plain")]


def test_v1_base64_is_decoded_for_rest_only_when_the_client_accepts_binary() -> None:
    payload = _doc(body="aGk=", isBase64Encoded=True)
    assert parse_v1(payload, accept="text/html", binary_types=("image/png",)).body == b"aGk="
    assert parse_v1(payload, accept="image/png", binary_types=("image/png",)).body == b"hi"
    assert parse_v1(payload, lenient=True).body == b"hi"  # HTTP APIs: always


@pytest.mark.parametrize("payload", [b"not json", _doc(statusCode=700), _doc(statusCode=True), _doc(body=5)])
def test_v1_malformed_results(payload: bytes) -> None:
    for lenient in (False, True):
        with pytest.raises(ProxyFormatError):
            parse_v1(payload, lenient=lenient)


def test_v2_without_status_code_the_result_is_the_body() -> None:
    response = parse_v2(_doc(hello="world"))
    assert (response.status, response.body) == (200, b'{"hello":"world"}')
    cookies = parse_v2(_doc(statusCode=204, cookies=["a=1", "b=2"]))
    assert cookies.status == 204 and ("set-cookie", "a=1") in cookies.headers and ("set-cookie", "b=2") in cookies.headers
    with pytest.raises(ProxyFormatError):
        parse_v2(_doc(statusCode="abc"))
