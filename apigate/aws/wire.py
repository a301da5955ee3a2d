"""The rest-json wire protocol, driven by botocore's service models.

Each management call is matched to its operation by HTTP method and URI template, its input is read from the
path, query string, headers and JSON body exactly where the model says, and the handler's result is written
back the same way. The models are the ones boto3 itself uses, so what the client sends is what we parse.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

import botocore.session
import orjson
from botocore.validate import ParamValidator

from apigate.aws.errors import AwsError, bad_request
from apigate.server.message import Request, Response

Params = dict[str, Any]
OperationHandler = Callable[[Params], Awaitable[Any]]

_session = botocore.session.get_session()


@dataclass(frozen=True, slots=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    query_required: tuple[tuple[str, str], ...]
    literal_chars: int  # more literal text = more specific; breaks ties between templates
    operation: Any  # botocore OperationModel


def _compile(uri: str) -> tuple[re.Pattern[str], tuple[tuple[str, str], ...], int]:
    path, _, query = uri.partition("?")
    required = tuple((k, v) for k, v in parse_qsl(query, keep_blank_values=True))
    regex = ""
    literal = 0
    for piece in re.split(r"(\{[^}]+\})", path):
        if piece.startswith("{"):
            name = piece[1:-1]
            if name.endswith("+"):
                regex += f"(?P<{_group(name[:-1])}>.+)"
            else:
                regex += f"(?P<{_group(name)}>[^/]+)"
        else:
            regex += re.escape(piece)
            literal += len(piece)
    return re.compile(f"^{regex}/?$"), required, literal


def _group(name: str) -> str:
    return re.sub(r"\W", "_", name)


class ServiceApi:
    """One AWS service's operations, matched by route and dispatched to handlers by operation name."""

    def __init__(
        self,
        service_name: str,
        handlers: Mapping[str, OperationHandler],
        *,
        lock: asyncio.Lock | None = None,
        unlocked: frozenset[str] = frozenset(),
    ) -> None:
        self.model = _session.get_service_model(service_name)
        self.handlers = dict(handlers)
        # Calls run one at a time under ``lock``, except ``unlocked`` ones: those that run user code for a
        # long time (Invoke, TestInvokeMethod), whose code may itself call the management API.
        self._lock = lock
        self._unlocked = unlocked
        routes = []
        for name in self.model.operation_names:
            op = self.model.operation_model(name)
            pattern, required, literal = _compile(op.http["requestUri"])
            routes.append(_Route(op.http["method"], pattern, required, literal, op))
        # Templates that demand a query parameter (ImportRestApi's ?mode=import) go first, then the most literal.
        routes.sort(key=lambda r: (-len(r.query_required), -r.literal_chars))
        self._routes = routes

    def match(
        self, method: str, path: str, query: list[tuple[str, str]]
    ) -> tuple[Any, dict[str, str]] | None:
        query_set = set(query)
        for route in self._routes:
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found is None or not all(pair in query_set for pair in route.query_required):
                continue
            return route.operation, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    async def dispatch(self, request: Request, path: str, query: list[tuple[str, str]]) -> Response | None:
        matched = self.match(request.method, path, query)
        if matched is None:
            return None
        op, path_params = matched
        handler = self.handlers.get(op.name)
        if handler is None:
            return error_response(
                AwsError("NotImplementedException", f"{op.name} is not supported by apigate yet", 501)
            )
        try:
            params = parse_input(op, path_params, query, request)
            validate_input(op, params, self.model.service_name)
            if self._lock is None or op.name in self._unlocked:
                result = await handler(params)
            else:
                async with self._lock:
                    result = await handler(params)
        except AwsError as exc:
            return error_response(exc, lambda_style=self.model.service_name == "lambda")
        return serialize_output(op, result)


def parse_query(query_string: str) -> list[tuple[str, str]]:
    return parse_qsl(query_string, keep_blank_values=True)


def _convert_scalar(shape: Any, raw: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            return int(raw)
        except ValueError as exc:
            raise bad_request(f"Invalid value for {shape.name}: {raw}") from exc
    if kind in ("float", "double"):
        return float(raw)
    if kind == "boolean":
        return raw.lower() == "true"
    return raw


def _from_json(shape: Any, value: Any) -> Any:
    """Decode blobs (base64 in JSON) and recurse through containers; everything else stays as sent."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "blob":
        try:
            return base64.b64decode(value)
        except (ValueError, TypeError) as exc:
            raise bad_request(f"Invalid base64 value for {shape.name}") from exc
    if kind == "structure" and isinstance(value, dict):
        out = {}
        for name, member in shape.members.items():
            key = member.serialization.get("name", name)
            if key in value:
                out[name] = _from_json(member, value[key])
        return out
    if kind == "list" and isinstance(value, list):
        return [_from_json(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _from_json(shape.value, v) for k, v in value.items()}
    return value


def parse_input(
    op: Any, path_params: dict[str, str], query: list[tuple[str, str]], request: Request
) -> Params:
    shape = op.input_shape
    params: Params = {}
    if shape is None:
        return params
    payload_name = shape.serialization.get("payload")
    body_members = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri":
            value = path_params.get(_group(wire_name))
            if value is not None:
                params[name] = _convert_scalar(member, value)
        elif location == "querystring":
            if member.type_name == "map":
                params[name] = {k: v for k, v in query}
            elif member.type_name == "list":
                values = [v for k, v in query if k == wire_name]
                if values:
                    params[name] = values
            else:
                for k, v in query:
                    if k == wire_name:
                        params[name] = _convert_scalar(member, v)
        elif location == "header":
            value = request.header(wire_name)
            if value is not None:
                params[name] = _convert_scalar(member, value)
        elif location == "headers":
            prefix = wire_name.lower()
            params[name] = {k[len(prefix) :]: v for k, v in request.headers if k.lower().startswith(prefix)}
        elif name != payload_name:
            body_members[name] = member
    if payload_name is not None:
        member = shape.members[payload_name]
        if member.type_name in ("blob", "string"):
            params[payload_name] = request.body
            return params
        body_shape = member
        target: Params = {}
        params[payload_name] = target
    else:
        body_shape = shape
        target = params
    if request.body:
        try:
            document = orjson.loads(request.body)
        except orjson.JSONDecodeError as exc:
            raise AwsError("SerializationException", "Could not parse request body into json", 400) from exc
        if not isinstance(document, dict):
            raise AwsError("SerializationException", "Could not parse request body into json", 400)
        decoded = _from_json(body_shape, document)
        if payload_name is not None:
            target.update(decoded)
        else:
            target.update({k: v for k, v in decoded.items() if k in body_members})
    return params


_validator = ParamValidator()


def validate_input(op: Any, params: Params, service: str) -> None:
    """Check the input against the model (required members, types, minimums) before a handler sees it.

    AWS's front door rejects such calls with a 400 listing every violation; handlers can then trust types.
    Raw payloads (bytes) are checked for presence only.
    """
    shape = op.input_shape
    if shape is None:
        return
    checked = params
    payload = shape.serialization.get("payload")
    if payload is not None and isinstance(params.get(payload), bytes | bytearray):
        checked = {**params, payload: b"" if shape.members[payload].type_name == "blob" else ""}
    errors = _validator.validate(checked, shape)._errors
    if not errors:
        return
    lines = [_violation(kind, where, detail) for kind, where, detail in errors]
    count = f"{len(lines)} validation error{'s' if len(lines) > 1 else ''} detected: "
    code = "ValidationException" if service == "lambda" else "BadRequestException"
    raise AwsError(code, count + "; ".join(lines), 400)


def _violation(kind: str, where: str, detail: dict[str, Any]) -> str:
    name = where.lstrip(".")
    if kind == "missing required field":
        member = f"{name}.{detail['required_name']}" if name else detail["required_name"]
        return f"Value null at '{_camel(member)}' failed to satisfy constraint: Member must not be null"
    if kind == "invalid range":
        return (
            f"Value '{detail['param']}' at '{_camel(name)}' failed to satisfy constraint: "
            f"Member must have value greater than or equal to {detail['min_allowed']}"
        )
    if kind == "invalid length":
        return (
            f"Value at '{_camel(name)}' failed to satisfy constraint: "
            f"Member must have length greater than or equal to {detail['min_allowed']}"
        )
    if kind == "invalid enum":
        return (
            f"Value '{detail['param']}' at '{_camel(name)}' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(detail['valid_values'])}]"
        )
    return f"Value at '{_camel(name)}' failed to satisfy constraint: Member must be of the model's type ({kind})"


def _camel(path: str) -> str:
    return ".".join(part[:1].lower() + part[1:] for part in path.split("."))


def _to_json(shape: Any, value: Any) -> Any:
    if value is None:
        return None
    kind = shape.type_name
    if kind == "blob" and isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if kind == "structure" and isinstance(value, dict):
        out = {}
        for k, v in value.items():
            member = shape.members.get(k)
            out[member.serialization.get("name", k) if member else k] = _to_json(member, v) if member else v
        return out
    if kind == "list" and isinstance(value, list):
        return [_to_json(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _to_json(shape.value, v) for k, v in value.items()}
    return value


REQUEST_ID_FIELD = "_requestId"


def serialize_output(op: Any, result: Any) -> Response:
    status = int(op.http.get("responseCode", 200))
    headers: list[tuple[str, str]] = []
    shape = op.output_shape
    if shape is None or result is None:
        return Response(
            status, [("Content-Type", "application/json")], b"" if status in (202, 204) else b"{}"
        )
    body_fields = dict(result)
    # A handler may name the call's request id (Lambda's Invoke: the invocation's own, which its logs show).
    request_id = body_fields.pop(REQUEST_ID_FIELD, None)
    if request_id is not None:
        headers.append(("x-amzn-RequestId", str(request_id)))
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        if location is None or name not in body_fields:
            continue
        value = body_fields.pop(name)
        if location == "statusCode":
            status = int(value)
        elif location == "header" and value is not None:
            headers.append((member.serialization.get("name", name), str(value)))
    payload_name = shape.serialization.get("payload")
    if payload_name is not None:
        member = shape.members[payload_name]
        value = body_fields.get(payload_name)
        if member.type_name in ("blob", "string"):
            body = value if isinstance(value, bytes) else (value or "").encode()
            if not any(name.lower() == "content-type" for name, _ in headers):  # GetExport sets its own
                headers.append(("Content-Type", "application/json"))
            return Response(status, headers, body)
        body = orjson.dumps(_to_json(member, value or {}))
    else:
        body = orjson.dumps(_to_json(shape, body_fields))
    headers.append(("Content-Type", "application/json"))
    return Response(status, headers, body)


def error_response(error: AwsError, *, lambda_style: bool = False) -> Response:
    document: dict[str, Any] = {"message": error.message}
    if lambda_style:
        document = {"Type": "User", "message": error.message}
    return Response(
        error.status,
        [("Content-Type", "application/json"), ("x-amzn-ErrorType", error.code)],
        orjson.dumps(document),
    )
