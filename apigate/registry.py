"""What is being served right now: (api id, stage) -> compiled snapshot, replaced whole, never edited.

A host that starts with thousands of stored stages does not compile them all before serving: ConfigSync
``defer``s them, the first request to a stage compiles it (``get``), and a background task compiles the rest
a few at a time between requests. Only a miss in ``_stages`` ever looks at the deferred ones, so the hot path
is one dict lookup either way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from apigate.model import DeployedApi, PlanIndex

log = logging.getLogger("apigate")

# Reads the stage's deployment and compiles it; None: nothing to serve.
Compile = Callable[[], "DeployedApi | None"]


class Registry:
    def __init__(self) -> None:
        self._stages: dict[tuple[str, str], DeployedApi] = {}
        self._deferred: dict[tuple[str, str], Compile] = {}
        # API keys and usage plans, replaced whole on every change to them (they need no deployment).
        self.plans = PlanIndex()

    def get(self, api_id: str, stage: str) -> DeployedApi | None:
        deployed = self._stages.get((api_id, stage))
        if deployed is None and self._deferred:
            return self._compile((api_id, stage))
        return deployed

    def install(self, deployed: DeployedApi) -> None:
        # One dict assignment: a request that already holds the old snapshot finishes on it.
        key = (deployed.api_id, deployed.stage)
        self._deferred.pop(key, None)
        self._stages[key] = deployed

    def defer(self, api_id: str, stage: str, compile_stage: Compile) -> None:
        """Serve the stage as ``compile_stage`` makes it, compiled when first needed."""
        self._stages.pop((api_id, stage), None)
        self._deferred[(api_id, stage)] = compile_stage

    def known(self, api_id: str, stage: str) -> bool:
        """Served, compiled or not (without compiling it)."""
        return (api_id, stage) in self._stages or (api_id, stage) in self._deferred

    def compile_deferred(self, budget: int) -> int:
        """Compile up to ``budget`` deferred stages; how many are left."""
        for key in list(self._deferred)[:budget]:
            self._compile(key)
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
            self._stages[key] = deployed
        return deployed

    def remove(self, api_id: str, stage: str) -> None:
        self._stages.pop((api_id, stage), None)
        self._deferred.pop((api_id, stage), None)

    def remove_api(self, api_id: str) -> None:
        for key in [key for key in self._stages if key[0] == api_id]:
            del self._stages[key]
        for key in [key for key in self._deferred if key[0] == api_id]:
            del self._deferred[key]

    def stages(self) -> list[DeployedApi]:
        """The compiled stages (deferred ones are not compiled for this)."""
        return list(self._stages.values())

    def deferred(self) -> int:
        return len(self._deferred)
