"""What is being served right now: (api id, stage) -> compiled snapshot, replaced whole, never edited."""

from __future__ import annotations

from apigate.model import DeployedApi, PlanIndex


class Registry:
    def __init__(self) -> None:
        self._stages: dict[tuple[str, str], DeployedApi] = {}
        # API keys and usage plans, replaced whole on every change to them (they need no deployment).
        self.plans = PlanIndex()

    def get(self, api_id: str, stage: str) -> DeployedApi | None:
        return self._stages.get((api_id, stage))

    def install(self, deployed: DeployedApi) -> None:
        # One dict assignment: a request that already holds the old snapshot finishes on it.
        self._stages[(deployed.api_id, deployed.stage)] = deployed

    def remove(self, api_id: str, stage: str) -> None:
        self._stages.pop((api_id, stage), None)

    def remove_api(self, api_id: str) -> None:
        for key in [key for key in self._stages if key[0] == api_id]:
            del self._stages[key]

    def stages(self) -> list[DeployedApi]:
        return list(self._stages.values())
