"""IAM users, access keys, roles and inline policies, and STS role sessions: who may sign requests, and what
their identity policies allow.

Documents live in the store as IAM returns them (``iam-user``, ``iam-accesskey``, ``iam-user-policy``,
``iam-role``, ``iam-role-policy``, ``sts-session``), so every process on the data dir sees the same identities.
``IamDirectory`` answers the data plane's question (which identity signed with this key, under which policies)
from the store, with parsed policies kept by their text.
"""

from __future__ import annotations

import contextvars
import hashlib
import secrets
import string
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import orjson

from apigate.aws.errors import AwsError
from apigate.aws.identity import Identity
from apigate.aws.policy import Decision, Policy, PolicyError, evaluate, parse_policy
from apigate.aws.wire import OperationHandler
from apigate.store.base import Conflict, DocumentStore

Doc = dict[str, Any]

# The identity that signed the management call being served (None: an unknown key, accepted on loopback).
caller: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("apigate_iam_caller", default=None)

_UPPER = string.ascii_uppercase + string.digits
_SECRET = string.ascii_letters + string.digits + "+/"


def _token(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _no_such(kind: str, name: str) -> AwsError:
    return AwsError("NoSuchEntity", f"The {kind} with name {name} cannot be found.", 404)


def _malformed(exc: PolicyError) -> AwsError:
    return AwsError("MalformedPolicyDocument", str(exc), 400)


def check_policy(document: str | None, *, trust: bool = False) -> str:
    """A policy document checked as IAM checks one (templates' roles too), returned as given."""
    return _check_policy(document, trust=trust)


def _check_policy(document: str | None, *, trust: bool = False) -> str:
    if not document:
        raise AwsError("ValidationError", "1 validation error detected: policyDocument must not be null", 400)
    try:
        parse_policy(document)
    except PolicyError as exc:
        raise _malformed(exc) from exc
    raw = orjson.loads(document)
    statements = raw["Statement"] if isinstance(raw["Statement"], list) else [raw["Statement"]]
    for statement in statements:
        if not trust and "Resource" not in statement and "NotResource" not in statement:
            raise AwsError("MalformedPolicyDocument", "Policy statement must contain resources.", 400)
        if trust and "Principal" not in statement and "NotPrincipal" not in statement:
            raise AwsError(
                "MalformedPolicyDocument", "AssumeRolepolicy contained an invalid principal element", 400
            )
    return document


class IamDirectory:
    """Identities by access key, with their identity policies (parsed once per policy text)."""

    def __init__(
        self, store: DocumentStore, account_id: str, admin_key: tuple[str, str] | None = None
    ) -> None:
        self.store = store
        self.account_id = account_id
        self.admin_key = admin_key
        self._parsed: dict[str, Policy] = {}

    def root(self, access_key: str, secret: str) -> Identity:
        return Identity(
            access_key=access_key,
            secret=secret,
            arn=f"arn:aws:iam::{self.account_id}:root",
            account_id=self.account_id,
            user_id=self.account_id,
            is_root=True,
        )

    def identity(self, access_key: str) -> Identity | None:
        if self.admin_key is not None and access_key == self.admin_key[0]:
            return self.root(*self.admin_key)
        key = self.store.get("iam-accesskey", access_key)
        if key is not None:
            user = self.store.get("iam-user", key["UserName"])
            if user is None or key.get("Status") != "Active":
                return None
            return Identity(access_key, key["SecretAccessKey"], user["Arn"], self.account_id, user["UserId"])
        session = self.store.get("sts-session", access_key)
        if session is not None:
            return Identity(
                access_key,
                session["SecretAccessKey"],
                session["Arn"],
                self.account_id,
                session["AssumedRoleId"],
                session_token=session["SessionToken"],
                expires_at=float(session["ExpiresAt"]),
            )
        return None

    def policies(self, identity: Identity) -> Sequence[Policy]:
        if identity.is_root:
            return ()
        if identity.session_token is not None:
            role = identity.arn.split(":", 5)[5].split("/")[1]
            docs = self.store.list("iam-role-policy", f"role:{role}")
        else:
            user = identity.arn.rsplit("/", 1)[1]
            docs = self.store.list("iam-user-policy", f"user:{user}")
        return [self.parsed(doc["PolicyDocument"]) for doc in docs]

    def parsed(self, text: str) -> Policy:
        """A policy document parsed, kept by its text."""
        found = self._parsed.get(text)
        if found is None:
            if len(self._parsed) > 4096:
                self._parsed.clear()
            found = self._parsed[text] = parse_policy(text)
        return found


def _user_out(doc: Doc) -> Doc:
    return {k: doc[k] for k in ("Path", "UserName", "UserId", "Arn", "CreateDate") if k in doc}


def _role_out(doc: Doc) -> Doc:
    out: Doc = {
        k: doc[k]
        for k in ("Path", "RoleName", "RoleId", "Arn", "CreateDate", "Description", "MaxSessionDuration", "Tags")
        if k in doc
    }
    out["AssumeRolePolicyDocument"] = quote(doc["AssumeRolePolicyDocument"])  # IAM sends policies URL-encoded
    return out


def iam_handlers(store: DocumentStore, directory: IamDirectory) -> dict[str, OperationHandler]:
    account = directory.account_id

    def user(name: str | None) -> Doc:
        doc = store.get("iam-user", name or "")
        if doc is None:
            raise _no_such("user", name or "")
        return doc

    def role(name: str | None) -> Doc:
        doc = store.get("iam-role", name or "")
        if doc is None:
            raise _no_such("role", name or "")
        return doc

    async def create_user(p: Doc) -> Doc:
        name = p["UserName"]
        path = p.get("Path") or "/"
        doc = {
            "Path": path,
            "UserName": name,
            "UserId": "AIDA" + _token(_UPPER, 17),
            "Arn": f"arn:aws:iam::{account}:user{path}{name}",
            "CreateDate": _now(),
        }
        try:  # names are unique regardless of case, across processes too: the store's rule
            store.insert("iam-user", name, doc)
        except Conflict:
            raise AwsError("EntityAlreadyExists", f"User with name {name} already exists.", 409) from None
        return {"User": _user_out(doc)}

    async def get_user(p: Doc) -> Doc:
        name = p.get("UserName")
        if name is None:
            signer = caller.get()
            if signer is None or signer.is_root or signer.session_token is not None:
                raise AwsError(
                    "ValidationError", "Must specify userName when calling with non-User credentials", 400
                )
            name = signer.arn.rsplit("/", 1)[1]
        return {"User": _user_out(user(name))}

    async def list_users(p: Doc) -> Doc:
        return {"Users": [_user_out(d) for d in store.list("iam-user")], "IsTruncated": False}

    async def delete_user(p: Doc) -> None:
        name = p["UserName"]
        user(name)
        if store.list("iam-accesskey", f"user:{name}"):
            raise AwsError("DeleteConflict", "Cannot delete entity, must delete access keys first.", 409)
        if store.list("iam-user-policy", f"user:{name}"):
            raise AwsError("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
        store.delete("iam-user", name)

    async def create_access_key(p: Doc) -> Doc:
        signer = caller.get()
        name = p.get("UserName") or (signer.arn.rsplit("/", 1)[1] if signer and not signer.is_root else None)
        user(name)
        if len(store.list("iam-accesskey", f"user:{name}")) >= 2:
            raise AwsError("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409)
        doc = {
            "UserName": name,
            "AccessKeyId": "AKIA" + _token(_UPPER, 16),
            "Status": "Active",
            "SecretAccessKey": _token(_SECRET, 40),
            "CreateDate": _now(),
        }
        store.put("iam-accesskey", str(doc["AccessKeyId"]), doc, parent=f"user:{name}")
        return {"AccessKey": doc}

    async def list_access_keys(p: Doc) -> Doc:
        name = p.get("UserName")
        user(name)
        keys = [
            {k: d[k] for k in ("UserName", "AccessKeyId", "Status", "CreateDate")}
            for d in store.list("iam-accesskey", f"user:{name}")
        ]
        return {"AccessKeyMetadata": keys, "IsTruncated": False}

    async def delete_access_key(p: Doc) -> None:
        doc = store.get("iam-accesskey", p["AccessKeyId"])
        if doc is None or (p.get("UserName") and doc["UserName"] != p["UserName"]):
            raise AwsError("NoSuchEntity", f"The Access Key with id {p['AccessKeyId']} cannot be found.", 404)
        store.delete("iam-accesskey", p["AccessKeyId"])

    async def create_role(p: Doc) -> Doc:
        name = p["RoleName"]
        path = p.get("Path") or "/"
        doc = {
            "Path": path,
            "RoleName": name,
            "RoleId": "AROA" + _token(_UPPER, 17),
            "Arn": f"arn:aws:iam::{account}:role{path}{name}",
            "CreateDate": _now(),
            "AssumeRolePolicyDocument": _check_policy(p.get("AssumeRolePolicyDocument"), trust=True),
            "MaxSessionDuration": int(p.get("MaxSessionDuration") or 3600),
        }
        if p.get("Description"):
            doc["Description"] = p["Description"]
        try:  # names are unique regardless of case, across processes too: the store's rule
            store.insert("iam-role", name, doc)
        except Conflict:
            raise AwsError("EntityAlreadyExists", f"Role with name {name} already exists.", 409) from None
        return {"Role": _role_out(doc)}

    async def get_role(p: Doc) -> Doc:
        return {"Role": _role_out(role(p["RoleName"]))}

    async def list_roles(p: Doc) -> Doc:
        return {"Roles": [_role_out(d) for d in store.list("iam-role")], "IsTruncated": False}

    async def delete_role(p: Doc) -> None:
        name = p["RoleName"]
        role(name)
        if store.list("iam-role-policy", f"role:{name}"):
            raise AwsError("DeleteConflict", "Cannot delete entity, must delete policies first.", 409)
        store.delete("iam-role", name)

    put_user_policy, get_user_policy, list_user_policies, delete_user_policy = _inline_policies(
        store, "user", user
    )
    # ListRolePolicies is not served (yet): the third handler is left out.
    put_role_policy, get_role_policy, _, delete_role_policy = _inline_policies(store, "role", role)

    return {
        "CreateUser": create_user,
        "GetUser": get_user,
        "ListUsers": list_users,
        "DeleteUser": delete_user,
        "CreateAccessKey": create_access_key,
        "ListAccessKeys": list_access_keys,
        "DeleteAccessKey": delete_access_key,
        "PutUserPolicy": put_user_policy,
        "GetUserPolicy": get_user_policy,
        "ListUserPolicies": list_user_policies,
        "DeleteUserPolicy": delete_user_policy,
        "CreateRole": create_role,
        "GetRole": get_role,
        "ListRoles": list_roles,
        "DeleteRole": delete_role,
        "PutRolePolicy": put_role_policy,
        "GetRolePolicy": get_role_policy,
        "DeleteRolePolicy": delete_role_policy,
    }


def _inline_policies(
    store: DocumentStore, kind: str, owner: Callable[[str | None], Doc]
) -> tuple[OperationHandler, OperationHandler, OperationHandler, OperationHandler]:
    """Put, get, list and delete of the inline policies of a ``kind`` ("user" or "role"), stored as
    ``iam-{kind}-policy`` under the owner's name; ``owner`` raises NoSuchEntity for an unknown one."""
    collection = f"iam-{kind}-policy"
    name_key = f"{kind.capitalize()}Name"

    async def put(p: Doc) -> None:
        name = p[name_key]
        owner(name)
        document = _check_policy(p.get("PolicyDocument"))
        store.put(
            collection,
            f"{name}/{p['PolicyName']}",
            {name_key: name, "PolicyName": p["PolicyName"], "PolicyDocument": document},
            parent=f"{kind}:{name}",
        )

    async def get(p: Doc) -> Doc:
        owner(p[name_key])
        doc = store.get(collection, f"{p[name_key]}/{p['PolicyName']}")
        if doc is None:
            raise _no_such(f"{kind} policy", p["PolicyName"])
        return {**doc, "PolicyDocument": quote(doc["PolicyDocument"])}

    async def list_names(p: Doc) -> Doc:
        owner(p[name_key])
        docs = store.list(collection, f"{kind}:{p[name_key]}")
        return {"PolicyNames": [d["PolicyName"] for d in docs], "IsTruncated": False}

    async def delete(p: Doc) -> None:
        if not store.delete(collection, f"{p[name_key]}/{p['PolicyName']}"):
            raise _no_such(f"{kind} policy", p["PolicyName"])

    return put, get, list_names, delete


def issue_session(store: DocumentStore, account: str, role: Doc, session_name: str, duration: float) -> Doc:
    """A new STS session of ``role`` (its ``RoleName`` and ``RoleId``), stored so that every process on the
    data dir knows its key; sessions of the role that have expired are forgotten on the way."""
    now = time.time()
    for old in store.list("sts-session", f"role:{role['RoleName']}"):
        if float(old["ExpiresAt"]) < now:
            store.delete("sts-session", old["AccessKeyId"])
    session: Doc = {
        "AccessKeyId": "ASIA" + _token(_UPPER, 16),
        "SecretAccessKey": _token(_SECRET, 40),
        "SessionToken": "FwoGZXIvYXdzE" + _token(string.ascii_letters + string.digits, 300),
        "ExpiresAt": now + duration,
        "AssumedRoleId": f"{role['RoleId']}:{session_name}",
        "Arn": f"arn:aws:sts::{account}:assumed-role/{role['RoleName']}/{session_name}",
    }
    store.put("sts-session", str(session["AccessKeyId"]), session, parent=f"role:{role['RoleName']}")
    return session


def execution_role_session(
    store: DocumentStore, account: str, role_arn: str, session_name: str, duration: float
) -> Doc:
    """What Lambda hands a function: a session of its execution role named after the function. The role
    need not exist in IAM here (templates name roles they never create): its session then has no policies,
    so under ``--admin-key`` it may call nothing."""
    role_name = role_arn.rsplit("/", 1)[-1] or "lambda-role"
    role = store.get("iam-role", role_name)
    if role is None or role.get("Arn") != role_arn:
        # A stable made-up RoleId, as IAM's AROA… ids look, so AssumedRoleId reads the same across refreshes.
        digest = hashlib.sha256(role_arn.encode()).hexdigest().upper()
        role = {"RoleName": role_name, "RoleId": "AROA" + digest[:17]}
    return issue_session(store, account, role, session_name, duration)


def sts_handlers(store: DocumentStore, directory: IamDirectory) -> dict[str, OperationHandler]:
    account = directory.account_id

    def signer_arn() -> str:
        signer = caller.get()
        return signer.arn if signer is not None else f"arn:aws:iam::{account}:root"

    async def assume_role(p: Doc) -> Doc:
        arn: str = p["RoleArn"]
        session_name: str = p["RoleSessionName"]
        role = store.get("iam-role", arn.rsplit("/", 1)[-1]) if arn.startswith("arn:") else None
        who = signer_arn()
        denied = AwsError(
            "AccessDenied",
            f"User: {who} is not authorized to perform: sts:AssumeRole on resource: {arn}",
            403,
        )
        if role is None or role["Arn"] != arn:
            raise denied
        trust = directory.parsed(role["AssumeRolePolicyDocument"])
        if evaluate(trust, "sts:AssumeRole", arn, None, who) is not Decision.ALLOW:
            raise denied
        duration = int(p.get("DurationSeconds") or 3600)
        if not 900 <= duration <= int(role.get("MaxSessionDuration") or 3600):
            raise AwsError(
                "ValidationError",
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
                400,
            )
        session = issue_session(store, account, role, session_name, duration)
        return {
            "Credentials": {
                "AccessKeyId": session["AccessKeyId"],
                "SecretAccessKey": session["SecretAccessKey"],
                "SessionToken": session["SessionToken"],
                "Expiration": datetime.fromtimestamp(session["ExpiresAt"], UTC).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
            },
            "AssumedRoleUser": {"AssumedRoleId": session["AssumedRoleId"], "Arn": session["Arn"]},
        }

    async def get_caller_identity(p: Doc) -> Doc:
        signer = caller.get()
        if signer is None:
            return {"UserId": account, "Account": account, "Arn": f"arn:aws:iam::{account}:root"}
        return {"UserId": signer.user_id, "Account": signer.account_id, "Arn": signer.arn}

    return {"AssumeRole": assume_role, "GetCallerIdentity": get_caller_identity}
