"""Stable API ids: the ``_custom_id_`` tag (the convention local emulators share) names the id an API gets.

REST, HTTP and WebSocket APIs share one id space at AWS (one execute-api host each), so a custom id is
refused when any API already has it, with AWS's ConflictException. The store's ``insert`` refuses a key its
own kind holds inside the write's transaction; the other kind is checked here.
"""

from __future__ import annotations

import re
from typing import Any

from apigate.aws.errors import bad_request, conflict
from apigate.aws.ids import short_id
from apigate.store.base import DocumentStore
from apigate.store.regional import REGION

__all__ = ["CUSTOM_ID_TAG", "new_api_id"]

CUSTOM_ID_TAG = "_custom_id_"
_VALID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # one DNS label in {id}.execute-api.{host}
_API_KINDS = ("restapi", "v2api")


def new_api_id(store: DocumentStore, tags: dict[str, Any] | None) -> tuple[str, bool]:
    """(the id a new API gets, whether it was asked for): the ``_custom_id_`` tag's value or a random id."""
    wanted = (tags or {}).get(CUSTOM_ID_TAG)
    if wanted is None:
        return short_id(10), False
    wanted = str(wanted)
    if not _VALID.match(wanted):
        raise bad_request(f"Invalid {CUSTOM_ID_TAG} tag value: {wanted}")
    # One host serves every region's APIs, so an id is taken when any region holds it (its region record).
    if store.get(REGION, wanted) is not None or any(store.get(kind, wanted) is not None for kind in _API_KINDS):
        raise conflict(f"An API with id {wanted} already exists")
    return wanted, True


def document_tags(document: Any) -> dict[str, str]:
    """The tags an OpenAPI document gives its API: top-level ``tags`` entries carrying
    ``x-amazon-apigateway-tag-value`` (AWS's form), so ``_custom_id_`` can travel in the document."""
    tags: dict[str, str] = {}
    entries = document.get("tags") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, dict) and "x-amazon-apigateway-tag-value" in entry and entry.get("name"):
            tags[str(entry["name"])] = str(entry["x-amazon-apigateway-tag-value"])
    return tags
