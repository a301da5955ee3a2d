"""A host with many stored stages starts before compiling them (registry.py): the first request to a stage,
or the background task, compiles it; changes and deletions meanwhile win over the deferred compile.

The gateway here is built in-process on a data dir a real gateway process wrote, with the threshold lowered
so that three APIs count as "many".
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import requests

from apigate.app import Gateway
from apigate.config import Settings
from apigate.control import sync

from helpers import GatewayProcess, RestApi, unique


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    data = tmp_path_factory.mktemp("deferred")
    writer = GatewayProcess(data)
    writer.start()
    ids = []
    for color in ("red", "green", "blue"):
        api = RestApi(writer.client("apigateway"), unique("many"))
        api.mock("/c", "GET", f'{{"color": "{color}"}}')
        api.deploy("prod")
        ids.append(api.id)
    assert requests.get(writer.invoke_url(ids[0], "prod", "/c"), timeout=5).json() == {"color": "red"}
    writer.stop()
    return data, ids


def test_stages_are_deferred_at_start_and_compiled_on_first_use(
    stored: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, ids = stored
    monkeypatch.setattr(sync, "DEFER_ABOVE", 1)
    gateway = Gateway(Settings(data_dir=data))
    registry = gateway.registry
    try:
        assert registry.deferred() == 3 and registry.stages() == []
        assert all(registry.known(api_id, "prod") for api_id in ids)
        first = registry.get(ids[1], "prod")  # a request's lookup compiles it
        assert first is not None and first.api_id == ids[1] and registry.deferred() == 2
        assert registry.get(ids[1], "prod") is first  # once
        assert registry.get(ids[1], "nope") is None
        registry.forget_api(ids[2])  # deleted before it was ever compiled: never served
        assert registry.get(ids[2], "prod") is None and registry.deferred() == 1
        assert registry.compile_deferred(10) == 0
        assert {d.api_id for d in registry.stages()} == {ids[0], ids[1]}
    finally:
        asyncio.run(gateway.close())


def test_the_background_task_compiles_every_deferred_stage(
    stored: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = stored[0]
    monkeypatch.setattr(sync, "DEFER_ABOVE", 1)
    monkeypatch.setattr(sync, "_DEFERRED_BATCH", 1)

    async def run() -> int:
        gateway = Gateway(Settings(data_dir=data))
        try:
            assert gateway.registry.deferred() == 3
            gateway.start_sync()
            while gateway.registry.deferred():
                await asyncio.sleep(0)
            return len(gateway.registry.stages())
        finally:
            await gateway.close()

    assert asyncio.run(run()) == 3


def test_few_stages_are_compiled_before_serving(stored: tuple[Path, list[str]]) -> None:
    gateway = Gateway(Settings(data_dir=stored[0]))
    try:
        assert gateway.registry.deferred() == 0 and len(gateway.registry.stages()) == 3
    finally:
        asyncio.run(gateway.close())
