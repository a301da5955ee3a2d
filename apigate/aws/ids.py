"""Identifiers in the shapes AWS uses: short lowercase alphanumerics and request ids."""

from __future__ import annotations

import secrets
import string
import uuid

_ALPHABET = string.ascii_lowercase + string.digits


def short_id(length: int = 10) -> str:
    """An API Gateway style id: rest APIs have 10 characters, resources and deployments 6."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def request_id() -> str:
    return str(uuid.uuid4())


ACCOUNT_ID = "000000000000"
