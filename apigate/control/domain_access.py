"""Domain name access associations: which VPC endpoints may reach a private custom domain name
(CreateDomainNameAccessAssociation & co). apigate's private listener (``serve --private-listen``) stands for
one VPC endpoint (``--vpce-id``); a private domain answers there only when an association names that endpoint
and the domain's policy allows the call (the domain router checks both, dataplane/domains.py).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from apigate.aws.errors import bad_request, conflict, not_found
from apigate.aws.wire import OperationHandler
from apigate.control import domain_names
from apigate.control.common import Doc, page
from apigate.control.context import ControlContext

__all__ = ["KIND", "handlers"]

KIND = "domainaccessassociation"
_SOURCE_TYPES = ("VPCE",)
_OWNERS = ("SELF", "OTHER_ACCOUNTS")


def _private_domain(ctx: ControlContext, arn: Any) -> Doc:
    """The private domain ``arn`` names (``…:/domainnames/{name}+{id}``), or AWS's NotFound."""
    text = str(arn or "")
    name, _, domain_id = text.rpartition("/domainnames/")[2].partition("+")
    doc = ctx.store.get(domain_names.DOMAIN, name.lower()) if name else None
    if doc is None or not domain_id or doc.get("domainNameId") != domain_id or doc.get("domainNameArn") != text:
        raise not_found(f"Invalid domain name identifier specified: {text}")
    return doc


def association_arn(domain_arn: str, source: str) -> str:
    prefix, _, domain = domain_arn.partition(":/domainnames/")
    return f"{prefix}:/domainnameaccessassociations/domainname/{domain}/vpcesource/{source}"


async def create_domain_name_access_association(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    domain = _private_domain(ctx, params.get("domainNameArn"))
    source_type = params.get("accessAssociationSourceType")
    if source_type not in _SOURCE_TYPES:
        raise bad_request(f"Invalid access association source type: {source_type}. Must be one of: [VPCE]")
    source = str(params.get("accessAssociationSource") or "")
    if not source.startswith("vpce-"):
        raise bad_request(f"Invalid VPC endpoint identifier specified: {source}")
    arn = association_arn(domain["domainNameArn"], source)
    if ctx.store.get(KIND, arn) is not None:
        raise conflict("A domain name access association already exists for this domain name and source")
    doc: Doc = {
        "domainNameAccessAssociationArn": arn,
        "domainNameArn": domain["domainNameArn"],
        "accessAssociationSourceType": source_type,
        "accessAssociationSource": source,
        "tags": dict(params.get("tags") or {}),
    }
    # A child of its domain: deleting the domain deletes its associations.
    ctx.store.insert(KIND, arn, doc, parent=domain["domainName"])
    return doc


async def get_domain_name_access_associations(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    owner = params.get("resourceOwner") or "SELF"
    if owner not in _OWNERS:
        raise bad_request(f"Invalid resource owner: {owner}. Must be one of: [SELF, OTHER_ACCOUNTS]")
    if owner == "OTHER_ACCOUNTS":
        return page([], params)  # one account: no association comes from another
    items = [
        doc
        for domain in ctx.store.list(domain_names.DOMAIN)
        if domain.get("domainNameId")
        for doc in ctx.store.list(KIND, domain["domainName"])
    ]
    return page(items, params)


def _association(ctx: ControlContext, arn: Any) -> Doc:
    doc = ctx.store.get(KIND, str(arn or ""))
    name = str(doc["domainNameArn"]).rpartition("/domainnames/")[2].partition("+")[0] if doc else ""
    if doc is None or ctx.store.get(domain_names.DOMAIN, name) is None:  # another region's domain: not here
        raise not_found(f"Invalid domain name access association identifier specified: {arn}")
    return doc


async def delete_domain_name_access_association(ctx: ControlContext, params: dict[str, Any]) -> None:
    doc = _association(ctx, params.get("domainNameAccessAssociationArn"))
    ctx.store.delete(KIND, doc["domainNameAccessAssociationArn"])


async def reject_domain_name_access_association(ctx: ControlContext, params: dict[str, Any]) -> None:
    """The domain's owner ends an association (one account here: the owner of both sides)."""
    doc = _association(ctx, params.get("domainNameAccessAssociationArn"))
    if doc["domainNameArn"] != params.get("domainNameArn"):
        raise not_found(f"Invalid domain name identifier specified: {params.get('domainNameArn')}")
    ctx.store.delete(KIND, doc["domainNameAccessAssociationArn"])


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "CreateDomainNameAccessAssociation": partial(create_domain_name_access_association, ctx),
        "GetDomainNameAccessAssociations": partial(get_domain_name_access_associations, ctx),
        "DeleteDomainNameAccessAssociation": partial(delete_domain_name_access_association, ctx),
        "RejectDomainNameAccessAssociation": partial(reject_domain_name_access_association, ctx),
    }
