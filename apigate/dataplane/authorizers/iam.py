"""``AWS_IAM`` methods: a SigV4 signature for ``execute-api``, then the caller's identity policies together
with the API's resource policy.

The combination is AWS's for a caller in the API's own account (AWSDOC ``apigateway-authorization-flow``,
table A): an explicit Deny on either side denies; otherwise an Allow on either side allows. A caller from
another account needs an Allow on both sides (table B).
"""

from __future__ import annotations

from typing import Protocol

from apigate.aws import sigv4
from apigate.aws.identity import Identities
from apigate.aws.policy import Decision, evaluate, evaluate_all
from apigate.dataplane.authorizers.identity import method_arn
from apigate.dataplane.authorizers.resource_policy import ACTION, denied, request_context
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.dataplane.responses.gateway import respond
from apigate.model import RestMethod

_SERVICE = "execute-api"

# The gateway response type each signature failure is answered with (x-amzn-ErrorType stays AWS's own:
# IncompleteSignatureException, UnrecognizedClientException).
_RESPONSES = {
    sigv4.Failure.MISSING: ResponseType.MISSING_AUTHENTICATION_TOKEN,
    sigv4.Failure.INCOMPLETE: ResponseType.INVALID_SIGNATURE,
    sigv4.Failure.INVALID: ResponseType.INVALID_SIGNATURE,
    sigv4.Failure.EXPIRED: ResponseType.INVALID_SIGNATURE,
    sigv4.Failure.UNKNOWN_KEY: ResponseType.INVALID_SIGNATURE,
    sigv4.Failure.TOKEN_EXPIRED: ResponseType.EXPIRED_TOKEN,
}


class _State(Protocol):
    identities: Identities | None


class IamAuthStep:
    """Reads the gateway's identities (IAM users, STS sessions, the admin key) from the shared state, where
    the gateway puts them once its IAM directory exists."""

    __slots__ = ("_state",)

    def __init__(self, state: _State) -> None:
        self._state = state

    @staticmethod
    def applies(method: RestMethod) -> bool:
        return method.authorization_type == "AWS_IAM"

    async def __call__(self, inv: Invocation) -> None:
        if inv.test_log is not None:  # TestInvokeMethod skips authorization, as on AWS
            return
        identities = self._state.identities
        if identities is None:
            raise GatewayError(ResponseType.API_CONFIGURATION_ERROR)
        try:
            identity = sigv4.authenticate(inv.request, identities, service=_SERVICE, region=inv.api.region)
        except sigv4.SignatureError as exc:
            self._refuse(inv, exc)
            return
        inv.iam_identity = identity
        method = inv.method
        assert method is not None
        arn = method_arn(inv)
        policy = method.resource_policy
        context = request_context(inv, identity)
        # The identity's side: the root (the admin key) may do anything; a user or role what its policies say.
        own = (
            Decision.ALLOW
            if identity.is_root
            else evaluate_all(identities.policies(identity), ACTION, arn, context, identity.arn)
        )
        theirs = Decision.NOT_APPLICABLE
        if policy is not None:
            theirs = evaluate(policy, ACTION, arn, context, identity.arn)
        if Decision.DENY in (own, theirs):
            raise denied(identity.arn, arn, explicit=True)
        if policy is not None and not policy.statements:  # a private API without a policy
            raise denied(identity.arn, arn, explicit=False)
        same_account = identity.account_id == inv.api.account_id
        if same_account and Decision.ALLOW in (own, theirs):
            return
        if not same_account and own is Decision.ALLOW and theirs is Decision.ALLOW:
            return
        raise denied(identity.arn, arn, explicit=False)

    @staticmethod
    def _refuse(inv: Invocation, exc: sigv4.SignatureError) -> None:
        response_type = _RESPONSES[exc.failure]
        error = GatewayError(response_type, exc.message)
        inv.log(f"Gateway response type: {response_type.name}")
        inv.error_type = response_type.name
        response = respond(inv, error)
        error_type = exc.failure.error_type  # AWS's own where the response type's differs (an unknown key)
        if error_type != response_type.value.error_type:
            response.headers = [
                (k, error_type if k.lower() == "x-amzn-errortype" else v) for k, v in response.headers
            ]
        inv.response = response
