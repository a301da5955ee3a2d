"""Custom domains in templates: ``AWS::CertificateManager::Certificate`` (issued by the local CA),
``AWS::ApiGateway::DomainName`` / ``BasePathMapping`` and ``AWS::ApiGatewayV2::DomainName`` / ``ApiMapping``,
created through the management handlers. A redeploy of the same stack keeps the certificate (clients trust
it already) and updates a domain in place; mappings are made again as the template says."""

from __future__ import annotations

from typing import Any, Protocol

from apigate.aws.errors import AwsError
from apigate.control import certificates, domain_names
from apigate.control.context import ControlContext
from apigate.control.v2 import domain_names as v2_domain_names

Doc = dict[str, Any]

CERTIFICATE = "AWS::CertificateManager::Certificate"
V1_DOMAIN, V1_MAPPING = "AWS::ApiGateway::DomainName", "AWS::ApiGateway::BasePathMapping"
V2_DOMAIN, V2_MAPPING = "AWS::ApiGatewayV2::DomainName", "AWS::ApiGatewayV2::ApiMapping"
RESOURCE_TYPES = (CERTIFICATE, V1_DOMAIN, V1_MAPPING, V2_DOMAIN, V2_MAPPING)
# Mappings name stages: after them (stages rank 2).
RANKS = {V1_MAPPING: 3, V2_MAPPING: 3}


class Run(Protocol):
    ctx: ControlContext
    physical: dict[str, tuple[str, str]]
    attributes: dict[str, dict[str, Any]]

    def _old(self, logical_id: str, kind: str) -> str | None: ...


def _tags(raw: Any) -> dict[str, str] | None:
    if isinstance(raw, list):  # CloudFormation's [{Key, Value}]
        return {str(t["Key"]): str(t["Value"]) for t in raw if isinstance(t, dict) and "Key" in t}
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else None


def _mtls(raw: Any, *, v2: bool) -> Doc | None:
    if not isinstance(raw, dict) or not raw.get("TruststoreUri"):
        return None
    if v2:
        return {"TruststoreUri": raw["TruststoreUri"], "TruststoreVersion": raw.get("TruststoreVersion")}
    return {"truststoreUri": raw["TruststoreUri"], "truststoreVersion": raw.get("TruststoreVersion")}


def _attributes(doc: Doc) -> Doc:
    return {
        "DistributionDomainName": doc.get("distributionDomainName"),
        "DistributionHostedZoneId": doc.get("distributionHostedZoneId"),
        "RegionalDomainName": doc.get("regionalDomainName"),
        "RegionalHostedZoneId": doc.get("regionalHostedZoneId"),
    }


async def create(run: Run, logical_id: str, kind: str, props: Doc) -> None:
    ctx = run.ctx
    if kind == CERTIFICATE:
        # The local CA issues at once: how AWS would validate the domain does not arise.
        props.get("ValidationMethod"), props.get("DomainValidationOptions")
        old = run._old(logical_id, kind)
        if old is None or ctx.store.get(certificates.KIND, old) is None:
            handlers = certificates.handlers(ctx, _ca(ctx))
            params = {
                "DomainName": props.get("DomainName"),
                "SubjectAlternativeNames": props.get("SubjectAlternativeNames"),
            }
            old = str((await handlers["RequestCertificate"](params))["CertificateArn"])  # type: ignore[index]
        run.physical[logical_id] = (kind, old)
        return
    if kind in (V1_DOMAIN, V2_DOMAIN):
        name = str(props.get("DomainName") or "").lower()
        if ctx.store.get(domain_names.DOMAIN, name) is not None:
            domain_names.delete_domain(ctx, name)  # made again as the template now says (mappings follow)
        if kind == V1_DOMAIN:
            types = (props.get("EndpointConfiguration") or {}).get("Types") or ["EDGE"]
            params = {
                "domainName": name,
                "certificateArn": props.get("CertificateArn"),
                "regionalCertificateArn": props.get("RegionalCertificateArn"),
                "endpointConfiguration": {"types": list(types)},
                "securityPolicy": props.get("SecurityPolicy"),
                "mutualTlsAuthentication": _mtls(props.get("MutualTlsAuthentication"), v2=False),
                "tags": _tags(props.get("Tags")),
            }
            doc = domain_names.new_domain(ctx, {k: v for k, v in params.items() if v is not None})
        else:
            params = {
                "DomainName": name,
                "DomainNameConfigurations": props.get("DomainNameConfigurations") or [{}],
                "MutualTlsAuthentication": _mtls(props.get("MutualTlsAuthentication"), v2=True),
                "Tags": _tags(props.get("Tags")),
            }
            doc = domain_names.new_domain(ctx, v2_domain_names.v1_params(params))
        run.physical[logical_id] = (kind, name)
        run.attributes[logical_id] = _attributes(doc)
        return
    name = str(props.get("DomainName") or "").lower()
    if kind == V1_MAPPING:
        base = domain_names.normal_base_path(props.get("BasePath"))
        api_id, stage = str(props.get("RestApiId")), props.get("Stage")
    else:
        base = domain_names.normal_base_path(props.get("ApiMappingKey"))
        api_id, stage = str(props.get("ApiId")), props.get("Stage")
    if ctx.store.get(domain_names.MAPPING, f"{name}/{base}") is not None:
        ctx.store.delete(domain_names.MAPPING, f"{name}/{base}")
    try:
        doc = domain_names.new_mapping(ctx, name, base, api_id, str(stage) if stage else None)
    except AwsError as exc:
        raise AwsError(exc.code, f"{logical_id}: {exc.message}", exc.status) from exc
    run.physical[logical_id] = (kind, str(doc["apiMappingId"]) if kind == V2_MAPPING else f"{name}/{base}")
    run.attributes[logical_id] = {"ApiMappingId": doc["apiMappingId"]}


def _ca(ctx: ControlContext) -> Any:
    from apigate.control.local_ca import LocalCa

    return LocalCa(ctx.settings.data_dir / "ca")
