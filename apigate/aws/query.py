"""The AWS query protocol (IAM, STS): form-encoded ``Action=…`` requests in, XML out, driven by botocore's models.

Input members are read where the query serializer puts them (``Name``, ``Name.member.N``, ``Name.Field``,
``Name.entry.N.key``); output is written as ``<{Op}Response><{Op}Result>…`` with lists as ``<member>``
elements, the way botocore's query parser reads it back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import botocore.session

from apigate.aws.errors import AwsError
from apigate.aws.ids import request_id
from apigate.aws.wire import OperationHandler
from apigate.server.message import Request, Response

_session = botocore.session.get_session()


def form_params(request: Request) -> dict[str, str]:
    """The call's parameters: the form body of a POST, the query string of a GET."""
    pairs = parse_qsl(request.query_string, keep_blank_values=True)
    content_type = (request.header("content-type") or "").lower()
    if request.body and (not content_type or "x-www-form-urlencoded" in content_type):
        pairs += parse_qsl(request.body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return dict(pairs)


def _parse(shape: Any, prefix: str, flat: Mapping[str, str]) -> Any:
    kind = shape.type_name
    if kind == "structure":
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            key = (
                f"{prefix}.{member.serialization.get('name', name)}"
                if prefix
                else member.serialization.get("name", name)
            )
            value = _parse(member, key, flat)
            if value is not None:
                out[name] = value
        return out if out or not prefix else None
    if kind == "list":
        item = prefix if shape.serialization.get("flattened") else f"{prefix}.member"
        values = []
        index = 1
        while True:
            value = _parse(shape.member, f"{item}.{index}", flat)
            if value is None:
                break
            values.append(value)
            index += 1
        if not values and flat.get(prefix) == "":
            return []  # "Name=" is how the serializer sends an empty list
        return values or None
    if kind == "map":
        entries: dict[str, Any] = {}
        index = 1
        while f"{prefix}.entry.{index}.key" in flat:
            entries[flat[f"{prefix}.entry.{index}.key"]] = _parse(
                shape.value, f"{prefix}.entry.{index}.value", flat
            )
            index += 1
        return entries or None
    raw = flat.get(prefix)
    if raw is None:
        return None
    if kind in ("integer", "long"):
        try:
            return int(raw)
        except ValueError as exc:
            raise AwsError("ValidationError", f"Invalid value for {prefix}: {raw}") from exc
    if kind == "boolean":
        return raw.lower() == "true"
    return raw


def _xml(shape: Any, name: str, value: Any) -> str:
    if value is None:
        return ""
    kind = shape.type_name if shape is not None else "string"
    if kind == "structure" and isinstance(value, Mapping):
        inner = "".join(
            _xml(
                shape.members.get(k),
                shape.members[k].serialization.get("name", k) if k in shape.members else k,
                v,
            )
            for k, v in value.items()
        )
        return f"<{name}>{inner}</{name}>"
    if kind == "list" and isinstance(value, list):
        member_name = shape.member.serialization.get("name", "member")
        items = "".join(_xml(shape.member, member_name, v) for v in value)
        return items if shape.serialization.get("flattened") else f"<{name}>{items}</{name}>"
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = value.isoformat().replace("+00:00", "Z")
    else:
        text = str(value)
    return f"<{name}>{escape(text)}</{name}>"


class QueryApi:
    """One query-protocol service's operations, dispatched to handlers by their ``Action``."""

    def __init__(
        self, service_name: str, handlers: Mapping[str, OperationHandler], *, lock: asyncio.Lock | None = None
    ) -> None:
        self.model = _session.get_service_model(service_name)
        self.handlers = dict(handlers)
        self._lock = lock
        self._namespace = self.model.metadata.get("xmlNamespace") or (
            f"https://{service_name}.amazonaws.com/doc/{self.model.api_version}/"
        )

    def handles(self, action: str | None) -> bool:
        return action is not None and action in self.model.operation_names

    async def dispatch(self, request: Request, params: Mapping[str, str]) -> Response:
        action = params.get("Action") or ""
        if action not in self.model.operation_names:
            return self.error(
                AwsError(
                    "InvalidAction",
                    f"Could not find operation {action} for version "
                    f"{params.get('Version') or self.model.api_version}",
                    400,
                )
            )
        handler = self.handlers.get(action)
        if handler is None:
            return self.error(AwsError("NotImplemented", f"{action} is not supported by apigate yet", 501))
        op = self.model.operation_model(action)
        try:
            args = _parse(op.input_shape, "", params) if op.input_shape is not None else {}
            if self._lock is None:
                result = await handler(args)
            else:
                async with self._lock:
                    result = await handler(args)
        except AwsError as exc:
            return self.error(exc)
        return self._answer(op, result)

    def _answer(self, op: Any, result: Any) -> Response:
        body = ""
        shape = op.output_shape
        if shape is not None and result:
            wrapper = op.output_shape.serialization.get("resultWrapper") or f"{op.name}Result"
            inner = "".join(
                _xml(shape.members[k], shape.members[k].serialization.get("name", k), v)
                for k, v in result.items()
                if k in shape.members
            )
            body = f"<{wrapper}>{inner}</{wrapper}>"
        document = (
            f'<{op.name}Response xmlns="{self._namespace}">{body}'
            f"<ResponseMetadata><RequestId>{request_id()}</RequestId></ResponseMetadata></{op.name}Response>"
        )
        return Response(200, [("Content-Type", "text/xml")], document.encode())

    def error(self, error: AwsError) -> Response:
        side = "Receiver" if error.status >= 500 else "Sender"
        document = (
            f'<ErrorResponse xmlns="{self._namespace}"><Error><Type>{side}</Type>'
            f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error>"
            f"<RequestId>{request_id()}</RequestId></ErrorResponse>"
        )
        return Response(error.status, [("Content-Type", "text/xml")], document.encode())
