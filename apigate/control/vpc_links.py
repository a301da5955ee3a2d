"""CreateVpcLink, GetVpcLink(s), UpdateVpcLink, DeleteVpcLink (REST APIs' links to a network load balancer).

There is no VPC here: a link is AVAILABLE at once, and an integration through it (``connectionType: VPC_LINK``)
reaches the address ``apigate serve --vpc-link-target ARN=URL`` maps the link's load balancer to; without a
mapping it reaches the integration URI's own host, as written.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from apigate.aws import patch
from apigate.aws.errors import bad_request, not_found
from apigate.aws.ids import short_id
from apigate.aws.wire import OperationHandler
from apigate.control.common import Doc, drop_none, page
from apigate.control.context import ControlContext

KIND = "vpclink"


def vpc_link(ctx: ControlContext, link_id: str) -> Doc:
    doc = ctx.store.get(KIND, link_id)
    if doc is None:
        raise not_found("Invalid VPC link identifier specified")
    return doc


async def create_vpc_link(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    name = params.get("name")
    if not name:
        raise bad_request("Name is required")
    targets = params.get("targetArns") or []
    if len(targets) != 1 or ":loadbalancer/net/" not in str(targets[0]):
        raise bad_request("A VPC link must have exactly one target: the ARN of a Network Load Balancer")
    link_id = short_id(6)
    doc = drop_none(
        {
            "id": link_id,
            "name": name,
            "description": params.get("description"),
            "targetArns": targets,
            "status": "AVAILABLE",
            "statusMessage": "Your vpc link is ready for use",
            "tags": params.get("tags") or None,
        }
    )
    ctx.store.put(KIND, link_id, doc)
    return doc


async def get_vpc_link(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return vpc_link(ctx, params["vpcLinkId"])


async def get_vpc_links(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return page(ctx.store.list(KIND), params)


async def update_vpc_link(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    doc = vpc_link(ctx, params["vpcLinkId"])
    patch.apply(
        doc,
        params.get("patchOperations") or [],
        {
            "name": patch.scalar("name", nullable=False),
            "description": patch.scalar("description", allowed_ops=("replace", "remove")),
        },
    )
    ctx.store.put(KIND, doc["id"], doc)
    return doc


async def delete_vpc_link(ctx: ControlContext, params: dict[str, Any]) -> None:
    link_id = params["vpcLinkId"]
    vpc_link(ctx, link_id)
    ctx.store.delete(KIND, link_id)


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "CreateVpcLink": partial(create_vpc_link, ctx),
        "GetVpcLink": partial(get_vpc_link, ctx),
        "GetVpcLinks": partial(get_vpc_links, ctx),
        "UpdateVpcLink": partial(update_vpc_link, ctx),
        "DeleteVpcLink": partial(delete_vpc_link, ctx),
    }
