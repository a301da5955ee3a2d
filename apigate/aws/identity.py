"""Who signed a request: an IAM user, a role session from STS, or the account itself (the admin key)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from apigate.aws.policy import Policy


@dataclass(frozen=True, slots=True)
class Identity:
    access_key: str
    secret: str
    arn: (
        str  # arn:aws:iam::{account}:user/{name}, arn:aws:sts::{account}:assumed-role/{role}/{session}, :root
    )
    account_id: str
    user_id: str  # AIDA… for users, AROA…:{session} for role sessions: requestContext.identity.user/caller
    session_token: str | None = None  # set for STS credentials: requests must carry it
    expires_at: float | None = None  # epoch seconds, STS credentials only
    is_root: bool = False  # the account's own credentials: every action allowed, as AWS allows the root user


class Identities(Protocol):
    """Where the data plane and the management API find a signer's identity and its policies."""

    def identity(self, access_key: str) -> Identity | None: ...

    def policies(self, identity: Identity) -> Sequence[Policy]: ...
