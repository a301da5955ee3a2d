"""How the gateway reaches other AWS services: where each one lives, and the keys it signs with. One per
gateway (its settings), handed to whatever calls a service: integrations and truststore downloads."""

from __future__ import annotations

from dataclasses import dataclass, field

from apigate.aws.service_credentials import ServiceCredentials
from apigate.aws.service_endpoints import ServiceEndpoints

__all__ = ["ServiceAccess"]


@dataclass(frozen=True, slots=True)
class ServiceAccess:
    endpoints: ServiceEndpoints = field(default_factory=ServiceEndpoints)
    credentials: ServiceCredentials = field(default_factory=ServiceCredentials)
