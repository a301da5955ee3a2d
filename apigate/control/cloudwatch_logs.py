"""A CloudWatch Logs subset (JSON 1.1, ``X-Amz-Target: Logs_20140328.*``) over the log store: groups,
streams, PutLogEvents, GetLogEvents and FilterLogEvents, retention, StartLiveTail (control/live_tail.py). What tools read logs with (``aws logs
filter-log-events``, ``aws logs tail --follow``, ``sam logs``) works against the gateway; functions' output,
access logs and execution logs land in their groups (apigate/observe/log_sink.py).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from apigate.aws.errors import AwsError
from apigate.aws.json_rpc import JsonHandler
from apigate.aws.log_filter import FilterPatternError, compile_filter
from apigate.control.live_tail import LiveTails
from apigate.store.log_events import Event, LogStore, Position

__all__ = ["LogsContext", "handlers"]

Doc = dict[str, Any]

_GROUP_NAME = re.compile(r"[\.\-_/#A-Za-z0-9]{1,512}")
_STREAM_NAME = re.compile(r"[^:*]{1,512}")
_RETENTION_DAYS = frozenset(
    (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
)
_HOUR_MS = 3_600_000
_MAX_TIME = 2**62  # epoch milliseconds: far beyond any real time, and within SQLite's integers
_DAY_MS = 24 * _HOUR_MS


@dataclass(frozen=True, slots=True)
class LogsContext:
    store: LogStore
    region: str
    account_id: str

    def group_arn(self, name: str) -> str:
        return f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{name}"


def _now() -> int:
    return int(time.time() * 1000)


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


def _no_group() -> AwsError:
    return AwsError("ResourceNotFoundException", "The specified log group does not exist.")


def _no_stream() -> AwsError:
    return AwsError("ResourceNotFoundException", "The specified log stream does not exist.")


def _string(params: Doc, name: str, required: bool = True) -> str | None:
    value = params.get(name)
    if value is None:
        if required:
            raise _invalid(
                f"1 validation error detected: Value null at '{name}' failed to satisfy constraint: "
                "Member must not be null"
            )
        return None
    if not isinstance(value, str):
        raise AwsError("SerializationException", f"{name} must be a string")
    return value


def _integer(params: Doc, name: str, low: int, high: int) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise AwsError("SerializationException", f"{name} must be a number")
    if not low <= value <= high:
        raise _invalid(
            f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: "
            f"Member must have value between {low} and {high}"
        )
    return value


def _group_name(params: Doc, ctx: LogsContext, identifier: bool = False) -> str:
    """``logGroupName``, or (where the operation takes it) ``logGroupIdentifier``: a name or an ARN."""
    name = _string(params, "logGroupName", required=False)
    ident = _string(params, "logGroupIdentifier", required=False) if identifier else None
    if name is not None and ident is not None:
        raise _invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if ident is not None:
        name = ident.split(":log-group:", 1)[1].removesuffix(":*") if ":log-group:" in ident else ident
    if name is None:
        raise _invalid("Either logGroupName or logGroupIdentifier is required")
    if not _GROUP_NAME.fullmatch(name):
        raise _invalid(
            f"1 validation error detected: Value '{name}' at 'logGroupName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
        )
    return name


def _stream_name(params: Doc) -> str:
    name = _string(params, "logStreamName")
    assert name is not None
    if not _STREAM_NAME.fullmatch(name):
        raise _invalid(
            f"1 validation error detected: Value '{name}' at 'logStreamName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [^:*]*"
        )
    return name


def _existing_group(ctx: LogsContext, name: str) -> Doc:
    group = ctx.store.group(name)
    if group is None:
        raise _no_group()
    return group


# --- groups ---


async def create_log_group(ctx: LogsContext, params: Doc) -> Doc:
    name = _group_name(params, ctx)
    group_class = params.get("logGroupClass", "STANDARD")
    if group_class not in ("STANDARD", "INFREQUENT_ACCESS", "DELIVERY"):
        raise _invalid(f"Invalid logGroupClass: {group_class}")
    if not ctx.store.create_group(name, _now(), str(group_class)):
        raise AwsError("ResourceAlreadyExistsException", "The specified log group already exists")
    return {}


async def delete_log_group(ctx: LogsContext, params: Doc) -> Doc:
    if not ctx.store.delete_group(_group_name(params, ctx)):
        raise _no_group()
    return {}


def _group_document(ctx: LogsContext, group: Doc) -> Doc:
    out = {k: v for k, v in group.items() if k != "storedEvents"}
    arn = ctx.group_arn(group["logGroupName"])
    out.update({"arn": f"{arn}:*", "logGroupArn": arn, "metricFilterCount": 0})
    return out


async def describe_log_groups(ctx: LogsContext, params: Doc) -> Doc:
    prefix = _string(params, "logGroupNamePrefix", required=False)
    pattern = _string(params, "logGroupNamePattern", required=False)
    if prefix is not None and pattern is not None:
        raise _invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
    limit = _integer(params, "limit", 1, 50) or 50
    after = _token(params, "g/")
    found: list[Doc] = []
    cursor = after
    while len(found) <= limit:
        page = ctx.store.groups(prefix or "", cursor, 200)
        for group in page:
            if pattern is None or pattern.lower() in group["logGroupName"].lower():
                found.append(group)
        if len(page) < 200:
            break
        cursor = page[-1]["logGroupName"]
    out: Doc = {"logGroups": [_group_document(ctx, g) for g in found[:limit]]}
    if len(found) > limit:
        out["nextToken"] = "g/" + found[limit - 1]["logGroupName"]
    return out


async def put_retention_policy(ctx: LogsContext, params: Doc) -> Doc:
    name = _group_name(params, ctx)
    days = params.get("retentionInDays")
    if isinstance(days, bool) or not isinstance(days, int) or days not in _RETENTION_DAYS:
        raise _invalid(
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: "
            f"Member must satisfy enum value set: {sorted(_RETENTION_DAYS)}"
        )
    if not ctx.store.set_retention(name, days):
        raise _no_group()
    ctx.store.prune(_now(), name)  # at once: a caller shortening retention sees the old events go
    return {}


async def delete_retention_policy(ctx: LogsContext, params: Doc) -> Doc:
    if not ctx.store.set_retention(_group_name(params, ctx), None):
        raise _no_group()
    return {}


# --- streams ---


async def create_log_stream(ctx: LogsContext, params: Doc) -> Doc:
    group = _group_name(params, ctx)
    stream = _stream_name(params)
    _existing_group(ctx, group)
    if not ctx.store.create_stream(group, stream, _now()):
        raise AwsError("ResourceAlreadyExistsException", "The specified log stream already exists")
    return {}


async def delete_log_stream(ctx: LogsContext, params: Doc) -> Doc:
    group = _group_name(params, ctx)
    _existing_group(ctx, group)
    if not ctx.store.delete_stream(group, _stream_name(params)):
        raise _no_stream()
    return {}


async def describe_log_streams(ctx: LogsContext, params: Doc) -> Doc:
    group = _group_name(params, ctx, identifier=True)
    prefix = _string(params, "logStreamNamePrefix", required=False)
    order = params.get("orderBy", "LogStreamName")
    if order not in ("LogStreamName", "LastEventTime"):
        raise _invalid(f"Invalid orderBy: {order}")
    if order == "LastEventTime" and prefix is not None:
        raise _invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
    limit = _integer(params, "limit", 1, 50) or 50
    _existing_group(ctx, group)
    streams = ctx.store.streams(group, prefix or "", by_last_event=order == "LastEventTime")
    if params.get("descending") is True:
        streams.reverse()
    start = 0
    token = _token(params, "s/")
    if token:
        names = [s["logStreamName"] for s in streams]
        start = names.index(token) + 1 if token in names else len(names)
    page = streams[start : start + limit]
    arn = ctx.group_arn(group)
    out: Doc = {"logStreams": [{**s, "arn": f"{arn}:log-stream:{s['logStreamName']}"} for s in page]}
    if start + limit < len(streams):
        out["nextToken"] = "s/" + page[-1]["logStreamName"]
    return out


# --- events ---


async def put_log_events(ctx: LogsContext, params: Doc) -> Doc:
    group = _group_name(params, ctx)
    stream = _stream_name(params)
    events = params.get("logEvents")
    if not isinstance(events, list) or not 1 <= len(events) <= 10_000:
        raise _invalid("logEvents must hold between 1 and 10000 events")
    found = _existing_group(ctx, group)
    if ctx.store.stream(group, stream) is None:
        raise _no_stream()
    rows: list[tuple[int, str]] = []
    for event in events:
        if not isinstance(event, dict):
            raise AwsError("SerializationException", "each log event must be an object")
        ts, message = event.get("timestamp"), event.get("message")
        if isinstance(ts, bool) or not isinstance(ts, int) or not isinstance(message, str) or not message:
            raise _invalid("each log event needs a timestamp (ms) and a non-empty message")
        if not 0 <= ts < _MAX_TIME:
            raise _invalid(f"Log event timestamp {ts} is out of range.")
        rows.append((ts, message))
    if any(rows[i][0] > rows[i + 1][0] for i in range(len(rows) - 1)):
        raise _invalid("Log events in a single PutLogEvents request must be in chronological order.")
    if rows[-1][0] - rows[0][0] > _DAY_MS:
        raise _invalid(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
        )
    now = _now()
    retention = found.get("retentionInDays")
    expired_before = now - retention * _DAY_MS if retention else None
    rejected: Doc = {}
    kept: list[tuple[str, str, int, str]] = []
    for index, (ts, message) in enumerate(rows):
        if ts > now + 2 * _HOUR_MS:
            rejected.setdefault("tooNewLogEventStartIndex", index)
        elif ts < now - 14 * _DAY_MS:
            rejected["tooOldLogEventEndIndex"] = index
        elif expired_before is not None and ts < expired_before:
            rejected["expiredLogEventEndIndex"] = index
        else:
            kept.append((group, stream, ts, message))
    ctx.store.append(kept, now, create=False)
    out: Doc = {}
    if rejected:
        out["rejectedLogEventsInfo"] = rejected
    return out


def _token(params: Doc, kind: str) -> str:
    token = params.get("nextToken")
    if token is None:
        return ""
    if not isinstance(token, str) or not token.startswith(kind):
        raise _invalid("The specified nextToken is invalid.")
    return token[len(kind) :]


def _position(text: str) -> Position:
    ts, _, ident = text.partition("-")
    if not (ts.isdigit() and ident.isdigit() and len(ts) <= 20 and len(ident) <= 20 and int(ts) < _MAX_TIME):
        raise _invalid("The specified nextToken is invalid.")
    return int(ts), int(ident)


def _mark(ts: int, ident: int) -> str:
    return f"{ts:020d}-{ident:020d}"


async def get_log_events(ctx: LogsContext, params: Doc) -> Doc:
    """Forward tokens read newer events, backward tokens older ones; without a token the newest ``limit``
    (or with ``startFromHead`` the oldest). A page with nothing new returns the token it was given, which is
    how paginators know to stop."""
    group = _group_name(params, ctx, identifier=True)
    stream = _stream_name(params)
    limit = _integer(params, "limit", 1, 10_000) or 10_000
    start = _integer(params, "startTime", 0, _MAX_TIME)
    end = _integer(params, "endTime", 0, _MAX_TIME)
    token = params.get("nextToken")
    _existing_group(ctx, group)
    if ctx.store.stream(group, stream) is None:
        raise _no_stream()
    forward = params.get("startFromHead") is True
    position: Position | None = None
    if token is not None:
        if not isinstance(token, str) or token[:2] not in ("f/", "b/"):
            raise _invalid("The specified nextToken is invalid.")
        forward = token.startswith("f/")
        position = _position(token[2:])
    found = await _read(
        _take(
            ctx.store.events(
                group,
                [stream],
                start=start,
                end=end,
                after=position if forward else None,
                before=None if forward else position,
                newest_first=not forward,
            ),
            limit,
        )
    )
    if not forward:
        found.reverse()
    events = [{"timestamp": e[3], "message": e[2], "ingestionTime": e[4]} for e in found]
    if found:
        first, last = (found[0][3], found[0][0]), (found[-1][3], found[-1][0])
    else:
        first = last = position if position is not None else (0, 0)
    return {
        "events": events,
        "nextForwardToken": "f/" + _mark(*last),
        "nextBackwardToken": "b/" + _mark(*first),
    }


async def filter_log_events(ctx: LogsContext, params: Doc) -> Doc:
    group = _group_name(params, ctx, identifier=True)
    names = params.get("logStreamNames")
    prefix = _string(params, "logStreamNamePrefix", required=False)
    if names is not None and prefix is not None:
        raise _invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
    if names is not None and (
        not isinstance(names, list)
        or not 1 <= len(names) <= 100
        or not all(isinstance(n, str) for n in names)
    ):
        raise _invalid("logStreamNames must list between 1 and 100 stream names")
    limit = _integer(params, "limit", 1, 10_000) or 10_000
    start = _integer(params, "startTime", 0, _MAX_TIME)
    end = _integer(params, "endTime", 0, _MAX_TIME)
    pattern = _string(params, "filterPattern", required=False)
    try:
        matches = compile_filter(pattern)
    except FilterPatternError as exc:
        raise _invalid(str(exc)) from None
    token = _token(params, "n/")
    after = _position(token) if token else None
    _existing_group(ctx, group)
    streams: list[str] | None = names
    if prefix is not None:
        streams = [s["logStreamName"] for s in ctx.store.streams(group, prefix)]
    if end is not None:
        end += 1  # endTime is inclusive here, unlike the store's bound
    selected = ctx.store.events(group, streams, start=start, end=end, after=after)
    if matches is not None:
        selected = (e for e in selected if matches(e[2]))
    found = await _read(_take(selected, limit + 1))
    out: Doc = {
        "events": [
            {
                "logStreamName": e[1],
                "timestamp": e[3],
                "message": e[2],
                "ingestionTime": e[4],
                "eventId": _mark(e[3], e[0]),
            }
            for e in found[:limit]
        ],
        "searchedLogStreams": [],
    }
    if len(found) > limit:
        last = found[limit - 1]
        out["nextToken"] = "n/" + _mark(last[3], last[0])
    return out


async def _read(events: Iterator[Event]) -> list[Event]:
    """A page of events, read in a thread: a filter scanning a large group keeps the loop (and the data
    plane) answering meanwhile."""
    return await asyncio.to_thread(list, events)


def _take(events: Iterator[Event], limit: int) -> Iterator[Event]:
    for count, event in enumerate(events):
        if count >= limit:
            return
        yield event


def handlers(ctx: LogsContext) -> dict[str, JsonHandler]:
    return {
        "CreateLogGroup": partial(create_log_group, ctx),
        "DeleteLogGroup": partial(delete_log_group, ctx),
        "DescribeLogGroups": partial(describe_log_groups, ctx),
        "PutRetentionPolicy": partial(put_retention_policy, ctx),
        "DeleteRetentionPolicy": partial(delete_retention_policy, ctx),
        "CreateLogStream": partial(create_log_stream, ctx),
        "DeleteLogStream": partial(delete_log_stream, ctx),
        "DescribeLogStreams": partial(describe_log_streams, ctx),
        "PutLogEvents": partial(put_log_events, ctx),
        "GetLogEvents": partial(get_log_events, ctx),
        "FilterLogEvents": partial(filter_log_events, ctx),
        "StartLiveTail": LiveTails(ctx.store, ctx.region, ctx.account_id).start,
    }
