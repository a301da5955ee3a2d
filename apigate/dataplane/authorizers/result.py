"""What an authorizer decided about a caller, as later steps and the event builders read it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from apigate.aws.policy import Policy


@dataclass(frozen=True, slots=True)
class AuthResult:
    """A Lambda authorizer's output (principal, policy, context) or a Cognito token's claims.

    Values are already strings, the way AWS hands them on: the proxy event, ``$context.authorizer.*`` and
    parameter mappings all see the same text.
    """

    principal_id: str | None
    context: Mapping[str, str]
    policy: Policy | None = None  # Lambda authorizers: re-evaluated against each method ARN
    usage_identifier_key: str | None = None  # the API key when the API's apiKeySource is AUTHORIZER
    claims: Mapping[str, str] | None = None  # Cognito user pools
    latency_ms: int = 0  # integrationLatency: the authorizer call's duration; 0 when served from the cache

    def request_context(self) -> dict[str, Any]:
        """``requestContext.authorizer`` of the proxy event (and ``$context.authorizer`` of templates)."""
        if self.claims is not None:
            return {"claims": dict(self.claims)}
        return {"principalId": self.principal_id, "integrationLatency": self.latency_ms, **self.context}
