"""CreateVpcLink, GetVpcLink(s), UpdateVpcLink, DeleteVpcLink for HTTP APIs' private integrations.

A private integration names a load balancer listener or a Cloud Map service by ARN (``IntegrationUri``); here
``apigate serve --vpc-link-target ARN=URL`` maps that ARN to an address. The link itself is AVAILABLE at once.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from apigate.aws.errors import bad_request, not_found
from apigate.aws.wire import OperationHandler
from apigate.control.context import ControlContext
from apigate.control.v2 import common
from apigate.control.v2.common import Doc, drop_none, new_id, now

if TYPE_CHECKING:
    from apigate.dataplane.http_api import HttpApis

KIND = "v2vpclink"


def _link(ctx: ControlContext, link_id: str) -> Doc:
    doc = ctx.store.get(KIND, link_id)
    if doc is None:
        raise not_found(f"Invalid VpcLink identifier specified {link_id}")
    return doc


async def create_vpc_link(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    if not params.get("Name"):
        raise bad_request("Name is required")
    if not params.get("SubnetIds"):
        raise bad_request("SubnetIds is required")
    doc = drop_none(
        {
            "CreatedDate": now(),
            "Name": params["Name"],
            "SecurityGroupIds": params.get("SecurityGroupIds") or [],
            "SubnetIds": params["SubnetIds"],
            "Tags": params.get("Tags") or {},
            "VpcLinkId": new_id(),
            "VpcLinkStatus": "AVAILABLE",
            "VpcLinkStatusMessage": "VPC link is ready to route traffic",
            "VpcLinkVersion": "V2",
        }
    )
    ctx.store.put(KIND, doc["VpcLinkId"], doc)
    return doc


async def get_vpc_link(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    return _link(ctx, params["VpcLinkId"])


async def get_vpc_links(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    return common.page(ctx.store.list(KIND), params)


async def update_vpc_link(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> Doc:
    doc = _link(ctx, params["VpcLinkId"])
    common.merge(doc, params, ("Name",))
    ctx.store.put(KIND, doc["VpcLinkId"], doc)
    return doc


async def delete_vpc_link(ctx: ControlContext, http: HttpApis, params: dict[str, Any]) -> None:
    _link(ctx, params["VpcLinkId"])
    ctx.store.delete(KIND, params["VpcLinkId"])


def handlers(ctx: ControlContext, http: HttpApis) -> dict[str, OperationHandler]:
    return {
        "CreateVpcLink": partial(create_vpc_link, ctx, http),
        "GetVpcLink": partial(get_vpc_link, ctx, http),
        "GetVpcLinks": partial(get_vpc_links, ctx, http),
        "UpdateVpcLink": partial(update_vpc_link, ctx, http),
        "DeleteVpcLink": partial(delete_vpc_link, ctx, http),
    }
