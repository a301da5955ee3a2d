"""An API's resource policy as the management API stores it and a deployment compiles it (checked on every
request by ``dataplane/authorizers/resource_policy.py``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import orjson

from apigate.aws import arns
from apigate.aws.errors import AwsError, bad_request
from apigate.aws.policy import Policy, PolicyError, parse_policy
from apigate.model import RouteNode

_NOTHING = parse_policy({"Statement": []})  # a private API without a policy: every call is refused


def store_form(document: str | None, *, region: str, account_id: str, api_id: str) -> str | None:
    """The policy as CreateRestApi/UpdateRestApi keep it: validated, ``execute-api:/…`` shorthand resources
    expanded to the API's ARN, minified, ``/`` escaped as ``\\/`` (what GetRestApi shows on AWS)."""
    if document is None or document == "":
        return None
    try:
        parsed = orjson.loads(document)
        parse_policy(parsed)
    except (orjson.JSONDecodeError, PolicyError) as exc:
        raise bad_request("Invalid policy document. Please check the policy syntax and try again.") from exc
    prefix = arns.execute_api_prefix(region, account_id, api_id)
    statements = parsed["Statement"] if isinstance(parsed["Statement"], list) else [parsed["Statement"]]
    for statement in statements:
        for key in ("Resource", "NotResource"):
            value = statement.get(key)
            if isinstance(value, str):
                statement[key] = _expand(value, prefix)
            elif isinstance(value, list):
                statement[key] = [_expand(v, prefix) if isinstance(v, str) else v for v in value]
    return orjson.dumps(parsed).decode().replace("/", "\\/")


def _expand(resource: str, prefix: str) -> str:
    return prefix + resource[len("execute-api:") :] if resource.startswith("execute-api:/") else resource


def compile_policy(rest_api: Mapping[str, Any], *, region: str, account_id: str) -> Policy | None:
    """The API's policy for its compiled methods (None: the API has none and is not private)."""
    text = rest_api.get("policy")
    if text:
        try:  # again through store_form: an imported OpenAPI document's policy may use the shorthand
            normalized = store_form(text, region=region, account_id=account_id, api_id=rest_api["id"])
            return parse_policy(normalized or "")
        except (AwsError, PolicyError):
            return _NOTHING  # a policy that does not parse: refuse rather than open the API
    types = (rest_api.get("endpointConfiguration") or {}).get("types") or ()
    return _NOTHING if "PRIVATE" in types else None


def attach_policy(
    nodes: Iterable[RouteNode], rest_api: Mapping[str, Any], *, region: str, account_id: str
) -> None:
    """Give every compiled method of the API its resource policy (at deploy time, once per stage)."""
    policy = compile_policy(rest_api, region=region, account_id=account_id)
    if policy is None:
        return
    for node in nodes:
        for verb, method in list(node.methods.items()):
            node.methods[verb] = replace(method, resource_policy=policy)


def endpoint_type(rest_api: Mapping[str, Any]) -> str:
    types = (rest_api.get("endpointConfiguration") or {}).get("types") or ("EDGE",)
    return str(types[0])
