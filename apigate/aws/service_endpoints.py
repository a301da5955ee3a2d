"""Where an AWS service lives, and how it speaks: resolved the way botocore resolves it for an SDK client.

The endpoint of a service comes, in order, from ``apigate serve --aws-endpoint SERVICE=URL``, then botocore's own
configuration (``AWS_ENDPOINT_URL_<SERVICE_ID>``, ``AWS_ENDPOINT_URL``, the ``services`` section of the AWS config
file), else the service's real regional endpoint. So a user points apigate at a local Kinesis exactly as they point
their SDKs at it. A service's wire protocol (query, JSON 1.x with ``X-Amz-Target``, REST) is read once from
botocore's service model.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import orjson

from apigate.aws.ids import request_id
from apigate.server.message import Response

__all__ = [
    "ServiceEndpoints",
    "ServiceModel",
    "client_name",
    "service_model",
    "unserved_service_error",
    "unserved_service_message",
]

# Integration URIs name services by their endpoint prefix; botocore names a few clients otherwise.
_CLIENT_NAMES = {
    "states": "stepfunctions",
    "monitoring": "cloudwatch",
    "email": "ses",
    "elasticloadbalancing": "elbv2",
    "execute-api": "apigateway",
}
# Services whose action URIs API Gateway calls with the query protocol (Action=... in a form), even where
# botocore's model has since moved to JSON (SQS still accepts the query API; AWS's own SQS examples use it).
_QUERY_SERVICES = frozenset({"sqs", "sns", "sts", "iam", "ses", "ec2", "cloudformation", "monitoring", "rds"})

def client_name(service: str) -> str:
    """botocore's client name for a service named by its endpoint prefix (``states`` -> ``stepfunctions``)."""
    return _CLIENT_NAMES.get(service, service)


@functools.cache
def _config() -> tuple[dict[str, Any], dict[str, Any]]:
    import botocore.session

    session = botocore.session.Session()
    try:
        return session.full_config, session.get_scoped_config()
    except Exception:  # a broken or missing profile: no configured endpoints from files
        return {}, {}


class ServiceEndpoints:
    """The gateway's endpoints: ``apigate serve --aws-endpoint kinesis=http://…`` (client name or endpoint
    prefix -> URL) first, then botocore's configuration, else AWS's own."""

    def __init__(self, overrides: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = overrides.items() if isinstance(overrides, Mapping) else overrides
        self._overrides = {client_name(name.lower()): url.rstrip("/") for name, url in pairs}
        self._configured: dict[str, str | None] = {}

    def configured(self, service: str) -> str | None:
        """The endpoint the configuration names for a service (endpoint prefix or client name), else None."""
        name = client_name(service)
        if name in self._overrides:
            return self._overrides[name]
        if name not in self._configured:
            from botocore.configprovider import ConfiguredEndpointProvider

            full, scoped = _config()
            found = ConfiguredEndpointProvider(full, scoped, name, os.environ).provide()
            self._configured[name] = str(found).rstrip("/") if found else None
        return self._configured[name]

    def resolve(self, service: str, region: str, subdomain: str = "") -> str:
        """Where to send a service's requests: the configured endpoint, else AWS's own in ``region``."""
        configured = self.configured(service)
        if configured is not None:
            return configured
        if service == "s3" and subdomain:
            return f"https://{subdomain}.s3.{region}.amazonaws.com"
        prefix = f"{subdomain}." if subdomain else ""
        return f"https://{prefix}{service}.{region}.amazonaws.com"

    def environment(self) -> dict[str, str]:
        """``AWS_ENDPOINT_URL_<SERVICE_ID>`` for each service the gateway has an endpoint for (its own
        environment and ``--aws-endpoint``), to hand to function workers: their SDK calls then reach the same
        services."""
        env = {key: value for key, value in os.environ.items() if key.startswith("AWS_ENDPOINT_URL_") and value}
        for name, url in self._overrides.items():
            try:
                env[_env_name(service_model(name).service_id)] = url
            except ValueError:
                env[_env_name(name)] = url
        return env


def _env_name(service_id: str) -> str:
    return "AWS_ENDPOINT_URL_" + service_id.replace(" ", "_").upper()


@dataclass(frozen=True, slots=True)
class ServiceModel:
    endpoint_prefix: str
    service_id: str
    signing_name: str
    protocol: str  # query | json | rest-json | rest-xml
    target_prefix: str
    json_version: str
    api_version: str


@functools.cache
def service_model(service: str) -> ServiceModel:
    """What botocore's model says of a service (its URI name); ValueError for a service botocore does not know."""
    import botocore.exceptions
    import botocore.loaders

    name = client_name(service)
    try:
        metadata = botocore.loaders.create_loader().load_service_model(name, "service-2")["metadata"]
    except botocore.exceptions.UnknownServiceError:
        raise ValueError(f"unknown AWS service: {service}") from None
    protocol = str(metadata.get("protocol") or "rest-json")
    prefix = str(metadata.get("endpointPrefix") or service)
    if service in _QUERY_SERVICES or prefix in _QUERY_SERVICES or protocol == "ec2":
        protocol = "query"
    return ServiceModel(
        endpoint_prefix=prefix,
        service_id=str(metadata.get("serviceId") or name),
        signing_name=str(metadata.get("signingName") or prefix),
        protocol=protocol,
        target_prefix=str(metadata.get("targetPrefix") or ""),
        json_version=str(metadata.get("jsonVersion") or "1.0"),
        api_version=str(metadata.get("apiVersion") or ""),
    )


# Services the gateway itself answers at its root (signing names).
_SERVED = frozenset({"apigateway", "lambda", "iam", "sts", "execute-api", "cognito-idp"})


def unserved_service_message(signing_service: str | None, target: str | None) -> str | None:
    """For a call that reached the gateway but names a service it does not serve: what to configure."""
    service = signing_service or ""
    if not service and target:  # X-Amz-Target: Kinesis_20131202.PutRecord
        service = target.split(".", 1)[0].split("_", 1)[0].lower()
    if not service or service in _SERVED:
        return None
    try:
        service_id = service_model(service).service_id
    except ValueError:
        service_id = service
    return (
        f"apigate does not serve the {service_id} API and has no endpoint configured for it. Point the gateway "
        f"at a {service_id} server with `apigate serve --aws-endpoint {service}=URL` or "
        f"{_env_name(service_id)}=URL (or the AWS config file's services section): functions then get "
        "that endpoint too"
    )


def unserved_service_error(signing_service: str | None, target: str | None, message: str) -> Response:
    """``UnknownServiceException`` in the error shape of the calling SDK's protocol, so that its client raises
    an error naming the code and the message (a JSON body under an XML protocol reads as an unknown error)."""
    service = signing_service or ""
    try:
        protocol = service_model(service).protocol if service else "json"
    except ValueError:
        protocol = "json" if target else "rest-json"
    code, rid = "UnknownServiceException", request_id()
    if protocol in ("query", "ec2"):
        if service == "ec2":
            xml = (f"<Response><Errors><Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
                   f"</Errors><RequestID>{rid}</RequestID></Response>")
        else:
            xml = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{escape(message)}"
                   f"</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>")
        return Response(404, [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)], xml.encode())
    if protocol == "rest-xml":
        xml = f"<Error><Code>{code}</Code><Message>{escape(message)}</Message><RequestId>{rid}</RequestId></Error>"
        return Response(404, [("Content-Type", "application/xml"), ("x-amz-request-id", rid)], xml.encode())
    content_type = "application/x-amz-json-1.1" if protocol == "json" else "application/json"
    return Response(
        404,
        [("Content-Type", content_type), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", rid)],
        orjson.dumps({"__type": code, "message": message}),
    )
