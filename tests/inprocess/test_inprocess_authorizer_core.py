"""The Lambda authorizer core shared by REST, HTTP and WebSocket APIs (dataplane/authorizers/function_answer.py)."""

from __future__ import annotations

import orjson
import pytest

from apigate.dataplane.authorizers.function_answer import (
    InvalidAnswer,
    answer_context,
    decode_answer,
    error_message,
    iam_statements,
    policy_allows,
    with_principal,
)

_ARN = "arn:aws:execute-api:us-east-1:000000000000:api1/prod/GET/pets/7"


def _statement(effect: str, resource: str, action: str = "execute-api:Invoke") -> dict[str, str]:
    return {"Effect": effect, "Action": action, "Resource": resource}


def test_policy_allows_globs_and_lets_a_deny_win() -> None:
    allow = _statement("Allow", "arn:aws:execute-api:us-east-1:000000000000:api1/prod/GET/*")
    assert policy_allows([allow], _ARN)
    assert not policy_allows([allow, _statement("Deny", "*")], _ARN)
    assert not policy_allows([_statement("Allow", "*", action="s3:GetObject")], _ARN)
    assert not policy_allows([], _ARN)


def test_an_iam_answer_is_read_with_its_principal() -> None:
    answer = decode_answer(
        orjson.dumps({"principalId": "u1", "context": {"a": 1}, "policyDocument": {"Statement": []}})
    )
    assert iam_statements(answer) == []
    assert with_principal(answer_context(answer), answer) == {"a": 1, "principalId": "u1"}


@pytest.mark.parametrize(
    "payload", [b"nope", b"[1]", orjson.dumps({"policyDocument": {}}), orjson.dumps({"context": 5})]
)
def test_malformed_answers(payload: bytes) -> None:
    with pytest.raises(InvalidAnswer):
        answer = decode_answer(payload)
        answer_context(answer)
        iam_statements(answer)


def test_error_message() -> None:
    assert error_message(b'{"errorMessage": "Unauthorized"}') == "Unauthorized"
    assert error_message(b"oops") is None
