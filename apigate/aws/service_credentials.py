"""The keys an AWS service integration signs with.

AWS signs with a session of the integration's ``credentials`` role. Here: keys the operator configured for the
gateway the way every SDK reads them (``AWS_ACCESS_KEY_ID``…, or a profile's shared credentials) stand for any
role, since real AWS only knows real keys; without them, a session of the role issued by apigate's own STS (what
an AWS-compatible server that checks signatures against apigate would accept); without a role either, SDK-style
placeholder keys, which local AWS-compatible servers accept.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# (role ARN, session name, seconds) -> STS ``Credentials``: apigate's own STS, handed in by the gateway (the data
# plane does not import the control plane).
SessionIssuer = Callable[[str, str, float], Mapping[str, Any]]

_SESSION_SECONDS = 3600.0
_RENEW_BEFORE = 300.0


@dataclass(frozen=True, slots=True)
class Keys:
    access_key: str
    secret_key: str
    token: str | None = None


_PLACEHOLDER = Keys("test", "test")


def _configured_keys() -> Keys | None:
    """Keys from the environment or the shared credentials/config files: no instance-metadata probing, which
    would stall start-up for seconds on a machine that is not in AWS."""
    import botocore.credentials
    import botocore.session

    session = botocore.session.Session()
    try:
        profile = session.get_config_variable("profile") or "default"
        resolver = botocore.credentials.CredentialResolver(
            [
                botocore.credentials.EnvProvider(),
                botocore.credentials.SharedCredentialProvider(
                    session.get_config_variable("credentials_file"), profile
                ),
                botocore.credentials.ConfigProvider(session.get_config_variable("config_file"), profile),
            ]
        )
        found = resolver.load_credentials()
    except Exception:  # a malformed file: as if nothing were configured
        return None
    if found is None:
        return None
    frozen = found.get_frozen_credentials()
    return Keys(frozen.access_key, frozen.secret_key, frozen.token)


class ServiceCredentials:
    """The keys to sign with for an integration's role (None: no role), looked up once and renewed before
    a role session expires."""

    def __init__(self, issue_session: SessionIssuer | None = None) -> None:
        self._issue_session = issue_session
        self._configured: Keys | bool | None = False  # False: not looked up yet
        self._sessions: dict[str, tuple[Keys, float]] = {}

    def keys(self, role_arn: str | None) -> Keys:
        if self._configured is False:
            self._configured = _configured_keys()
        if isinstance(self._configured, Keys):
            return self._configured
        if not role_arn or self._issue_session is None or ":role/" not in role_arn:
            return _PLACEHOLDER
        cached = self._sessions.get(role_arn)
        now = time.time()
        if cached is not None and cached[1] > now:
            return cached[0]
        session = self._issue_session(role_arn, "apigateway-integration", _SESSION_SECONDS)
        keys = Keys(session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"])
        self._sessions[role_arn] = (keys, float(session["ExpiresAt"]) - _RENEW_BEFORE)
        return keys
