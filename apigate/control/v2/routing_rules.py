"""Routing rules of custom domain names (apigatewayv2 CreateRoutingRule & co, for REST APIs): conditions on the
base path and on headers that send a request to a REST API's stage, tried by priority before (or instead of)
the domain's base path mappings, as the domain's routing mode says. The domain router applies them
(dataplane/domains.py); each rule is stored as GetRoutingRule returns it, under its domain.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from apigate.aws.errors import bad_request, conflict, not_found
from apigate.aws.ids import short_id
from apigate.aws.wire import OperationHandler
from apigate.control import domain_names as v1
from apigate.control.context import ControlContext
from apigate.control.v2.common import Doc

__all__ = ["KIND", "handlers"]

KIND = "routingrule"
_PRIORITY = range(1, 1_000_001)
_MAX_HEADER_CONDITIONS = 2


def _domain(ctx: ControlContext, params: dict[str, Any]) -> str:
    name = str(params["DomainName"]).lower()
    v1.domain(ctx, name)
    return name


def _rule(ctx: ControlContext, name: str, rule_id: str) -> Doc:
    doc = ctx.store.get(KIND, f"{name}/{rule_id}")
    if doc is None:
        raise not_found(f"Invalid routing rule identifier specified {rule_id}")
    return doc


def _glob(value: Any) -> str:
    """A header value glob: a wildcard only at its start, its end or both."""
    glob = str(value or "")
    if not glob or "*" in glob.strip("*") or glob.strip("*") == "":
        raise bad_request(f"Invalid header value glob: {glob}")
    return glob


def _conditions(raw: Any) -> list[Doc]:
    conditions: list[Doc] = []
    base_paths = headers = 0
    for condition in raw or ():
        kinds = [k for k in ("MatchBasePaths", "MatchHeaders") if condition.get(k) is not None]
        if len(kinds) != 1:
            raise bad_request("A condition must have exactly one of MatchBasePaths or MatchHeaders")
        any_of = condition[kinds[0]].get("AnyOf") or []
        if not any_of:
            raise bad_request(f"{kinds[0]} must list at least one value in AnyOf")
        if kinds[0] == "MatchBasePaths":
            base_paths += 1
            paths = [str(p).strip("/") for p in any_of]
            if any(not p for p in paths):
                raise bad_request("A base path condition cannot match the empty base path")
            conditions.append({"MatchBasePaths": {"AnyOf": paths}})
        else:
            headers += 1
            matches = [{"Header": str(h["Header"]), "ValueGlob": _glob(h.get("ValueGlob"))} for h in any_of]
            conditions.append({"MatchHeaders": {"AnyOf": matches}})
    if base_paths > 1 or headers > _MAX_HEADER_CONDITIONS:
        raise bad_request("A routing rule takes at most one base path condition and two header conditions")
    return conditions


def _actions(ctx: ControlContext, raw: Any) -> list[Doc]:
    if not isinstance(raw, list) or len(raw) != 1:
        raise bad_request("A routing rule takes exactly one action")
    invoke = raw[0]["InvokeApi"]
    api_id, stage = str(invoke["ApiId"]), str(invoke["Stage"])
    if ctx.store.get("restapi", api_id) is None:  # routing rules serve REST APIs only
        raise bad_request(f"Invalid REST API identifier specified {api_id}")
    if ctx.store.get("stage", f"{api_id}/{stage}") is None:
        raise bad_request(f"Invalid stage identifier specified {stage}")
    return [{"InvokeApi": {"ApiId": api_id, "Stage": stage, "StripBasePath": bool(invoke.get("StripBasePath"))}}]


def _priority(ctx: ControlContext, name: str, raw: Any, rule_id: str) -> int:
    if not isinstance(raw, int) or raw not in _PRIORITY:
        raise bad_request("Priority must be between 1 and 1000000")
    for other in ctx.store.list(KIND, name):
        if other["Priority"] == raw and other["RoutingRuleId"] != rule_id:
            raise conflict(f"A routing rule with priority {raw} already exists for this domain name")
    return raw


def _document(ctx: ControlContext, name: str, rule_id: str, params: dict[str, Any]) -> Doc:
    return {
        "Actions": _actions(ctx, params.get("Actions")),
        "Conditions": _conditions(params.get("Conditions")),
        "Priority": _priority(ctx, name, params.get("Priority"), rule_id),
        "RoutingRuleArn": f"arn:aws:apigateway:{ctx.region_of(name)}:{ctx.settings.account_id}"
        f":/domainnames/{name}/routingrules/{rule_id}",
        "RoutingRuleId": rule_id,
    }


async def create_routing_rule(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    name = _domain(ctx, params)
    rule_id = short_id(6)
    doc = _document(ctx, name, rule_id, params)
    ctx.store.insert(KIND, f"{name}/{rule_id}", doc, parent=name)
    return doc


async def get_routing_rule(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _rule(ctx, _domain(ctx, params), str(params["RoutingRuleId"]))


async def list_routing_rules(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    name = _domain(ctx, params)
    rules = sorted(ctx.store.list(KIND, name), key=lambda doc: int(doc["Priority"]))
    try:
        start = int(params.get("NextToken") or 0)
        limit = int(params.get("MaxResults") or 100)
    except ValueError as exc:
        raise bad_request("Invalid pagination parameters") from exc
    result: Doc = {"RoutingRules": rules[start : start + limit]}
    if start + limit < len(rules):
        result["NextToken"] = str(start + limit)
    return result


async def put_routing_rule(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    """Replace a rule whole (its id and ARN stay)."""
    name = _domain(ctx, params)
    rule_id = str(params["RoutingRuleId"])
    _rule(ctx, name, rule_id)
    doc = _document(ctx, name, rule_id, params)
    ctx.store.put(KIND, f"{name}/{rule_id}", doc, parent=name)
    return doc


async def delete_routing_rule(ctx: ControlContext, params: dict[str, Any]) -> None:
    name = _domain(ctx, params)
    rule_id = str(params["RoutingRuleId"])
    _rule(ctx, name, rule_id)
    ctx.store.delete(KIND, f"{name}/{rule_id}")


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "CreateRoutingRule": partial(create_routing_rule, ctx),
        "GetRoutingRule": partial(get_routing_rule, ctx),
        "ListRoutingRules": partial(list_routing_rules, ctx),
        "PutRoutingRule": partial(put_routing_rule, ctx),
        "DeleteRoutingRule": partial(delete_routing_rule, ctx),
    }
