"""Serves the chat page, with the WebSocket API's id and stage filled in."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_PAGE = (Path(__file__).parent / "index.html").read_text()


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    page = _PAGE.replace("{{API_ID}}", os.environ["CHAT_API_ID"]).replace("{{STAGE}}", os.environ["CHAT_STAGE"])
    return {"statusCode": 200, "headers": {"Content-Type": "text/html; charset=utf-8"}, "body": page}
