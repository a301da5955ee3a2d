"""Signing in to local Cognito user pools: InitiateAuth (USER_PASSWORD_AUTH, REFRESH_TOKEN_AUTH),
AdminInitiateAuth (ADMIN_USER_PASSWORD_AUTH), the NEW_PASSWORD_REQUIRED challenge, and GetUser.

Tokens are what Cognito issues: RS256 JWTs signed with the pool's key (``kid`` in the header), an ID token
(``token_use: id``, ``aud`` the client id, ``cognito:username``, the user's attributes) and an access token
(``token_use: access``, ``client_id``, ``username``, ``scope: aws.cognito.signin.user.admin``); the refresh
token is opaque. SRP sign-in (what Amplify does by default) is not run: allow USER_PASSWORD_AUTH on the client.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Mapping
from functools import partial
from typing import Any

import jwt
import orjson

from apigate.aws.errors import AwsError
from apigate.aws.json_rpc import JsonHandler
from apigate.control.context import ControlContext
from apigate.control.user_pool_groups import group_names
from apigate.control.user_pool_users import (
    attributes,
    check_password,
    check_secret_hash,
    find_user,
    hash_password,
    password_matches,
    user_key,
)
from apigate.control.user_pools import (
    GRANT,
    KEY,
    POOL,
    USER,
    get_client,
    get_pool,
    invalid,
    issuer,
    pool_id_of,
    refresh_seconds,
    signing_key,
    token_seconds,
)

__all__ = ["handlers"]

Doc = dict[str, Any]

_SESSION_SECONDS = 180  # a challenge's session, as AWS's default AuthSessionValidity
_ADMIN_SCOPE = "aws.cognito.signin.user.admin"


def _not_authorized(message: str) -> AwsError:
    return AwsError("NotAuthorizedException", message)


def _allows(client: Doc, *flows: str) -> bool:
    return bool(set(client.get("ExplicitAuthFlows") or []) & set(flows))


def _auth_parameters(params: Doc, member: str = "AuthParameters") -> dict[str, str]:
    raw = params.get(member) or {}
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise invalid(f"{member} must map names to strings")
    return raw


# --- grants: refresh tokens and challenge sessions, kept by their digest only ------------------------------


def _grant(ctx: ControlContext, pool_id: str, kind: str, user: Doc, client: Doc, seconds: int) -> str:
    token = secrets.token_urlsafe(96 if kind == "refresh" else 48)
    digest = hashlib.sha256(token.encode()).hexdigest()
    ctx.store.put(
        GRANT,
        f"{pool_id}/{digest}",
        {
            "Kind": kind,
            "Digest": digest,
            "Username": user["Username"],
            "ClientId": client["ClientId"],
            "Expires": time.time() + seconds,
        },
        parent=pool_id,
    )
    return token


def _redeem(ctx: ControlContext, pool_id: str, kind: str, token: Any, client: Doc) -> Doc | None:
    if not isinstance(token, str) or not token:
        return None
    key = f"{pool_id}/{hashlib.sha256(token.encode()).hexdigest()}"
    grant = ctx.store.get(GRANT, key)
    if grant is None or grant["Kind"] != kind or grant["ClientId"] != client["ClientId"]:
        return None
    if grant["Expires"] <= time.time():
        ctx.store.delete(GRANT, key)
        return None
    if kind == "session":
        ctx.store.delete(GRANT, key)  # a session answers one challenge
    return grant


# --- tokens ----------------------------------------------------------------------------------------------


def _id_claims(user: Doc) -> Doc:
    claims: Doc = {}
    for name, value in attributes(user).items():
        claims[name] = value == "true" if name.endswith("_verified") else value
    return claims


def _tokens(ctx: ControlContext, pool_id: str, client: Doc, user: Doc, *, refresh: bool = True) -> Doc:
    kid, key = signing_key(ctx, pool_id)
    now = int(time.time())
    origin, event = str(uuid.uuid4()), str(uuid.uuid4())
    iss = issuer(ctx.settings.region, pool_id)
    sub = attributes(user).get("sub", user["Username"])
    access_seconds, id_seconds = token_seconds(client, "AccessTokenValidity"), token_seconds(client, "IdTokenValidity")
    access = {
        "sub": sub,
        "iss": iss,
        "client_id": client["ClientId"],
        "origin_jti": origin,
        "event_id": event,
        "token_use": "access",
        "scope": _ADMIN_SCOPE,
        "auth_time": now,
        "exp": now + access_seconds,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "username": user["Username"],
    }
    identity = {
        **_id_claims(user),
        "sub": sub,
        "iss": iss,
        "cognito:username": user["Username"],
        "origin_jti": origin,
        "aud": client["ClientId"],
        "event_id": event,
        "token_use": "id",
        "auth_time": now,
        "exp": now + id_seconds,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    groups = group_names(ctx, pool_id, user)
    if groups:  # as Cognito adds them, to both tokens
        access["cognito:groups"] = identity["cognito:groups"] = groups
    headers = {"kid": kid}
    result: Doc = {
        "AccessToken": jwt.encode(access, key, algorithm="RS256", headers=headers),
        "ExpiresIn": access_seconds,
        "TokenType": "Bearer",
        "IdToken": jwt.encode(identity, key, algorithm="RS256", headers=headers),
    }
    if refresh:
        result["RefreshToken"] = _grant(ctx, pool_id, "refresh", user, client, refresh_seconds(client))
    return {"AuthenticationResult": result, "ChallengeParameters": {}}


def _password_sign_in(ctx: ControlContext, pool: Doc, client: Doc, values: dict[str, str]) -> Doc:
    username = values.get("USERNAME")
    if not username:
        raise invalid("Missing required parameter USERNAME")
    check_secret_hash(client, username, values.get("SECRET_HASH"))
    user = find_user(ctx, pool, username)
    if user is None:
        if client.get("PreventUserExistenceErrors") == "ENABLED":
            raise _not_authorized("Incorrect username or password.")
        raise AwsError("UserNotFoundException", "User does not exist.")
    if not user.get("Enabled", True):
        raise _not_authorized("User is disabled.")
    if not password_matches(user, values.get("PASSWORD")):
        raise _not_authorized("Incorrect username or password.")
    if user["UserStatus"] == "UNCONFIRMED":
        raise AwsError("UserNotConfirmedException", "User is not confirmed.")
    if user["UserStatus"] == "FORCE_CHANGE_PASSWORD":
        public = {k: v for k, v in attributes(user).items() if k != "sub"}
        return {
            "ChallengeName": "NEW_PASSWORD_REQUIRED",
            "Session": _grant(ctx, pool["Id"], "session", user, client, _SESSION_SECONDS),
            "ChallengeParameters": {
                "USER_ID_FOR_SRP": user["Username"],
                "requiredAttributes": "[]",
                "userAttributes": orjson.dumps(public).decode(),
            },
        }
    return _tokens(ctx, pool["Id"], client, user)


def _refresh(ctx: ControlContext, pool: Doc, client: Doc, values: dict[str, str]) -> Doc:
    if not _allows(client, "ALLOW_REFRESH_TOKEN_AUTH"):
        raise invalid("REFRESH_TOKEN_AUTH flow not enabled for this client")
    grant = _redeem(ctx, pool["Id"], "refresh", values.get("REFRESH_TOKEN"), client)
    user = None if grant is None else ctx.store.get(USER, user_key(pool, grant["Username"]))
    if user is None or not user.get("Enabled", True):
        raise _not_authorized("Invalid Refresh Token")
    if client.get("ClientSecret"):
        check_secret_hash(client, values.get("USERNAME") or user["Username"], values.get("SECRET_HASH"))
    return _tokens(ctx, pool["Id"], client, user, refresh=False)


async def initiate_auth(ctx: ControlContext, params: Doc) -> Doc:
    client = get_client(ctx, None, params.get("ClientId"))
    pool = get_pool(ctx, client["UserPoolId"])
    flow, values = params.get("AuthFlow"), _auth_parameters(params)
    if flow == "USER_PASSWORD_AUTH":
        if not _allows(client, "ALLOW_USER_PASSWORD_AUTH", "USER_PASSWORD_AUTH"):
            raise invalid("USER_PASSWORD_AUTH flow not enabled for this client")
        return _password_sign_in(ctx, pool, client, values)
    if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
        return _refresh(ctx, pool, client, values)
    if flow == "USER_SRP_AUTH":
        raise invalid(
            "apigate's local user pools do not run SRP sign-in; allow USER_PASSWORD_AUTH on the client and use it"
        )
    raise invalid(f"Initiate Auth method not supported: {flow}")


async def admin_initiate_auth(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    client = get_client(ctx, pool["Id"], params.get("ClientId"))
    flow, values = params.get("AuthFlow"), _auth_parameters(params)
    if flow in ("ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"):
        if not _allows(client, "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"):
            raise invalid("Auth flow not enabled for this client")
        return _password_sign_in(ctx, pool, client, values)
    if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
        return _refresh(ctx, pool, client, values)
    raise invalid(f"Initiate Auth method not supported: {flow}")


async def _respond(ctx: ControlContext, pool: Doc, client: Doc, params: Doc) -> Doc:
    if params.get("ChallengeName") != "NEW_PASSWORD_REQUIRED":
        raise invalid(f"Challenge {params.get('ChallengeName')} is not supported by apigate's local user pools")
    answers = _auth_parameters(params, "ChallengeResponses")
    grant = _redeem(ctx, pool["Id"], "session", params.get("Session"), client)
    if grant is None:
        raise _not_authorized("Invalid session for the user, session is expired.")
    user = ctx.store.get(USER, user_key(pool, grant["Username"]))
    if user is None:
        raise AwsError("UserNotFoundException", "User does not exist.")
    check_secret_hash(client, answers.get("USERNAME") or user["Username"], answers.get("SECRET_HASH"))
    user["_password"] = hash_password(check_password(pool, answers.get("NEW_PASSWORD")))
    user["UserStatus"] = "CONFIRMED"
    user["UserLastModifiedDate"] = time.time()
    ctx.store.put(USER, user_key(pool, user["Username"]), user, parent=pool["Id"])
    return _tokens(ctx, pool["Id"], client, user)


async def respond_to_auth_challenge(ctx: ControlContext, params: Doc) -> Doc:
    client = get_client(ctx, None, params.get("ClientId"))
    return await _respond(ctx, get_pool(ctx, client["UserPoolId"]), client, params)


async def admin_respond_to_auth_challenge(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    return await _respond(ctx, pool, get_client(ctx, pool["Id"], params.get("ClientId")), params)


async def get_user(ctx: ControlContext, params: Doc) -> Doc:
    """The user an access token names, once the token checks out against its pool's key."""
    token = params.get("AccessToken")
    try:
        unverified = jwt.decode(str(token), options={"verify_signature": False})
        pool_id = str(unverified.get("iss", "")).rsplit("/", 1)[-1]
        key_doc = ctx.store.get(KEY, pool_id)
        if key_doc is None or unverified.get("iss") != issuer(ctx.settings.region, pool_id):
            raise _not_authorized("Invalid Access Token")
        key = jwt.PyJWK(key_doc["jwk"], algorithm="RS256").key
        claims = jwt.decode(str(token), key, algorithms=["RS256"], options={"require": ["exp", "token_use"]})
    except jwt.ExpiredSignatureError:
        raise _not_authorized("Access Token has expired") from None
    except jwt.PyJWTError:
        raise _not_authorized("Invalid Access Token") from None
    pool = ctx.store.get(POOL, pool_id)
    if claims.get("token_use") != "access" or pool is None:
        raise _not_authorized("Invalid Access Token")
    user = ctx.store.get(USER, user_key(pool, str(claims.get("username"))))
    if user is None:
        raise AwsError("UserNotFoundException", "User does not exist.")
    return {"Username": user["Username"], "UserAttributes": user["UserAttributes"]}


def _sign_out(ctx: ControlContext, pool: Doc, username: str) -> None:
    """Every refresh token of the user stops working (access tokens run out on their own, as on AWS)."""
    for grant in ctx.store.list(GRANT, pool["Id"]):
        if grant["Username"] == username and grant["Kind"] == "refresh" and "Digest" in grant:
            ctx.store.delete(GRANT, f"{pool['Id']}/{grant['Digest']}")


async def global_sign_out(ctx: ControlContext, params: Doc) -> Doc:
    user = await get_user(ctx, params)
    claims = jwt.decode(str(params.get("AccessToken")), options={"verify_signature": False})
    pool_id = str(claims["iss"]).rsplit("/", 1)[-1]
    _sign_out(ctx, get_pool(ctx, pool_id), str(user["Username"]))
    return {}


async def admin_user_global_sign_out(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    user = find_user(ctx, pool, params.get("Username"))
    if user is None:
        raise AwsError("UserNotFoundException", "User does not exist.")
    _sign_out(ctx, pool, user["Username"])
    return {}


async def revoke_token(ctx: ControlContext, params: Doc) -> Doc:
    """One refresh token revoked (the client's own: another client's token is refused)."""
    client = get_client(ctx, None, params.get("ClientId"))
    secret = client.get("ClientSecret")
    if secret and not hmac.compare_digest(str(params.get("ClientSecret") or ""), secret):
        raise _not_authorized("Client secret is not valid")
    token = params.get("Token")
    if not isinstance(token, str) or not token:
        raise invalid("1 validation error detected: Value null at 'token' failed to satisfy constraint")
    key = f"{client['UserPoolId']}/{hashlib.sha256(token.encode()).hexdigest()}"
    grant = ctx.store.get(GRANT, key)
    if grant is not None:
        if grant["ClientId"] != client["ClientId"]:
            raise AwsError("UnauthorizedException", "Token does not belong to the client")
        ctx.store.delete(GRANT, key)
    return {}


# Calls a client makes without AWS credentials (botocore sends them unsigned).
PUBLIC_OPERATIONS = frozenset(
    {
        "InitiateAuth",
        "RespondToAuthChallenge",
        "SignUp",
        "ConfirmSignUp",
        "ForgotPassword",
        "ConfirmForgotPassword",
        "GetUser",
        "GlobalSignOut",
        "RevokeToken",
    }
)


def handlers(ctx: ControlContext) -> Mapping[str, JsonHandler]:
    return {
        "InitiateAuth": partial(initiate_auth, ctx),
        "AdminInitiateAuth": partial(admin_initiate_auth, ctx),
        "RespondToAuthChallenge": partial(respond_to_auth_challenge, ctx),
        "AdminRespondToAuthChallenge": partial(admin_respond_to_auth_challenge, ctx),
        "GetUser": partial(get_user, ctx),
        "GlobalSignOut": partial(global_sign_out, ctx),
        "AdminUserGlobalSignOut": partial(admin_user_global_sign_out, ctx),
        "RevokeToken": partial(revoke_token, ctx),
    }
