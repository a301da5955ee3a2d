"""The chat example in a real browser: two tabs of headless Chromium, driven through the DevTools protocol, talk
through the WebSocket API (the page comes from the example's own HTTP API)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from console_helpers import CHROMIUM, NEEDS_CHROMIUM, chromium
from helpers import GatewayProcess, function_writable_dir
from websocket_helpers import run

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "chat"


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    folder = tmp_path_factory.mktemp("chat-browser")
    shutil.copytree(EXAMPLE, folder / "chat")
    with function_writable_dir("chat-browser") as room_dir:
        process = GatewayProcess(
            folder / "data",
            [
                str(folder / "chat" / "template.yaml"),
                "--no-watch",
                "--parameter-overrides",
                f"RoomDatabase={room_dir / 'room.sqlite3'}",
            ],
        )
        process.start()
        yield process
        process.stop()


def _join(name: str) -> str:
    return (
        f"document.querySelector('#join input').value = {json.dumps(name)};"
        "document.querySelector('#join button').click(); true"
    )


def _say(text: str) -> str:
    return (
        f"document.querySelector('#send input').value = {json.dumps(text)};"
        "document.querySelector('#send button').click(); true"
    )


_LOG = "document.getElementById('log').innerText"


@pytest.mark.skipif(CHROMIUM is None, reason=NEEDS_CHROMIUM)
def test_two_browser_tabs_chat(chat: GatewayProcess) -> None:
    apis = {a["ProtocolType"]: a["ApiId"] for a in chat.client("apigatewayv2").get_apis()["Items"]}
    page = f"{chat.url}/_aws/execute-api/{apis['HTTP']}/"

    async def conversation() -> tuple[str, str]:
        async with chromium() as browser:
            ada, bob = await browser.page(), await browser.page()
            for tab in (ada, bob):
                await tab.goto(page)
                await tab.until("!!document.querySelector('#join')")
            await ada.evaluate(_join("ada"))
            await ada.until(f"{_LOG}.includes('ada joined')")
            await bob.evaluate(_join("bob"))
            await ada.until(f"{_LOG}.includes('bob joined')")
            await bob.until("!document.querySelector('#send input').disabled")
            await ada.evaluate(_say("hello from a tab"))
            await bob.until(f"{_LOG}.includes('ada: hello from a tab')")
            await bob.evaluate(_say("hi ada"))
            await ada.until(f"{_LOG}.includes('bob: hi ada')")
            return await ada.evaluate(_LOG), await bob.evaluate(_LOG)

    ada_log, bob_log = run(conversation(), timeout=90)
    assert [line for line in ada_log.splitlines() if line][:2] == ["ada joined", "bob joined"]
    assert "ada: hello from a tab" in ada_log and "bob: hi ada" in bob_log
