"""Local Cognito user pools (a ``cognito-idp`` subset, JSON 1.1): pools and app clients, each pool with its own
RSA signing key, and what a pool publishes (its OIDC discovery document and JWKS).

A pool's tokens carry AWS's issuer, ``https://cognito-idp.{region}.amazonaws.com/{pool id}``, so authorizers
written for AWS (a Cognito authorizer naming the pool's ARN, an HTTP API JWT authorizer naming that issuer) trust
the local pool unchanged: the gateway hands them the pool's public keys directly (``dataplane/local_issuers.py``).

Documents: ``userpool`` is what DescribeUserPool returns; the private key is kept apart (``userpoolkey``) so that
no Describe or List answer can carry it; clients (``userpoolclient``) and users live under their pool's id.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
import time
from collections.abc import Mapping
from functools import partial
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from apigate.aws.errors import AwsError
from apigate.aws.json_rpc import JsonHandler
from apigate.control.context import ControlContext

__all__ = [
    "CLIENT",
    "CLIENT_SETTINGS",
    "GRANT",
    "KEY",
    "POOL",
    "USER",
    "discovery",
    "handlers",
    "issuer",
    "jwks",
    "public_keys",
    "publish",
]

POOL = "userpool"
KEY = "userpoolkey"
CLIENT = "userpoolclient"
USER = "userpooluser"  # under the pool: f"{pool id}/{username}"
GRANT = "userpoolgrant"  # refresh tokens and challenge sessions, under the pool: f"{pool id}/{digest}"

Doc = dict[str, Any]

_ALNUM = string.ascii_letters + string.digits
_LOWER_ALNUM = string.ascii_lowercase + string.digits
# AWS's defaults when a pool names no password policy.
DEFAULT_PASSWORD_POLICY = {
    "MinimumLength": 8,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
    "TemporaryPasswordValidityDays": 7,
}
# What a client allows when it names no flows (AWS's default, which leaves USER_PASSWORD_AUTH out).
DEFAULT_AUTH_FLOWS = ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH"]
_AUTH_FLOWS = frozenset(
    {
        "ADMIN_NO_SRP_AUTH",
        "CUSTOM_AUTH_FLOW_ONLY",
        "USER_PASSWORD_AUTH",
        "ALLOW_ADMIN_USER_PASSWORD_AUTH",
        "ALLOW_CUSTOM_AUTH",
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_USER_AUTH",
    }
)
_VALIDITY = {"AccessTokenValidity": (60, "minutes"), "IdTokenValidity": (60, "minutes")}
_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


# An app client's settings kept as given (ExplicitAuthFlows is checked first); templates pass the same ones.
CLIENT_SETTINGS = (
    "RefreshTokenValidity",
    "AccessTokenValidity",
    "IdTokenValidity",
    "TokenValidityUnits",
    "ReadAttributes",
    "WriteAttributes",
    "SupportedIdentityProviders",
    "CallbackURLs",
    "LogoutURLs",
    "AllowedOAuthFlows",
    "AllowedOAuthScopes",
    "AllowedOAuthFlowsUserPoolClient",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "AuthSessionValidity",
)

def invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


def issuer(region: str, pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def pool_id_of(params: Doc) -> str:
    pool = params.get("UserPoolId")
    if not isinstance(pool, str) or not pool:
        raise invalid("1 validation error detected: Value null at 'userPoolId' failed to satisfy constraint")
    return pool


def get_pool(ctx: ControlContext, pool_id: str) -> Doc:
    doc = ctx.store.get(POOL, pool_id)
    if doc is None:
        raise AwsError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")
    return doc


def get_client(ctx: ControlContext, pool_id: str | None, client_id: Any) -> Doc:
    """A client by id; ``pool_id`` None: whichever pool holds it (InitiateAuth names only the client)."""
    if not isinstance(client_id, str) or not client_id:
        raise invalid("1 validation error detected: Value null at 'clientId' failed to satisfy constraint")
    if pool_id is not None:
        found = ctx.store.get(CLIENT, f"{pool_id}/{client_id}")
    else:
        found = next((c for c in ctx.store.list(CLIENT) if c["ClientId"] == client_id), None)
    if found is None:
        raise AwsError("ResourceNotFoundException", f"User pool client {client_id} does not exist.")
    return found


def token_seconds(client: Doc, name: str) -> int:
    """A client's validity for one token type in seconds (``TokenValidityUnits`` default to hours)."""
    default, default_unit = _VALIDITY[name]
    value = client.get(name)
    if value is None:
        return default * _SECONDS[default_unit]
    unit_key = {"AccessTokenValidity": "AccessToken", "IdTokenValidity": "IdToken"}[name]
    unit = (client.get("TokenValidityUnits") or {}).get(unit_key) or "hours"
    return int(value) * _SECONDS.get(unit, 3600)


def refresh_seconds(client: Doc) -> int:
    value = client.get("RefreshTokenValidity")
    unit = (client.get("TokenValidityUnits") or {}).get("RefreshToken") or "days"
    return int(30 if value is None else value) * _SECONDS.get(unit, 86400)


# --- keys ----------------------------------------------------------------------------------------------


def _new_key() -> Doc:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    numbers = private.public_key().public_numbers()
    kid = base64.b64encode(hashlib.sha256(der).digest()).decode()
    public = {
        "alg": "RS256",
        "e": _b64(numbers.e),
        "kid": kid,
        "kty": "RSA",
        "n": _b64(numbers.n),
        "use": "sig",
    }
    return {"kid": kid, "pem": pem, "jwk": public}


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signing_key(ctx: ControlContext, pool_id: str) -> tuple[str, Any]:
    """The pool's kid and private key."""
    doc = ctx.store.get(KEY, pool_id)
    if doc is None:  # a pool always gets one at creation; a damaged store is not the caller's fault
        raise AwsError("InternalErrorException", f"User pool {pool_id} has no signing key", 500)
    return str(doc["kid"]), serialization.load_pem_private_key(doc["pem"].encode(), password=None)


def jwks(ctx: ControlContext, pool_id: str) -> Doc | None:
    doc = ctx.store.get(KEY, pool_id)
    return None if doc is None else {"keys": [doc["jwk"]]}


def discovery(ctx: ControlContext, pool_id: str, base_url: str) -> Doc | None:
    """The pool's OpenID configuration: AWS's issuer, and the JWKS where this gateway serves it."""
    if ctx.store.get(POOL, pool_id) is None:
        return None
    region = ctx.settings.region
    return {
        "issuer": issuer(region, pool_id),
        "jwks_uri": f"{base_url}/{pool_id}/.well-known/jwks.json",
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "token"],
        "subject_types_supported": ["public"],
        "scopes_supported": ["openid", "email", "phone", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }


def public_keys(ctx: ControlContext) -> dict[str, dict[str, Any]]:
    """Every local pool's public keys by issuer and kid (what token checks trust)."""
    region = ctx.settings.region
    found: dict[str, dict[str, Any]] = {}
    for doc in ctx.store.list(KEY):
        try:
            key = jwt.PyJWK(doc["jwk"], algorithm="RS256").key
        except (jwt.PyJWTError, KeyError, TypeError):
            continue
        found[issuer(region, str(doc["PoolId"]))] = {str(doc["kid"]): key}
    return found


def publish(ctx: ControlContext) -> None:
    """Hand the token checks the current pools' keys (after any change to pools, here or elsewhere)."""
    if ctx.local_issuers is not None:
        ctx.local_issuers.replace(public_keys(ctx))


# --- pools -----------------------------------------------------------------------------------------------


def _check_name(params: Doc, member: str) -> str:
    name = params.get(member)
    if not isinstance(name, str) or not 1 <= len(name) <= 128:
        field = member[:1].lower() + member[1:]
        raise invalid(
            f"1 validation error detected: Value at '{field}' failed to satisfy constraint: "
            "Member must have length between 1 and 128"
        )
    return name


async def create_user_pool(ctx: ControlContext, params: Doc) -> Doc:
    name = _check_name(params, "PoolName")
    region, account = ctx.settings.region, ctx.settings.account_id
    pool_id = f"{region}_{''.join(secrets.choice(_ALNUM) for _ in range(9))}"
    policies = params.get("Policies") or {}
    password = {**DEFAULT_PASSWORD_POLICY, **(policies.get("PasswordPolicy") or {})}
    for attribute in params.get("UsernameAttributes") or []:
        if attribute not in ("email", "phone_number"):
            raise invalid(f"Invalid UsernameAttributes: {attribute}")
    now = time.time()
    doc: Doc = {
        "Id": pool_id,
        "Name": name,
        "Arn": f"arn:aws:cognito-idp:{region}:{account}:userpool/{pool_id}",
        "Policies": {"PasswordPolicy": password},
        "UsernameAttributes": list(params.get("UsernameAttributes") or []),
        "AliasAttributes": list(params.get("AliasAttributes") or []),
        "AutoVerifiedAttributes": list(params.get("AutoVerifiedAttributes") or []),
        "SchemaAttributes": list(params.get("Schema") or []),
        "MfaConfiguration": params.get("MfaConfiguration") or "OFF",
        "AdminCreateUserConfig": params.get("AdminCreateUserConfig") or {"AllowAdminCreateUserOnly": False},
        "UsernameConfiguration": params.get("UsernameConfiguration") or {"CaseSensitive": False},
        "UserPoolTags": dict(params.get("UserPoolTags") or {}),
        "CreationDate": now,
        "LastModifiedDate": now,
        "EstimatedNumberOfUsers": 0,
    }
    if params.get("LambdaConfig"):
        doc["LambdaConfig"] = params["LambdaConfig"]  # stored; triggers are not run
    key = _new_key()
    ctx.store.insert(POOL, pool_id, doc)
    ctx.store.put(KEY, pool_id, {"PoolId": pool_id, **key}, parent=pool_id)
    publish(ctx)
    return {"UserPool": doc}


async def describe_user_pool(ctx: ControlContext, params: Doc) -> Doc:
    pool_id = pool_id_of(params)
    doc = get_pool(ctx, pool_id)
    return {"UserPool": {**doc, "EstimatedNumberOfUsers": len(ctx.store.list(USER, pool_id))}}


async def list_user_pools(ctx: ControlContext, params: Doc) -> Doc:
    limit = params.get("MaxResults")
    if not isinstance(limit, int) or not 1 <= limit <= 60:
        raise invalid("1 validation error detected: Value at 'maxResults' failed to satisfy constraint")
    pools = sorted(ctx.store.list(POOL), key=lambda d: d["Id"])
    start = str(params.get("NextToken") or "")
    page = [p for p in pools if p["Id"] > start][:limit]
    fields = ("Id", "Name", "LambdaConfig", "LastModifiedDate", "CreationDate")
    answer: Doc = {"UserPools": [{k: p[k] for k in fields if k in p} for p in page]}
    if len(page) == limit and pools and page[-1]["Id"] != pools[-1]["Id"]:
        answer["NextToken"] = page[-1]["Id"]
    return answer


async def update_user_pool(ctx: ControlContext, params: Doc) -> Doc:
    pool_id = pool_id_of(params)
    doc = get_pool(ctx, pool_id)
    if "Policies" in params:
        policy = (params.get("Policies") or {}).get("PasswordPolicy") or {}
        doc["Policies"] = {"PasswordPolicy": {**DEFAULT_PASSWORD_POLICY, **policy}}
    for member in ("AutoVerifiedAttributes", "MfaConfiguration", "AdminCreateUserConfig", "UserPoolTags"):
        if member in params:
            doc[member] = params[member]
    doc["LastModifiedDate"] = time.time()
    ctx.store.put(POOL, pool_id, doc)
    return {}


async def delete_user_pool(ctx: ControlContext, params: Doc) -> Doc:
    pool_id = pool_id_of(params)
    get_pool(ctx, pool_id)
    with ctx.store.transaction():
        ctx.store.delete_parent(pool_id)
        ctx.store.delete(POOL, pool_id)
    publish(ctx)
    return {}


# --- app clients -----------------------------------------------------------------------------------------


def _client_fields(params: Doc, current: Doc) -> Doc:
    flows = params.get("ExplicitAuthFlows")
    if flows is not None:
        unknown = [f for f in flows if f not in _AUTH_FLOWS]
        if unknown:
            raise invalid(f"Invalid ExplicitAuthFlows: {', '.join(map(str, unknown))}")
        current["ExplicitAuthFlows"] = list(flows)
    for member in CLIENT_SETTINGS:
        if member in params:
            current[member] = params[member]
    for member in ("AccessTokenValidity", "IdTokenValidity"):
        if member in current and not (
            isinstance(current[member], int) and 5 * 60 <= token_seconds(current, member) <= 86400
        ):
            raise invalid(f"{member} must be between 5 minutes and 1 day")
    return current


async def create_user_pool_client(ctx: ControlContext, params: Doc) -> Doc:
    pool_id = pool_id_of(params)
    get_pool(ctx, pool_id)
    name = _check_name(params, "ClientName")
    now = time.time()
    client_id = "".join(secrets.choice(_LOWER_ALNUM) for _ in range(26))
    doc: Doc = {
        "UserPoolId": pool_id,
        "ClientName": name,
        "ClientId": client_id,
        "CreationDate": now,
        "LastModifiedDate": now,
        "ExplicitAuthFlows": list(DEFAULT_AUTH_FLOWS),
        "RefreshTokenValidity": 30,
        "TokenValidityUnits": {},
        "PreventUserExistenceErrors": "LEGACY",
        "EnableTokenRevocation": True,
        "AllowedOAuthFlowsUserPoolClient": False,
    }
    doc = _client_fields(params, doc)
    if params.get("GenerateSecret"):
        doc["ClientSecret"] = base64.b32encode(secrets.token_bytes(32)).decode().lower().rstrip("=")[:51]
    ctx.store.insert(CLIENT, f"{pool_id}/{client_id}", doc, parent=pool_id)
    return {"UserPoolClient": doc}


async def describe_user_pool_client(ctx: ControlContext, params: Doc) -> Doc:
    return {"UserPoolClient": get_client(ctx, pool_id_of(params), params.get("ClientId"))}


async def update_user_pool_client(ctx: ControlContext, params: Doc) -> Doc:
    pool_id = pool_id_of(params)
    doc = get_client(ctx, pool_id, params.get("ClientId"))
    if "ClientName" in params:
        doc["ClientName"] = _check_name(params, "ClientName")
    doc = _client_fields(params, doc)
    doc["LastModifiedDate"] = time.time()
    ctx.store.put(CLIENT, f"{pool_id}/{doc['ClientId']}", doc, parent=pool_id)
    return {"UserPoolClient": doc}


async def list_user_pool_clients(ctx: ControlContext, params: Doc) -> Doc:
    pool_id = pool_id_of(params)
    get_pool(ctx, pool_id)
    clients = sorted(ctx.store.list(CLIENT, pool_id), key=lambda d: d["ClientId"])
    return {
        "UserPoolClients": [
            {"ClientId": c["ClientId"], "UserPoolId": pool_id, "ClientName": c["ClientName"]} for c in clients
        ]
    }


async def delete_user_pool_client(ctx: ControlContext, params: Doc) -> Doc:
    pool_id = pool_id_of(params)
    doc = get_client(ctx, pool_id, params.get("ClientId"))
    ctx.store.delete(CLIENT, f"{pool_id}/{doc['ClientId']}")
    return {}


def handlers(ctx: ControlContext) -> Mapping[str, JsonHandler]:
    return {
        "CreateUserPool": partial(create_user_pool, ctx),
        "DescribeUserPool": partial(describe_user_pool, ctx),
        "ListUserPools": partial(list_user_pools, ctx),
        "UpdateUserPool": partial(update_user_pool, ctx),
        "DeleteUserPool": partial(delete_user_pool, ctx),
        "CreateUserPoolClient": partial(create_user_pool_client, ctx),
        "DescribeUserPoolClient": partial(describe_user_pool_client, ctx),
        "UpdateUserPoolClient": partial(update_user_pool_client, ctx),
        "ListUserPoolClients": partial(list_user_pool_clients, ctx),
        "DeleteUserPoolClient": partial(delete_user_pool_client, ctx),
    }
