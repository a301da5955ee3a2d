"""A chat room over a WebSocket API: who is in the room is kept in SQLite (on AWS: a DynamoDB table).

Messages from clients: {"action": "join", "name": "ada"}, {"action": "sendmessage", "message": "hi"}.
Messages to clients: {"type": "joined" | "left" | "message", "from": name, "message": text}.
"""

from __future__ import annotations

import json
import os
import sqlite3
from typing import Any

import boto3

_db: sqlite3.Connection | None = None


def _room() -> sqlite3.Connection:
    global _db
    if _db is None:
        _db = sqlite3.connect(os.environ["ROOM_DB"], timeout=10, isolation_level=None)
        _db.execute("CREATE TABLE IF NOT EXISTS members (connection_id TEXT PRIMARY KEY, name TEXT NOT NULL)")
    return _db


def _client(event: dict[str, Any]) -> Any:
    context = event["requestContext"]
    # The stage's own URL, exactly as on AWS: apigate's workers route it to the gateway.
    endpoint = f"https://{context['domainName']}/{context['stage']}"
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)


def _broadcast(event: dict[str, Any], payload: dict[str, Any]) -> None:
    client = _client(event)
    data = json.dumps(payload).encode()
    for (connection_id,) in _room().execute("SELECT connection_id FROM members").fetchall():
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=data)
        except client.exceptions.GoneException:  # left without a goodbye: forget it
            _room().execute("DELETE FROM members WHERE connection_id = ?", (connection_id,))


def _name(connection_id: str) -> str:
    row = _room().execute("SELECT name FROM members WHERE connection_id = ?", (connection_id,)).fetchone()
    return row[0] if row else "someone"


def on_connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    name = (event.get("queryStringParameters") or {}).get("name") or "anonymous"
    connection_id = event["requestContext"]["connectionId"]
    _room().execute("INSERT OR REPLACE INTO members VALUES (?, ?)", (connection_id, name))
    return {"statusCode": 200}


def on_join(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = event["requestContext"]["connectionId"]
    body = json.loads(event.get("body") or "{}")
    name = str(body.get("name") or _name(connection_id))
    _room().execute("INSERT OR REPLACE INTO members VALUES (?, ?)", (connection_id, name))
    _broadcast(event, {"type": "joined", "from": name})
    return {"statusCode": 200}


def on_send(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = event["requestContext"]["connectionId"]
    body = json.loads(event.get("body") or "{}")
    _broadcast(event, {"type": "message", "from": _name(connection_id), "message": str(body.get("message", ""))})
    return {"statusCode": 200}


def on_disconnect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = event["requestContext"]["connectionId"]
    name = _name(connection_id)
    _room().execute("DELETE FROM members WHERE connection_id = ?", (connection_id,))
    _broadcast(event, {"type": "left", "from": name})
    return {"statusCode": 200}


def on_default(event: dict[str, Any], context: Any) -> dict[str, Any]:
    help_text = 'Send {"action": "join", "name": "..."} or {"action": "sendmessage", "message": "..."}'
    return {"statusCode": 200, "body": json.dumps({"type": "help", "message": help_text})}
