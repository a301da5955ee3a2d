"""StartLiveTail's session in process: its stream decoded by botocore's own event stream decoder, the sampling
beyond 500 events a second, and the end of a session at its time limit (three hours on AWS; short here)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
from botocore.eventstream import EventStreamBuffer

from apigate.control.live_tail import LiveTails
from apigate.store.log_events import LogStore

ARN = "arn:aws:logs:us-east-1:000000000000:log-group:"


def _decoded(chunks: list[bytes]) -> list[tuple[dict[str, Any], Any]]:
    """(headers, payload) of each message, as botocore's decoder reads them (prelude and message CRCs checked)."""
    buffer = EventStreamBuffer()
    for chunk in chunks:
        buffer.add_data(chunk)
    return [(message.headers, orjson.loads(message.payload)) for message in buffer]


def test_the_stream_decodes_and_samples_a_busy_second(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    now = int(time.time() * 1000)
    store.append([("g", "s", now, "before the session")], now)
    tails = LiveTails(store, "us-east-1", "000000000000", interval=0.01)

    async def scenario() -> list[bytes]:
        response = await tails.start({"logGroupIdentifiers": [ARN + "g"]})
        assert response.chunks is not None
        stream = response.chunks
        chunks = [await anext(stream), await anext(stream)]  # initial-response, sessionStart
        assert tails.open == 1
        store.append([("g", "s", now + i, f"busy {i}") for i in range(1200)], now)
        async for chunk in stream:
            chunks.append(chunk)
            if b"busy" in chunk:
                break
        await stream.aclose()  # type: ignore[attr-defined]  # an async generator
        assert tails.open == 0
        return chunks

    messages = _decoded(asyncio.run(scenario()))
    assert [headers[":event-type"] for headers, _ in messages[:2]] == ["initial-response", "sessionStart"]
    assert messages[0][1] == {}
    assert messages[1][1]["logGroupIdentifiers"] == [ARN + "g"]
    assert all(headers[":message-type"] == "event" for headers, _ in messages)
    update = messages[-1][1]
    assert update["sessionMetadata"] == {"sampled": True}
    results = update["sessionResults"]
    assert len(results) == 500  # AWS's most per update; the 1,200 sampled evenly, in order
    numbers = [int(event["message"].split()[1]) for event in results]
    assert numbers == sorted(numbers) and numbers[0] == 0 and numbers[-1] > 1100
    assert all(
        event["logGroupIdentifier"] == ARN + "g" and event["logStreamName"] == "s" for event in results
    )
    assert not any(
        event["message"] == "before the session"
        for _, doc in messages[2:]
        for event in doc.get("sessionResults", [])
    )
    store.close()


def test_a_session_ends_with_session_timeout_exception(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    now = int(time.time() * 1000)
    store.append([("g", "s", now, "x")], now)
    tails = LiveTails(store, "us-east-1", "000000000000", interval=0.01, session_seconds=0.0)

    async def scenario() -> list[bytes]:
        response = await tails.start({"logGroupIdentifiers": [ARN + "g"]})
        assert response.chunks is not None
        return [chunk async for chunk in response.chunks]  # the stream ends by itself

    messages = _decoded(asyncio.run(scenario()))
    headers, payload = messages[-1]
    assert headers[":message-type"] == "exception"
    assert headers[":exception-type"] == "SessionTimeoutException"
    assert "3 hours" in payload["message"]
    assert tails.open == 0
    store.close()
