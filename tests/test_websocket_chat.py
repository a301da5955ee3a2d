"""The chat example (examples/chat): started as the README says, driven by two WebSocket clients."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import websockets

from helpers import GatewayProcess, function_writable_dir, wait_for
from websocket_helpers import run

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "chat"


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    folder = tmp_path_factory.mktemp("chat")
    shutil.copytree(EXAMPLE, folder / "chat")  # nothing the test does touches the repository's copy
    with function_writable_dir("chat") as room_dir:
        process = GatewayProcess(
            folder / "data",
            [
                str(folder / "chat" / "template.yaml"),
                "--parameter-overrides",
                f"RoomDatabase={room_dir / 'room.sqlite3'}",
            ],
        )
        process.start()
        yield process
        process.stop()


def _apis(gateway: GatewayProcess) -> dict[str, dict[str, Any]]:
    return {api["ProtocolType"]: api for api in gateway.client("apigatewayv2").get_apis()["Items"]}


async def _next(ws: Any, kind: str) -> dict[str, Any]:
    """The next message of one type (the room may also announce others joining)."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 15))
        if message["type"] == kind:
            return message


def test_two_clients_hold_a_conversation(chat: GatewayProcess) -> None:
    api = _apis(chat)["WEBSOCKET"]["ApiId"]
    assert any(f"/_aws/execute-api/{api}/dev" in line for line in chat.output)  # the URL is printed
    url = chat.url.replace("http://", "ws://") + f"/_aws/execute-api/{api}/dev"

    async def conversation() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with websockets.connect(url + "?name=ada") as ada:
            await ada.send(json.dumps({"action": "join", "name": "ada"}))
            seen["ada joined"] = await _next(ada, "joined")
            async with websockets.connect(url + "?name=bob") as bob:
                await bob.send(json.dumps({"action": "join", "name": "bob"}))
                seen["ada sees bob"] = await _next(ada, "joined")
                await ada.send(json.dumps({"action": "sendmessage", "message": "hello bob"}))
                seen["bob hears"] = await _next(bob, "message")
                seen["ada hears herself"] = await _next(ada, "message")
                await bob.send(json.dumps({"action": "sendmessage", "message": "hi ada"}))
                seen["ada hears"] = await _next(ada, "message")
                await bob.send("what can I say?")
                seen["help"] = await _next(bob, "help")
            seen["bob left"] = await _next(ada, "left")
        return seen

    seen = run(conversation(), timeout=60)
    assert seen["ada joined"] == {"type": "joined", "from": "ada"}
    assert seen["ada sees bob"] == {"type": "joined", "from": "bob"}
    assert seen["bob hears"] == {"type": "message", "from": "ada", "message": "hello bob"}
    assert seen["ada hears herself"] == seen["bob hears"]
    assert seen["ada hears"] == {"type": "message", "from": "bob", "message": "hi ada"}
    assert "sendmessage" in seen["help"]["message"]
    assert seen["bob left"] == {"type": "left", "from": "bob"}


def test_the_page_is_served_with_the_socket_url(chat: GatewayProcess) -> None:
    apis = _apis(chat)
    page = requests.get(f"{chat.url}/_aws/execute-api/{apis['HTTP']['ApiId']}/", timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert f"/_aws/execute-api/{apis['WEBSOCKET']['ApiId']}/dev" in page.text


def test_a_template_change_redeploys_the_same_api(chat: GatewayProcess) -> None:
    before = _apis(chat)["WEBSOCKET"]["ApiId"]
    template = next(Path(arg) for arg in chat.args if arg.endswith("template.yaml"))
    template.write_text(template.read_text().replace("RouteKey: join", "RouteKey: enter"))
    wait_for(lambda: any(line.startswith("Reloaded template.yaml") for line in chat.output), timeout=20)
    assert _apis(chat)["WEBSOCKET"]["ApiId"] == before  # clients' URLs stay valid
    url = chat.url.replace("http://", "ws://") + f"/_aws/execute-api/{before}/dev?name=cy"

    async def enter() -> dict[str, Any]:
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"action": "join", "name": "cy"}))
            help_answer = await _next(ws, "help")  # "join" is no longer a route
            await ws.send(json.dumps({"action": "enter", "name": "cy"}))
            return {"help": help_answer, "joined": await _next(ws, "joined")}

    seen = run(enter(), timeout=60)
    assert seen["help"]["type"] == "help"
    assert seen["joined"] == {"type": "joined", "from": "cy"}
