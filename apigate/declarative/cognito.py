"""``AWS::Cognito::UserPool`` and ``UserPoolClient`` in templates: local user pools (``control/user_pools.py``),
so Cognito authorizers naming a template's pool (REST ``COGNITO_USER_POOLS``, SAM ``UserPoolArn``, an HTTP API
JWT authorizer whose issuer is ``https://cognito-idp.{region}.amazonaws.com/{pool}``) verify the tokens its users
get from the gateway's cognito-idp API, with no edit.

A redeploy keeps a pool (and its users, keys and clients: tokens already handed out stay valid) and updates it in
place. ``apigate serve --user-pool {region}_{LogicalId}=ISSUER`` keeps the older behaviour for one pool: it is
not created, and its tokens come from that issuer.
"""

from __future__ import annotations

from typing import Any, Protocol

from apigate.control import user_pool_groups, user_pool_oauth, user_pool_users, user_pools
from apigate.control.context import ControlContext

Doc = dict[str, Any]

USER_POOL = "AWS::Cognito::UserPool"
CLIENT = "AWS::Cognito::UserPoolClient"
RESOURCE_SERVER = "AWS::Cognito::UserPoolResourceServer"
DOMAIN = "AWS::Cognito::UserPoolDomain"
GROUP = "AWS::Cognito::UserPoolGroup"
USER = "AWS::Cognito::UserPoolUser"
MEMBERSHIP = "AWS::Cognito::UserPoolUserToGroupAttachment"
RESOURCE_TYPES = (USER_POOL, CLIENT, RESOURCE_SERVER, DOMAIN, GROUP, USER, MEMBERSHIP)
# Properties a local pool takes but does not act on: one warning each.
_POOL_IGNORED = {
    "LambdaConfig": "triggers are not run",
    "EmailConfiguration": "no mail is sent (SignUp prints the confirmation code)",
    "SmsConfiguration": "no SMS is sent",
    "UserPoolAddOns": "advanced security is not run",
    "DeviceConfiguration": "devices are not remembered",
}
_POOL_FIELDS = (
    "Policies",
    "UsernameAttributes",
    "AliasAttributes",
    "AutoVerifiedAttributes",
    "Schema",
    "MfaConfiguration",
    "AdminCreateUserConfig",
    "UsernameConfiguration",
    "UserPoolTags",
    "LambdaConfig",
)
_CLIENT_FIELDS = ("ExplicitAuthFlows", *user_pools.CLIENT_SETTINGS)


class Run(Protocol):
    ctx: ControlContext
    physical: dict[str, tuple[str, str]]
    attributes: dict[str, dict[str, Any]]
    physical_ref: dict[str, str]
    warnings: list[str]

    def _old(self, logical_id: str, kind: str) -> str | None: ...


def given_issuer(ctx: ControlContext, logical_id: str) -> str | None:
    """The pool id ``--user-pool`` names for this logical id, when it does (the pool is then not created)."""
    pool_id = f"{ctx.settings.region}_{logical_id}"
    return pool_id if pool_id in dict(ctx.settings.user_pools) else None


def _pool_attributes(ctx: ControlContext, pool_id: str) -> Doc:
    region, account = ctx.settings.region, ctx.settings.account_id
    return {
        "Arn": f"arn:aws:cognito-idp:{region}:{account}:userpool/{pool_id}",
        "ProviderName": f"cognito-idp.{region}.amazonaws.com/{pool_id}",
        "ProviderURL": user_pools.issuer(region, pool_id),
        "UserPoolId": pool_id,
    }


async def create(run: Run, logical_id: str, kind: str, props: Doc) -> None:
    if kind == USER_POOL:
        await _pool(run, logical_id, props)
    elif kind == CLIENT:
        await _client(run, logical_id, props)
    elif kind == RESOURCE_SERVER:
        await _resource_server(run, logical_id, props)
    elif kind == DOMAIN:
        await _domain(run, logical_id, props)
    elif kind == GROUP:
        await _group(run, logical_id, props)
    elif kind == USER:
        await _user(run, logical_id, props)
    else:
        await _membership(run, logical_id, props)


async def _group(run: Run, logical_id: str, props: Doc) -> None:
    """Ref gives the group's name; its members' tokens carry ``cognito:groups``."""
    ctx, pool_id = run.ctx, str(props.get("UserPoolId") or "")
    name = str(props.get("GroupName") or logical_id)
    params = {
        "UserPoolId": pool_id,
        "GroupName": name,
        **{k: props[k] for k in ("Description", "Precedence", "RoleArn") if props.get(k) is not None},
    }
    if ctx.store.get(user_pools.POOL, pool_id) is not None:
        if ctx.store.get(user_pool_groups.GROUP, f"{pool_id}/{name}") is not None:
            await user_pool_groups.update_group(ctx, params)
        else:
            await user_pool_groups.create_group(ctx, params)
    run.physical[logical_id] = (GROUP, f"{pool_id}/{name}")
    run.physical_ref[logical_id] = name


async def _user(run: Run, logical_id: str, props: Doc) -> None:
    """A user the template makes (no password: AdminSetUserPassword gives one, as on AWS an emailed one)."""
    ctx, pool_id = run.ctx, str(props.get("UserPoolId") or "")
    pool = ctx.store.get(user_pools.POOL, pool_id)
    name = str(props.get("Username") or logical_id)
    props.get("MessageAction"), props.get("DesiredDeliveryMediums")  # nothing is sent
    user = None if pool is None else user_pool_users.find_user(ctx, pool, name)
    if pool is not None and user is None:
        params = {"UserPoolId": pool_id, "Username": name, "UserAttributes": props.get("UserAttributes") or []}
        user = (await user_pool_users.admin_create_user(ctx, params))["User"]
    username = name if user is None else str(user["Username"])
    run.physical[logical_id] = (USER, f"{pool_id}/{username}")
    run.physical_ref[logical_id] = username


async def _membership(run: Run, logical_id: str, props: Doc) -> None:
    ctx, pool_id = run.ctx, str(props.get("UserPoolId") or "")
    group, username = str(props.get("GroupName") or ""), str(props.get("Username") or "")
    if ctx.store.get(user_pools.POOL, pool_id) is not None:
        params = {"UserPoolId": pool_id, "GroupName": group, "Username": username}
        await user_pool_groups.admin_add_user_to_group(ctx, params)
    run.physical[logical_id] = (MEMBERSHIP, f"{pool_id}/{group}/{username}")


async def _resource_server(run: Run, logical_id: str, props: Doc) -> None:
    """Ref gives the identifier (what scopes are named after: ``{identifier}/{scope}``)."""
    ctx, pool_id, identifier = run.ctx, str(props.get("UserPoolId") or ""), str(props.get("Identifier") or "")
    params = {
        "UserPoolId": pool_id,
        "Identifier": identifier,
        "Name": props.get("Name"),
        "Scopes": props.get("Scopes") or [],
    }
    if ctx.store.get(user_pools.POOL, pool_id) is not None:
        if ctx.store.get(user_pool_oauth.RESOURCE_SERVER, f"{pool_id}/{identifier}") is not None:
            await user_pool_oauth.update_resource_server(ctx, params)
        else:
            await user_pool_oauth.create_resource_server(ctx, params)
    run.physical[logical_id] = (RESOURCE_SERVER, f"{pool_id}/{identifier}")
    run.attributes[logical_id] = {}
    run.physical_ref[logical_id] = identifier


async def _domain(run: Run, logical_id: str, props: Doc) -> None:
    """A pool's domain: its token endpoint answers at ``/_aws/cognito-idp/{domain}/oauth2/token``."""
    ctx, pool_id, domain = run.ctx, str(props.get("UserPoolId") or ""), str(props.get("Domain") or "")
    props.get("CustomDomainConfig"), props.get("ManagedLoginVersion")  # no hosted pages: nothing they change
    existing = ctx.store.get(user_pool_oauth.DOMAIN, domain)
    if existing is not None and existing["UserPoolId"] != pool_id:
        moved = {"UserPoolId": existing["UserPoolId"], "Domain": domain}
        await user_pool_oauth.delete_user_pool_domain(ctx, moved)
        existing = None
    if existing is None and ctx.store.get(user_pools.POOL, pool_id) is not None:
        await user_pool_oauth.create_user_pool_domain(ctx, {"UserPoolId": pool_id, "Domain": domain})
    run.physical[logical_id] = (DOMAIN, domain)
    region = ctx.settings.region
    run.attributes[logical_id] = {"CloudFrontDistribution": f"{domain}.auth.{region}.amazoncognito.com"}


async def _pool(run: Run, logical_id: str, props: Doc) -> None:
    ctx = run.ctx
    external = given_issuer(ctx, logical_id)
    if external is not None:
        run.warnings.append(
            f"{logical_id} ({USER_POOL}): not created; its tokens come from the issuer --user-pool "
            f"{external}=… names"
        )
        run.physical[logical_id] = (USER_POOL, external)
        run.attributes[logical_id] = _pool_attributes(ctx, external)
        return
    for name, why in _POOL_IGNORED.items():
        if props.get(name):
            run.warnings.append(f"{logical_id} ({USER_POOL}) property {name} is ignored: {why}")
    if props.get("MfaConfiguration") in ("ON", "OPTIONAL"):
        run.warnings.append(
            f"{logical_id} ({USER_POOL}) property MfaConfiguration {props['MfaConfiguration']} is ignored: "
            "sign-in asks for no second factor"
        )
    params: Doc = {"PoolName": str(props.get("UserPoolName") or logical_id)}
    params.update({field: props[field] for field in _POOL_FIELDS if field in props})
    old = run._old(logical_id, USER_POOL)
    if old is not None and ctx.store.get(user_pools.POOL, old) is not None:
        await user_pools.update_user_pool(ctx, {**params, "UserPoolId": old})
        pool_id = old
    else:
        pool_id = (await user_pools.create_user_pool(ctx, params))["UserPool"]["Id"]
    run.physical[logical_id] = (USER_POOL, pool_id)
    run.attributes[logical_id] = _pool_attributes(ctx, pool_id)


async def _client(run: Run, logical_id: str, props: Doc) -> None:
    ctx = run.ctx
    pool_id = str(props.get("UserPoolId") or "")
    params: Doc = {
        "UserPoolId": pool_id,
        "ClientName": str(props.get("ClientName") or logical_id),
        **{field: props[field] for field in _CLIENT_FIELDS if field in props},
    }
    old = run._old(logical_id, CLIENT)
    if ctx.store.get(user_pools.POOL, pool_id) is None:  # a pool --user-pool points elsewhere
        run.physical[logical_id] = (CLIENT, old or f"{logical_id.lower()}")
        run.attributes[logical_id] = {"ClientId": run.physical[logical_id][1], "Name": params["ClientName"]}
        return
    existing = None if old is None else ctx.store.get(user_pools.CLIENT, f"{pool_id}/{old}")
    secret_wanted = bool(props.get("GenerateSecret"))
    if existing is not None and bool(existing.get("ClientSecret")) == secret_wanted:
        doc = (await user_pools.update_user_pool_client(ctx, {**params, "ClientId": old}))["UserPoolClient"]
    else:  # new, or GenerateSecret changed (which replaces the client on AWS too)
        if existing is not None:
            await user_pools.delete_user_pool_client(ctx, {"UserPoolId": pool_id, "ClientId": old})
        doc = (
            await user_pools.create_user_pool_client(ctx, {**params, "GenerateSecret": secret_wanted})
        )["UserPoolClient"]
    run.physical[logical_id] = (CLIENT, doc["ClientId"])
    run.attributes[logical_id] = {
        "ClientId": doc["ClientId"],
        "Name": doc["ClientName"],
        **({"ClientSecret": doc["ClientSecret"]} if doc.get("ClientSecret") else {}),
    }


async def remove(ctx: ControlContext, kind: str, physical: str) -> None:
    """A pool or client the template no longer has."""
    if kind == USER_POOL and ctx.store.get(user_pools.POOL, physical) is not None:
        await user_pools.delete_user_pool(ctx, {"UserPoolId": physical})
    elif kind == RESOURCE_SERVER and ctx.store.get(user_pool_oauth.RESOURCE_SERVER, physical) is not None:
        ctx.store.delete(user_pool_oauth.RESOURCE_SERVER, physical)
    elif kind == DOMAIN and ctx.store.get(user_pool_oauth.DOMAIN, physical) is not None:
        ctx.store.delete(user_pool_oauth.DOMAIN, physical)
    elif kind == GROUP and ctx.store.get(user_pool_groups.GROUP, physical) is not None:
        ctx.store.delete(user_pool_groups.GROUP, physical)
    elif kind == USER:
        pool_id, _, username = physical.partition("/")
        pool = ctx.store.get(user_pools.POOL, pool_id)
        if pool is not None and ctx.store.get(user_pools.USER, user_pool_users.user_key(pool, username)):
            ctx.store.delete(user_pools.USER, user_pool_users.user_key(pool, username))
    elif kind == MEMBERSHIP:
        pool_id, group, username = [*physical.split("/", 2), "", ""][:3]
        pool = ctx.store.get(user_pools.POOL, pool_id)
        user = None if pool is None else user_pool_users.find_user(ctx, pool, username)
        if pool is not None and user is not None and group in (user.get("_groups") or []):
            user["_groups"] = [g for g in user["_groups"] if g != group]
            user_pool_users.save_user(ctx, pool, user)
    elif kind == CLIENT:
        for doc in ctx.store.list(user_pools.CLIENT):
            if doc["ClientId"] == physical:
                await user_pools.delete_user_pool_client(
                    ctx, {"UserPoolId": doc["UserPoolId"], "ClientId": physical}
                )
