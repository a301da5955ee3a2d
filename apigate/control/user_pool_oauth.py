"""Machine-to-machine sign-in to local user pools: resource servers (their custom scopes), pool domains, and the
domain's OAuth 2.0 token endpoint for the ``client_credentials`` grant, which gives an access token whose
``scope`` holds the resource server scopes a method's ``AuthorizationScopes`` (or a JWT route's scopes) ask for.

On AWS the endpoint is ``https://{domain}.auth.{region}.amazoncognito.com/oauth2/token``; the gateway answers it
for that ``Host``, and at ``/_aws/cognito-idp/{domain}/oauth2/token`` (the URL Outputs are rewritten to).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import time
import uuid
from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

import jwt
import orjson

from apigate.aws.errors import AwsError
from apigate.aws.json_rpc import JsonHandler
from apigate.control.context import ControlContext
from apigate.control.user_pools import (
    get_client,
    get_pool,
    invalid,
    issuer,
    pool_id_of,
    signing_key,
    token_seconds,
)
from apigate.server.message import Request, Response

__all__ = ["DOMAIN", "RESOURCE_SERVER", "handlers", "token_endpoint"]

DOMAIN = "userpooldomain"
RESOURCE_SERVER = "userpoolresourceserver"

Doc = dict[str, Any]

_DOMAIN_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_JSON = [("Content-Type", "application/json;charset=UTF-8"), ("Cache-Control", "no-store")]


# --- resource servers ------------------------------------------------------------------------------------


def _scopes(params: Doc) -> list[Doc]:
    scopes = params.get("Scopes") or []
    if not isinstance(scopes, list) or not all(isinstance(s, dict) and s.get("ScopeName") for s in scopes):
        raise invalid("Scopes must be a list of {ScopeName, ScopeDescription}")
    return [{"ScopeName": str(s["ScopeName"]), "ScopeDescription": str(s.get("ScopeDescription") or "")} for s in scopes]


async def create_resource_server(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    identifier = params.get("Identifier")
    if not isinstance(identifier, str) or not identifier:
        raise invalid("1 validation error detected: Value null at 'identifier' failed to satisfy constraint")
    doc = {
        "UserPoolId": pool["Id"],
        "Identifier": identifier,
        "Name": str(params.get("Name") or identifier),
        "Scopes": _scopes(params),
    }
    key = f"{pool['Id']}/{identifier}"
    if ctx.store.get(RESOURCE_SERVER, key) is not None:
        raise invalid(f"{identifier} already exists in pool {pool['Id']}.")
    ctx.store.put(RESOURCE_SERVER, key, doc, parent=pool["Id"])
    return {"ResourceServer": doc}


def _resource_server(ctx: ControlContext, params: Doc) -> tuple[str, Doc]:
    pool = get_pool(ctx, pool_id_of(params))
    key = f"{pool['Id']}/{params.get('Identifier')}"
    doc = ctx.store.get(RESOURCE_SERVER, key)
    if doc is None:
        raise AwsError("ResourceNotFoundException", f"Resource server {params.get('Identifier')} does not exist.")
    return key, doc


async def describe_resource_server(ctx: ControlContext, params: Doc) -> Doc:
    return {"ResourceServer": _resource_server(ctx, params)[1]}


async def update_resource_server(ctx: ControlContext, params: Doc) -> Doc:
    key, doc = _resource_server(ctx, params)
    doc["Name"] = str(params.get("Name") or doc["Name"])
    doc["Scopes"] = _scopes(params)
    ctx.store.put(RESOURCE_SERVER, key, doc, parent=doc["UserPoolId"])
    return {"ResourceServer": doc}


async def list_resource_servers(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    servers = sorted(ctx.store.list(RESOURCE_SERVER, pool["Id"]), key=lambda d: d["Identifier"])
    return {"ResourceServers": servers}


async def delete_resource_server(ctx: ControlContext, params: Doc) -> Doc:
    key, _ = _resource_server(ctx, params)
    ctx.store.delete(RESOURCE_SERVER, key)
    return {}


# --- domains ---------------------------------------------------------------------------------------------


async def create_user_pool_domain(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    domain = params.get("Domain")
    if not isinstance(domain, str) or not _DOMAIN_NAME.fullmatch(domain):
        raise invalid("Domain must be lower-case letters, digits and hyphens")
    if ctx.store.get(DOMAIN, domain) is not None:
        raise invalid("Domain already associated with another user pool.")
    ctx.store.put(DOMAIN, domain, {"Domain": domain, "UserPoolId": pool["Id"], "Status": "ACTIVE"}, parent=pool["Id"])
    return {}


async def describe_user_pool_domain(ctx: ControlContext, params: Doc) -> Doc:
    doc = ctx.store.get(DOMAIN, str(params.get("Domain")))
    if doc is None:
        return {"DomainDescription": {}}  # AWS answers an unknown domain with an empty description
    region = ctx.settings.region
    return {
        "DomainDescription": {
            **doc,
            "AWSAccountId": ctx.settings.account_id,
            "CloudFrontDistribution": f"{doc['Domain']}.auth.{region}.amazoncognito.com",
            "Version": "1",
        }
    }


async def delete_user_pool_domain(ctx: ControlContext, params: Doc) -> Doc:
    doc = ctx.store.get(DOMAIN, str(params.get("Domain")))
    if doc is None or doc["UserPoolId"] != params.get("UserPoolId"):
        raise invalid("No such domain or user pool exists.")
    ctx.store.delete(DOMAIN, doc["Domain"])
    return {}


# --- the token endpoint ----------------------------------------------------------------------------------


def _oauth_error(code: str, status: int = 400) -> Response:
    return Response(status, list(_JSON), orjson.dumps({"error": code}))


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str] | None:
    """(client id, secret) from HTTP Basic, else from the form (``client_secret_post``)."""
    header = request.header("authorization") or ""
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, sep, secret = decoded.partition(":")
        return (client_id, secret) if sep else None
    if "client_id" in form:
        return form["client_id"], form.get("client_secret", "")
    return None


def token_endpoint(ctx: ControlContext, domain: str, request: Request) -> Response:
    """``POST /oauth2/token`` with ``grant_type=client_credentials``: an access token for the client's scopes."""
    if request.method != "POST":
        return _oauth_error("invalid_request", 405)
    found = ctx.store.get(DOMAIN, domain)
    if found is None:
        return Response(404, list(_JSON), b'{"message":"Not Found"}')
    try:
        form = dict(parse_qsl((request.body or b"").decode(), keep_blank_values=True))
    except UnicodeDecodeError:
        return _oauth_error("invalid_request")
    if form.get("grant_type") != "client_credentials":
        return _oauth_error("unsupported_grant_type")
    credentials = _client_credentials(request, form)
    if credentials is None:
        return _oauth_error("invalid_client", 401)
    try:
        client = get_client(ctx, found["UserPoolId"], credentials[0])
    except AwsError:
        return _oauth_error("invalid_client", 401)
    secret = client.get("ClientSecret") or ""
    if not secret or not hmac.compare_digest(secret, credentials[1]):
        return _oauth_error("invalid_client", 401)
    if "client_credentials" not in (client.get("AllowedOAuthFlows") or []) or not client.get(
        "AllowedOAuthFlowsUserPoolClient"
    ):
        return _oauth_error("unauthorized_client")
    allowed = list(client.get("AllowedOAuthScopes") or [])
    asked = form.get("scope", "").split() or allowed
    if not asked or any(scope not in allowed for scope in asked):
        return _oauth_error("invalid_scope")
    pool_id = found["UserPoolId"]
    kid, key = signing_key(ctx, pool_id)
    now = int(time.time())
    seconds = token_seconds(client, "AccessTokenValidity")
    claims = {
        "sub": client["ClientId"],
        "token_use": "access",
        "scope": " ".join(asked),
        "auth_time": now,
        "iss": issuer(ctx.settings.region, pool_id),
        "exp": now + seconds,
        "iat": now,
        "version": 2,
        "jti": str(uuid.uuid4()),
        "client_id": client["ClientId"],
    }
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
    return Response(
        200, list(_JSON), orjson.dumps({"access_token": token, "expires_in": seconds, "token_type": "Bearer"})
    )


def handlers(ctx: ControlContext) -> Mapping[str, JsonHandler]:
    return {
        "CreateResourceServer": partial(create_resource_server, ctx),
        "DescribeResourceServer": partial(describe_resource_server, ctx),
        "UpdateResourceServer": partial(update_resource_server, ctx),
        "ListResourceServers": partial(list_resource_servers, ctx),
        "DeleteResourceServer": partial(delete_resource_server, ctx),
        "CreateUserPoolDomain": partial(create_user_pool_domain, ctx),
        "DescribeUserPoolDomain": partial(describe_user_pool_domain, ctx),
        "DeleteUserPoolDomain": partial(delete_user_pool_domain, ctx),
    }
