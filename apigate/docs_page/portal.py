"""Portal pages: ``/_apigate/portals/{portalId}/`` shows what PublishPortal published, ``.../preview`` the
portal's current content once PreviewPortal was asked (control/v2/portals.py). One HTML page: the portal's name,
description and theme colours, then each product's overview, its pages (Markdown, rendered without raw HTML)
and its REST endpoints by section, each linking to its stage's reference page when "try it" is on.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote, unquote

from markdown_it import MarkdownIt

from apigate.control.context import ControlContext
from apigate.control.v2.portals import PATH, PORTAL, PUBLISHED, portal_content
from apigate.docs_page import PREFIX as DOCS_PREFIX
from apigate.server.message import Response

__all__ = ["PortalPages"]

# Page bodies come from API owners' Markdown: raw HTML stays text, links are markdown-it's safe ones.
_MARKDOWN = MarkdownIt("commonmark", {"html": False})
_COLOR = re.compile(
    r"^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{1,20})$"
)  # what a theme colour may be inside the style sheet
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
)
_HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Security-Policy", _CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Cache-Control", "no-store"),
]


def _answer(status: int, message: str) -> Response:
    body = f'{{"message":"{message}"}}'.encode()
    return Response(status, [("Content-Type", "application/json")], body)


def _color(colors: dict[str, Any], name: str, fallback: str) -> str:
    value = str(colors.get(name) or "")
    return value if _COLOR.match(value) else fallback


def _endpoint(page: dict[str, Any]) -> str:
    parts = page["RestEndpointIdentifier"]["IdentifierParts"]
    shown = page["DisplayContent"]
    title = shown.get("OperationName") or f"{parts['Method']} {parts['Path']}"
    out = [
        f"<article class='endpoint'><h4>{html.escape(title)}</h4>",
        f"<p><code>{html.escape(parts['Method'])} {html.escape(shown['Endpoint'])}</code></p>",
    ]
    if shown.get("Body"):
        out.append(_MARKDOWN.render(shown["Body"]))
    if page.get("TryItState") == "ENABLED":
        target = f"{DOCS_PREFIX}{quote(parts['RestApiId'], safe='')}/{quote(parts['Stage'], safe='')}"
        out.append(f"<p><a href='{html.escape(target)}'>Try it</a></p>")
    out.append("</article>")
    return "".join(out)


def render(content: dict[str, Any]) -> bytes:
    """The portal page for ``content`` (``portal_content``'s shape)."""
    portal = content["Portal"]
    shown = portal["PortalContent"]
    colors = shown["Theme"]["CustomColors"]
    style = (
        f"body{{font-family:sans-serif;margin:0;background:{_color(colors, 'BackgroundColor', '#fff')};"
        f"color:{_color(colors, 'TextColor', '#222')}}}"
        f"header{{background:{_color(colors, 'HeaderColor', '#232f3e')};color:#fff;padding:1em 2em}}"
        f"nav{{background:{_color(colors, 'NavigationColor', '#eee')};padding:.5em 2em}}"
        f"main{{padding:1em 2em}}a{{color:{_color(colors, 'AccentColor', '#06c')}}}"
        "article.endpoint{border-top:1px solid #ccc;padding:.5em 0}"
    )
    products = content["Products"]
    body = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(shown['DisplayName'])}"
        f"</title><style>{style}</style></head><body>",
        f"<header><h1>{html.escape(shown['DisplayName'])}</h1>",
        f"<p>{html.escape(shown.get('Description') or '')}</p></header>",
        "<nav>"
        + " · ".join(
            f"<a href='#p-{html.escape(p['Product']['PortalProductId'])}'>{html.escape(p['Product']['DisplayName'])}</a>"
            for p in products
        )
        + "</nav><main>",
    ]
    for item in products:
        product = item["Product"]
        body.append(f"<section id='p-{html.escape(product['PortalProductId'])}'>")
        body.append(
            f"<h2>{html.escape(product['DisplayName'])}</h2><p>{html.escape(product.get('Description') or '')}</p>"
        )
        pages = ([item["Overview"]] if item.get("Overview") else []) + item["Pages"]
        for page in pages:
            body.append(f"<h3>{html.escape(page['DisplayContent']['Title'])}</h3>")
            body.append(_MARKDOWN.render(page["DisplayContent"]["Body"]))
        for section in item["Sections"]:
            if section["SectionName"]:
                body.append(f"<h3>{html.escape(section['SectionName'])}</h3>")
            body.extend(_endpoint(page) for page in section["Endpoints"])
        body.append("</section>")
    body.append("</main></body></html>")
    return "".join(body).encode()


class PortalPages:
    """Answers ``/_apigate/portals/*``."""

    def __init__(self, ctx: ControlContext) -> None:
        self._ctx = ctx

    def serve(self, path: str) -> Response:
        parts = [unquote(part) for part in path[len(PATH) :].split("/")]
        if len(parts) != 2 or parts[1] not in ("", "preview"):
            return _answer(404, "Not Found")
        portal = self._ctx.store.get(PORTAL, parts[0])
        if portal is None:
            return _answer(404, "Not Found")
        if portal["Authorization"].get("CognitoConfig") is not None:
            # AWS signs visitors in through the portal's user pool; apigate has no hosted sign-in to offer.
            return _answer(401, "This portal asks for Cognito sign-in, which apigate does not serve")
        if parts[1] == "preview":
            if (portal.get("Preview") or {}).get("PreviewStatus") != "PREVIEW_READY":
                return _answer(404, "Not Found")
            return Response(200, list(_HEADERS), render(portal_content(self._ctx, portal)))
        published = self._ctx.store.get(PUBLISHED, parts[0])
        if published is None:
            return _answer(404, "Not Found")
        return Response(200, list(_HEADERS), render(published))
