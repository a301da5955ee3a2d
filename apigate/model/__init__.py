"""The compiled, frozen form of a deployed API: what the data plane reads on every request."""

from apigate.model.rest import (
    BodyModel,
    DeployedApi,
    IntegrationResponse,
    MethodIntegration,
    ParameterMapping,
    ParameterSource,
    RequestValidation,
    RestAuthorizer,
    RestMethod,
    RouteMatch,
    RouteNode,
)
from apigate.model.usage import ApiKeyEntry, CacheSetting, KeyPlan, PlanIndex, StageCache

__all__ = [
    "ApiKeyEntry",
    "BodyModel",
    "CacheSetting",
    "DeployedApi",
    "IntegrationResponse",
    "KeyPlan",
    "MethodIntegration",
    "ParameterMapping",
    "ParameterSource",
    "PlanIndex",
    "RequestValidation",
    "RestAuthorizer",
    "RestMethod",
    "RouteMatch",
    "RouteNode",
    "StageCache",
]
