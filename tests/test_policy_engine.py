"""The IAM policy engine on its own: parsing, matching, every condition operator family."""

from __future__ import annotations

import json
from typing import Any

import pytest

from apigate.aws.policy import Decision, PolicyError, evaluate, glob_match, parse_policy

ARN = "arn:aws:execute-api:us-east-1:000000000000:abc123/prod/GET/pets/1"


def policy(*statements: dict[str, Any]) -> Any:
    return parse_policy({"Version": "2012-10-17", "Statement": list(statements)})


def allow(**extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*", **extra}


def test_allow_deny_and_nothing() -> None:
    p = policy(allow(Resource="arn:aws:execute-api:*:*:abc123/prod/GET/*"))
    assert evaluate(p, "execute-api:Invoke", ARN) is Decision.ALLOW
    assert evaluate(p, "execute-api:Invoke", ARN.replace("GET", "POST")) is Decision.NOT_APPLICABLE
    denied = policy(allow(), {"Effect": "Deny", "Action": "execute-api:*", "Resource": ARN})
    assert evaluate(denied, "execute-api:Invoke", ARN) is Decision.DENY


def test_json_text_and_single_statement_object() -> None:
    text = json.dumps({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}})
    parsed = parse_policy(text)
    assert parsed.document == text
    assert evaluate(parsed, "s3:GetObject", "anything") is Decision.ALLOW


def test_wildcards_actions_ignore_case_resources_do_not() -> None:
    p = policy(allow(Action="EXECUTE-API:inv?ke", Resource="arn:aws:execute-api:*:*:abc123/*/GET/pets/?"))
    assert evaluate(p, "execute-api:Invoke", ARN) is Decision.ALLOW
    assert evaluate(p, "execute-api:Invoke", ARN.replace("pets", "PETS")) is Decision.NOT_APPLICABLE
    assert evaluate(p, "execute-api:Invoke", ARN + "0") is Decision.NOT_APPLICABLE


def test_not_action_and_not_resource() -> None:
    p = policy({"Effect": "Deny", "NotAction": "execute-api:Invoke", "NotResource": ARN})
    assert evaluate(p, "execute-api:Invoke", "x") is Decision.NOT_APPLICABLE
    assert evaluate(p, "execute-api:InvalidateCache", ARN) is Decision.NOT_APPLICABLE
    assert evaluate(p, "execute-api:InvalidateCache", "x") is Decision.DENY


def test_principals() -> None:
    user = "arn:aws:iam::111122223333:user/alice"
    anyone = policy(allow(Principal="*"))
    assert evaluate(anyone, "execute-api:Invoke", ARN) is Decision.ALLOW  # anonymous too
    by_account = policy(allow(Principal={"AWS": ["111122223333"]}))
    assert evaluate(by_account, "execute-api:Invoke", ARN, principal_arn=user) is Decision.ALLOW
    assert evaluate(by_account, "execute-api:Invoke", ARN) is Decision.NOT_APPLICABLE
    root = policy(allow(Principal={"AWS": "arn:aws:iam::999999999999:root"}))
    assert evaluate(root, "execute-api:Invoke", ARN, principal_arn=user) is Decision.NOT_APPLICABLE
    role = policy(allow(Principal={"AWS": "arn:aws:iam::111122223333:role/Reader"}))
    session = "arn:aws:sts::111122223333:assumed-role/Reader/s1"
    assert evaluate(role, "execute-api:Invoke", ARN, principal_arn=session) is Decision.ALLOW
    not_alice = policy({**allow(), "NotPrincipal": {"AWS": user}, "Effect": "Deny"})
    assert evaluate(not_alice, "execute-api:Invoke", ARN, principal_arn=user) is Decision.NOT_APPLICABLE
    assert evaluate(not_alice, "execute-api:Invoke", ARN) is Decision.DENY


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ({"StringEquals": {"aws:UserAgent": ["a", "b"]}}, {"aws:useragent": "b"}, True),
        ({"StringEquals": {"aws:UserAgent": "a"}}, {"aws:UserAgent": "A"}, False),
        ({"StringEqualsIgnoreCase": {"aws:UserAgent": "a"}}, {"aws:UserAgent": "A"}, True),
        ({"StringNotEquals": {"aws:UserAgent": ["a", "b"]}}, {"aws:UserAgent": "c"}, True),
        ({"StringNotEquals": {"aws:UserAgent": ["a", "b"]}}, {"aws:UserAgent": "a"}, False),
        ({"StringNotEquals": {"aws:UserAgent": "a"}}, {}, True),  # missing key: a negated operator holds
        ({"StringEquals": {"aws:UserAgent": "a"}}, {}, False),
        ({"StringEqualsIfExists": {"aws:UserAgent": "a"}}, {}, True),
        ({"StringEqualsIfExists": {"aws:UserAgent": "a"}}, {"aws:UserAgent": "b"}, False),
        (
            {"StringLike": {"aws:Referer": "https://*.example.com/*"}},
            {"aws:Referer": "https://a.example.com/x"},
            True,
        ),
        (
            {"StringNotLike": {"aws:Referer": "https://*.example.com/*"}},
            {"aws:Referer": "https://evil/x"},
            True,
        ),
        ({"NumericLessThan": {"aws:EpochTime": 100}}, {"aws:EpochTime": "99"}, True),
        ({"NumericGreaterThanEquals": {"aws:EpochTime": "100"}}, {"aws:EpochTime": "99"}, False),
        ({"NumericNotEquals": {"aws:EpochTime": "100"}}, {"aws:EpochTime": "99"}, True),
        (
            {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
            {"aws:CurrentTime": "2026-05-01T10:00:00Z"},
            True,
        ),
        (
            {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01"}},
            {"aws:CurrentTime": "2026-05-01T10:00:00Z"},
            False,
        ),
        ({"DateEquals": {"aws:EpochTime": "2026-05-01T10:00:00Z"}}, {"aws:EpochTime": "1777629600"}, True),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "False"}, True),
        ({"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "false"}, False),
        (
            {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "127.0.0.1/32"]}},
            {"aws:SourceIp": "127.0.0.1"},
            True,
        ),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "127.0.0.1"}, False),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "::ffff:10.1.2.3"}, True),
        ({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"aws:SourceIp": "2001:db8::1"}, True),
        ({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, {"aws:SourceIp": "10.0.0.1"}, False),
        ({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "127.0.0.1"}, True),
        (
            {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/a*"}},
            {"aws:PrincipalArn": "arn:aws:iam::1:user/al"},
            True,
        ),
        (
            {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::1:user/a"}},
            {"aws:PrincipalArn": "arn:aws:iam::1:user/b"},
            False,
        ),
        (
            {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}},
            {"aws:PrincipalArn": "arn:aws:iam::1:user/a"},
            True,
        ),
        ({"Null": {"aws:SourceVpce": "true"}}, {}, True),
        ({"Null": {"aws:SourceVpce": "false"}}, {}, False),
        ({"Null": {"aws:SourceVpce": "false"}}, {"aws:SourceVpce": "vpce-1"}, True),
        ({"ForAnyValue:StringEquals": {"k": ["a", "b"]}}, {"k": ["x", "b"]}, True),
        ({"ForAnyValue:StringEquals": {"k": ["a", "b"]}}, {}, False),
        ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {"k": ["a", "x"]}, False),
        ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {"k": ["a", "b"]}, True),
        ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {}, True),
        # Several operators and several keys: all must hold.
        (
            {"StringEquals": {"a": "1", "b": "2"}, "Bool": {"c": "true"}},
            {"a": "1", "b": "2", "c": "true"},
            True,
        ),
        ({"StringEquals": {"a": "1", "b": "2"}}, {"a": "1", "b": "3"}, False),
    ],
)
def test_conditions(condition: dict[str, Any], context: dict[str, Any], expected: bool) -> None:
    p = policy(allow(Condition=condition))
    decision = evaluate(p, "execute-api:Invoke", ARN, context)
    assert decision is (Decision.ALLOW if expected else Decision.NOT_APPLICABLE)


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        "[]",
        {"Version": "2012-10-17"},
        {"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "x:y", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "NotResource": "x"}]},
        {"Statement": [{"Effect": "Allow", "Action": "invoke", "Resource": "*"}]},
        {
            "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Fuzzy": {"a": "b"}}}
            ]
        },
        {
            "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"IpAddress": {"a": "x"}}}
            ]
        },
        {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Extra": 1}]},
    ],
)
def test_malformed_policies_are_refused(document: Any) -> None:
    with pytest.raises(PolicyError):
        parse_policy(document)


def test_wildcards_match_in_linear_time() -> None:
    # A backtracking engine needs seconds for this pattern on a few hundred characters (and the values are
    # request paths a client chooses); the pytest timeout is what fails here if matching backtracks.
    hostile = "arn:aws:execute-api:*:*:api/*/GET/" + "*a" * 12 + "*b"
    value = "arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/" + "a" * 20_000
    assert not glob_match(hostile, value)
    assert glob_match(hostile, value + "b")


@pytest.mark.parametrize("document", ["0", "[]", '"text"', "null", 0, [], None])
def test_a_policy_that_is_not_an_object_is_a_policy_error(document: Any) -> None:
    with pytest.raises(PolicyError):
        parse_policy(document)
