"""The core every Lambda authorizer shares (REST, HTTP and WebSocket APIs): how long a function may take, what
its answer must look like, and the IAM-policy answer evaluated against a request's ARN.

Each API kind keeps a shell around it (its event, its cache, its error answers): REST APIs
(``authorizers/lambda_.py``) evaluate policies with the full IAM engine (``aws/policy.py``); HTTP and WebSocket
APIs (``http_api/lambda_authorizer.py``, ``websocket/authorizer.py``) with :func:`policy_allows` below.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

TIMEOUT = 10.0  # the longest AWS waits for an authorizer function


class InvalidAnswer(Exception):
    """The function's answer is not what an authorizer must return (each API kind answers it its own way)."""


def decode_answer(payload: bytes) -> dict[str, Any]:
    try:
        answer = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise InvalidAnswer("not JSON") from None
    if not isinstance(answer, dict):
        raise InvalidAnswer("not a JSON object")
    return answer


def answer_context(answer: dict[str, Any]) -> dict[str, Any]:
    """``context``: absent means empty; anything but an object is refused."""
    context = answer.get("context") or {}
    if not isinstance(context, dict):
        raise InvalidAnswer("context is not an object")
    return context


def iam_statements(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """``policyDocument.Statement`` of an IAM-policy answer."""
    document = answer.get("policyDocument")
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), list):
        raise InvalidAnswer("policyDocument has no Statement list")
    statements: list[dict[str, Any]] = document["Statement"]
    return statements


def with_principal(context: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """The context later steps see: the answer's ``principalId`` beside its ``context`` (a new dict)."""
    return {**context, "principalId": answer["principalId"]} if "principalId" in answer else {**context}


def error_message(payload: bytes) -> str | None:
    """A failed function's ``errorMessage`` (``Unauthorized`` is the one AWS turns into a 401)."""
    try:
        error = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return error.get("errorMessage") if isinstance(error, dict) else None


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$")


def policy_allows(statements: list[dict[str, Any]], arn: str) -> bool:
    allowed = False
    for statement in statements:
        actions = statement.get("Action")
        actions = [actions] if isinstance(actions, str) else actions or []
        if not any(a in ("execute-api:Invoke", "execute-api:*", "*") for a in actions):
            continue
        resources = statement.get("Resource")
        resources = [resources] if isinstance(resources, str) else resources or []
        if not any(_glob(str(r)).match(arn) for r in resources):
            continue
        effect = statement.get("Effect")
        if effect == "Deny":
            return False
        if effect == "Allow":
            allowed = True
    return allowed
