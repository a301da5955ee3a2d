"""The authorization step: methods with a CUSTOM or COGNITO_USER_POOLS authorizer ask it before anything else.

It runs before the API key step, which reads the authorizer's ``usageIdentifierKey`` when the API's
``apiKeySource`` is AUTHORIZER. Methods without an authorizer leave the step out of their plan entirely.
"""

from __future__ import annotations

from collections.abc import Mapping

from apigate.dataplane.authorizers.cache import AuthorizerCache
from apigate.dataplane.authorizers.cognito import CognitoAuthorizer
from apigate.dataplane.authorizers.lambda_ import LambdaAuthorizer
from apigate.dataplane.integrations.base import IntegrationServices
from apigate.dataplane.invocation import Invocation
from apigate.dataplane.signing_keys import SigningKeys
from apigate.model import RestMethod


class AuthorizerStep:
    __slots__ = ("_by_type", "cognito", "lambdas")

    @staticmethod
    def applies(method: RestMethod) -> bool:
        return method.authorizer is not None

    def __init__(
        self,
        cache: AuthorizerCache,
        services: IntegrationServices | None,
        user_pools: Mapping[str, str] | None = None,
    ) -> None:
        self.lambdas = LambdaAuthorizer(cache, services)
        keys = SigningKeys(services.upstream, local=services.local_issuers) if services is not None else None
        self.cognito = CognitoAuthorizer(cache, keys, user_pools or {})
        self._by_type: dict[str, LambdaAuthorizer | CognitoAuthorizer] = {
            "TOKEN": self.lambdas,
            "REQUEST": self.lambdas,
            "COGNITO_USER_POOLS": self.cognito,
        }

    async def __call__(self, inv: Invocation) -> None:
        method = inv.method
        assert method is not None
        authorizer = method.authorizer
        if authorizer is None or inv.test_log is not None:  # TestInvokeMethod skips authorization, as on AWS
            return
        inv.authorizer = await self._by_type[authorizer.type].authorize(inv, authorizer)
