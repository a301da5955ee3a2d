"""``GET /`` on the gateway: what it serves, as a small HTML index for a browser and JSON for a program.

Every API, its stages, their routes and invoke URLs, with links to each REST stage's OpenAPI export, its
reference page (/_apigate/docs/{api}/{stage}) and the console (/_apigate/console/). The page is read-only and
never shadows an API: APIs are addressed by /_aws/execute-api/… or by Host: {api}.execute-api…, which the
gateway routes before it gets here (so a `$default` HTTP API stage keeps its own root).

Under --admin-key the management API answers only signed calls, so this unsigned page lists nothing an
unsigned management call could not read: no API ids, names or routes, only the gateway's version and the
console's address (where an operator signs in).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from apigate import __version__
from apigate.server.message import Request, Response

if TYPE_CHECKING:
    from apigate.config import Settings
    from apigate.dataplane.http_api import HttpApis
    from apigate.dataplane.websocket import WebSocketApis
    from apigate.model import RouteNode
    from apigate.registry import Registry


class Gateway(Protocol):
    """What the page reads of the gateway (apigate/app.py's Gateway)."""

    settings: Settings
    registry: Registry
    http_apis: HttpApis
    websockets: WebSocketApis


__all__ = ["root_page", "wants_root_page"]


def wants_root_page(request: Request) -> bool:
    """A plain ``GET /`` (or HEAD): unsigned, so never a management call."""
    return (
        request.raw_path == "/"
        and request.method in ("GET", "HEAD")
        and request.header("authorization") is None
        and "X-Amz-Signature" not in request.query_string
    )


def _rest_routes(node: RouteNode) -> list[str]:
    routes = [f"{verb} {node.path}" for verb in sorted(node.methods)]
    children = list(node.literal.values())
    if node.variable is not None:
        children.append(node.variable[1])
    if node.greedy is not None:
        children.append(node.greedy[1])
    for child in sorted(children, key=lambda c: c.path):
        routes.extend(_rest_routes(child))
    return routes


def _listing(gateway: Gateway) -> list[dict[str, Any]]:
    settings = gateway.settings
    base = settings.base_url
    stages: list[dict[str, Any]] = []
    for rest in gateway.registry.stages():
        url = settings.invoke_urls(rest.api_id, rest.stage)[0]
        stages.append(
            {
                "apiId": rest.api_id,
                "name": rest.api_name,
                "type": "REST",
                "stage": rest.stage,
                "url": url,
                "routes": _rest_routes(rest.root),
                "openapi": f"{base}/restapis/{rest.api_id}/stages/{rest.stage}/exports/oas30?extensions=apigateway",
                "docs": f"{base}/_apigate/docs/{rest.api_id}/{rest.stage}",
            }
        )
    for http in gateway.http_apis.stages():
        url = settings.invoke_urls(http.api_id, http.stage)[0]
        if http.stage == "$default":
            url = f"{base}/_aws/execute-api/{http.api_id}/"
        routes = [route.route_key for route in http.routes]
        if http.default_route is not None:
            routes.append("$default")
        stages.append(
            {
                "apiId": http.api_id,
                "name": "",
                "type": "HTTP",
                "stage": http.stage,
                "url": url,
                "routes": routes,
            }
        )
    for socket in gateway.websockets.stages():
        url = "ws" + settings.invoke_urls(socket.api_id, socket.stage)[0].removeprefix("http").rstrip("/")
        stages.append(
            {
                "apiId": socket.api_id,
                "name": socket.api_name,
                "type": "WEBSOCKET",
                "stage": socket.stage,
                "url": url,
                "routes": sorted(socket.routes),
            }
        )
    return stages


def root_page(gateway: Gateway, request: Request) -> Response:
    restricted = gateway.settings.admin_key is not None
    stages = [] if restricted else _listing(gateway)
    base = gateway.settings.base_url
    document = {
        "apigate": __version__,
        "console": f"{base}/_apigate/console/",
        "restricted": restricted,
        "stages": stages,
    }
    accept = request.header("accept") or ""
    if "text/html" not in accept:
        body = orjson.dumps(document, option=orjson.OPT_INDENT_2)
        return Response(200, [("Content-Type", "application/json"), ("Cache-Control", "no-store")], body)
    return Response(
        200,
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Cache-Control", "no-store"),
            ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
            ("X-Content-Type-Options", "nosniff"),
        ],
        _html(document).encode(),
    )


def _html(document: dict[str, Any]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>apigate</title>",
        "<style>body{font:15px system-ui,sans-serif;margin:2em;max-width:70em}td,th{text-align:left;"
        "padding:.2em .8em .2em 0;vertical-align:top}code{font-size:13px}h2{margin-top:1.5em}</style></head><body>",
        f"<h1>apigate {e(document['apigate'])}</h1>",
        f'<p><a href="{e(document["console"])}">Console</a></p>',
    ]
    if document["restricted"]:
        parts.append(
            "<p>This gateway requires signed management calls (--admin-key): sign in on the console.</p>"
        )
    elif not document["stages"]:
        parts.append("<p>No API is deployed yet.</p>")
    else:
        parts.append(
            "<table><tr><th>API</th><th>type</th><th>stage</th><th>invoke URL</th><th>routes</th><th></th></tr>"
        )
        for stage in document["stages"]:
            links = []
            if "openapi" in stage:
                links.append(f'<a href="{e(stage["openapi"])}">OpenAPI</a>')
            if "docs" in stage:
                links.append(f'<a href="{e(stage["docs"])}">reference</a>')
            name = e(stage["name"] or stage["apiId"])
            routes = "<br>".join(f"<code>{e(route)}</code>" for route in stage["routes"]) or "-"
            url = e(stage["url"])
            link = f'<a href="{url}">{url}</a>' if url.startswith("http") else url
            parts.append(
                f"<tr><td>{name}<br><code>{e(stage['apiId'])}</code></td><td>{e(stage['type'])}</td>"
                f"<td>{e(stage['stage'])}</td><td>{link}</td><td>{routes}</td><td>{' · '.join(links)}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)
