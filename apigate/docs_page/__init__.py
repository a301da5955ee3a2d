"""A reference page per stage: ``/_apigate/docs/{apiId}/{stage}`` renders the stage's OpenAPI document (with its
documentation parts) with Swagger UI, whose assets ship inside the package (no CDN; see assets/README.md).

The page's document names the stage on the page's own origin (``/_aws/execute-api/{apiId}/{stage}``), so "Try it
out" calls the live stage without CORS, and the Content-Security-Policy keeps every request on that origin.
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import unquote

import orjson

from apigate.aws.errors import AwsError
from apigate.aws.wire import error_response
from apigate.control.context import ControlContext
from apigate.control.sdks import stage_document
from apigate.server.message import Response

__all__ = ["PREFIX", "SWAGGER_UI_VERSION", "DocsPages"]

PREFIX = "/_apigate/docs/"
SWAGGER_UI_VERSION = "5.35.0"
_ASSETS = Path(__file__).parent / "assets"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_SERVED = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "apigate-docs.js"})
# Swagger UI draws inline styles and data: images; everything else, "try it" included, stays on this origin.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} · {stage} · apigate</title>
<link rel="stylesheet" href="/_apigate/docs/assets/swagger-ui.css">
<link rel="icon" href="data:,">
</head>
<body>
<div id="swagger-ui" data-spec="{spec}"></div>
<script src="/_apigate/docs/assets/swagger-ui-bundle.js"></script>
<script src="/_apigate/docs/assets/apigate-docs.js"></script>
</body>
</html>
"""


def _not_found() -> Response:
    return Response(404, [("Content-Type", "application/json")], b'{"message":"Not Found"}')


class DocsPages:
    """Answers ``/_apigate/docs/*``: the page, its OpenAPI document, and the vendored assets."""

    def __init__(self, ctx: ControlContext) -> None:
        self._ctx = ctx
        self._assets: dict[str, bytes] = {}

    def serve(self, path: str) -> Response:
        rest = path[len(PREFIX) :]
        if rest.startswith("assets/"):
            return self._asset(rest[len("assets/") :])
        parts = [unquote(part) for part in rest.split("/")]
        try:
            if len(parts) == 2:
                return self._page(parts[0], parts[1])
            if len(parts) == 3 and parts[2] == "openapi.json":
                return self._document(parts[0], parts[1])
        except AwsError as exc:
            return error_response(exc)
        return _not_found()

    def document(self, api_id: str, stage: str) -> dict[str, object]:
        """The stage's OpenAPI 3 document as the page shows it: the stage on the page's own origin."""
        document, _ = stage_document(self._ctx, api_id, stage)
        document["servers"] = [{"url": f"/_aws/execute-api/{api_id}/{stage}", "description": f"stage {stage}"}]
        return document

    def _document(self, api_id: str, stage: str) -> Response:
        body = orjson.dumps(self.document(api_id, stage))
        return Response(200, [("Content-Type", "application/json"), ("Cache-Control", "no-store")], body)

    def _page(self, api_id: str, stage: str) -> Response:
        document = self.document(api_id, stage)  # not found: AWS's error, not an empty page
        info = document.get("info")
        title = str(info.get("title") or api_id) if isinstance(info, dict) else api_id
        body = _PAGE.format(
            title=html.escape(title),
            stage=html.escape(stage),
            spec=html.escape(f"{PREFIX}{api_id}/{stage}/openapi.json"),
        ).encode()
        headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Security-Policy", _CSP),
            ("X-Content-Type-Options", "nosniff"),
            ("Cache-Control", "no-store"),
        ]
        return Response(200, headers, body)

    def _asset(self, name: str) -> Response:
        if name not in _SERVED:
            return _not_found()
        data = self._assets.get(name)
        if data is None:
            data = self._assets[name] = (_ASSETS / name).read_bytes()
        content_type = _TYPES[Path(name).suffix]
        headers = [("Content-Type", content_type), ("X-Content-Type-Options", "nosniff"), ("Cache-Control", "max-age=3600")]
        return Response(200, headers, data)
