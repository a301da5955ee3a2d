"""The compiled, frozen form of a deployed API: what the data plane reads on every request."""

from apigate.model.rest import (
    DeployedApi,
    IntegrationResponse,
    MethodIntegration,
    RestMethod,
    RouteMatch,
    RouteNode,
)

__all__ = ["DeployedApi", "IntegrationResponse", "MethodIntegration", "RestMethod", "RouteMatch", "RouteNode"]
