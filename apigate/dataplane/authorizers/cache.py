"""Authorizer results cached per stage and identity, for ``authorizerResultTtlInSeconds``.

The cache lives in this process's memory, also when throttles and quotas are shared through Redis: a result is
cheap to recompute (one more authorizer call) and holds a parsed policy that does not serialise for free. Each
stage keeps at most ``max_entries`` results, dropping the least recently used first.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable

from apigate.dataplane.authorizers.result import AuthResult

StageKey = tuple[str, str]  # (api id, stage name)


class AuthorizerCache:
    __slots__ = ("_max", "_stages")

    def __init__(self, max_entries: int = 10_000) -> None:
        self._max = max_entries
        self._stages: dict[StageKey, OrderedDict[Hashable, tuple[float, AuthResult]]] = {}

    def get(self, stage: StageKey, key: Hashable) -> AuthResult | None:
        entries = self._stages.get(stage)
        if entries is None:
            return None
        found = entries.get(key)
        if found is None:
            return None
        if found[0] <= time.monotonic():
            del entries[key]
            return None
        entries.move_to_end(key)
        return found[1]

    def put(self, stage: StageKey, key: Hashable, result: AuthResult, ttl_seconds: float) -> None:
        entries = self._stages.setdefault(stage, OrderedDict())
        entries[key] = (time.monotonic() + ttl_seconds, result)
        entries.move_to_end(key)
        while len(entries) > self._max:
            entries.popitem(last=False)

    def flush(self, api_id: str, stage: str) -> None:
        """FlushStageAuthorizersCache: the stage's next requests call their authorizers again."""
        self._stages.pop((api_id, stage), None)

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._stages.values())
