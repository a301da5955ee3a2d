"""Who may call the management API.

Without an admin key (loopback only: the CLI refuses other addresses) any credentials are accepted, as a local
emulator does; a known IAM key still names its caller (for GetCallerIdentity and AssumeRole). With
``serve --admin-key ID:SECRET`` every management call must carry a valid SigV4 signature by that key, except
STS calls, which any valid IAM identity may make (that is how role sessions are obtained).
"""

from __future__ import annotations

from apigate.aws import sigv4
from apigate.aws.errors import AwsError
from apigate.aws.identity import Identity
from apigate.control.iam import IamDirectory
from apigate.server.message import Request


class ManagementGuard:
    def __init__(self, directory: IamDirectory, admin_key: tuple[str, str] | None) -> None:
        self.directory = directory
        self.admin_key = admin_key

    def caller(self, request: Request, service: str | None) -> Identity | None:
        """The signer of a management call; AwsError (AWS's 403 shapes) when the call may not be made."""
        if self.admin_key is None:
            try:
                signed = sigv4.parse(request)
            except sigv4.SignatureError:
                return None
            return None if signed is None else self.directory.identity(signed.access_key)
        try:
            identity = sigv4.authenticate(request, self.directory)
        except sigv4.SignatureError as exc:
            raise AwsError(exc.failure.error_type, exc.message, 403) from None
        if identity.is_root or service == "sts":
            return identity
        raise AwsError(
            "AccessDeniedException",
            f"User: {identity.arn} is not authorized to call the management API: only the admin key may",
            403,
        )
