"""StartLiveTail (#19) with boto3 against a running gateway: the event stream boto3 iterates, a function's lines
arriving as it is called through an API, the stream filters, AWS's errors and its limit on open sessions.

boto3 sends StartLiveTail to ``stream-{host}`` (the operation's host prefix), which names no host on loopback: the
clients here turn the prefix off (``inject_host_prefix=False``, or ``AWS_DISABLE_HOST_PREFIX_INJECTION=true``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from helpers import GatewayProcess, RestApi, create_function, unique, wait_for

ARN = "arn:aws:logs:us-east-1:000000000000:log-group:"

MARKED = """
def lambda_handler(event, context):
    print("marker:", event["queryStringParameters"]["say"])
    return {"statusCode": 200, "body": "ok"}
"""


def _logs(gateway: GatewayProcess) -> Any:
    return boto3.client(
        "logs",
        endpoint_url=gateway.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(inject_host_prefix=False),
    )


def _results(stream: Any) -> Iterator[dict[str, Any]]:
    """The log events of a live tail's sessionUpdates, as they arrive (an update a second, empty or not)."""
    for event in stream:
        assert set(event) <= {"sessionStart", "sessionUpdate"}, event
        yield from event.get("sessionUpdate", {}).get("sessionResults", [])


def _until(stream: Any, message: str) -> list[dict[str, Any]]:
    """Events of the stream up to the first whose message is ``message`` (bounded by the test's timeout)."""
    seen = []
    for event in _results(stream):
        seen.append(event)
        if event["message"] == message:
            return seen
    raise AssertionError("the stream ended")


def test_a_function_called_through_an_api_is_seen_live(gateway: GatewayProcess) -> None:
    lam = gateway.client("lambda")
    name = create_function(lam, MARKED)
    group = f"/aws/lambda/{name}"
    logs = _logs(gateway)
    logs.create_log_group(logGroupName=group)  # as a stack would make it, before the first call
    api = RestApi(gateway.client("apigateway"), unique("live"))
    api.lambda_proxy("/say", "GET", name)
    api.deploy()

    answer = logs.start_live_tail(logGroupIdentifiers=[ARN + group], logEventFilterPattern="marker")
    stream = answer["responseStream"]
    try:
        first = next(iter(stream))
        start = first["sessionStart"]
        assert start["logGroupIdentifiers"] == [ARN + group]
        assert start["logEventFilterPattern"] == "marker"
        assert start["sessionId"] and start["requestId"]
        called = requests.get(gateway.invoke_url(api.id, "test", "/say"), params={"say": "hello"}, timeout=30)
        assert called.status_code == 200
        seen = _until(stream, "marker: hello")
    finally:
        stream.close()
    # Only the function's lines that match the pattern: not its START, END and REPORT lines.
    assert [event["message"] for event in seen] == ["marker: hello"]
    event = seen[0]
    assert event["logGroupIdentifier"] == ARN + group
    assert "/[$LATEST]" in event["logStreamName"]
    assert event["ingestionTime"] >= event["timestamp"] > time.time() * 1000 - 600_000


def test_stream_filters_and_the_environment_switch(
    gateway: GatewayProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
    logs = boto3.client(
        "logs",
        endpoint_url=gateway.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    group = "/test/" + unique("live")
    logs.create_log_group(logGroupName=group)
    for stream_name in ("app/1", "app/2", "other"):
        logs.create_log_stream(logGroupName=group, logStreamName=stream_name)

    def put(stream_name: str, message: str) -> None:
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream_name,
            logEvents=[{"timestamp": int(time.time() * 1000), "message": message}],
        )

    put("app/1", "written before the session")
    by_prefix = logs.start_live_tail(logGroupIdentifiers=[ARN + group], logStreamNamePrefixes=["app/"])
    by_name = logs.start_live_tail(logGroupIdentifiers=[ARN + group], logStreamNames=["app/2"])
    json_filtered = logs.start_live_tail(
        logGroupIdentifiers=[ARN + group], logEventFilterPattern='{ $.level = "error" }'
    )
    try:
        for message in ("other one", "app one"):
            put("other" if message.startswith("other") else "app/1", message)
        put("app/2", '{"level": "error", "text": "app two"}')
        put("app/2", "last")
        put("other", '{"level": "error", "text": "other two"}')
        prefixed = _until(by_prefix["responseStream"], "last")
        named = _until(by_name["responseStream"], "last")
        errors = _until(json_filtered["responseStream"], '{"level": "error", "text": "other two"}')
    finally:
        for answer in (by_prefix, by_name, json_filtered):
            answer["responseStream"].close()
    assert [e["message"] for e in prefixed] == ["app one", '{"level": "error", "text": "app two"}', "last"]
    assert {e["logStreamName"] for e in prefixed} == {"app/1", "app/2"}
    assert [e["message"] for e in named] == ['{"level": "error", "text": "app two"}', "last"]
    assert [json.loads(e["message"])["text"] for e in errors] == ["app two", "other two"]


def _code(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**params)
    return str(caught.value.response["Error"]["Code"])


def test_errors_are_aws_exceptions(gateway: GatewayProcess) -> None:
    logs = _logs(gateway)
    group = "/test/" + unique("live-errors")
    logs.create_log_group(logGroupName=group)
    tail = logs.start_live_tail
    invalid = "InvalidParameterException"
    assert _code(tail, logGroupIdentifiers=[group]) == invalid  # AWS takes ARNs only here
    assert _code(tail, logGroupIdentifiers=[ARN + group + ":*"]) == invalid
    assert _code(tail, logGroupIdentifiers=[ARN + group + "-none"]) == "ResourceNotFoundException"
    other_account = ARN.replace("000000000000", "111111111111") + group
    assert _code(tail, logGroupIdentifiers=[other_account]) == "ResourceNotFoundException"
    two = [ARN + group, ARN + group]
    assert _code(tail, logGroupIdentifiers=two, logStreamNames=["s"]) == invalid
    assert _code(
        tail, logGroupIdentifiers=[ARN + group], logStreamNames=["s"], logStreamNamePrefixes=["s"]
    ) == (invalid)
    assert _code(tail, logGroupIdentifiers=[ARN + group], logEventFilterPattern="[ip, user]") == invalid


def test_open_sessions_are_limited_and_a_closed_one_frees_its_place(tmp_path: Path) -> None:
    gateway = GatewayProcess(
        tmp_path / "data"
    )  # its own: other tests' sessions end a moment after they close
    gateway.start()
    streams = []
    try:
        logs = _logs(gateway)
        group = "/test/" + unique("live-limit")
        logs.create_log_group(logGroupName=group)
        for _ in range(15):  # AWS's quota of concurrent sessions
            stream = logs.start_live_tail(logGroupIdentifiers=[ARN + group])["responseStream"]
            assert "sessionStart" in next(iter(stream))
            streams.append(stream)
        assert _code(logs.start_live_tail, logGroupIdentifiers=[ARN + group]) == "LimitExceededException"
        streams.pop().close()
        # The gateway notices the client left at the session's next update (each second).
        started: list[Any] = []

        def another() -> bool:
            try:
                started.append(logs.start_live_tail(logGroupIdentifiers=[ARN + group])["responseStream"])
            except logs.exceptions.LimitExceededException:
                return False
            return True

        wait_for(another)
        streams.extend(started)
    finally:
        for stream in streams:
            stream.close()
        gateway.stop()
