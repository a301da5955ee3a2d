"""The console's files, served from the package: read once, answered with an ETag and a strict content policy.

The console is a page of native ES modules (no build step); everything it does goes through the management API
with the caller's own credentials, so serving its files needs no authority: they are the same for everyone.
``config.json`` tells the page what it cannot know by itself (region, account, whether calls must be signed).
"""

from __future__ import annotations

import hashlib
import html
from importlib import resources

import orjson

from apigate.server.message import Request, Response

__all__ = ["PREFIX", "ConsoleAssets"]

PREFIX = "/_apigate/console/"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}
# Nothing but this origin: no inline script, no framing (clickjacking), no referrer leaking API ids.
_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-cache"),  # revalidated by ETag: a new apigate version's console is seen at once
]


class ConsoleAssets:
    """The files under ``apigate/console/static``, by their path below ``/_apigate/console/``."""

    __slots__ = ("_config", "_files")

    def __init__(self, *, region: str, account_id: str, signed: bool) -> None:
        self._files: dict[str, tuple[bytes, str, str]] = {}
        root = resources.files("apigate.console") / "static"
        config = orjson.dumps({"region": region, "accountId": account_id, "signed": signed})
        self._load(root, "", html.escape(config.decode()))
        self._config = (config, "application/json", f'"{hashlib.sha256(config).hexdigest()[:16]}"')

    def _load(self, folder: resources.abc.Traversable, prefix: str, config: str) -> None:
        for entry in folder.iterdir():
            name = prefix + entry.name
            if entry.is_dir():
                self._load(entry, name + "/", config)
                continue
            suffix = "." + entry.name.rpartition(".")[2]
            if suffix in _TYPES:
                data = entry.read_bytes()
                if name == "index.html":  # the page starts knowing its gateway: one round trip less
                    data = data.replace(
                        b'name="apigate-config" content=""',
                        f'name="apigate-config" content="{config}"'.encode(),
                    )
                self._files[name] = (data, _TYPES[suffix], f'"{hashlib.sha256(data).hexdigest()[:16]}"')

    def answer(self, request: Request, path: str) -> Response:
        """``path`` starts with ``/_apigate/console``: a file, a redirect to the folder, or 404."""
        if path == PREFIX.rstrip("/"):
            return Response(308, [("Location", PREFIX)], b"")
        name = (path[len(PREFIX) :] or "index.html") if path.startswith(PREFIX) else ""
        found = self._config if name == "config.json" else self._files.get(name)  # exact names: no traversal
        if found is None or request.method not in ("GET", "HEAD"):
            return Response(404, [("Content-Type", "application/json")], b'{"message":"Not Found"}')
        data, content_type, etag = found
        headers = [("Content-Type", content_type), ("ETag", etag), *_HEADERS]
        if request.header("if-none-match") == etag:
            return Response(304, headers, b"")
        return Response(200, headers, b"" if request.method == "HEAD" else data)
