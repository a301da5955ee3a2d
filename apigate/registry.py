"""What is being served right now: (api id, stage) -> compiled snapshot, replaced whole, never edited.

One stage registry for every API kind: ``Registry`` for REST APIs (with the usage plans index beside it),
``HttpApis`` and ``WebSocketApis`` (dataplane/) for apigatewayv2 APIs. A stage is installed whole, and each API's
stage dict is replaced rather than edited, so a request that already holds a snapshot finishes on it. Beside each
stage is the fingerprint of the stage document it was compiled from: reloading from the store compiles only the
stages whose document changed.

A host that starts with thousands of stored REST stages does not compile them all before serving: ConfigSync
``defer``s them, the first request to a stage compiles it (``get``), and a background task compiles the rest
a few at a time between requests. Only a miss among the compiled stages ever looks at the deferred ones, so the
hot path is the same lookups either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from apigate.model import DeployedApi, PlanIndex

__all__ = ["Compile", "CompiledStage", "DeployedStages", "Registry"]

log = logging.getLogger("apigate")

# Reads the stage's deployment and compiles it; None: nothing to serve.
Compile = Callable[[], "DeployedApi | None"]


class CompiledStage(Protocol):
    """What a stage compiles into (DeployedHttpApi, DeployedWebSocketApi)."""

    @property
    def api_id(self) -> str: ...

    @property
    def stage(self) -> str: ...


_D = TypeVar("_D", bound=CompiledStage)


class DeployedStages(Generic[_D]):
    def __init__(self) -> None:
        self._apis: dict[str, dict[str, _D]] = {}
        self._fingerprints: dict[tuple[str, str], bytes] = {}  # of the stage documents last compiled

    def __contains__(self, api_id: str) -> bool:
        return api_id in self._apis

    def declare(self, api_id: str) -> None:
        """The API exists (even with no stage yet): its requests are answered here, not by REST."""
        self._apis.setdefault(api_id, {})

    def install(self, deployed: _D) -> None:
        stages = dict(self._apis.get(deployed.api_id) or {})
        stages[deployed.stage] = deployed
        self._apis[deployed.api_id] = stages

    def get(self, api_id: str, stage: str) -> _D | None:
        return (self._apis.get(api_id) or {}).get(stage)

    def forget(self, api_id: str, stage: str) -> None:
        """Stop serving a stage: no new requests or connections (open WebSocket connections stay open)."""
        stages = dict(self._apis.get(api_id) or {})
        stages.pop(stage, None)
        self._apis[api_id] = stages

    def forget_api(self, api_id: str) -> None:
        self._apis.pop(api_id, None)

    def replace_all(self, apis: dict[str, dict[str, _D]]) -> None:
        self._apis = apis
        live = {(api_id, stage) for api_id, stages in apis.items() for stage in stages}
        self._fingerprints = {k: v for k, v in self._fingerprints.items() if k in live}

    def fingerprint(self, api_id: str, stage: str) -> bytes | None:
        return self._fingerprints.get((api_id, stage))

    def remember(self, api_id: str, stage: str, fingerprint: bytes) -> None:
        self._fingerprints[(api_id, stage)] = fingerprint

    def stages(self) -> list[_D]:
        return [deployed for stages in self._apis.values() for deployed in stages.values()]

    def stage_names(self, api_id: str) -> set[str]:
        return set(self._apis.get(api_id) or ())


class Registry(DeployedStages[DeployedApi]):
    """REST API stages, and the API keys and usage plans (replaced whole on every change: they need no deployment)."""

    def __init__(self) -> None:
        super().__init__()
        self.plans = PlanIndex()
        self._deferred: dict[tuple[str, str], Compile] = {}

    def get(self, api_id: str, stage: str) -> DeployedApi | None:
        stages = self._apis.get(api_id)  # DeployedStages.get inlined: one call less on every request
        deployed = stages.get(stage) if stages is not None else None
        if deployed is None and self._deferred:
            return self._compile((api_id, stage))
        return deployed

    def install(self, deployed: DeployedApi) -> None:
        self._deferred.pop((deployed.api_id, deployed.stage), None)
        super().install(deployed)

    def forget(self, api_id: str, stage: str) -> None:
        self._deferred.pop((api_id, stage), None)
        super().forget(api_id, stage)

    def forget_api(self, api_id: str) -> None:
        for key in [key for key in self._deferred if key[0] == api_id]:
            del self._deferred[key]
        super().forget_api(api_id)

    def defer(self, api_id: str, stage: str, compile_stage: Compile) -> None:
        """Serve the stage as ``compile_stage`` makes it, compiled when first needed."""
        super().forget(api_id, stage)
        self._deferred[(api_id, stage)] = compile_stage

    def known(self, api_id: str, stage: str) -> bool:
        """Served, compiled or not (without compiling it)."""
        return super().get(api_id, stage) is not None or (api_id, stage) in self._deferred

    def compile_deferred(self, budget: int) -> int:
        """Compile up to ``budget`` deferred stages; how many are left."""
        for key in list(self._deferred)[:budget]:
            self._compile(key)
        return len(self._deferred)

    def deferred(self) -> int:
        return len(self._deferred)

    def _compile(self, key: tuple[str, str]) -> DeployedApi | None:
        compile_stage = self._deferred.pop(key, None)
        if compile_stage is None:
            return None
        try:
            deployed = compile_stage()
        except Exception:
            log.exception("stage %s of %s could not be compiled", key[1], key[0])
            return None
        if deployed is not None:
            super().install(deployed)
        return deployed
