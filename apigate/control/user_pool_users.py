"""Users of local Cognito user pools: created by an administrator (AdminCreateUser, AdminSetUserPassword) or
signing up (SignUp, then ConfirmSignUp or AdminConfirmSignUp), found by username or, where the pool signs in by
email or phone number, by that attribute.

Passwords are kept as scrypt hashes. No mail is sent: SignUp prints the confirmation code on the gateway's
output, where a developer running it locally reads it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Mapping
from functools import partial
from typing import Any

from apigate.aws.errors import AwsError
from apigate.aws.json_rpc import JsonHandler
from apigate.control.context import ControlContext
from apigate.control.user_pools import USER, get_client, get_pool, invalid, pool_id_of

__all__ = [
    "attributes",
    "check_password",
    "check_secret_hash",
    "existing_user",
    "find_user",
    "handlers",
    "hash_password",
    "password_matches",
    "public_user",
    "save_user",
    "user_key",
]

Doc = dict[str, Any]

_SYMBOLS = set("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ")
_PRIVATE = ("_password", "_code", "_groups")


def _not_authorized(message: str) -> AwsError:
    return AwsError("NotAuthorizedException", message)


def user_key(pool: Doc, username: str) -> str:
    case_sensitive = (pool.get("UsernameConfiguration") or {}).get("CaseSensitive", False)
    return f"{pool['Id']}/{username if case_sensitive else username.lower()}"


def attributes(user: Doc) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in user.get("UserAttributes") or []}


def find_user(ctx: ControlContext, pool: Doc, name: Any) -> Doc | None:
    """A user by username, or by the attribute the pool signs in with (``UsernameAttributes``/aliases)."""
    if not isinstance(name, str) or not name:
        return None
    found = ctx.store.get(USER, user_key(pool, name))
    if found is not None:
        return found
    by = [*(pool.get("UsernameAttributes") or []), *(pool.get("AliasAttributes") or [])]
    if not by:
        return None
    wanted = name.lower()
    for user in ctx.store.list(USER, pool["Id"]):
        values = attributes(user)
        if any(values.get(attribute, "").lower() == wanted for attribute in by):
            return user
    return None


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def password_matches(user: Doc, password: Any) -> bool:
    stored = user.get("_password")
    if not isinstance(stored, str) or not isinstance(password, str):
        return False
    _, salt, digest = stored.split("$")
    given = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=2**14, r=8, p=1, dklen=32)
    return hmac.compare_digest(given, base64.b64decode(digest))


def check_password(pool: Doc, password: Any) -> str:
    """The password if the pool's policy accepts it; AWS's InvalidPasswordException otherwise."""
    if not isinstance(password, str) or not password:
        raise invalid("1 validation error detected: Value at 'password' failed to satisfy constraint")
    policy = (pool.get("Policies") or {}).get("PasswordPolicy") or {}
    if len(password) < int(policy.get("MinimumLength") or 8):
        raise AwsError("InvalidPasswordException", "Password did not conform with policy: Password not long enough")
    for rule, has, kind in (
        ("RequireUppercase", str.isupper, "uppercase"),
        ("RequireLowercase", str.islower, "lowercase"),
        ("RequireNumbers", str.isdigit, "numeric"),
        ("RequireSymbols", _SYMBOLS.__contains__, "symbol"),
    ):
        if policy.get(rule) and not any(has(c) for c in password):
            raise AwsError(
                "InvalidPasswordException", f"Password did not conform with policy: Password must have {kind} characters"
            )
    return password


def check_secret_hash(client: Doc, username: str, given: Any) -> None:
    """A client with a secret wants ``SECRET_HASH``: Base64(HMAC-SHA256(secret, username + client id))."""
    secret = client.get("ClientSecret")
    if not secret:
        return
    expected = base64.b64encode(
        hmac.new(secret.encode(), (username + client["ClientId"]).encode(), hashlib.sha256).digest()
    ).decode()
    if not isinstance(given, str) or not hmac.compare_digest(given, expected):
        raise _not_authorized(f"Unable to verify secret hash for client {client['ClientId']}")


def _attribute_list(raw: Any) -> list[Doc]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(
        isinstance(a, dict) and isinstance(a.get("Name"), str) and isinstance(a.get("Value", ""), str)
        for a in raw
    ):
        raise invalid("UserAttributes must be a list of {Name, Value}")
    return [{"Name": a["Name"], "Value": a.get("Value", "")} for a in raw]


def _new_user(ctx: ControlContext, pool: Doc, username: Any, given: Any, status: str) -> Doc:
    """A user document (not stored yet): the username, ``sub``, and where the pool signs in by email or phone
    number, that attribute taken from the username (the username itself is then the ``sub``)."""
    if not isinstance(username, str) or not 1 <= len(username) <= 128:
        raise invalid("1 validation error detected: Value at 'username' failed to satisfy constraint")
    values = {a["Name"]: a["Value"] for a in _attribute_list(given) if a["Name"] != "sub"}
    sub = str(uuid.uuid4())
    by = pool.get("UsernameAttributes") or []
    if by:
        if "email" in by and "@" in username:
            values["email"] = username
        elif "phone_number" in by and username.startswith("+"):
            values["phone_number"] = username
        else:
            either = "Username should be either an email or a phone number."
            raise invalid("Username should be an email." if by == ["email"] else either)
        username = sub
    if find_user(ctx, pool, username) is not None or (
        by and any(find_user(ctx, pool, values[a]) for a in by if a in values)
    ):
        raise AwsError("UsernameExistsException", "User account already exists")
    now = time.time()
    return {
        "Username": username,
        "UserAttributes": [{"Name": "sub", "Value": sub}, *({"Name": k, "Value": v} for k, v in values.items())],
        "UserCreateDate": now,
        "UserLastModifiedDate": now,
        "Enabled": True,
        "UserStatus": status,
    }


def public_user(user: Doc, *, listed: bool = False) -> Doc:
    """What AdminGetUser answers; ``listed``: the shape of ListUsers and AdminCreateUser (``Attributes``)."""
    public = {k: v for k, v in user.items() if k not in _PRIVATE}
    if listed:
        public["Attributes"] = public.pop("UserAttributes")
    return public


def save_user(ctx: ControlContext, pool: Doc, user: Doc) -> None:
    user["UserLastModifiedDate"] = time.time()
    ctx.store.put(USER, user_key(pool, user["Username"]), user, parent=pool["Id"])


def existing_user(ctx: ControlContext, pool: Doc, name: Any) -> Doc:
    user = find_user(ctx, pool, name)
    if user is None:
        raise AwsError("UserNotFoundException", "User does not exist.")
    return user


async def admin_create_user(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    user = _new_user(ctx, pool, params.get("Username"), params.get("UserAttributes"), "FORCE_CHANGE_PASSWORD")
    temporary = params.get("TemporaryPassword")
    # Without one, AWS mails a generated password; nothing is mailed here, so AdminSetUserPassword sets one.
    given = check_password(pool, temporary) if temporary is not None else secrets.token_urlsafe(24)
    user["_password"] = hash_password(given)
    save_user(ctx, pool, user)
    return {"User": public_user(user, listed=True)}


async def admin_get_user(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    return public_user(existing_user(ctx, pool, params.get("Username")))


async def admin_delete_user(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    user = existing_user(ctx, pool, params.get("Username"))
    ctx.store.delete(USER, user_key(pool, user["Username"]))
    return {}


async def admin_set_user_password(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    user = existing_user(ctx, pool, params.get("Username"))
    user["_password"] = hash_password(check_password(pool, params.get("Password")))
    user["UserStatus"] = "CONFIRMED" if params.get("Permanent") else "FORCE_CHANGE_PASSWORD"
    save_user(ctx, pool, user)
    return {}


async def admin_confirm_sign_up(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    user = existing_user(ctx, pool, params.get("Username"))
    if user["UserStatus"] != "UNCONFIRMED":
        raise _not_authorized(f"User cannot be confirmed. Current status is {user['UserStatus']}")
    user["UserStatus"] = "CONFIRMED"
    user.pop("_code", None)
    save_user(ctx, pool, user)
    return {}


async def admin_set_enabled(ctx: ControlContext, enabled: bool, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    user = existing_user(ctx, pool, params.get("Username"))
    user["Enabled"] = enabled
    save_user(ctx, pool, user)
    return {}


async def admin_update_user_attributes(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    user = existing_user(ctx, pool, params.get("Username"))
    values = attributes(user)
    for attribute in _attribute_list(params.get("UserAttributes")):
        if attribute["Name"] != "sub":
            values[attribute["Name"]] = attribute["Value"]
    user["UserAttributes"] = [{"Name": k, "Value": v} for k, v in values.items()]
    save_user(ctx, pool, user)
    return {}


async def list_users(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    users = sorted(ctx.store.list(USER, pool["Id"]), key=lambda u: u["Username"])
    return {"Users": [public_user(user, listed=True) for user in users]}


async def sign_up(ctx: ControlContext, params: Doc) -> Doc:
    client = get_client(ctx, None, params.get("ClientId"))
    pool = get_pool(ctx, client["UserPoolId"])
    if (pool.get("AdminCreateUserConfig") or {}).get("AllowAdminCreateUserOnly"):
        raise _not_authorized("SignUp is not permitted for this user pool")
    username = params.get("Username")
    check_secret_hash(client, str(username), params.get("SecretHash"))
    user = _new_user(ctx, pool, username, params.get("UserAttributes"), "UNCONFIRMED")
    user["_password"] = hash_password(check_password(pool, params.get("Password")))
    code = f"{secrets.randbelow(10**6):06d}"
    user["_code"] = code
    save_user(ctx, pool, user)
    print(f"Cognito: confirmation code for {username} in {pool['Id']}: {code}", flush=True)
    sub = attributes(user)["sub"]
    answer: Doc = {"UserConfirmed": False, "UserSub": sub}
    email = attributes(user).get("email")
    if email and "email" in (pool.get("AutoVerifiedAttributes") or []):
        local, _, domain = email.partition("@")
        answer["CodeDeliveryDetails"] = {
            "Destination": f"{local[:1]}***@{domain[:1]}***",
            "DeliveryMedium": "EMAIL",
            "AttributeName": "email",
        }
    return answer


async def confirm_sign_up(ctx: ControlContext, params: Doc) -> Doc:
    client = get_client(ctx, None, params.get("ClientId"))
    pool = get_pool(ctx, client["UserPoolId"])
    check_secret_hash(client, str(params.get("Username")), params.get("SecretHash"))
    user = existing_user(ctx, pool, params.get("Username"))
    if user["UserStatus"] != "UNCONFIRMED":
        raise _not_authorized(f"User cannot be confirmed. Current status is {user['UserStatus']}")
    code = params.get("ConfirmationCode")
    if not isinstance(code, str) or not hmac.compare_digest(code, str(user.get("_code") or "")):
        raise AwsError("CodeMismatchException", "Invalid verification code provided, please try again.")
    user["UserStatus"] = "CONFIRMED"
    user.pop("_code", None)
    values = attributes(user)
    for attribute in pool.get("AutoVerifiedAttributes") or []:
        if attribute in values:
            values[f"{attribute}_verified"] = "true"
    user["UserAttributes"] = [{"Name": k, "Value": v} for k, v in values.items()]
    save_user(ctx, pool, user)
    return {}


async def forgot_password(ctx: ControlContext, params: Doc) -> Doc:
    """A reset code for the user, printed on the gateway's output (where AWS would mail it)."""
    client = get_client(ctx, None, params.get("ClientId"))
    pool = get_pool(ctx, client["UserPoolId"])
    check_secret_hash(client, str(params.get("Username")), params.get("SecretHash"))
    user = existing_user(ctx, pool, params.get("Username"))
    code = f"{secrets.randbelow(10**6):06d}"
    user["_code"] = code
    save_user(ctx, pool, user)
    print(f"Cognito: password reset code for {params.get('Username')} in {pool['Id']}: {code}", flush=True)
    email = attributes(user).get("email")
    if not email:
        return {"CodeDeliveryDetails": {"DeliveryMedium": "EMAIL", "AttributeName": "email"}}
    local, _, domain = email.partition("@")
    return {
        "CodeDeliveryDetails": {
            "Destination": f"{local[:1]}***@{domain[:1]}***",
            "DeliveryMedium": "EMAIL",
            "AttributeName": "email",
        }
    }


async def confirm_forgot_password(ctx: ControlContext, params: Doc) -> Doc:
    client = get_client(ctx, None, params.get("ClientId"))
    pool = get_pool(ctx, client["UserPoolId"])
    check_secret_hash(client, str(params.get("Username")), params.get("SecretHash"))
    user = existing_user(ctx, pool, params.get("Username"))
    code = params.get("ConfirmationCode")
    if not user.get("_code") or not isinstance(code, str) or not hmac.compare_digest(code, str(user["_code"])):
        raise AwsError("CodeMismatchException", "Invalid verification code provided, please try again.")
    user["_password"] = hash_password(check_password(pool, params.get("Password")))
    user.pop("_code", None)
    if user["UserStatus"] in ("FORCE_CHANGE_PASSWORD", "RESET_REQUIRED"):
        user["UserStatus"] = "CONFIRMED"
    save_user(ctx, pool, user)
    return {}


def handlers(ctx: ControlContext) -> Mapping[str, JsonHandler]:
    return {
        "AdminCreateUser": partial(admin_create_user, ctx),
        "AdminGetUser": partial(admin_get_user, ctx),
        "AdminDeleteUser": partial(admin_delete_user, ctx),
        "AdminSetUserPassword": partial(admin_set_user_password, ctx),
        "AdminConfirmSignUp": partial(admin_confirm_sign_up, ctx),
        "AdminDisableUser": partial(admin_set_enabled, ctx, False),
        "AdminEnableUser": partial(admin_set_enabled, ctx, True),
        "AdminUpdateUserAttributes": partial(admin_update_user_attributes, ctx),
        "ListUsers": partial(list_users, ctx),
        "SignUp": partial(sign_up, ctx),
        "ConfirmSignUp": partial(confirm_sign_up, ctx),
        "ForgotPassword": partial(forgot_password, ctx),
        "ConfirmForgotPassword": partial(confirm_forgot_password, ctx),
    }
