"""The compiled, frozen form of a deployed API: what the data plane reads on every request."""

from apigate.model.rest import (
    BodyModel,
    CustomResponse,
    DeployedApi,
    IntegrationResponse,
    MethodIntegration,
    ParameterMapping,
    ParameterSource,
    RequestValidation,
    RestAuthorizer,
    RestMethod,
    RouteNode,
)
from apigate.model.usage import ApiKeyEntry, CacheSetting, KeyPlan, PlanIndex, StageCache

__all__ = [
    "ApiKeyEntry",
    "BodyModel",
    "CacheSetting",
    "CustomResponse",
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
    "RouteNode",
    "StageCache",
]
