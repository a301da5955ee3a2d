"""Access logs as API Gateway writes them: a stage's ``accessLogSettings.format`` (any ``$context`` variable)
compiled once per deployment, one line per request written to the stage's destination.

The request path reads the values of the variables the format names (one function compiled per format) and
appends them to a flat list; a task of the loop formats the lines (AWS writes ``-`` for a variable with no
value) and writes them in batches. Destinations:
``arn:aws:logs:…:log-group:NAME`` -> that group of the gateway's CloudWatch Logs store (observe/log_sink.py;
``<data dir>/logs/groups/NAME.log`` when no store is attached), and two apigate extensions,
``file:///absolute/path`` and ``stdout``.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from apigate.dataplane.lambda_proxy.rest import identity, request_context
from apigate.dataplane.lambda_proxy.v1 import request_time
from apigate.model.access_log import AccessLogFormat
from apigate.observe.drain import PeriodicDrain
from apigate.observe.log_sink import LogSink

if TYPE_CHECKING:
    from apigate.dataplane.http_api.call import HttpCall
    from apigate.dataplane.invocation import Invocation
    from apigate.server.message import Response

__all__ = ["AccessLogs"]


_Getter = Callable[
    [Any, int, float], Any
]  # (an Invocation, or an HTTP API's (HttpCall, Response)), status, ms


def _integration_ms(inv: Invocation) -> int | None:
    return None if inv.integration_ms is None else int(inv.integration_ms)


def _response_length(inv: Invocation) -> int | None:
    response = inv.response
    return len(response.body) if response is not None and isinstance(response.body, bytes) else None


def _identity(inv: Invocation) -> dict[str, Any]:
    fields = identity(inv)
    if inv.api_key_id is not None:
        fields["apiKeyId"] = inv.api_key_id
    return fields


# $context's top-level variables, each computed only when a format names it (measured: building the whole
# $context per line cost ~9 µs; a CLF line from these getters, a few µs). Others come from request_context().
_GETTERS: dict[str, _Getter] = {
    "requestId": lambda inv, status, ms: inv.request_id,
    "extendedRequestId": lambda inv, status, ms: inv.extended_request_id,
    "httpMethod": lambda inv, status, ms: inv.request.method,
    "resourcePath": lambda inv, status, ms: None if inv.method is None else inv.method.resource_path,
    "resourceId": lambda inv, status, ms: None if inv.method is None else inv.method.resource_id,
    "path": lambda inv, status, ms: inv.stage_path,
    "stage": lambda inv, status, ms: inv.api.stage,
    "apiId": lambda inv, status, ms: inv.api.api_id,
    "accountId": lambda inv, status, ms: inv.api.account_id,
    "deploymentId": lambda inv, status, ms: inv.api.deployment_id,
    "domainName": lambda inv, status, ms: inv.domain_name,
    "domainPrefix": lambda inv, status, ms: inv.domain_name.split(".", 1)[0],
    "protocol": lambda inv, status, ms: f"HTTP/{inv.request.http_version}",
    "requestTime": lambda inv, status, ms: request_time(inv.start_epoch_ms),
    "requestTimeEpoch": lambda inv, status, ms: inv.start_epoch_ms,
    "identity": lambda inv, status, ms: _identity(inv),
    "status": lambda inv, status, ms: status,
    "responseLength": lambda inv, status, ms: _response_length(inv),
    "responseLatency": lambda inv, status, ms: int(ms),
    "integrationLatency": lambda inv, status, ms: _integration_ms(inv),
    "xrayTraceId": lambda inv, status, ms: inv.trace_id.removeprefix("Root="),
    "error": lambda inv, status, ms: {"responseType": inv.error_type},
    "integration": lambda inv, status, ms: {"latency": _integration_ms(inv)},
    "authorizer": lambda inv, status, ms: {} if inv.authorizer is None else inv.authorizer.request_context(),
}


_GROUP_ARN = "arn:aws:logs:-:-:log-group:"


def _group_name(destination: str) -> str:
    return destination.split(":log-group:", 1)[-1].removesuffix(":*")


def _iso(epoch_ms: int) -> str:
    seconds, millis = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


_Record = Callable[[Any, int, float], None]
_Slots = tuple[tuple[int, tuple[str, ...]], ...]

# The REST getters above as expressions, for the one function a format's plan compiles (measured: one call
# building a tuple cost ~1 µs for a CLF line, eleven getter calls ~4 µs). Only these fixed strings ever reach
# the compiled source; a variable not listed here is called through its getter, never spelled into the code.
_INLINE: dict[tuple[str, ...], str] = {
    ("requestId",): "inv.request_id",
    ("extendedRequestId",): "inv.extended_request_id",
    ("httpMethod",): "inv.request.method",
    ("resourcePath",): "None if inv.method is None else inv.method.resource_path",
    ("resourceId",): "None if inv.method is None else inv.method.resource_id",
    ("path",): "inv.stage_path",
    ("stage",): "inv.api.stage",
    ("apiId",): "inv.api.api_id",
    ("accountId",): "inv.api.account_id",
    ("deploymentId",): "inv.api.deployment_id",
    ("domainName",): "inv.domain_name",
    ("protocol",): '"HTTP/" + inv.request.http_version',
    ("requestTime",): "clf_time[1] if clf_time[0] == inv.start_epoch_ms // 1000 else clf_time_of(inv)",
    ("requestTimeEpoch",): "inv.start_epoch_ms",
    ("status",): "status",
    ("responseLength",): "len(body) if (response := inv.response) is not None"
    " and isinstance(body := response.body, bytes) else None",
    ("responseLatency",): "int(ms)",
    ("integrationLatency",): "integration_ms(inv)",
    ("identity", "sourceIp"): "inv.request.client[0]",
    ("identity", "caller"): "None if (signer := inv.iam_identity) is None else signer.user_id",
    ("identity", "user"): "None if (signer := inv.iam_identity) is None else signer.user_id",
    ("identity", "userArn"): "None if (signer := inv.iam_identity) is None else signer.arn",
    ("identity", "accessKey"): "None if (signer := inv.iam_identity) is None else signer.access_key",
    ("identity", "accountId"): "None if (signer := inv.iam_identity) is None else signer.account_id",
    ("identity", "apiKey"): "inv.api_key",
    ("identity", "apiKeyId"): "inv.api_key_id",
    ("error", "responseType"): "inv.error_type",
    ("integration", "latency"): "integration_ms(inv)",
}


# The second request_time() last formatted for a line and its text: checked inline, a call only when the second
# changes (measured: the call was ~500 instructions of a CLF line's reads).
_clf_time: list[Any] = [-1, ""]


def _clf_time_of(inv: Invocation) -> str:
    text = request_time(inv.start_epoch_ms)
    _clf_time[:] = [inv.start_epoch_ms // 1000, text]
    return text


def _compile_record(
    tops: list[tuple[str, ...]],
    getters: tuple[_Getter, ...],
    inline: bool,
    put: Callable[[Any], Any],
    marker: object,
) -> _Record:
    """One function that reads every value a format needs and hands ``put`` the format's marker followed by
    them (``put``: the queue's ``extend``, so the request path leaves no object of its own in the queue)."""
    namespace: dict[str, Any] = {
        "clf_time": _clf_time,
        "clf_time_of": _clf_time_of,
        "integration_ms": _integration_ms,
        "put": put,
        "marker": marker,
    }
    parts = []
    for index, (top, getter) in enumerate(zip(tops, getters, strict=True)):
        expression = _INLINE.get(top) if inline else None
        if expression is None:
            namespace[f"getter_{index}"] = getter
            expression = f"getter_{index}(inv, status, ms)"
        parts.append(f"({expression})")
    source = "def record(inv, status, ms):\n    put((marker, " + ", ".join(parts) + "))\n"
    exec(compile(source, "<access log format>", "exec"), namespace)  # our own expressions only (above)
    record: _Record = namespace["record"]
    return record


def _http_response_length(subject: Any) -> int | None:
    body = subject[1].body
    return len(body) if isinstance(body, bytes) else None


# HTTP APIs' $context (subject: (HttpCall, Response)); a variable not listed here renders "-".
_HTTP_GETTERS: dict[str, _Getter] = {
    "requestId": lambda s, status, ms: s[0].request_id,
    "extendedRequestId": lambda s, status, ms: s[0].request_id,
    "httpMethod": lambda s, status, ms: s[0].request.method,
    "path": lambda s, status, ms: s[0].raw_path,
    "routeKey": lambda s, status, ms: None if s[0].route is None else s[0].route.route_key,
    "stage": lambda s, status, ms: s[0].api.stage,
    "apiId": lambda s, status, ms: s[0].api.api_id,
    "accountId": lambda s, status, ms: s[0].api.account_id,
    "domainName": lambda s, status, ms: s[0].domain_name,
    "domainPrefix": lambda s, status, ms: s[0].domain_name.split(".", 1)[0],
    "protocol": lambda s, status, ms: f"HTTP/{s[0].request.http_version}",
    "requestTime": lambda s, status, ms: request_time(s[0].start_epoch_ms),
    "requestTimeEpoch": lambda s, status, ms: s[0].start_epoch_ms,
    "identity": lambda s, status, ms: {
        "sourceIp": s[0].request.client[0],
        "userAgent": s[0].request.header("user-agent"),
    },
    "status": lambda s, status, ms: status,
    "responseLength": lambda s, status, ms: _http_response_length(s),
    "responseLatency": lambda s, status, ms: int(ms),
    "authorizer": lambda s, status, ms: s[0].authorizer or {},
}


def _header(inv: Invocation, name: str) -> str | None:
    """A request header by a scan (``name`` lower-case), not ``request.header()``: that builds the request's
    lower-cased header index, which most requests never need."""
    size = len(name)
    for key, value in inv.request.headers:
        if len(key) == size and key.lower() == name:
            return value
    return None


def _signer(inv: Invocation, field: str) -> Any:
    signer = inv.iam_identity
    return None if signer is None else getattr(signer, field)


# Nested variables the presets and most formats use, each read directly (measured: building the whole
# $context.identity for $context.identity.sourceIp cost more than the rest of a CLF line).
_LEAVES: dict[tuple[str, ...], _Getter] = {
    ("identity", "sourceIp"): lambda inv, status, ms: inv.request.client[0],
    ("identity", "caller"): lambda inv, status, ms: _signer(inv, "user_id"),
    ("identity", "user"): lambda inv, status, ms: _signer(inv, "user_id"),
    ("identity", "userArn"): lambda inv, status, ms: _signer(inv, "arn"),
    ("identity", "accessKey"): lambda inv, status, ms: _signer(inv, "access_key"),
    ("identity", "accountId"): lambda inv, status, ms: _signer(inv, "account_id"),
    ("identity", "userAgent"): lambda inv, status, ms: _header(inv, "user-agent"),
    ("identity", "apiKey"): lambda inv, status, ms: inv.api_key,
    ("identity", "apiKeyId"): lambda inv, status, ms: inv.api_key_id,
    ("error", "responseType"): lambda inv, status, ms: inv.error_type,
    ("integration", "latency"): lambda inv, status, ms: _integration_ms(inv),
}


def _full_context(key: str) -> _Getter:
    return lambda inv, status, ms: request_context(inv).get(key)


def _missing(subject: Any, status: int, ms: float) -> None:
    return None


REST, HTTP, WEBSOCKET = "REST", "HTTP", "WEBSOCKET"

# WebSocket APIs' $context (subject: (Session, eventType, routeKey, requestId, epoch ms)).
_WEBSOCKET_GETTERS: dict[str, _Getter] = {
    "requestId": lambda s, status, ms: s[3],
    "extendedRequestId": lambda s, status, ms: s[3],
    "connectionId": lambda s, status, ms: s[0].connection_id,
    "eventType": lambda s, status, ms: s[1],
    "routeKey": lambda s, status, ms: s[2],
    "messageDirection": lambda s, status, ms: "IN",
    "stage": lambda s, status, ms: s[0].stage,
    "apiId": lambda s, status, ms: s[0].api_id,
    "domainName": lambda s, status, ms: s[0].domain,
    "connectedAt": lambda s, status, ms: s[0].connected_at,
    "requestTime": lambda s, status, ms: request_time(s[4]),
    "requestTimeEpoch": lambda s, status, ms: s[4],
    "identity": lambda s, status, ms: {"sourceIp": s[0].source_ip, "userAgent": s[0].user_agent},
    "status": lambda s, status, ms: status,
    "responseLatency": lambda s, status, ms: int(ms),
    "authorizer": lambda s, status, ms: s[0].authorizer or {},
}


def plan(
    fmt: AccessLogFormat, kind: str, put: Callable[[Any], Any], marker: object
) -> tuple[_Record, int, _Slots]:
    """The format's record function (see ``_compile_record``), how many values it queues, and for each variable
    in the format: (value index, the rest of its path). Made once per compiled format; ``kind``: the API's
    (``REST``, ``HTTP``, ``WEBSOCKET``)."""
    rest = kind == REST
    tops: list[tuple[str, ...]] = []  # what each getter reads: a top-level variable, or a known leaf
    slots: list[tuple[int, tuple[str, ...]]] = []
    # What each value is: one expression read once (CLF's $context.identity.caller and .user are the same).
    reads: list[object] = []
    for path in fmt.paths:
        key = path if rest and path in _LEAVES else path[:1]
        read = _INLINE.get(key, key) if rest else key
        if read not in reads:
            reads.append(read)
            tops.append(key)
        slots.append((reads.index(read), path[len(key) :]))
    if rest:
        getters = tuple(_LEAVES.get(top) or _GETTERS.get(top[0]) or _full_context(top[0]) for top in tops)
    else:
        table = _HTTP_GETTERS if kind == HTTP else _WEBSOCKET_GETTERS
        getters = tuple(table.get(top[0], _missing) for top in tops)
    return _compile_record(tops, getters, rest, put, marker), len(tops), tuple(slots)


def _show(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def _dig(value: Any, rest: tuple[str, ...]) -> Any:
    for part in rest:
        value = value.get(part) if isinstance(value, dict) else None
    return value


# REST values that always have one (never "-"), and those that are a number or None: shown without the
# general check (measured: the checks were a third of the cost of formatting a CLF line).
_ALWAYS = {
    ("requestId",),
    ("extendedRequestId",),
    ("httpMethod",),
    ("protocol",),
    ("requestTime",),
    ("requestTimeEpoch",),
    ("status",),
    ("responseLatency",),
}
_NUMBER_OR_NONE = {("responseLength",), ("integrationLatency",), ("integration", "latency")}
# Whole numbers that are usually small (a status, a length, milliseconds), shown from a table of their
# decimal text below _DIGITS (measured: formatting an int was ~0.6k instructions, a quarter of a CLF line's).
_SMALL_NUMBERS = {("status",), ("responseLatency",)}
_DIGITS = 4096
_DECIMAL = tuple(str(number) for number in range(_DIGITS))


def _compile_lines(
    fmt: AccessLogFormat, slots: _Slots, size: int, kind: str
) -> tuple[Callable[[list[Any]], str], Callable[[list[Any]], list[str]]]:
    """The format as two functions: one line from its values, and every line of a queue holding only this
    format's (its marker, then its values, again and again) in one list comprehension (measured: the call,
    the slice and the loop per line cost as much as the line's f-string). Each value is shown inline, as AWS
    does (``-`` for no value). The format's literal text and paths are handed in as names, never written
    into the source, which holds only our own expressions."""
    namespace: dict[str, Any] = {"show": _show, "dig": _dig, "dash": "-", "empty": "", "digits": _DECIMAL}
    names = [f"v{index}" for index in range(size)]
    parts = []
    for index, literal in enumerate(fmt.literals):
        if literal:
            namespace[f"literal_{index}"] = literal
            parts.append(f"{{literal_{index}}}")
        if index < len(slots):
            top, rest = slots[index]
            value = names[int(top)]
            path = fmt.paths[index]
            if rest:
                namespace[f"rest_{index}"] = rest
                parts.append(f"{{show(dig({value}, rest_{index}))}}")
            elif kind == REST and path in _SMALL_NUMBERS:
                parts.append(f"{{digits[{value}] if 0 <= {value} < {_DIGITS} else {value}}}")
            elif kind == REST and path in _ALWAYS:
                parts.append(f"{{{value}}}")
            elif kind == REST and path in _NUMBER_OR_NONE:
                small = f"digits[{value}] if 0 <= {value} < {_DIGITS} else {value}"
                parts.append(f"{{dash if {value} is None else {small}}}")
            else:
                parts.append(f"{{dash if {value} is None or {value} == empty else {value}}}")
    text = f"f'{''.join(parts)}'"
    unpack = f"    {', '.join(names)}, = values\n" if names else ""
    each = ", ".join(["_", *names])
    source = (
        f"def line(values):\n{unpack}    return {text}\n"
        f"def lines(queued):\n    return [{text} for {each}, in zip(*[iter(queued)] * {size + 1})]\n"
    )
    exec(compile(source, "<access log line>", "exec"), namespace)  # our own expressions only (above)
    return namespace["line"], namespace["lines"]


# Execution log blocks wait in the base class's deque as (destination, (request id, epoch ms, lines)). Access
# log lines wait in a flat list instead: a format's marker, then its values, then the next line's marker...
# (a marker is an object of the format's own, which no value can equal: a queue holds one format's lines
# only when every line's place holds its marker)
# Measured: a tuple per queued line (even one the collector stops tracking) made the garbage collector run
# several times more often, and that cost more than the rest of the line; extending a list leaves nothing
# allocated behind.
_Entry = tuple[str, tuple[str, int, list[str]]]
_Compiled = tuple[str, "str | None", int, Callable[[list[Any]], str], Callable[[list[Any]], list[str]]]


class AccessLogs(PeriodicDrain[_Entry]):
    """The queues and the writer task of every stage's access log in this process."""

    def __init__(self, folder: Path, *, interval: float = 0.05, capacity: int = 100_000) -> None:
        super().__init__(interval=interval, capacity=capacity)
        self._folder = folder
        self._files: dict[str, BinaryIO] = {}
        self._values: list[Any] = []  # the lines' values (above)
        # Values queued at most: the flat list's bound (a line's values at ~16 each). Once full, new lines are
        # dropped until the drain has caught up: a loop too busy to drain loses log lines, never memory.
        self._limit = capacity * 16
        # kind -> id(format) -> its record function. The formats are kept alive in _kept (so an id is never
        # another format's while its entry exists): no identity check per request.
        self._made: dict[str, dict[int, _Record]] = {REST: {}, HTTP: {}, WEBSOCKET: {}}
        self._rest = self._made[REST]
        self._kept: list[AccessLogFormat] = []
        # marker -> (destination, its log group when it names one, its values' count, the line's function,
        # the function of a queue of its lines only)
        self._formats: dict[object, _Compiled] = {}
        self.sink: LogSink | None = None  # log group destinations: the CloudWatch Logs store (else files)

    def add(self, fmt: AccessLogFormat, inv: Invocation, status: int, latency_ms: float) -> None:
        """A REST API request's line: its values read now, formatted and written by the drain."""
        record = self._rest.get(id(fmt))
        if record is None:
            record = self._make(fmt, REST)
        if len(self._values) < self._limit:
            try:
                record(inv, status, latency_ms)
            except Exception:  # a log line is never worth a failed request
                return

    def add_http(self, fmt: AccessLogFormat, call: HttpCall, response: Response, latency_ms: float) -> None:
        """An HTTP API request's line."""
        self._line(fmt, (call, response), response.status, latency_ms, HTTP)

    def add_websocket(
        self,
        fmt: AccessLogFormat,
        session: Any,
        event_type: str,
        route_key: str,
        request_id: str,
        epoch_ms: int,
        status: int,
        latency_ms: float,
    ) -> None:
        """A WebSocket API's connect, message or disconnect (``session``: its dataplane Session)."""
        self._line(fmt, (session, event_type, route_key, request_id, epoch_ms), status, latency_ms, WEBSOCKET)

    def add_execution(self, group: str, request_id: str, epoch_ms: int, lines: list[str]) -> None:
        """A REST request's execution log block, for the log group ``group`` (formatted in the drain)."""
        self._queue.append((f"{_GROUP_ARN}{group}", (request_id, epoch_ms, lines)))

    def _line(self, fmt: AccessLogFormat, subject: Any, status: int, latency_ms: float, kind: str) -> None:
        record = self._made[kind].get(id(fmt))
        if record is None:
            record = self._make(fmt, kind)
        if len(self._values) < self._limit:
            try:
                record(subject, status, latency_ms)
            except Exception:  # a log line is never worth a failed request
                return

    def _make(self, fmt: AccessLogFormat, kind: str) -> _Record:
        if len(self._formats) > 1000:  # old deployments' formats: their queued lines written, then forgotten
            self.drain()
            self._formats.clear()
            self._kept.clear()
            for by_id in self._made.values():
                by_id.clear()
        marker = object()
        record, size, slots = plan(fmt, kind, self._values.extend, marker)
        group = _group_name(fmt.destination) if fmt.destination.startswith("arn:aws:logs:") else None
        line, lines = _compile_lines(fmt, slots, size, kind)
        self._formats[marker] = (fmt.destination, group, size, line, lines)
        self._kept.append(fmt)
        self._made[kind][id(fmt)] = record
        return record

    def pending(self) -> bool:
        return bool(self._values) or bool(self._queue)

    async def close(self) -> None:
        await super().close()
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def drain(self) -> None:
        to_files: dict[str, list[str]] = {}
        access_lines: dict[str, list[str]] = {}  # by log group
        sink = self.sink
        values = self._values
        queued = values.copy()  # the request path's extend is bound to this very list: emptied, not replaced
        values.clear()
        if queued and not self._at_once(queued, access_lines, to_files):
            self._one_by_one(queued, access_lines, to_files)
        blocks: list[tuple[str, int, list[str]]] = []  # execution log blocks: (log group, epoch ms, lines)
        queue = self._queue
        while queue:
            destination, (request_id, epoch_ms, block) = queue.popleft()
            if sink is not None and destination.startswith("arn:aws:logs:"):
                # its events carry the request's time and id, as on AWS
                blocks.append((_group_name(destination), epoch_ms, [f"({request_id}) {x}" for x in block]))
            else:
                stamp = _iso(epoch_ms)
                to_files.setdefault(destination, []).extend(f"{stamp} ({request_id}) {x}" for x in block)
        if sink is not None:
            now_ms = int(time.time() * 1000)
            for group, lines in access_lines.items():
                sink.lines(group, now_ms, lines)
            for group, epoch_ms, lines in blocks:
                sink.lines(group, epoch_ms, lines)
        for destination, lines in to_files.items():
            data = ("\n".join(lines) + "\n").encode()
            try:
                if destination == "stdout":
                    sys.stdout.buffer.write(data)
                    sys.stdout.flush()
                else:
                    self._file(destination).write(data)
            except (OSError, ValueError):
                continue  # a full disk loses log lines, never requests

    def _at_once(
        self, queued: list[Any], access_lines: dict[str, list[str]], to_files: dict[str, list[str]]
    ) -> bool:
        """The lines of a queue of one format's lines only (the usual case: one stage logging); False when it
        holds others too, or a value cannot be shown (the caller then goes line by line)."""
        destination, group, size, _, format_lines = self._formats[queued[0]]
        count, rest = divmod(len(queued), size + 1)
        if rest or queued[:: size + 1].count(queued[0]) != count:
            return False
        try:
            lines = format_lines(queued)
        except Exception:  # the line by line way loses only the line that cannot be shown
            return False
        if self.sink is not None and group is not None:
            access_lines[group] = lines
        else:
            to_files[destination] = lines
        return True

    def _one_by_one(
        self, queued: list[Any], access_lines: dict[str, list[str]], to_files: dict[str, list[str]]
    ) -> None:
        sink = self.sink
        formats = self._formats
        place, end = 0, len(queued)
        while place < end:
            destination, group, size, format_line, _ = formats[queued[place]]
            start = place + 1
            place = start + size
            try:
                line = format_line(queued[start:place])
            except Exception:  # a value that cannot be shown loses its line, never the others
                continue
            if sink is not None and group is not None:
                lines = access_lines.get(group)
                if lines is None:
                    lines = access_lines[group] = []
                lines.append(line)
            else:
                lines = to_files.get(destination)
                if lines is None:
                    lines = to_files[destination] = []
                lines.append(line)

    def path_of(self, destination: str) -> Path:
        """Where a destination's lines go."""
        if destination.startswith("file://"):
            return Path(destination.removeprefix("file://"))
        name = _group_name(destination)
        safe = re.sub(r"[^A-Za-z0-9_.\-]", "_", name.strip("/")) or "access"
        return self._folder / f"{safe}.log"

    def _file(self, destination: str) -> BinaryIO:
        handle = self._files.get(destination)
        if handle is None:
            path = self.path_of(destination)
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle = self._files[destination] = open(path, "ab", buffering=0)  # noqa: SIM115 - kept open
        return handle
