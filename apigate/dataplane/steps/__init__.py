"""Data plane steps: API keys, throttling and quotas, request validation, the response cache, metrics.

Each is a small class whose instances are ``async def step(inv) -> None`` callables; ``pipeline.py`` orders them.
Where every step of a REST API request lives (docs/architecture.md has the picture):

- routing: ``dataplane/routing.py``
- authorization: ``dataplane/authorizers/`` (``resource_policy.py``, ``iam.py``, ``step.py`` for Lambda and
  Cognito authorizers, ``function_answer.py`` the Lambda core shared with HTTP and WebSocket APIs)
- API key, throttle and quota, validation, cache: here
- mapping ($context, $input, parameter mappings, VTL): ``dataplane/mapping/``
- the integration: ``dataplane/integrations/`` (functions through ``dataplane/function_call.py``, the Lambda proxy
  formats in ``dataplane/lambda_proxy/``)
- gateway responses: ``dataplane/responses/``
"""

from apigate.dataplane.steps.api_key import ApiKeyStep
from apigate.dataplane.steps.cache import CacheLookupStep, CacheStoreStep
from apigate.dataplane.steps.metrics import Metrics, MetricsStep
from apigate.dataplane.steps.throttle import ThrottleStep

__all__ = ["ApiKeyStep", "CacheLookupStep", "CacheStoreStep", "Metrics", "MetricsStep", "ThrottleStep"]
