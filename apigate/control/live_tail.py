"""CloudWatch Logs' StartLiveTail: a session that streams the events newly stored in up to 10 log groups, as AWS's
event stream (apigate/aws/event_stream.py) on one chunked response.

The stream is the JSON protocol's ``initial-response``, one ``sessionStart``, then a ``sessionUpdate`` every second
(empty when nothing came) with at most 500 events, sampled down beyond that. After three hours the session ends
with ``SessionTimeoutException``, as on AWS. Events are read from the log store by number (``written_after``), so
lines written by any process sharing the data dir arrive; a reader slower than the stream gets, per update, what
was stored since its last one sampled down to 500, so nothing piles up for it here (AWS buffers ten updates and
drops the oldest). At most ``MAX_SESSIONS`` are open at once in a gateway process.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from apigate.aws.errors import AwsError
from apigate.aws.event_stream import event_message, exception_message
from apigate.aws.log_filter import FilterPatternError, compile_filter
from apigate.server.message import StreamedResponse
from apigate.store.log_events import Event, LogStore

__all__ = ["SESSION_SECONDS", "LiveTails"]

Doc = dict[str, Any]

SESSION_SECONDS = 3 * 3600  # AWS ends a session after three hours
MAX_SESSIONS = 15  # concurrent sessions in this process (AWS has a per-account quota; we take 15)
_MAX_GROUPS = 10
_MAX_STREAMS = 100
_MAX_PATTERN = 1024
_EVENTS_PER_UPDATE = 500
_UPDATE_BYTES = 1024 * 1024  # one update's payload at most; more of the same second goes in further updates
_ARN = re.compile(r"arn:aws[a-z-]*:logs:([a-z0-9-]+):(\d{12}):log-group:([\.\-_/#A-Za-z0-9]{1,512})")
_STREAM_NAME = re.compile(r"[^:*]{1,512}")
_HEADERS = [("Content-Type", "application/vnd.amazon.eventstream")]


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message)


@dataclass(frozen=True, slots=True)
class _Session:
    groups: list[tuple[str, str]]  # (identifier as given, group name)
    streams: frozenset[str] | None
    prefixes: tuple[str, ...] | None
    matches: Callable[[str], bool] | None
    start: Doc

    def wants(self, event: Event) -> bool:
        stream = event[1]
        if self.streams is not None and stream not in self.streams:
            return False
        if self.prefixes is not None and not stream.startswith(self.prefixes):
            return False
        return self.matches is None or self.matches(event[2])


def _names(params: Doc, member: str) -> list[str] | None:
    value = params.get(member)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AwsError("SerializationException", f"{member} must be a list of strings")
    if not 1 <= len(value) <= _MAX_STREAMS:
        raise _invalid(
            f"1 validation error detected: Value at '{member}' failed to satisfy constraint: "
            f"Member must have length between 1 and {_MAX_STREAMS}"
        )
    for name in value:
        if not _STREAM_NAME.fullmatch(name):
            raise _invalid(
                f"1 validation error detected: Value '{name}' at '{member}' failed to satisfy constraint: "
                "Member must satisfy regular expression pattern: [^:*]*"
            )
    return value


class LiveTails:
    """The StartLiveTail operation over one log store, and the count of its open sessions."""

    def __init__(
        self,
        store: LogStore,
        region: str,
        account_id: str,
        *,
        interval: float = 1.0,
        session_seconds: float = SESSION_SECONDS,
    ) -> None:
        self._store = store
        self._region = region
        self._account = account_id
        self._interval = interval
        self._session_seconds = session_seconds
        self.open = 0

    def _group(self, identifier: object) -> str:
        if not isinstance(identifier, str):
            raise AwsError("SerializationException", "logGroupIdentifiers must be a list of strings")
        if identifier.endswith("*"):
            raise _invalid(f"The log group ARN {identifier} must not end with '*'.")
        found = _ARN.fullmatch(identifier)
        if found is None:  # AWS takes ARNs only here, unlike FilterLogEvents' logGroupIdentifier
            raise _invalid(
                f"Invalid log group identifier {identifier}: specify each log group by its ARN "
                "(arn:aws:logs:REGION:ACCOUNT:log-group:NAME)."
            )
        region, account, name = found.groups()
        if region != self._region or account != self._account or self._store.group(name) is None:
            raise AwsError(
                "ResourceNotFoundException", f"The specified log group does not exist: {identifier}"
            )
        return name

    def _session(self, params: Doc) -> _Session:
        identifiers = params.get("logGroupIdentifiers")
        if identifiers is None:
            raise _invalid(
                "1 validation error detected: Value null at 'logGroupIdentifiers' failed to satisfy constraint: "
                "Member must not be null"
            )
        if not isinstance(identifiers, list):
            raise AwsError("SerializationException", "logGroupIdentifiers must be a list of strings")
        if not 1 <= len(identifiers) <= _MAX_GROUPS:
            raise _invalid(
                "1 validation error detected: Value at 'logGroupIdentifiers' failed to satisfy constraint: "
                f"Member must have length between 1 and {_MAX_GROUPS}"
            )
        streams = _names(params, "logStreamNames")
        prefixes = _names(params, "logStreamNamePrefixes")
        if streams is not None and prefixes is not None:
            raise _invalid("logStreamNames and logStreamNamePrefixes are mutually exclusive parameters.")
        if (streams is not None or prefixes is not None) and len(identifiers) != 1:
            raise _invalid(
                "logStreamNames or logStreamNamePrefixes can be specified only with a single log group."
            )
        pattern = params.get("logEventFilterPattern")
        if pattern is not None and not isinstance(pattern, str):
            raise AwsError("SerializationException", "logEventFilterPattern must be a string")
        if pattern is not None and len(pattern) > _MAX_PATTERN:
            raise _invalid(
                "1 validation error detected: Value at 'logEventFilterPattern' failed to satisfy constraint: "
                f"Member must have length less than or equal to {_MAX_PATTERN}"
            )
        try:
            matches = compile_filter(pattern)
        except FilterPatternError as exc:
            raise _invalid(str(exc)) from None
        groups = [(identifier, self._group(identifier)) for identifier in identifiers]
        start: Doc = {
            "requestId": str(uuid.uuid4()),
            "sessionId": str(uuid.uuid4()),
            "logGroupIdentifiers": list(identifiers),
        }
        if streams is not None:
            start["logStreamNames"] = streams
        if prefixes is not None:
            start["logStreamNamePrefixes"] = prefixes
        if pattern is not None:
            start["logEventFilterPattern"] = pattern
        return _Session(
            groups,
            frozenset(streams) if streams is not None else None,
            tuple(prefixes) if prefixes is not None else None,
            matches,
            start,
        )

    async def start(self, params: Doc) -> StreamedResponse:
        """Checks the request (errors as AWS's exceptions, before anything is streamed) and answers with the
        session's stream; the stream itself runs after the caller's lock is released."""
        session = self._session(params)
        if self.open >= MAX_SESSIONS:
            raise AwsError(
                "LimitExceededException",
                f"You have reached the maximum of {MAX_SESSIONS} concurrent Live Tail sessions.",
            )
        marks = [self._store.last_written(name) for _, name in session.groups]
        headers = [*_HEADERS, ("x-amzn-RequestId", session.start["requestId"])]
        return StreamedResponse(200, headers, b"", self._stream(session, marks))

    async def _stream(self, session: _Session, marks: list[int]) -> AsyncIterator[bytes]:
        # Counted from the first step: a stream the server never starts (its client left first) holds no place.
        self.open += 1
        try:
            yield event_message("initial-response", {})
            yield event_message("sessionStart", session.start)
            loop = asyncio.get_running_loop()
            began = tick = loop.time()
            while True:
                tick += self._interval
                await asyncio.sleep(max(0.0, tick - loop.time()))
                if loop.time() - began >= self._session_seconds:
                    yield exception_message(
                        "SessionTimeoutException", "Session timed out after 3 hours. Start a new session."
                    )
                    return
                found = await asyncio.to_thread(self._poll, session, marks)
                for update in _updates(found):
                    yield update
        finally:
            self.open -= 1

    def _poll(self, session: _Session, marks: list[int]) -> list[tuple[str, Event]]:
        """What each group stored since the last poll and the session wants, oldest stored first."""
        found: list[tuple[str, Event]] = []
        for place, (identifier, name) in enumerate(session.groups):
            while True:
                events = self._store.written_after(name, marks[place])
                if not events:
                    break
                marks[place] = events[-1][0]
                found.extend((identifier, event) for event in events if session.wants(event))
        return found


def _updates(found: list[tuple[str, Event]]) -> list[bytes]:
    """The second's ``sessionUpdate`` messages: one, empty when nothing came; beyond 500 events an even sample of
    500, marked ``sampled``; split further if the events are large."""
    sampled = len(found) > _EVENTS_PER_UPDATE
    if sampled:
        step = len(found) / _EVENTS_PER_UPDATE
        found = [found[int(index * step)] for index in range(_EVENTS_PER_UPDATE)]
    batches: list[list[Doc]] = [[]]
    size = 0
    for identifier, (_, stream, message, timestamp, ingested) in found:
        event = {
            "logStreamName": stream,
            "logGroupIdentifier": identifier,
            "message": message,
            "timestamp": timestamp,
            "ingestionTime": ingested,
        }
        weight = len(message) + 200
        if batches[-1] and size + weight > _UPDATE_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(event)
        size += weight
    return [
        event_message("sessionUpdate", {"sessionMetadata": {"sampled": sampled}, "sessionResults": batch})
        for batch in batches
    ]
