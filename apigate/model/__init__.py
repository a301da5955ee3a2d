"""The compiled, frozen form of a deployed API: what the data plane reads on every request."""

from apigate.model.rest import (
    BodyModel,
    DeployedApi,
    IntegrationResponse,
    MethodIntegration,
    ParameterMapping,
    ParameterSource,
    RequestValidation,
    RestMethod,
    RouteMatch,
    RouteNode,
)

__all__ = [
    "BodyModel",
    "DeployedApi",
    "IntegrationResponse",
    "MethodIntegration",
    "ParameterMapping",
    "ParameterSource",
    "RequestValidation",
    "RestMethod",
    "RouteMatch",
    "RouteNode",
]
