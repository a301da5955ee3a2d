"""WebSocket limits as AWS sets them: 32 KB frames, 128 KB messages (close 1009), idle and duration timeouts,
and pings answered by the gateway. The timeouts are shortened through `apigate serve` options."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from helpers import GatewayProcess
from websocket_helpers import ECHO, RECORDER, SocketApi, run, wait_for_events


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = GatewayProcess(
        tmp_path_factory.mktemp("ws-short"),
        ["--websocket-idle-timeout", "1", "--websocket-max-duration", "3"],
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def echo(gateway: GatewayProcess) -> SocketApi:
    api = SocketApi(gateway)
    api.route("$default", api.integration(api.function(ECHO)), two_way=True)
    api.deploy()
    return api


def _closed_with(error: ConnectionClosed) -> tuple[int | None, str | None]:
    close = error.rcvd
    return (close.code, close.reason) if close is not None else (None, None)


def test_a_frame_over_32_kb_closes_the_connection_with_1009(echo: SocketApi) -> None:
    async def send() -> tuple[int | None, str | None]:
        async with websockets.connect(echo.url(), max_size=None) as ws:
            await ws.send("x" * (32 * 1024))  # exactly the limit: fine
            assert len(json.loads(await ws.recv())["body"]) == 32 * 1024
            await ws.send("x" * (32 * 1024 + 1))
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            return _closed_with(closed.value)

    code, _ = run(send())
    assert code == 1009


def test_a_message_over_128_kb_in_small_frames_closes_with_1009(echo: SocketApi) -> None:
    async def fragments(size: int) -> Any:
        async with websockets.connect(echo.url(), max_size=None) as ws:
            chunk = "y" * (16 * 1024)
            pieces = [chunk] * (size // len(chunk)) + (["y"] if size % len(chunk) else [])
            await ws.send(iter(pieces))  # one message, several frames
            try:
                return len(json.loads(await ws.recv())["body"])
            except ConnectionClosed as closed:
                return _closed_with(closed)

    assert run(fragments(128 * 1024)) == 128 * 1024  # at the limit, fragmented: delivered whole
    assert run(fragments(128 * 1024 + 1))[0] == 1009


def test_pings_are_answered_by_the_gateway(echo: SocketApi) -> None:
    async def ping() -> float:
        async with websockets.connect(echo.url(), ping_interval=None) as ws:
            pong = await ws.ping(b"are you there")
            return await asyncio.wait_for(pong, 5)

    assert run(ping()) >= 0


def test_an_idle_connection_is_closed_with_1001_and_disconnect_runs(
    short_lived: GatewayProcess, function_dir: Path
) -> None:
    api = SocketApi(short_lived)
    recorder = api.integration(api.function(RECORDER, Environment={"Variables": {"OUT_DIR": str(function_dir)}}))
    api.route("$disconnect", recorder)
    api.route("$default", recorder, two_way=True)
    api.deploy()

    async def idle() -> tuple[str, tuple[int | None, str | None]]:
        async with websockets.connect(api.url(), ping_interval=None) as ws:
            await ws.send("hello")
            connection_id = str(await ws.recv())
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()  # say nothing: the gateway closes an idle connection
            return connection_id, _closed_with(closed.value)

    connection_id, (code, reason) = run(idle())
    assert (code, reason) == (1001, "Going away")
    (event,) = wait_for_events(function_dir, "DISCONNECT", connection_id)
    assert event["requestContext"]["disconnectStatusCode"] == 1001


def test_a_busy_connection_still_ends_at_the_maximum_duration(short_lived: GatewayProcess) -> None:
    api = SocketApi(short_lived)
    api.route("$default", api.integration(api.function(ECHO)), two_way=True)
    api.deploy()

    async def busy() -> tuple[int, tuple[int | None, str | None]]:
        async with websockets.connect(api.url(), ping_interval=None) as ws:
            answered = 0
            try:
                while True:  # active all along: only the duration limit ends it
                    await ws.send("still here")
                    await ws.recv()
                    answered += 1
                    await asyncio.sleep(0.3)
            except ConnectionClosed as closed:
                return answered, _closed_with(closed)

    answered, (code, _) = run(busy())
    assert code == 1001
    assert answered > 3  # it outlived the 1 s idle timeout


def test_binary_frames_assembled_from_continuations(echo: SocketApi) -> None:
    async def send() -> dict[str, Any]:
        async with websockets.connect(echo.url()) as ws:
            await ws.send(iter([b"ab", b"cd"]))
            return json.loads(await ws.recv())

    event = run(send())
    assert event["isBase64Encoded"] is True and event["body"] == "YWJjZA=="


def test_posts_to_a_client_that_never_reads_get_429_once_its_buffer_is_full(echo: SocketApi) -> None:
    from botocore.exceptions import ClientError

    client = echo.connections()

    async def stalled() -> tuple[int, str, str]:
        reader, writer = await asyncio.open_connection("127.0.0.1", echo.gateway.port)
        writer.write(
            f"GET /_aws/execute-api/{echo.id}/dev HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: c3RhbGxlZCBjbGllbnQhIQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            "\x81\x82abcd\x0f\x0a".encode("latin-1")  # one masked text frame: "no" (the gateway echoes it)
        )
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
        frame = await reader.readexactly(2)
        length = frame[1] & 0x7F
        length = (
            int.from_bytes(await reader.readexactly(2 if length == 126 else 8), "big")
            if length >= 126
            else length
        )
        event = json.loads(await reader.readexactly(length))
        connection_id = event["requestContext"]["connectionId"]
        # from here on the client reads nothing
        loop = asyncio.get_running_loop()
        posted, error = 0, ""
        while posted < 2000:
            try:
                await loop.run_in_executor(
                    None,
                    lambda: client.post_to_connection(ConnectionId=connection_id, Data=b"z" * (128 * 1024)),
                )
            except ClientError as exc:
                error = exc.response["Error"]["Code"]
                break
            posted += 1
        async with websockets.connect(echo.url()) as other:  # everyone else is still served
            await other.send("still fine")
            answer = json.loads(await other.recv())["body"]
        writer.close()
        return posted, error, answer

    posted, error, answer = run(stalled(), timeout=120)
    assert error == "LimitExceededException"
    assert posted > 8  # at least the 1 MiB the gateway buffers went out first
    assert answer == "still fine"


def test_a_client_sending_faster_than_answers_come_gets_every_answer(echo: SocketApi) -> None:
    async def flood() -> list[str]:
        async with websockets.connect(echo.url()) as ws:
            for n in range(300):  # far more than the gateway handles at once for one connection
                await ws.send(f"m{n}")
            return sorted([json.loads(await ws.recv())["body"] for _ in range(300)], key=lambda m: int(m[1:]))

    assert run(flood(), timeout=90) == [f"m{n}" for n in range(300)]
