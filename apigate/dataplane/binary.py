"""Matching media types against an API's ``binaryMediaTypes`` (wildcards like ``image/*`` and ``*/*``)."""

from __future__ import annotations

from collections.abc import Sequence


def _bare(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()


def is_binary(media_type: str | None, binary_types: Sequence[str]) -> bool:
    if not media_type or not binary_types:
        return False
    bare = _bare(media_type)
    major = bare.split("/", 1)[0]
    for candidate in binary_types:
        candidate = candidate.lower()
        if candidate in (bare, "*/*") or candidate == f"{major}/*":
            return True
    return False


def first_accept(accept: str | None) -> str | None:
    """AWS looks only at the first media type of ``Accept`` to decide on binary output."""
    if not accept:
        return None
    return accept.split(",", 1)[0]
