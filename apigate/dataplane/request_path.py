"""The request path as routing and every decision see it, and path values as an upstream URL receives them.

One canonical form, computed once per request (``Invocation.segments``, ``HttpCall.segments``): the path below the
stage is percent-decoded once, then split on ``/``, with empty segments and ``.`` dropped and ``..`` removing the
segment before it (never climbing above the stage's root). Routing, the method ARN that resource policies, IAM
policies and Lambda authorizer policies are evaluated against, the response cache key (path parameters) and the
usage-plan method key (the matched resource) all derive from it, so ``/%61dmin/x``, ``//admin/x``, ``/admin%2Fx``,
``/./admin/x`` and ``/public/../admin/x`` are all ``/admin/x`` for every one of them.

Why these choices: AWS documents that HTTP APIs decode the path before matching routes (so ``%2F`` is a separator,
and a value with a slash in it is sent as ``%252F``); edge-optimized APIs sit behind CloudFront, which removes dot
segments (RFC 3986 §5.2.4) before API Gateway sees the path. apigate applies the same to REST and HTTP APIs alike.
The event fields that AWS documents as raw (``path``, ``rawPath``, ``requestContext.path``) stay as sent.

A value put into an integration URI's path (``http://host/base/{proxy}``) goes through :func:`path_value`: its own
dot segments are resolved inside it and every segment is percent-encoded, so no value (a greedy path parameter, or
a header or query string mapped to ``integration.request.path.x``) makes the upstream URL climb above the base.
"""

from __future__ import annotations

from urllib.parse import quote, unquote


def _resolve(parts: list[str]) -> list[str]:
    """RFC 3986 dot-segment removal on split segments, empty segments dropped; ``..`` stops at the root."""
    resolved: list[str] = []
    for part in parts:
        if not part or part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        resolved.append(part)
    return resolved


def canonical_segments(path: str) -> list[str]:
    """``/a/%62//./c/../d/`` -> ``["a", "b", "d"]``: decoded once, empty and dot segments resolved."""
    if "%" in path:
        path = unquote(path)
    if "//" in path or "/." in path:  # only then can a segment be empty or a dot segment
        return _resolve(path.split("/"))
    stripped = path.strip("/")
    return stripped.split("/") if stripped else []


def path_value(value: str) -> str:
    """A value for an integration URI's path: dot segments resolved within the value itself (it cannot climb
    above the placeholder's position), empty segments dropped, each segment percent-encoded (``%`` too, so an
    upstream that decodes once sees ``%2e%2e`` as text, not as ``..``); slashes between segments are kept."""
    if "." in value or "//" in value or value[:1] == "/" or value[-1:] == "/":  # else nothing to resolve
        value = "/".join(_resolve(value.split("/")))
    return quote(value, safe="/")  # per segment: a slash is never produced by decoding here


def encoded_path(segments: list[str]) -> str:
    """The canonical path percent-encoded again, for a URL (``$request.path`` in an ``overwrite:path``)."""
    return "/" + quote("/".join(segments), safe="/")
