"""IAM in templates: ``AWS::IAM::Role``, ``Policy`` and ``ManagedPolicy`` stored in apigate's IAM, so a function's
execution role (SAM's ``<Function>Role`` with the function's ``Policies``) is a real role and the session each
function gets carries its policies.

apigate's IAM keeps inline policies only: a managed policy of the template becomes an inline policy of each role
and user it names (and of each role whose ``ManagedPolicyArns`` lists it), which evaluates the same. AWS-managed
policies are not known here; those that only grant logging and tracing (what SAM and CDK attach by default) grant
nothing apigate serves, any other one is named in a warning.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

import orjson

from apigate.aws.errors import AwsError
from apigate.aws.wire import OperationHandler
from apigate.control import iam as iam_control
from apigate.control.context import ControlContext

Doc = dict[str, Any]

ROLE, POLICY, MANAGED_POLICY = "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"
RESOURCE_TYPES = (ROLE, POLICY, MANAGED_POLICY)
_HARMLESS = (
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
    "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
)


class Run(Protocol):
    ctx: ControlContext
    stack: str
    physical: dict[str, tuple[str, str]]
    attributes: dict[str, dict[str, Any]]
    warnings: list[str]
    managed_policies: dict[str, str]  # ARN of a template's managed policy -> its document

    def _old(self, logical_id: str, kind: str) -> str | None: ...


def _handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    settings = ctx.settings
    return iam_control.iam_handlers(
        ctx.store, iam_control.IamDirectory(ctx.store, settings.account_id, settings.admin_key)
    )


def _name(run: Run, logical_id: str, given: Any, limit: int) -> str:
    """CloudFormation's generated name: stack, logical id and a stable suffix."""
    if given:
        return str(given)
    suffix = hashlib.sha256(f"{run.stack}/{logical_id}".encode()).hexdigest()[:12].upper()
    return f"{run.stack[:20]}-{logical_id[: limit - 35]}-{suffix}"


def _document(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


async def _put_role_policies(
    handlers: dict[str, OperationHandler], role: str, policies: dict[str, str]
) -> None:
    for name, document in policies.items():
        await handlers["PutRolePolicy"]({"RoleName": role, "PolicyName": name, "PolicyDocument": document})


async def create(run: Run, logical_id: str, kind: str, props: Doc) -> None:
    handlers = _handlers(run.ctx)
    account = run.ctx.settings.account_id
    if kind == ROLE:
        await _role(run, handlers, logical_id, props)
        return
    document = _document(props.get("PolicyDocument") or {})
    if kind == POLICY:
        name = str(props.get("PolicyName") or logical_id)
        run.physical[logical_id] = (kind, _name(run, logical_id, None, 128))
    else:
        name = _name(run, logical_id, props.get("ManagedPolicyName"), 128)
        arn = f"arn:aws:iam::{account}:policy{props.get('Path') or '/'}{name}"
        run.managed_policies[arn] = document
        run.physical[logical_id] = (kind, arn)
        run.attributes[logical_id] = {"PolicyArn": arn}
    for role in props.get("Roles") or ():
        await handlers["PutRolePolicy"]({"RoleName": role, "PolicyName": name, "PolicyDocument": document})
    for user in props.get("Users") or ():
        await handlers["PutUserPolicy"]({"UserName": user, "PolicyName": name, "PolicyDocument": document})
    if props.get("Groups"):
        run.warnings.append(f"{logical_id} ({kind}): Groups ignored (apigate's IAM has no groups)")


async def _role(run: Run, handlers: dict[str, OperationHandler], logical_id: str, props: Doc) -> None:
    name = _name(run, logical_id, props.get("RoleName"), 64)
    store = run.ctx.store
    trust = _document(props.get("AssumeRolePolicyDocument") or {})
    policies = {
        str(p.get("PolicyName")): _document(p.get("PolicyDocument") or {})
        for p in props.get("Policies") or ()
    }
    unknown = []
    for arn in props.get("ManagedPolicyArns") or ():
        if arn in run.managed_policies:
            policies[str(arn).rsplit("/", 1)[-1]] = run.managed_policies[arn]
        elif arn not in _HARMLESS:
            unknown.append(str(arn))
    if unknown:
        run.warnings.append(
            f"{logical_id} (AWS::IAM::Role): AWS-managed policies are not known to apigate, the role's "
            f"sessions do not get them: {', '.join(unknown)}"
        )
    existing = store.get("iam-role", name)
    if existing is not None:  # a redeploy: the role keeps its id, its policies are the template's again
        existing["AssumeRolePolicyDocument"] = iam_control.check_policy(trust, trust=True)
        store.put("iam-role", name, existing)
        for old in store.list("iam-role-policy", f"role:{name}"):
            store.delete("iam-role-policy", f"{name}/{old['PolicyName']}")
        role = existing
    else:
        params = {
            "RoleName": name,
            "Path": props.get("Path"),
            "AssumeRolePolicyDocument": trust,
            "Description": props.get("Description"),
            "MaxSessionDuration": props.get("MaxSessionDuration"),
        }
        try:
            role = (await handlers["CreateRole"]({k: v for k, v in params.items() if v is not None}))["Role"]
        except AwsError as exc:
            raise AwsError(exc.code, f"role {name}: {exc.message}", exc.status) from exc
    await _put_role_policies(handlers, name, policies)
    tags = [{"Key": str(t.get("Key")), "Value": str(t.get("Value", ""))} for t in props.get("Tags") or ()]
    if tags or role.get("Tags"):  # GetRole shows them, as on AWS
        doc = {k: v for k, v in (store.get("iam-role", name) or {}).items() if k != "Tags"}
        store.put("iam-role", name, {**doc, "Tags": tags} if tags else doc)
    run.physical[logical_id] = (ROLE, name)
    run.attributes[logical_id] = {"Arn": role["Arn"], "RoleId": role["RoleId"]}


def remove(ctx: ControlContext, kind: str, physical: str) -> None:
    """A role the template no longer has: gone with its policies (sessions already issued expire on their own)."""
    if kind != ROLE or ctx.store.get("iam-role", physical) is None:
        return
    for old in ctx.store.list("iam-role-policy", f"role:{physical}"):
        ctx.store.delete("iam-role-policy", f"{physical}/{old['PolicyName']}")
    ctx.store.delete("iam-role", physical)
