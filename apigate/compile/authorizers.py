"""A REST API's Lambda (TOKEN, REQUEST) and Cognito authorizers, compiled per stage (stage variables filled in)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from apigate.dataplane.authorizers.identity import InvalidIdentitySource, parse_identity_sources
from apigate.dataplane.regex_budget import UserRegex, UserRegexError, compile_user_regex
from apigate.dataplane.substitution import stage_variables
from apigate.model import RestAuthorizer

DEFAULT_TTL = 300
PROVIDER_ARN = re.compile(
    r"^arn:aws[\w-]*:cognito-idp:(?P<region>[^:]+):(?P<account>[^:]*):userpool/(?P<pool>[^/]+)$"
)


def _validation(expression: str) -> UserRegex:
    try:  # linear-time or time-bounded: the token comes from the client (dataplane.regex_budget)
        return compile_user_regex(expression)
    except UserRegexError:  # stored before _check existed: nothing matches it
        return compile_user_regex(r"[^\s\S]")


def compile_authorizer(doc: Mapping[str, Any], variables: Mapping[str, str]) -> RestAuthorizer:
    """An authorizer document -> what the data plane reads, with the stage's variables filled in."""
    kind = str(doc["type"])
    pools: list[tuple[str, str]] = []
    for arn in doc.get("providerARNs") or ():
        found = PROVIDER_ARN.match(stage_variables(str(arn), variables))
        if found is not None:
            pools.append((found.group("region"), found.group("pool")))
    expression = doc.get("identityValidationExpression")
    try:
        sources = parse_identity_sources(doc.get("identitySource"), header_only=kind != "REQUEST")
    except InvalidIdentitySource:
        sources = ()
    return RestAuthorizer(
        id=str(doc["id"]),
        name=str(doc.get("name") or ""),
        type=kind,
        uri=stage_variables(str(doc.get("authorizerUri") or ""), variables),
        identity_sources=sources,
        validation=_validation(expression) if expression and kind != "REQUEST" else None,
        ttl_seconds=int(doc.get("authorizerResultTtlInSeconds", DEFAULT_TTL)),
        user_pools=tuple(pools),
    )
