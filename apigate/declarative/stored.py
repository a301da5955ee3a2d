"""Resources apigate accepts but does not serve yet: recorded in the stack with one warning each that names them
and says what happens instead, and references to them that give values saying so (or, where the value is known
locally, the value).

SSM parameters are stored for real: ``AWS::SSM::Parameter`` resources are kept in apigate's store, and a template
parameter of type ``AWS::SSM::Parameter::Value<…>`` reads them by name.
"""

from __future__ import annotations

from typing import Any, Protocol

from apigate.control.context import ControlContext

Doc = dict[str, Any]

SSM_PARAMETER = "AWS::SSM::Parameter"
_LATER = {
    "AWS::ApiGateway::DomainNameV2": "private custom domains are recorded only; call the API by its URL",
    "AWS::ApiGateway::BasePathMappingV2": "private custom domains are recorded only; call the API by its URL",
    "AWS::ApiGateway::VpcLink": "VPC links are recorded only; integrations through them call their URI directly",
    "AWS::ApiGatewayV2::VpcLink": "VPC links are recorded only; integrations through them call their URI directly",
    "AWS::ApiGateway::ClientCertificate": "client certificates are recorded only; upstream calls present none",
    "AWS::ApiGateway::Account": "the CloudWatch role is recorded only; apigate keeps its own logs",
    "AWS::Lambda::LayerVersionPermission": "layer permissions are recorded only; every function may use a layer",
    "AWS::Lambda::Url": "function URLs are not served; call the function through an API",
}
RESOURCE_TYPES = (*_LATER, SSM_PARAMETER)


class Run(Protocol):
    ctx: ControlContext
    physical: dict[str, tuple[str, str]]
    attributes: dict[str, dict[str, Any]]
    warnings: list[str]


def create(run: Run, logical_id: str, kind: str, props: Doc) -> None:
    if kind == SSM_PARAMETER:
        name = str(props.get("Name") or f"/apigate/{logical_id}")
        run.ctx.store.put(
            "ssm-parameter",
            name,
            {"Name": name, "Type": props.get("Type") or "String", "Value": str(props.get("Value", ""))},
        )
        run.physical[logical_id] = (kind, name)
        run.attributes[logical_id] = {
            "Type": props.get("Type") or "String",
            "Value": str(props.get("Value", "")),
        }
        return
    run.warnings.append(f"stored {logical_id} ({kind}): {_LATER[kind]}")
    physical, attributes = _values(run, logical_id, kind, props)
    run.physical[logical_id] = (kind, physical)
    run.attributes[logical_id] = attributes


def _values(run: Run, logical_id: str, kind: str, props: Doc) -> tuple[str, dict[str, Any]]:
    """What Ref and GetAtt give: a value that says the resource is only stored."""
    return f"stored:{kind}:{logical_id}", {}


def ssm_value(ctx: ControlContext, name: str) -> str | None:
    doc = ctx.store.get("ssm-parameter", name)
    return None if doc is None else str(doc["Value"])
