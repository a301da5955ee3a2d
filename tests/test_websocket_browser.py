"""The chat example in a real browser: two tabs of headless Chromium, driven through the DevTools protocol, talk
through the WebSocket API (the page comes from the example's own HTTP API)."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from helpers import GatewayProcess, function_writable_dir
from websocket_helpers import run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
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


class DevTools:
    """A minimal Chrome DevTools protocol client: open tabs, evaluate JavaScript in them."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._ids = itertools.count(1)

    async def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        message: dict[str, Any] = {"id": call_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        await self._connection.send(json.dumps(message))
        while True:  # events arrive in between; answers carry our id
            answer = json.loads(await self._connection.recv())
            if answer.get("id") == call_id:
                if "error" in answer:
                    raise AssertionError(answer["error"])
                return dict(answer.get("result") or {})

    async def tab(self, url: str) -> str:
        target = (await self.call("Target.createTarget", url=url))["targetId"]
        return str((await self.call("Target.attachToTarget", targetId=target, flatten=True))["sessionId"])

    async def evaluate(self, session: str, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    async def until(self, session: str, expression: str, timeout: float = 20.0) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            value = await self.evaluate(session, expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"never true in the page: {expression}")


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


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt-get install chromium)")
def test_two_browser_tabs_chat(chat: GatewayProcess) -> None:
    assert CHROMIUM is not None
    apis = {a["ProtocolType"]: a["ApiId"] for a in chat.client("apigatewayv2").get_apis()["Items"]}
    page = f"{chat.url}/_aws/execute-api/{apis['HTTP']}/"
    with tempfile.TemporaryDirectory() as profile:
        browser = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        drain: threading.Thread | None = None
        try:
            assert browser.stderr is not None
            endpoint = ""
            for line in browser.stderr:
                found = re.search(r"DevTools listening on (ws://\S+)", line)
                if found:
                    endpoint = found.group(1)
                    break
            assert endpoint, "Chromium did not start its DevTools endpoint"
            # keep draining its log so that Chromium never blocks on a full pipe
            drain = threading.Thread(target=browser.stderr.read, daemon=True)
            drain.start()

            async def conversation() -> tuple[str, str]:
                async with websockets.connect(endpoint, max_size=None) as connection:
                    tools = DevTools(connection)
                    ada, bob = await tools.tab(page), await tools.tab(page)
                    for tab in (ada, bob):
                        await tools.until(
                            tab, "document.readyState === 'complete' && !!document.querySelector('#join')"
                        )
                    await tools.evaluate(ada, _join("ada"))
                    await tools.until(ada, f"{_LOG}.includes('ada joined')")
                    await tools.evaluate(bob, _join("bob"))
                    await tools.until(ada, f"{_LOG}.includes('bob joined')")
                    await tools.until(bob, "!document.querySelector('#send input').disabled")
                    await tools.evaluate(ada, _say("hello from a tab"))
                    await tools.until(bob, f"{_LOG}.includes('ada: hello from a tab')")
                    await tools.evaluate(bob, _say("hi ada"))
                    await tools.until(ada, f"{_LOG}.includes('bob: hi ada')")
                    return await tools.evaluate(ada, _LOG), await tools.evaluate(bob, _LOG)

            ada_log, bob_log = run(conversation(), timeout=90)
        finally:
            browser.terminate()
            browser.wait(timeout=20)
            if drain is not None:
                drain.join(timeout=5)
            if browser.stderr is not None:
                browser.stderr.close()
    assert [line for line in ada_log.splitlines() if line][:2] == ["ada joined", "bob joined"]
    assert "ada: hello from a tab" in ada_log and "bob: hi ada" in bob_log
