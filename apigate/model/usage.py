"""What the data plane reads about API keys, usage plans, throttles and the cache, compiled once.

API keys and usage plans change without a deployment (as on AWS), so they live in a ``PlanIndex`` the registry
swaps whole on every change to a key, a plan or a plan's keys. Stage throttles and cache settings come with the
stage and are compiled into each ``RestMethod``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from apigate.state import Limit, Quota


@dataclass(frozen=True, slots=True)
class ApiKeyEntry:
    id: str
    value: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class KeyPlan:
    """One API key's usage plan on one stage: its limits by method (``/path/VERB``) and its quota."""

    plan_id: str
    key_id: str
    method_limits: Mapping[str, tuple[Limit, ...]]  # per key per method, then per key
    default_limits: tuple[Limit, ...]  # per key only (or nothing), for methods without their own throttle
    quota: Quota | None
    usage_key: str  # the quota counter's key: "{plan id}:{key id}"


@dataclass(frozen=True, slots=True)
class PlanIndex:
    keys: Mapping[str, ApiKeyEntry] = field(default_factory=dict)  # by value
    stages: Mapping[tuple[str, str], Mapping[str, KeyPlan]] = field(
        default_factory=dict
    )  # (api, stage) -> key id ->


@dataclass(frozen=True, slots=True)
class CacheSetting:
    """A method's response cache, from the stage's method settings."""

    ttl: float
    namespace: str
    key_parameters: tuple[tuple[str, str], ...]  # (location, name): path | querystring | header
    require_authorization: bool
    unauthorized_strategy: (
        str  # FAIL_WITH_403 | SUCCEED_WITH_RESPONSE_HEADER | SUCCEED_WITHOUT_RESPONSE_HEADER
    )


@dataclass(frozen=True, slots=True)
class StageCache:
    """The stage's cache cluster: ``capacity`` bytes (from ``cacheClusterSize``)."""

    capacity: int
    size: str
