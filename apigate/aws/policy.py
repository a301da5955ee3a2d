"""IAM policy documents: parsed once (at deploy time), evaluated per request.

One engine for every policy the gateway reads: identity policies of IAM users and roles, an API's resource
policy, and the policy a Lambda authorizer returns. ``evaluate`` answers for one policy; combining several
(explicit Deny anywhere wins, then an Allow from any side) is the caller's business, because the rules differ
between resource policies, identity policies and authorizers.

Matching follows IAM: ``*`` and ``?`` wildcards, resources compared case-sensitively, actions not; condition
keys case-insensitively; several keys in one operator block and several operators in one Condition all must
hold, several values of one key are alternatives.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from functools import lru_cache
from typing import Any

import orjson
import re2  # type: ignore[import-untyped]

__all__ = [
    "Decision",
    "Policy",
    "PolicyError",
    "Statement",
    "evaluate",
    "evaluate_all",
    "glob_match",
    "parse_policy",
]

Context = Mapping[str, str | Sequence[str]]


class PolicyError(ValueError):
    """A policy document that IAM would reject as malformed."""


class Decision(Enum):
    ALLOW = "Allow"
    DENY = "Deny"  # an explicit Deny: nothing else can allow the request
    NOT_APPLICABLE = "NotApplicable"  # no statement matched: denied unless another policy allows


class _Globs:
    """A set of IAM patterns (``*``, ``?``), matched as one: literals by set lookup, the rest by one regex."""

    __slots__ = ("_any", "_literals", "_regex")

    def __init__(self, patterns: Sequence[str], *, ignore_case: bool = False) -> None:
        self._any = "*" in patterns
        literals = []
        wild = []
        for pattern in patterns:
            text = pattern.lower() if ignore_case else pattern
            if "*" in text or "?" in text:
                wild.append(_glob_regex(text))
            else:
                literals.append(text)
        self._literals = frozenset(literals)
        self._regex = re2.compile("(?s)" + "|".join(wild)) if wild else None

    def match(self, value: str) -> bool:
        if self._any or value in self._literals:
            return True
        return self._regex is not None and self._regex.fullmatch(value) is not None


def _glob_regex(pattern: str) -> str:
    return "(?:" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + ")"


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> Any:
    # RE2, not re: a wildcard pattern such as "*a*a*a*a*b" makes a backtracking engine take seconds on a
    # few hundred characters of ARN (measured: 13 s for 300), RE2 stays linear in the value.
    return re2.compile("(?s)" + _glob_regex(pattern))


def glob_match(pattern: str, value: str) -> bool:
    """One IAM wildcard pattern against one value (case-sensitive)."""
    if "*" not in pattern and "?" not in pattern:
        return pattern == value
    return _glob(pattern).fullmatch(value) is not None


# --- conditions -------------------------------------------------------------------------------------------

# A test of one request value against a condition's values, all prepared at parse time.
_Test = Callable[[str], bool]


def _string_test(values: list[str], op: str) -> _Test:
    if op == "StringEquals":
        literal = frozenset(values)
        return literal.__contains__
    if op == "StringEqualsIgnoreCase":
        folded = frozenset(v.casefold() for v in values)
        return lambda v: v.casefold() in folded
    if op == "StringLike":
        globs = _Globs(values)
        return globs.match
    raise AssertionError(op)


def _epoch(text: str) -> float:
    """An IAM date: ISO 8601 (with or without time and zone) or epoch seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    moment = datetime.fromisoformat(text.replace("z", "Z"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _numeric_test(values: list[str], op: str) -> _Test:
    return _comparison_test(values, op.removeprefix("Numeric"), float, f"{op} needs numbers")


def _date_test(values: list[str], op: str) -> _Test:
    return _comparison_test(values, op.removeprefix("Date"), _epoch, f"{op} needs dates")


def _comparison_test(values: list[str], comparison: str, parse: Callable[[str], float], needs: str) -> _Test:
    """A value matches if it compares (``comparison``, as in ``_COMPARISONS``) true with any of ``values``,
    both read by ``parse``; a request value ``parse`` cannot read matches nothing."""
    try:
        bounds = [parse(v) for v in values]
    except ValueError as exc:
        raise PolicyError(f"{needs}, not {values}") from exc
    compare = _COMPARISONS[comparison]

    def test(value: str) -> bool:
        try:
            got = parse(value)
        except ValueError:
            return False
        return any(compare(got, bound) for bound in bounds)

    return test


_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


def _bool_test(values: list[str], op: str) -> _Test:
    wanted = frozenset(v.lower() for v in values)
    return lambda v: v.lower() in wanted


def _ip_test(values: list[str], op: str) -> _Test:
    try:
        networks = [ipaddress.ip_network(v.strip(), strict=False) for v in values]
    except ValueError as exc:
        raise PolicyError(f"{op} needs IP addresses or CIDR blocks, not {values}") from exc

    def test(value: str) -> bool:
        try:
            address = ipaddress.ip_address(value.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
        return any(address.version == net.version and address in net for net in networks)

    return test


def _arn_parts(arn: str) -> list[str] | None:
    parts = arn.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


def _arn_test(values: list[str], op: str) -> _Test:
    # ArnEquals and ArnLike behave the same in IAM: each of the six colon-separated parts matched as a glob.
    patterns = [_arn_parts(v) for v in values]

    def test(value: str) -> bool:
        parts = _arn_parts(value)
        if parts is None:
            return False
        for pattern in patterns:
            if pattern is not None and all(glob_match(p, g) for p, g in zip(pattern, parts, strict=True)):
                return True
        return False

    return test


def _binary_test(values: list[str], op: str) -> _Test:
    literal = frozenset(values)
    return literal.__contains__


# Operator (without IfExists/set prefix) -> (test factory, base operator, negated)
_OPERATORS: dict[str, tuple[Callable[[list[str], str], _Test], str, bool]] = {
    "StringEquals": (_string_test, "StringEquals", False),
    "StringNotEquals": (_string_test, "StringEquals", True),
    "StringEqualsIgnoreCase": (_string_test, "StringEqualsIgnoreCase", False),
    "StringNotEqualsIgnoreCase": (_string_test, "StringEqualsIgnoreCase", True),
    "StringLike": (_string_test, "StringLike", False),
    "StringNotLike": (_string_test, "StringLike", True),
    "NumericEquals": (_numeric_test, "NumericEquals", False),
    "NumericNotEquals": (_numeric_test, "NumericEquals", True),
    "NumericLessThan": (_numeric_test, "NumericLessThan", False),
    "NumericLessThanEquals": (_numeric_test, "NumericLessThanEquals", False),
    "NumericGreaterThan": (_numeric_test, "NumericGreaterThan", False),
    "NumericGreaterThanEquals": (_numeric_test, "NumericGreaterThanEquals", False),
    "DateEquals": (_date_test, "DateEquals", False),
    "DateNotEquals": (_date_test, "DateEquals", True),
    "DateLessThan": (_date_test, "DateLessThan", False),
    "DateLessThanEquals": (_date_test, "DateLessThanEquals", False),
    "DateGreaterThan": (_date_test, "DateGreaterThan", False),
    "DateGreaterThanEquals": (_date_test, "DateGreaterThanEquals", False),
    "Bool": (_bool_test, "Bool", False),
    "BinaryEquals": (_binary_test, "BinaryEquals", False),
    "IpAddress": (_ip_test, "IpAddress", False),
    "NotIpAddress": (_ip_test, "IpAddress", True),
    "ArnEquals": (_arn_test, "ArnEquals", False),
    "ArnLike": (_arn_test, "ArnLike", False),
    "ArnNotEquals": (_arn_test, "ArnEquals", True),
    "ArnNotLike": (_arn_test, "ArnLike", True),
}


@dataclass(frozen=True, slots=True)
class _Clause:
    """One key of one operator block: ``"StringLike": {"aws:UserAgent": ["curl/*"]}``."""

    key: str  # lower-cased: condition keys are case-insensitive
    test: _Test | None  # None: the Null operator
    negated: bool
    quantifier: str  # "" | "any" | "all"
    if_exists: bool
    null_wanted: bool = False  # Null: true -> the key must be absent

    def holds(self, context: Mapping[str, str | Sequence[str]]) -> bool:
        raw = context.get(self.key)
        values: Sequence[str]
        if raw is None:
            values = ()
        elif isinstance(raw, str):
            values = (raw,)
        else:
            values = raw
        if self.test is None:  # Null
            return (not values) == self.null_wanted
        if not values:
            # A missing key: IfExists and the "for all values" set operator hold vacuously; a negated
            # operator holds (nothing equals the values); a positive one fails.
            if self.if_exists or self.quantifier == "all":
                return True
            return self.negated and self.quantifier != "any"
        test, negated = self.test, self.negated
        if self.quantifier == "all":
            return all(test(v) != negated for v in values)
        if self.quantifier == "any" or not negated:
            return any(test(v) != negated for v in values)
        return not any(test(v) for v in values)  # a negated single-valued operator: none may match


def _strings(value: Any, what: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            out.append(str(item))
        else:
            raise PolicyError(f"{what} must be a string or a list of strings")
    return out


def _parse_condition(block: Any) -> tuple[_Clause, ...]:
    if not isinstance(block, Mapping):
        raise PolicyError("Condition must be an object")
    clauses = []
    for raw_operator, keys in block.items():
        operator = str(raw_operator)
        quantifier = ""
        if ":" in operator:
            prefix, _, operator = operator.partition(":")
            if prefix not in ("ForAnyValue", "ForAllValues"):
                raise PolicyError(f"Invalid Condition type : {raw_operator}")
            quantifier = "any" if prefix == "ForAnyValue" else "all"
        if_exists = operator.endswith("IfExists")
        operator = operator.removesuffix("IfExists")
        if not isinstance(keys, Mapping):
            raise PolicyError(f"Condition {raw_operator} must map keys to values")
        for key, value in keys.items():
            values = _strings(value, f"Condition {raw_operator} {key}")
            if operator == "Null":
                clauses.append(
                    _Clause(str(key).lower(), None, False, quantifier, False, values[0].lower() == "true")
                )
                continue
            found = _OPERATORS.get(operator)
            if found is None:
                raise PolicyError(f"Invalid Condition type : {raw_operator}")
            factory, base, negated = found
            clauses.append(_Clause(str(key).lower(), factory(values, base), negated, quantifier, if_exists))
    return tuple(clauses)


# --- principals -------------------------------------------------------------------------------------------

_ACCOUNT = re.compile(r"^\d{12}$")


class _Principals:
    """A Principal element: ``"*"``, or ``{"AWS": arn | account id | [...]}`` (and Service/Federated names)."""

    __slots__ = ("_accounts", "_anyone", "_arns")

    def __init__(self, value: Any) -> None:
        self._anyone = False
        accounts: set[str] = set()
        arns: set[str] = set()
        if value == "*":
            self._anyone = True
        elif isinstance(value, Mapping):
            for kind, names in value.items():
                for name in _strings(names, f"Principal {kind}"):
                    if name == "*" and kind == "AWS":
                        self._anyone = True
                    elif kind == "AWS" and _ACCOUNT.match(name):
                        accounts.add(name)
                    elif kind == "AWS" and name.startswith("arn:") and name.endswith(":root"):
                        parts = name.split(":")
                        accounts.add(parts[4] if len(parts) > 4 else "")
                    else:
                        arns.add(name)
        else:
            raise PolicyError('Principal must be "*" or an object such as {"AWS": ...}')
        self._accounts = frozenset(accounts)
        self._arns = frozenset(arns)

    def match(self, principal_arn: str | None) -> bool:
        if self._anyone:
            return True
        if principal_arn is None:
            return False
        if principal_arn in self._arns:
            return True
        parts = principal_arn.split(":", 5)
        if len(parts) == 6 and parts[4] in self._accounts:
            return True
        # A role's sessions (arn:aws:sts::111:assumed-role/Role/session) get what a policy grants the role
        # (arn:aws:iam::111:role/Role, or with a path: .../role/path/Role).
        if len(parts) == 6 and parts[5].startswith("assumed-role/"):
            role = parts[5].split("/")[1]
            prefix = f"arn:{parts[1]}:iam::{parts[4]}:role/"
            return any(arn.startswith(prefix) and arn.rsplit("/", 1)[-1] == role for arn in self._arns)
        return False


# --- statements and policies ------------------------------------------------------------------------------

_STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "NotPrincipal",
        "Condition",
    }
)


@dataclass(frozen=True, slots=True)
class Statement:
    sid: str | None
    deny: bool
    actions: _Globs
    not_action: bool
    resources: _Globs
    not_resource: bool
    principals: _Principals | None
    not_principal: bool
    conditions: tuple[_Clause, ...]

    def applies(
        self,
        action: str,
        resource: str,
        context: Mapping[str, str | Sequence[str]],
        principal_arn: str | None,
    ) -> bool:
        if self.actions.match(action) == self.not_action:
            return False
        if self.resources.match(resource) == self.not_resource:
            return False
        if self.principals is not None and self.principals.match(principal_arn) == self.not_principal:
            return False
        return all(clause.holds(context) for clause in self.conditions)


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    statements: tuple[Statement, ...]
    document: str  # the JSON as given, for whoever shows it back
    has_conditions: bool


def _parse_statement(raw: Any) -> Statement:
    if not isinstance(raw, Mapping):
        raise PolicyError("Each Statement must be an object")
    unknown = set(raw) - _STATEMENT_KEYS
    if unknown:
        raise PolicyError(f"Statement has unknown fields: {', '.join(sorted(map(str, unknown)))}")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"Invalid effect: {effect}")
    if ("Action" in raw) == ("NotAction" in raw):
        raise PolicyError("A Statement needs exactly one of Action and NotAction")
    if "Resource" in raw and "NotResource" in raw:
        raise PolicyError("A Statement cannot have both Resource and NotResource")
    if "Principal" in raw and "NotPrincipal" in raw:
        raise PolicyError("A Statement cannot have both Principal and NotPrincipal")
    action_key = "Action" if "Action" in raw else "NotAction"
    actions = _strings(raw[action_key], action_key)
    for action in actions:
        if action != "*" and ":" not in action:
            raise PolicyError(
                f"Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.: {action}"
            )
    # A trust policy names no resource (the role is the resource): a statement without one matches any.
    resource_key = "Resource" if "Resource" in raw else "NotResource" if "NotResource" in raw else None
    principal_key = "Principal" if "Principal" in raw else "NotPrincipal" if "NotPrincipal" in raw else None
    return Statement(
        sid=str(raw["Sid"]) if raw.get("Sid") is not None else None,
        deny=effect == "Deny",
        actions=_Globs(actions, ignore_case=True),
        not_action=action_key == "NotAction",
        resources=_Globs(["*"] if resource_key is None else _strings(raw[resource_key], resource_key)),
        not_resource=resource_key == "NotResource",
        principals=None if principal_key is None else _Principals(raw[principal_key]),
        not_principal=principal_key == "NotPrincipal",
        conditions=_parse_condition(raw["Condition"]) if raw.get("Condition") is not None else (),
    )


def parse_policy(document: str | Mapping[str, Any]) -> Policy:
    """A policy document (JSON text or its parsed form) -> a Policy ready to evaluate; PolicyError if malformed."""
    if isinstance(document, str):
        text = document
        try:
            parsed = orjson.loads(document)
        except orjson.JSONDecodeError as exc:
            raise PolicyError("Syntax errors in policy.") from exc
    else:
        parsed = document
    if not isinstance(parsed, Mapping):  # JSON text of a number, a list...: or a caller's non-mapping
        raise PolicyError("A policy must be a JSON object")
    if not isinstance(document, str):
        text = orjson.dumps(dict(parsed)).decode()
    raw_statements = parsed.get("Statement")
    if raw_statements is None:
        raise PolicyError("Missing required field Statement")
    if isinstance(raw_statements, Mapping):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list):
        raise PolicyError("Statement must be an object or a list of objects")
    statements = tuple(_parse_statement(s) for s in raw_statements)
    return Policy(
        version=str(parsed.get("Version") or "2008-10-17"),
        statements=statements,
        document=text,
        has_conditions=any(s.conditions for s in statements),
    )


_EMPTY: dict[str, str | Sequence[str]] = {}


def evaluate(
    policy: Policy,
    action: str,
    resource: str,
    context: Mapping[str, str | Sequence[str]] | None = None,
    principal_arn: str | None = None,
) -> Decision:
    """What ``policy`` says about ``action`` on ``resource``: an explicit Deny, an Allow, or nothing."""
    action = action.lower()
    ctx: Mapping[str, str | Sequence[str]] = _EMPTY
    if policy.has_conditions and context:
        ctx = {key.lower(): value for key, value in context.items()}
    allowed = False
    for statement in policy.statements:
        if statement.applies(action, resource, ctx, principal_arn):
            if statement.deny:
                return Decision.DENY
            allowed = True
    return Decision.ALLOW if allowed else Decision.NOT_APPLICABLE


def evaluate_all(
    policies: Iterable[Policy],
    action: str,
    resource: str,
    context: Context | None = None,
    principal_arn: str | None = None,
) -> Decision:
    """What several policies (an identity's) say together: an explicit Deny in any, else an Allow in any, else
    nothing."""
    allowed = False
    for policy in policies:
        decision = evaluate(policy, action, resource, context, principal_arn)
        if decision is Decision.DENY:
            return decision
        allowed = allowed or decision is Decision.ALLOW
    return Decision.ALLOW if allowed else Decision.NOT_APPLICABLE
