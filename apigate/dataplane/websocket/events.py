"""The Lambda proxy events of WebSocket APIs: CONNECT, MESSAGE and DISCONNECT, as AWS builds them."""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, Any

from apigate.aws.ids import extended_request_id
from apigate.dataplane.lambda_proxy.v1 import request_time

if TYPE_CHECKING:
    from apigate.dataplane.websocket.session import Session


def request_context(
    session: Session, route_key: str, event_type: str, request_id: str, now_ms: int
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": request_time(now_ms),
        "messageDirection": "IN",
        "stage": session.stage,
        "connectedAt": session.connected_at,
        "requestTimeEpoch": now_ms,
        "identity": {"sourceIp": session.source_ip, "userAgent": session.user_agent},
        "requestId": request_id,
        "domainName": session.domain,
        "connectionId": session.connection_id,
        "apiId": session.api_id,
    }
    if session.authorizer is not None:
        context["authorizer"] = session.authorizer
    return context


def connect_event(session: Session, request_id: str, now_ms: int) -> dict[str, Any]:
    """``$connect`` (and its authorizer) see the handshake's headers and query string."""
    event: dict[str, Any] = {
        "headers": dict(session.headers),
        "multiValueHeaders": session.multi_headers(),
        "requestContext": request_context(session, "$connect", "CONNECT", request_id, now_ms),
        "isBase64Encoded": False,
    }
    query, multi_query = session.query()
    if query:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = multi_query
    return event


def message_event(
    session: Session, route_key: str, data: str | bytes, request_id: str, now_ms: int
) -> dict[str, Any]:
    context = request_context(session, route_key, "MESSAGE", request_id, now_ms)
    context["messageId"] = extended_request_id()
    binary = isinstance(data, bytes)
    return {
        "requestContext": context,
        "body": base64.b64encode(data).decode() if isinstance(data, bytes) else data,
        "isBase64Encoded": binary,
    }


def disconnect_event(session: Session, code: int, reason: str) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    context = request_context(session, "$disconnect", "DISCONNECT", extended_request_id(), now_ms)
    context["disconnectStatusCode"] = code
    context["disconnectReason"] = reason
    return {
        "headers": dict(session.headers),
        "multiValueHeaders": session.multi_headers(),
        "requestContext": context,
        "isBase64Encoded": False,
    }
