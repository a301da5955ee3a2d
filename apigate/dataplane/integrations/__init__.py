"""Integrations by type: each a small class with ``async invoke(inv) -> Response``."""

from __future__ import annotations

from apigate.dataplane.integrations.aws_service import AwsIntegration
from apigate.dataplane.integrations.base import Integration, IntegrationServices
from apigate.dataplane.integrations.http import HttpIntegration
from apigate.dataplane.integrations.http_proxy import HttpProxyIntegration
from apigate.dataplane.integrations.lambda_proxy import LambdaProxyIntegration
from apigate.dataplane.integrations.mock import MockIntegration


def build(services: IntegrationServices) -> dict[str, Integration]:
    return {
        "MOCK": MockIntegration(),
        "HTTP": HttpIntegration(services),
        "HTTP_PROXY": HttpProxyIntegration(services),
        "AWS": AwsIntegration(services),  # a function, or any other AWS service
        "AWS_PROXY": LambdaProxyIntegration(services),
    }


__all__ = ["Integration", "IntegrationServices", "build"]
