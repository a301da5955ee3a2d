"""Canary releases: a stage's ``canarySettings`` compiled into a second snapshot of the stage that takes
``percentTraffic`` percent of its requests (chosen per request, see ``pick``).

The canary is the stage compiled from the canary's deployment with ``stageVariableOverrides`` laid over the
stage's variables; it shares the stage cache only with ``useStageCache``. Promotion (UpdateStage moving
``deploymentId`` and removing ``canarySettings``) is a plain stage save: the next compile has no canary.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from apigate.model import DeployedApi

__all__ = ["attach_canary", "pick"]

_random = random.Random()


def attach_canary(
    deployed: DeployedApi,
    stage: Mapping[str, Any],
    snapshot_of: Callable[[str], Any],
    compile_stage: Callable[[Any, Mapping[str, Any]], DeployedApi],
) -> DeployedApi:
    """``deployed`` with its canary attached when the stage has one (``snapshot_of(deployment id)`` loads the
    canary deployment's snapshot, ``compile_stage(snapshot, stage)`` compiles it)."""
    settings = stage.get("canarySettings")
    if not settings:
        return deployed
    percent = float(settings.get("percentTraffic") or 0.0)
    deployment_id = settings.get("deploymentId") or stage["deploymentId"]
    snapshot = snapshot_of(deployment_id)
    if snapshot is None:
        return deployed
    variables = {**(stage.get("variables") or {}), **(settings.get("stageVariableOverrides") or {})}
    canary_stage = {**stage, "deploymentId": deployment_id, "variables": variables}
    canary_stage.pop("canarySettings", None)
    canary = replace(compile_stage(snapshot, canary_stage), is_canary=True)
    if not settings.get("useStageCache"):
        canary = replace(canary, cache=None)
    return replace(deployed, canary=canary, canary_percent=percent)


def pick(deployed: DeployedApi) -> DeployedApi:
    """The snapshot one request is served by: the canary for ``canary_percent`` percent of requests."""
    canary = deployed.canary
    if canary is not None and _random.random() * 100.0 < deployed.canary_percent:
        return canary
    return deployed
