"""Access log lines as the drain writes them (observe/access_log.py), in process: a queue of one format's lines
(formatted all at once) and one mixing formats (line by line) give the same lines; a variable used twice, a
nested one, values without a value ("-"), a value with a newline; log group events, one per line; and nothing
queued is lost by close()."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from fakes import deploy, invocation, method, mock, pipeline, run

from apigate.compile.access_log import compile_access_log
from apigate.dataplane.invocation import Invocation
from apigate.model import DeployedApi
from apigate.model.access_log import AccessLogFormat
from apigate.observe.access_log import AccessLogs
from apigate.observe.log_sink import LogSink
from apigate.store.log_events import LogStore


def _served(api: DeployedApi, path: str, agent: str = "curl/8") -> Invocation:
    inv = invocation(api, "GET", path)
    inv.request.headers.append(("User-Agent", agent))
    run(pipeline(), inv)
    return inv


def _format(text: str, destination: str) -> AccessLogFormat:
    compiled = compile_access_log({"destinationArn": destination, "format": text})
    assert compiled is not None
    return compiled


def _written(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_one_format_at_once_and_formats_mixed_line_by_line(tmp_path: Path) -> None:
    api = deploy({"/a": {"GET": method(mock())}})
    ok, missing = _served(api, "/a"), _served(api, "/nowhere")
    clf = _format("CLF", f"file://{tmp_path / 'clf.log'}")
    twice = _format(
        "$context.requestId $context.status $context.requestId "
        "$context.identity.userAgent $context.authorizer.claims.sub $context.responseLength%",
        f"file://{tmp_path / 'twice.log'}",
    )

    alone = AccessLogs(tmp_path / "groups")
    for inv, status in ((ok, 200), (missing, 403)):
        alone.add(clf, inv, status, 1.0)
    asyncio.run(alone.close())  # the drain, and the files closed
    clf_lines = _written(tmp_path / "clf.log")
    assert len(clf_lines) == 2
    assert clf_lines[0].startswith("10.0.0.1 - - [")  # no signer: caller and user are "-"
    assert f'] "GET /a HTTP/1.1" 200 {len(ok.response.body)} {ok.request_id} ' in clf_lines[0]  # type: ignore[union-attr]
    assert '"GET - HTTP/1.1" 403' in clf_lines[1]  # no resource matched
    assert clf_lines[1].endswith(f"{missing.request_id} {missing.extended_request_id}")

    mixed = AccessLogs(tmp_path / "groups")
    for inv, status in ((ok, 200), (missing, 403)):
        mixed.add(clf, inv, status, 1.0)
        mixed.add(twice, inv, status, 1.0)
    asyncio.run(mixed.close())
    assert _written(tmp_path / "clf.log")[2:] == clf_lines  # the same lines either way
    length = len(ok.response.body)  # type: ignore[union-attr]
    assert _written(tmp_path / "twice.log") == [
        f"{ok.request_id} 200 {ok.request_id} curl/8 - {length}%",
        f"{missing.request_id} 403 {missing.request_id} curl/8 - {len(missing.response.body)}%",  # type: ignore[union-attr]
    ]


def test_a_value_with_a_newline_and_an_empty_value(tmp_path: Path) -> None:
    api = deploy({"/a": {"GET": method(mock())}})
    fmt = _format("[$context.identity.userAgent] $context.httpMethod", f"file://{tmp_path / 'a.log'}")
    logs = AccessLogs(tmp_path / "groups")
    logs.add(fmt, _served(api, "/a", agent="two\nlines"), 200, 1.0)
    logs.add(fmt, _served(api, "/a", agent=""), 200, 1.0)
    asyncio.run(logs.close())
    assert _written(tmp_path / "a.log") == ["[two", "lines] GET", "[-] GET"]


def test_close_writes_what_is_queued_and_a_new_deployment_gets_its_own_format(tmp_path: Path) -> None:
    api = deploy({"/a": {"GET": method(mock())}})
    destination = f"file://{tmp_path / 'a.log'}"
    old = _format("old $context.status", destination)
    new = dataclasses.replace(_format("new $context.status", destination))
    logs = AccessLogs(tmp_path / "groups")
    inv = _served(api, "/a")
    logs.add(old, inv, 200, 1.0)
    logs.add(new, inv, 201, 1.0)
    asyncio.run(logs.close())
    assert _written(tmp_path / "a.log") == ["old 200", "new 201"]


def test_log_group_events_one_per_line(tmp_path: Path) -> None:
    api = deploy({"/a": {"GET": method(mock())}})
    group = "arn:aws:logs:us-east-1:000000000000:log-group:access"
    agent = _format("$context.identity.userAgent", group)
    status = _format("status $context.status", group)
    store = LogStore(tmp_path / "logs.db")
    sink = LogSink(store)
    logs = AccessLogs(tmp_path / "groups")
    logs.sink = sink
    logs.add(agent, _served(api, "/a", agent="two\nlines"), 200, 1.0)
    logs.add(agent, _served(api, "/a", agent="one"), 200, 1.0)
    asyncio.run(logs.close())
    logs.add(status, _served(api, "/a"), 200, 1.0)
    logs.add(agent, _served(api, "/a", agent="last"), 200, 1.0)
    asyncio.run(logs.close())
    asyncio.run(sink.close())
    # A value's newline stays inside its event; formats mixed in one drain keep their order.
    assert [event[2] for event in store.events("access")] == ["two\nlines", "one", "status 200", "last"]
    store.close()
