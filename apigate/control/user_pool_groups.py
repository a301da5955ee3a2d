"""Groups of local user pools: CreateGroup, GetGroup, ListGroups, UpdateGroup, DeleteGroup, and membership
(AdminAddUserToGroup, AdminRemoveUserFromGroup, AdminListGroupsForUser, ListUsersInGroup). A member's tokens
carry ``cognito:groups``, ordered by the groups' precedence as Cognito orders them."""

from __future__ import annotations

import time
from collections.abc import Mapping
from functools import partial
from typing import Any

from apigate.aws.errors import AwsError
from apigate.aws.json_rpc import JsonHandler
from apigate.control.context import ControlContext
from apigate.control.user_pool_users import existing_user, public_user, save_user, user_key
from apigate.control.user_pools import USER, get_pool, invalid, pool_id_of

__all__ = ["GROUP", "group_names", "handlers"]

GROUP = "userpoolgroup"

Doc = dict[str, Any]


def _name(params: Doc) -> str:
    name = params.get("GroupName")
    if not isinstance(name, str) or not 1 <= len(name) <= 128:
        raise invalid("1 validation error detected: Value at 'groupName' failed to satisfy constraint")
    return name


def _group(ctx: ControlContext, pool_id: str, name: str) -> Doc:
    doc = ctx.store.get(GROUP, f"{pool_id}/{name}")
    if doc is None:
        raise AwsError("ResourceNotFoundException", "Group not found.")
    return doc


def group_names(ctx: ControlContext, pool_id: str, user: Doc) -> list[str]:
    """The user's groups, lowest precedence first (a group without one last), as ``cognito:groups`` lists them."""
    groups = [ctx.store.get(GROUP, f"{pool_id}/{name}") for name in user.get("_groups") or ()]
    present = [g for g in groups if g is not None]
    present.sort(key=lambda g: (g.get("Precedence") is None, g.get("Precedence") or 0, g["GroupName"]))
    return [g["GroupName"] for g in present]


async def create_group(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    name = _name(params)
    key = f"{pool['Id']}/{name}"
    if ctx.store.get(GROUP, key) is not None:
        raise AwsError("GroupExistsException", "A group with the name already exists.")
    now = time.time()
    doc: Doc = {"GroupName": name, "UserPoolId": pool["Id"], "CreationDate": now, "LastModifiedDate": now}
    for member in ("Description", "RoleArn", "Precedence"):
        if params.get(member) is not None:
            doc[member] = params[member]
    ctx.store.put(GROUP, key, doc, parent=pool["Id"])
    return {"Group": doc}


async def get_group(ctx: ControlContext, params: Doc) -> Doc:
    return {"Group": _group(ctx, pool_id_of(params), _name(params))}


async def update_group(ctx: ControlContext, params: Doc) -> Doc:
    pool_id = pool_id_of(params)
    doc = _group(ctx, pool_id, _name(params))
    for member in ("Description", "RoleArn", "Precedence"):
        if member in params:
            doc[member] = params[member]
    doc["LastModifiedDate"] = time.time()
    ctx.store.put(GROUP, f"{pool_id}/{doc['GroupName']}", doc, parent=pool_id)
    return {"Group": doc}


async def list_groups(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    return {"Groups": sorted(ctx.store.list(GROUP, pool["Id"]), key=lambda g: g["GroupName"])}


async def delete_group(ctx: ControlContext, params: Doc) -> Doc:
    pool_id = pool_id_of(params)
    doc = _group(ctx, pool_id, _name(params))
    ctx.store.delete(GROUP, f"{pool_id}/{doc['GroupName']}")  # members' lists drop it when read
    return {}


async def admin_add_user_to_group(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    group = _group(ctx, pool["Id"], _name(params))
    user = existing_user(ctx, pool, params.get("Username"))
    if group["GroupName"] not in (user.get("_groups") or []):
        user["_groups"] = [*(user.get("_groups") or []), group["GroupName"]]
        save_user(ctx, pool, user)
    return {}


async def admin_remove_user_from_group(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    group = _group(ctx, pool["Id"], _name(params))
    user = existing_user(ctx, pool, params.get("Username"))
    user["_groups"] = [g for g in user.get("_groups") or [] if g != group["GroupName"]]
    save_user(ctx, pool, user)
    return {}


async def admin_list_groups_for_user(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    user = existing_user(ctx, pool, params.get("Username"))
    names = group_names(ctx, pool["Id"], user)
    return {"Groups": [_group(ctx, pool["Id"], name) for name in names]}


async def list_users_in_group(ctx: ControlContext, params: Doc) -> Doc:
    pool = get_pool(ctx, pool_id_of(params))
    group = _group(ctx, pool["Id"], _name(params))
    members = [u for u in ctx.store.list(USER, pool["Id"]) if group["GroupName"] in (u.get("_groups") or [])]
    return {"Users": [public_user(u, listed=True) for u in sorted(members, key=lambda u: user_key(pool, u["Username"]))]}


def handlers(ctx: ControlContext) -> Mapping[str, JsonHandler]:
    return {
        "CreateGroup": partial(create_group, ctx),
        "GetGroup": partial(get_group, ctx),
        "UpdateGroup": partial(update_group, ctx),
        "ListGroups": partial(list_groups, ctx),
        "DeleteGroup": partial(delete_group, ctx),
        "AdminAddUserToGroup": partial(admin_add_user_to_group, ctx),
        "AdminRemoveUserFromGroup": partial(admin_remove_user_from_group, ctx),
        "AdminListGroupsForUser": partial(admin_list_groups_for_user, ctx),
        "ListUsersInGroup": partial(list_users_in_group, ctx),
    }
