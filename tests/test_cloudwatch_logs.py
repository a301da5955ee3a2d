"""The CloudWatch Logs subset (#19): groups, streams, events, filter patterns and retention over boto3 and the
AWS CLI (v1 and v2) and the SAM CLI; functions' logs in /aws/lambda/{name}; following a log; a restart keeps the logs."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

import sam_cli
from helpers import GatewayProcess, create_function, log_events, log_lines, unique, wait_for

DAY_MS = 86_400_000


def _now() -> int:
    return int(time.time() * 1000)


def _error(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.fixture(scope="module")
def logs(gateway: GatewayProcess) -> Any:
    return gateway.client("logs")


def _group_with_stream(logs: Any, stream: str = "s1") -> str:
    group = "/test/" + unique("group")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    return group


def test_groups_and_streams(logs: Any) -> None:
    prefix = "/test/" + unique("groups")
    for suffix in ("a", "b", "c"):
        logs.create_log_group(logGroupName=f"{prefix}/{suffix}")
    assert _error(logs.create_log_group, logGroupName=f"{prefix}/a")[0] == "ResourceAlreadyExistsException"
    assert _error(logs.create_log_group, logGroupName="bad name!")[0] == "InvalidParameterException"
    pages = list(logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=prefix, limit=2))
    assert [len(page["logGroups"]) for page in pages] == [2, 1]
    groups = [group for page in pages for group in page["logGroups"]]
    assert [g["logGroupName"] for g in groups] == [f"{prefix}/a", f"{prefix}/b", f"{prefix}/c"]
    assert groups[0]["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{prefix}/a:*"
    assert "retentionInDays" not in groups[0]
    by_pattern = logs.describe_log_groups(logGroupNamePattern=prefix.rsplit("/", 1)[1].upper())["logGroups"]
    assert len(by_pattern) == 3  # a pattern matches anywhere in the name, ignoring case

    group = f"{prefix}/a"
    logs.create_log_stream(logGroupName=group, logStreamName="2026/12/02/[$LATEST]abc")
    logs.create_log_stream(logGroupName=group, logStreamName="other")
    assert _error(logs.create_log_stream, logGroupName=group, logStreamName="other")[0] == (
        "ResourceAlreadyExistsException"
    )
    assert _error(logs.create_log_stream, logGroupName=f"{prefix}/none", logStreamName="x") == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
    logs.put_log_events(
        logGroupName=group, logStreamName="other", logEvents=[{"timestamp": _now(), "message": "one"}]
    )
    streams = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)
    assert [s["logStreamName"] for s in streams["logStreams"]] == ["other", "2026/12/02/[$LATEST]abc"]
    assert streams["logStreams"][0]["lastEventTimestamp"] > 0
    assert "lastEventTimestamp" not in streams["logStreams"][1]
    named = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="2026/")["logStreams"]
    assert [s["logStreamName"] for s in named] == ["2026/12/02/[$LATEST]abc"]

    logs.delete_log_group(logGroupName=f"{prefix}/b")
    assert _error(logs.delete_log_group, logGroupName=f"{prefix}/b")[0] == "ResourceNotFoundException"
    left = logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]
    assert [g["logGroupName"] for g in left] == [f"{prefix}/a", f"{prefix}/c"]


def test_put_and_get_events_with_tokens(logs: Any) -> None:
    group = _group_with_stream(logs)
    start = _now() - 60_000
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[{"timestamp": start + i, "message": f"event {i}"} for i in range(7)],
    )
    newest = logs.get_log_events(logGroupName=group, logStreamName="s1", limit=3)
    assert [e["message"] for e in newest["events"]] == ["event 4", "event 5", "event 6"]
    older = logs.get_log_events(
        logGroupName=group, logStreamName="s1", limit=3, nextToken=newest["nextBackwardToken"]
    )
    assert [e["message"] for e in older["events"]] == ["event 1", "event 2", "event 3"]
    nothing_new = logs.get_log_events(
        logGroupName=group, logStreamName="s1", nextToken=newest["nextForwardToken"]
    )
    assert nothing_new["events"] == [] and nothing_new["nextForwardToken"] == newest["nextForwardToken"]
    logs.put_log_events(
        logGroupName=group, logStreamName="s1", logEvents=[{"timestamp": _now(), "message": "later"}]
    )
    newer = logs.get_log_events(logGroupName=group, logStreamName="s1", nextToken=newest["nextForwardToken"])
    assert [e["message"] for e in newer["events"]] == ["later"]
    head = logs.get_log_events(logGroupName=group, logStreamName="s1", startFromHead=True, limit=2)
    assert [e["message"] for e in head["events"]] == ["event 0", "event 1"]
    assert head["events"][0]["timestamp"] == start and head["events"][0]["ingestionTime"] >= start
    window = logs.get_log_events(
        logGroupName=group, logStreamName="s1", startTime=start + 2, endTime=start + 4, startFromHead=True
    )
    assert [e["message"] for e in window["events"]] == ["event 2", "event 3"]  # endTime is exclusive
    assert _error(logs.get_log_events, logGroupName=group, logStreamName="none")[1] == (
        "The specified log stream does not exist."
    )


def test_put_log_events_rules(logs: Any) -> None:
    group = _group_with_stream(logs)
    now = _now()
    code, message = _error(
        logs.put_log_events,
        logGroupName=group,
        logStreamName="s1",
        logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 10, "message": "a"}],
    )
    assert (code, message) == (
        "InvalidParameterException",
        "Log events in a single PutLogEvents request must be in chronological order.",
    )
    assert _error(
        logs.put_log_events,
        logGroupName=group,
        logStreamName="missing",
        logEvents=[{"timestamp": now, "message": "x"}],
    ) == ("ResourceNotFoundException", "The specified log stream does not exist.")
    answer = logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[
            {"timestamp": now, "message": "kept"},
            {"timestamp": now + 3 * 3_600_000, "message": "too new"},
        ],
    )
    assert answer["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    assert log_lines_of(logs, group) == ["kept"]
    old = logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[{"timestamp": now - 20 * DAY_MS, "message": "too old"}],
    )
    assert old["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0}


def log_lines_of(logs: Any, group: str, **filters: Any) -> list[str]:
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group, **filters)
    return [event["message"] for page in pages for event in page["events"]]


def test_retention_removes_old_events(logs: Any) -> None:
    group = _group_with_stream(logs)
    now = _now()
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[
            {"timestamp": now - 3 * DAY_MS, "message": "three days ago"},
            {"timestamp": now - 2 * DAY_MS, "message": "two days ago"},
        ],
    )
    logs.put_log_events(
        logGroupName=group, logStreamName="s1", logEvents=[{"timestamp": now, "message": "now"}]
    )
    assert log_lines_of(logs, group) == ["three days ago", "two days ago", "now"]
    assert _error(logs.put_retention_policy, logGroupName=group, retentionInDays=2)[0] == (
        "InvalidParameterException"  # not one of CloudWatch's periods
    )
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    assert log_lines_of(logs, group) == ["now"]
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert described["retentionInDays"] == 1
    expired = logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[
            {"timestamp": now - 2 * DAY_MS, "message": "expired"},
            {"timestamp": now - 2 * DAY_MS + 1, "message": "expired too"},
        ],
    )
    assert expired["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    assert log_lines_of(logs, group) == ["now"]
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]


def test_filter_patterns(logs: Any) -> None:
    group = _group_with_stream(logs)
    logs.create_log_stream(logGroupName=group, logStreamName="s2")
    now = _now()
    messages = [
        "INFO started",
        "ERROR Task timed out after 3.00 seconds",
        "WARN slow call",
        "ERROR retrying",
        json.dumps({"level": "ERROR", "ms": 250, "user": {"id": "ann"}}),
        json.dumps({"level": "INFO", "ms": 20, "user": {"id": "bob"}}),
    ]
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages[:3])],
    )
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s2",
        logEvents=[{"timestamp": now + 3 + i, "message": m} for i, m in enumerate(messages[3:])],
    )

    def matching(pattern: str, **filters: Any) -> list[int]:
        return [messages.index(m) for m in log_lines_of(logs, group, filterPattern=pattern, **filters)]

    assert matching("") == [0, 1, 2, 3, 4, 5]  # interleaved by time across streams
    assert matching("ERROR") == [1, 3, 4]
    assert matching("error") == []  # terms are case-sensitive
    assert matching("ERROR timed") == [1]
    assert matching('"Task timed out"') == [1]
    assert matching('"timed Task"') == []
    assert matching("?WARN ?retrying") == [2, 3]
    assert matching("ERROR -retrying") == [1, 4]
    assert matching('{ $.level = "ERROR" }') == [4]
    assert matching("{ $.ms > 100 || $.user.id = bob }") == [4, 5]
    assert matching('{ $.level = "INFO" && $.ms < 100 }') == [5]
    assert matching("ERROR", logStreamNames=["s2"]) == [3, 4]
    assert matching("", logStreamNamePrefix="s1") == [0, 1, 2]
    assert matching("", startTime=now + 1, endTime=now + 2) == [1, 2]  # endTime is inclusive here
    page = logs.filter_log_events(logGroupName=group, limit=4)
    assert len(page["events"]) == 4 and "nextToken" in page
    rest = logs.filter_log_events(logGroupName=group, limit=4, nextToken=page["nextToken"])
    assert len(rest["events"]) == 2 and "nextToken" not in rest
    assert page["events"][0]["logStreamName"] == "s1" and page["events"][0]["eventId"]
    assert _error(logs.filter_log_events, logGroupName=group, filterPattern="[ip, user]")[0] == (
        "InvalidParameterException"
    )
    assert _error(logs.filter_log_events, logGroupName=group + "-none")[0] == "ResourceNotFoundException"


FAILING = """
import sys
def lambda_handler(event, context):
    print("working on", event.get("item"))
    print("to stderr", file=sys.stderr)
    if event.get("fail"):
        raise ValueError("no such item")
    return {"ok": True}
"""


def test_function_logs_land_in_their_group(gateway: GatewayProcess) -> None:
    lam = gateway.client("lambda")
    name = create_function(lam, FAILING)
    group = f"/aws/lambda/{name}"
    ok = lam.invoke(FunctionName=name, Payload=json.dumps({"item": "a"}))
    failed = lam.invoke(FunctionName=name, Payload=json.dumps({"item": "b", "fail": True}))
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(ok["Payload"].read()) == {"ok": True}
    wait_for(lambda: sum(line.startswith("REPORT RequestId: ") for line in log_lines(gateway, group)) == 2)
    events = log_events(gateway, group)
    lines = [e["message"] for e in events]
    ok_id, failed_id = (line.split()[2] for line in lines if line.startswith("START RequestId: "))
    # Invoke answers with the invocation's request id, the one its log lines carry.
    assert (ok["ResponseMetadata"]["RequestId"], failed["ResponseMetadata"]["RequestId"]) == (
        ok_id,
        failed_id,
    )
    start = lines.index(f"START RequestId: {ok_id} Version: $LATEST")
    assert lines[start + 1 : start + 4] == ["working on a", "to stderr", f"END RequestId: {ok_id}"]
    assert lines[start + 4].startswith(f"REPORT RequestId: {ok_id}\tDuration: ")
    assert any(line.startswith(f"REPORT RequestId: {failed_id}\t") for line in lines)
    error = next(line for line in lines if line.startswith("[ERROR] ValueError: no such item"))
    assert "Traceback (most recent call last):" in error and 'raise ValueError("no such item")' in error
    streams = {e["logStreamName"] for e in events}
    assert len(streams) == 1 and "/[$LATEST]" in streams.pop()
    groups = gateway.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in groups] == [group]


def _aws(gateway: GatewayProcess, *args: str) -> Any:
    """The AWS CLI (awscli, a test dependency) against the gateway."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_PAGER": "",
    }
    env.pop("AWS_PROFILE", None)
    done = subprocess.run(
        [sys.executable, "-m", "awscli", "--endpoint-url", gateway.url, "--output", "json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_aws_cli_reads_function_logs(gateway: GatewayProcess) -> None:
    lam = gateway.client("lambda")
    name = create_function(lam, FAILING)
    group = f"/aws/lambda/{name}"
    for item in ("x1", "x2", "x3"):
        lam.invoke(FunctionName=name, Payload=json.dumps({"item": item}))
    wait_for(lambda: sum(line.startswith("REPORT") for line in log_lines(gateway, group)) == 3)

    described = _aws(gateway, "logs", "describe-log-groups", "--log-group-name-prefix", group)
    assert [g["logGroupName"] for g in described["logGroups"]] == [group]
    found = _aws(
        gateway, "logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", "working"
    )
    assert [e["message"] for e in found["events"]] == ["working on x1", "working on x2", "working on x3"]
    phrase = _aws(
        gateway, "logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", '"on x2"'
    )
    assert [e["message"] for e in phrase["events"]] == ["working on x2"]
    # The CLI pages through with its own --max-items / --page-size: every event exactly once.
    paged = _aws(gateway, "logs", "filter-log-events", "--log-group-name", group, "--page-size", "2")
    assert len(paged["events"]) == len(log_lines(gateway, group))
    stream = _aws(gateway, "logs", "describe-log-streams", "--log-group-name", group)["logStreams"][0]
    got = _aws(
        gateway,
        "logs",
        "get-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        stream["logStreamName"],
        "--start-from-head",
    )
    assert got["events"][0]["message"].startswith(("INIT_START", "START RequestId: "))
    _aws(gateway, "logs", "put-retention-policy", "--log-group-name", group, "--retention-in-days", "7")
    again = _aws(gateway, "logs", "describe-log-groups", "--log-group-name-prefix", group)
    assert again["logGroups"][0]["retentionInDays"] == 7


def _aws_v2() -> str:
    """AWS CLI v2 (`logs tail` is a v2 command; v2 is not on PyPI): Debian's awscli package, which .ci/run
    installs. The test environment's own `aws` is v1 (the awscli test dependency), so each is asked."""
    for candidate in (shutil.which("aws"), "/usr/bin/aws", "/usr/local/bin/aws"):
        if candidate and os.access(candidate, os.X_OK):
            version = subprocess.run([candidate, "--version"], capture_output=True, text=True, timeout=60)
            if version.stdout.startswith("aws-cli/2."):
                return candidate
    pytest.fail("AWS CLI v2 not found: install Debian's awscli package (.ci/run does)")


def _v2_environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "PYTHON"))}
    env.update(
        AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1", AWS_PAGER=""
    )
    env["PYTHONUNBUFFERED"] = "1"  # `--follow` prints into a pipe here: each line as it comes
    return env


@contextlib.contextmanager
def _followed(command: list[str], env: dict[str, str]) -> Iterator[Callable[[str], None]]:
    """Run a command that follows a log; gives ``next_with(text)``, which reads its output until a line holds
    ``text`` (failing after a minute without one)."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env) as follower:
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(line) for line in follower.stdout or ()], daemon=True)
        reader.start()

        def next_with(text: str) -> None:
            while True:
                try:
                    line = lines.get(timeout=60)
                except queue.Empty:
                    pytest.fail(f"{command[0]} printed no line with {text!r}")
                if text in line:
                    return

        try:
            yield next_with
        finally:
            follower.terminate()
            reader.join(timeout=30)


def test_aws_cli_v2_logs_tail(gateway: GatewayProcess) -> None:
    """`aws logs tail GROUP --since 10m`, then `--follow` seeing a line logged after it started, from AWS CLI v2
    itself against the gateway."""
    aws = _aws_v2()
    lam = gateway.client("lambda")
    name = create_function(lam, FAILING)
    group = f"/aws/lambda/{name}"
    lam.invoke(FunctionName=name, Payload=json.dumps({"item": "before"}))
    wait_for(lambda: any("working on before" in line for line in log_lines(gateway, group)))
    command = [aws, "--endpoint-url", gateway.url, "logs", "tail", group, "--since", "10m", "--format", "short"]
    done = subprocess.run(command, capture_output=True, text=True, env=_v2_environment(), timeout=60)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    assert any(line.endswith(" working on before") for line in printed)  # short format: time, then message
    assert sum(" START RequestId: " in line for line in printed) == 1

    with _followed([*command, "--follow"], _v2_environment()) as next_with:
        next_with("working on before")  # what was already there
        lam.invoke(FunctionName=name, Payload=json.dumps({"item": "after"}))
        next_with("working on after")  # and what came while it followed


@pytest.mark.slow  # the first run installs the SAM CLI into the test cache
def test_sam_logs(gateway: GatewayProcess) -> None:
    """`sam logs --cw-log-group GROUP`, then `--tail` seeing a line logged after it started, from the AWS SAM CLI
    pointed at the gateway with AWS_ENDPOINT_URL."""
    sam = str(sam_cli.sam())
    lam = gateway.client("lambda")
    name = create_function(lam, FAILING)
    group = f"/aws/lambda/{name}"
    lam.invoke(FunctionName=name, Payload=json.dumps({"item": "before"}))
    wait_for(lambda: any("working on before" in line for line in log_lines(gateway, group)))
    env = {**_v2_environment(), "AWS_ENDPOINT_URL": gateway.url, "SAM_CLI_TELEMETRY": "0"}
    command = [sam, "logs", "--cw-log-group", group, "--start-time", "10min ago"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "working on before" in done.stdout and "REPORT RequestId: " in done.stdout
    with _followed([*command, "--tail"], env) as next_with:
        next_with("working on before")
        lam.invoke(FunctionName=name, Payload=json.dumps({"item": "after"}))
        next_with("working on after")


def test_logs_survive_a_restart(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path / "data")
    gateway.start()
    try:
        logs = gateway.client("logs")
        logs.create_log_group(logGroupName="/kept")
        logs.create_log_stream(logGroupName="/kept", logStreamName="s")
        logs.put_retention_policy(logGroupName="/kept", retentionInDays=30)
        logs.put_log_events(
            logGroupName="/kept", logStreamName="s", logEvents=[{"timestamp": _now(), "message": "before"}]
        )
    finally:
        gateway.stop()
    gateway.start()
    try:
        logs = gateway.client("logs")
        assert log_lines(gateway, "/kept") == ["before"]
        assert logs.describe_log_groups(logGroupNamePrefix="/kept")["logGroups"][0]["retentionInDays"] == 30
    finally:
        gateway.stop()


def _raw(gateway: GatewayProcess, operation: str, body: Any) -> tuple[int, dict[str, Any]]:
    """A call no SDK would send (botocore checks its parameters first)."""
    answer = requests.post(
        f"{gateway.url}/",
        data=json.dumps(body),
        headers={"X-Amz-Target": f"Logs_20140328.{operation}", "Content-Type": "application/x-amz-json-1.1"},
        timeout=10,
    )
    return answer.status_code, answer.json()


def test_hostile_parameters_get_aws_errors(gateway: GatewayProcess, logs: Any) -> None:
    group = _group_with_stream(logs)
    huge = 99_999_999_999_999_999_999
    for timestamp in (-5, 2**63 - 1, "1", True):
        status, answer = _raw(
            gateway,
            "PutLogEvents",
            {
                "logGroupName": group,
                "logStreamName": "s1",
                "logEvents": [{"timestamp": timestamp, "message": "m"}],
            },
        )
        assert (status, answer["__type"]) == (400, "InvalidParameterException"), answer
    for token in (f"f/{huge}-1", "b/x-1", f"f/1-{huge}{huge}", 5):
        status, answer = _raw(
            gateway, "GetLogEvents", {"logGroupName": group, "logStreamName": "s1", "nextToken": token}
        )
        assert (status, answer["message"]) == (400, "The specified nextToken is invalid."), answer
    status, answer = _raw(gateway, "FilterLogEvents", {"logGroupName": group, "nextToken": f"n/{huge}-1"})
    assert (status, answer["__type"]) == (400, "InvalidParameterException")
    status, answer = _raw(gateway, "FilterLogEvents", {"logGroupName": group, "logStreamNames": [1]})
    assert (status, answer["__type"]) == (400, "InvalidParameterException")
    status, answer = _raw(gateway, "DescribeLogGroups", [1, 2])
    assert (status, answer["__type"]) == (400, "SerializationException")
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupName"] == group
