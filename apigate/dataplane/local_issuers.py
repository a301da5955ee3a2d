"""Token issuers this gateway is itself: its local Cognito user pools. Their public keys are handed to the
token checks directly (no fetch over the network), under the issuer URL the tokens carry,
``https://cognito-idp.{region}.amazonaws.com/{pool id}``, so a template's JWT authorizer naming that issuer and a
Cognito authorizer naming the pool's ARN both trust the local pool without an edit.

The control plane replaces the whole table after every change to a pool (and after another process's change),
so a request reads one consistent table and never the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["LocalIssuers"]


class LocalIssuers:
    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: Mapping[str, Mapping[str, Any]] = {}

    def keys(self, issuer: str) -> Mapping[str, Any] | None:
        """The issuer's public keys by ``kid``, or None when the issuer is not a local pool."""
        return self._keys.get(issuer)

    def replace(self, keys: Mapping[str, Mapping[str, Any]]) -> None:
        self._keys = {issuer: dict(by_kid) for issuer, by_kid in keys.items()}
