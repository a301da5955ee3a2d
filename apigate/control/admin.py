"""Who may call the management API.

Without an admin key (loopback only: the CLI refuses other addresses) any credentials are accepted, as a local
emulator does; a known IAM key still names its caller (for GetCallerIdentity and AssumeRole). With
``serve --admin-key ID:SECRET`` every management call must carry a valid SigV4 signature. The admin key (the
account's root) may do everything; any other identity (an IAM user, a role session such as a function's) may
make the calls its identity policies allow, checked as IAM checks them:

- API Gateway (REST and v2): ``apigateway:{HTTP method}`` on ``arn:aws:apigateway:{region}::{path}`` (v2 paths
  without their ``/v2`` prefix), AWS's own scheme for management permissions;
- Lambda: ``lambda:{operation}`` (``Invoke`` is ``lambda:InvokeFunction``) on the function's ARN, or ``*``;
- IAM: ``iam:{Action}`` on the user or role the call names, or ``*``;
- CloudWatch Logs: ``logs:{operation}`` on the log group the call names (``...:log-group:NAME:*``), or ``*``.

STS calls need no permission (AssumeRole is checked against the role's trust policy). ``/@connections/`` calls
are checked by the @connections API itself, which knows the connection's API and stage. ``/_apigate/`` is for
the admin key only.
"""

from __future__ import annotations

from typing import NamedTuple

import orjson

from apigate.aws import arns, sigv4, wire
from apigate.aws.errors import AwsError
from apigate.aws.identity import Identity
from apigate.aws.policy import Decision, evaluate_all
from apigate.aws.query import form_params
from apigate.control.iam import IamDirectory
from apigate.control.management_scope import LOGS_TARGET_PREFIX, management_scope
from apigate.server.message import Request

# Lambda operations whose IAM action has another name.
_LAMBDA_ACTIONS = {"Invoke": "InvokeFunction", "InvokeWithResponseStream": "InvokeFunction"}


class Permission(NamedTuple):
    """The IAM action a management call needs, on which resource."""

    action: str
    resource: str


class ManagementGuard:
    def __init__(
        self, directory: IamDirectory, admin_key: tuple[str, str] | None, region: str = "us-east-1"
    ) -> None:
        self.directory = directory
        self.admin_key = admin_key
        self.region = region
        self.lambda_api: wire.ServiceApi | None = None  # names Lambda's operations (set by the gateway)

    def caller(self, request: Request, service: str | None) -> Identity | None:
        """The signer of a management call; AwsError (AWS's 403 shapes) when the call may not be made."""
        if self.admin_key is None:
            try:
                signed = sigv4.parse(request)
            except sigv4.SignatureError:
                return None
            return None if signed is None else self.directory.identity(signed.access_key)
        try:
            scope = management_scope(request, service, self.region)
            identity = sigv4.authenticate(
                request, self.directory, service=scope.service, region=scope.regions
            )
        except sigv4.SignatureError as exc:
            raise AwsError(exc.failure.error_type, exc.message, 403) from None
        if identity.is_root or scope.service == "sts" or scope.service == "execute-api":
            return identity  # STS: needs no permission; @connections: checked by its own API
        permission = self.permission(request, scope.service)
        decision = (
            Decision.NOT_APPLICABLE
            if permission is None
            else evaluate_all(
                self.directory.policies(identity), permission.action, permission.resource, None, identity.arn
            )
        )
        if decision is Decision.ALLOW:
            return identity
        if permission is None:
            raise AwsError(
                "AccessDeniedException",
                f"User: {identity.arn} is not authorized: only the admin key may",
                403,
            )
        why = (
            "with an explicit deny in an identity-based policy"
            if decision is Decision.DENY
            else f"because no identity-based policy allows the {permission.action} action"
        )
        raise AwsError(
            "AccessDenied" if scope.service == "iam" else "AccessDeniedException",
            f"User: {identity.arn} is not authorized to perform: {permission.action} on resource: "
            f"{permission.resource} {why}",
            403,
        )

    @staticmethod
    def _signed_region(request: Request) -> str | None:
        try:
            signed = sigv4.parse(request)
        except sigv4.SignatureError:
            return None  # authenticate() refuses it in AWS's words
        return None if signed is None else signed.region

    def _log_group_arn(self, request: Request) -> str:
        try:
            params = orjson.loads(request.body or b"{}")
        except orjson.JSONDecodeError:
            return "*"
        if not isinstance(params, dict):
            return "*"
        name = params.get("logGroupName")
        if name is None:  # or the identifier (a name or an ARN), or StartLiveTail's when it names one group
            several = params.get("logGroupIdentifiers")
            name = params.get("logGroupIdentifier")
            if name is None and isinstance(several, list) and len(several) == 1:
                name = several[0]
            if isinstance(name, str) and ":log-group:" in name:
                name = name.split(":log-group:", 1)[1].removesuffix(":*")
        if not isinstance(name, str):
            return "*"  # several groups: a policy must allow them all
        return f"arn:aws:logs:{self.region}:{self.directory.account_id}:log-group:{name}:*"

    def permission(self, request: Request, service: str) -> Permission | None:
        """The action and resource IAM checks for a management call (None: not a call any policy can allow)."""
        path = request.raw_path
        if path.startswith("/_apigate/"):
            return None
        if service == "iam":
            params = form_params(request)
            account = self.directory.account_id
            if params.get("UserName"):
                resource = f"arn:aws:iam::{account}:user/{params['UserName']}"
            elif params.get("RoleName"):
                resource = f"arn:aws:iam::{account}:role/{params['RoleName']}"
            else:
                resource = "*"
            return Permission(f"iam:{params.get('Action', '')}", resource)
        if service == "logs":  # CloudWatch Logs: the operation on the log group the call names
            operation = (request.header("x-amz-target") or "").removeprefix(LOGS_TARGET_PREFIX)
            return Permission(f"logs:{operation}", self._log_group_arn(request))
        if service == "lambda":
            matched = None
            if self.lambda_api is not None:
                matched = self.lambda_api.match(request.method, path, wire.parse_query(request.query_string))
            if matched is None:
                return None  # no such operation: the call is answered 404 only to those who may call anything
            operation, params = matched
            action = "lambda:" + _LAMBDA_ACTIONS.get(operation.name, operation.name)
            function = params.get("FunctionName")
            if not function:
                return Permission(action, "*")
            if not function.startswith("arn:"):
                name = function.split(":", 1)[0]
                region = self._signed_region(request) or self.region
                function = arns.lambda_function_arn(region, self.directory.account_id, name)
            return Permission(action, function)
        if service == "cognito-idp":  # the operation from X-Amz-Target, on the pool the body names
            operation = (request.header("x-amz-target") or "").partition(".")[2]
            try:
                pool = orjson.loads(request.body or b"{}").get("UserPoolId")
            except (orjson.JSONDecodeError, AttributeError):
                pool = None
            account = self.directory.account_id
            resource = f"arn:aws:cognito-idp:{self.region}:{account}:userpool/{pool}" if isinstance(pool, str) else "*"
            return Permission(f"cognito-idp:{operation}", resource)
        # API Gateway's management permissions: the HTTP method on the resource's path.
        resource = path.removeprefix("/v2") if path.startswith("/v2/") else path
        region = self._signed_region(request) or self.region
        return Permission(f"apigateway:{request.method}", f"arn:aws:apigateway:{region}::{resource}")
