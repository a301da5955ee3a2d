"""Data plane steps that need shared state: API keys, throttling and quotas, the response cache, metrics.

Each is a small class whose instances are ``async def step(inv) -> None`` callables; ``pipeline.py`` orders them.
"""

from apigate.dataplane.steps.api_key import ApiKeyStep
from apigate.dataplane.steps.cache import CacheLookupStep, CacheStoreStep
from apigate.dataplane.steps.metrics import Metrics, MetricsStep
from apigate.dataplane.steps.throttle import ThrottleStep

__all__ = ["ApiKeyStep", "CacheLookupStep", "CacheStoreStep", "Metrics", "MetricsStep", "ThrottleStep"]
