"""An API's resource policy: stored as AWS stores it, compiled at deploy time, checked on every request.

AWS's evaluation depends on the method's authorization (AWSDOC ``apigateway-authorization-flow``):

* no authorization: the policy alone must explicitly Allow the anonymous caller;
* a Lambda authorizer: an explicit Deny stops the request before the authorizer is called; then either
  side's Allow admits the call unless the authorizer's policy denies it (the same-account table);
* a Cognito user pool: after the token is accepted, the policy must explicitly Allow;
* IAM (SigV4): the caller's identity policies and the resource policy together (``iam.IamAuthStep``).

A private API with no policy allows nothing. Methods of APIs without a policy leave these steps out.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from apigate.aws.identity import Identity
from apigate.aws.policy import Decision, evaluate
from apigate.dataplane.authorizers.identity import method_arn
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.model import RestMethod

ACTION = "execute-api:Invoke"
def request_context(inv: Invocation, identity: Identity | None = None) -> dict[str, str | Sequence[str]]:
    """The global condition keys a resource policy can test, for this request."""
    request = inv.request
    now = time.time()
    context: dict[str, str | Sequence[str]] = {
        "aws:sourceip": request.client[0],
        "aws:securetransport": "true" if request.scheme == "https" else "false",
        "aws:currenttime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "aws:epochtime": str(int(now)),
    }
    user_agent = request.header("user-agent")
    if user_agent is not None:
        context["aws:useragent"] = user_agent
    referer = request.header("referer")
    if referer is not None:
        context["aws:referer"] = referer
    if request.vpce_id is not None:
        context["aws:sourcevpce"] = request.vpce_id
    if identity is not None:
        context["aws:principalarn"] = _principal_arn(identity)
        context["aws:principalaccount"] = identity.account_id
        context["aws:userid"] = identity.user_id
        context["aws:principaltype"] = (
            "Account" if identity.is_root else "AssumedRole" if identity.session_token else "User"
        )
        if not identity.is_root and identity.session_token is None:
            context["aws:username"] = identity.arn.rsplit("/", 1)[1]
    return context


def _principal_arn(identity: Identity) -> str:
    """aws:PrincipalArn names a role session by its role, as IAM does."""
    parts = identity.arn.split(":", 5)
    if len(parts) == 6 and parts[5].startswith("assumed-role/"):
        return f"arn:aws:iam::{parts[4]}:role/{parts[5].split('/')[1]}"
    return identity.arn


def denied(who: str, arn: str, *, explicit: bool) -> GatewayError:
    suffix = " with an explicit deny" if explicit else ""
    return GatewayError(
        ResponseType.ACCESS_DENIED,
        f"User: {who} is not authorized to perform: {ACTION} on resource: {arn}{suffix}",
    )


class ResourcePolicyStep:
    """The resource policy on its own: before a Lambda authorizer (explicit Deny only) and for methods
    without authorization (explicit Allow needed), or after a Cognito authorizer (explicit Allow needed)."""

    __slots__ = ("_after_authorizer",)

    def __init__(self, *, after_authorizer: bool = False) -> None:
        self._after_authorizer = after_authorizer

    def applies(self, method: RestMethod) -> bool:
        if method.resource_policy is None:
            return False
        if self._after_authorizer:
            return method.authorization_type == "COGNITO_USER_POOLS"
        return method.authorization_type in ("NONE", "CUSTOM")

    async def __call__(self, inv: Invocation) -> None:
        method = inv.method
        assert method is not None
        policy = method.resource_policy
        if policy is None or inv.test_log is not None:  # TestInvokeMethod is not subject to the policy
            return
        arn = method_arn(inv)
        context = request_context(inv) if policy.has_conditions else None
        decision = evaluate(policy, ACTION, arn, context)
        if decision is Decision.DENY:
            raise denied("anonymous", arn, explicit=True)
        if decision is Decision.NOT_APPLICABLE and method.authorization_type != "CUSTOM":
            raise denied("anonymous", arn, explicit=False)
        inv.policy_allowed = decision is Decision.ALLOW


