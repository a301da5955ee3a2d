"""``apigate routes``: every route a gateway serves (method, invoke URL, target), read over the management API
as deployed (a REST stage's export, an HTTP or WebSocket API's routes); or, given a template, what serving it
would give, deployed into a scratch data dir that is thrown away."""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["gateway_routes", "template_routes"]

_VERBS = ("get", "put", "post", "delete", "options", "head", "patch")


def _target(integration: dict[str, Any]) -> str:
    uri = str(integration.get("uri") or integration.get("IntegrationUri") or "")
    if ":function:" in uri:  # a function's name, without version or alias
        return uri.split(":function:", 1)[1].split("/", 1)[0].split(":", 1)[0]
    return uri or str(integration.get("type") or integration.get("IntegrationSubtype") or "")


def _route(
    api: dict[str, Any], kind: str, stage: str, verb: str, path: str, url: str, target: str
) -> dict[str, Any]:
    return {
        "api": api.get("id") or api.get("ApiId"),
        "name": api.get("name") or api.get("Name"),
        "type": kind,
        "stage": stage,
        "method": verb,
        "path": path,
        "url": url,
        "target": target,
    }


def gateway_routes(endpoint: str, apigw: Any, v2: Any) -> list[dict[str, Any]]:
    import orjson

    base = endpoint.rstrip("/")
    routes: list[dict[str, Any]] = []
    for api in apigw.get_rest_apis(limit=500)["items"]:
        for stage in apigw.get_stages(restApiId=api["id"])["item"]:
            name = stage["stageName"]
            exported = apigw.get_export(
                restApiId=api["id"],
                stageName=name,
                exportType="oas30",
                accepts="application/json",
                parameters={"extensions": "integrations"},
            )
            body = exported["body"]
            document = orjson.loads(body.read() if hasattr(body, "read") else body)
            prefix = f"{base}/_aws/execute-api/{api['id']}/{name}"
            for path, item in sorted((document.get("paths") or {}).items()):
                for key, operation in sorted(item.items()):
                    verb = "ANY" if key == "x-amazon-apigateway-any-method" else key.upper()
                    if key not in _VERBS and verb != "ANY":
                        continue
                    integration = operation.get("x-amazon-apigateway-integration") or {}
                    routes.append(_route(api, "REST", name, verb, path, prefix + path, _target(integration)))
    for api in v2.get_apis(MaxResults="500").get("Items", []):
        kind = "WEBSOCKET" if api.get("ProtocolType") == "WEBSOCKET" else "HTTP"
        integrations = {
            i["IntegrationId"]: i
            for i in v2.get_integrations(ApiId=api["ApiId"], MaxResults="500").get("Items", [])
        }
        api_routes = sorted(
            v2.get_routes(ApiId=api["ApiId"], MaxResults="500").get("Items", []), key=lambda r: r["RouteKey"]
        )
        for stage in v2.get_stages(ApiId=api["ApiId"], MaxResults="500").get("Items", []):
            name = stage["StageName"]
            prefix = f"{base}/_aws/execute-api/{api['ApiId']}" + ("" if name == "$default" else f"/{name}")
            for route in api_routes:
                key = route["RouteKey"]
                found = integrations.get(str(route.get("Target") or "").removeprefix("integrations/")) or {}
                if kind == "WEBSOCKET":
                    verb, path, url = "WS", key, "ws" + prefix.removeprefix("http")
                elif " " in key:
                    verb, path = key.split(" ", 1)
                    url = prefix + path
                else:  # $default: any method, any path
                    verb, path, url = "ANY", "/*", prefix + "/"
                routes.append(_route(api, kind, name, verb, path, url, _target(found)))
    return routes


def template_routes(template: Path, endpoint: str, overrides: dict[str, str]) -> list[dict[str, Any]]:
    """Deploy ``template`` into a scratch gateway (nothing listens, nothing is kept) and list its routes."""
    from apigate.app import Gateway
    from apigate.config import Settings
    from apigate.declarative.app import DeclarativeApp

    host, _, port = endpoint.split("://", 1)[-1].rstrip("/").partition(":")

    async def deploy(data_dir: Path) -> list[dict[str, Any]]:
        settings = dataclasses.replace(Settings(), data_dir=data_dir, host=host, port=int(port or 80))
        gateway = Gateway(settings)
        try:
            app = DeclarativeApp(gateway, template, overrides)
            await app.deploy()
            deployed = app.deployed
            assert deployed is not None
            listed = []
            for route in deployed.routes:
                url = settings.invoke_urls(route.api_id, route.stage)[0].rstrip("/")
                if route.stage == "":  # an HTTP API's $default stage, at the API's root
                    url = f"{settings.base_url}/_aws/execute-api/{route.api_id}"
                path = route.path
                kind = "WEBSOCKET" if route.verb == "WS" else "REST/HTTP"
                listed.append(
                    {
                        "api": route.api_id,
                        "name": None,
                        "type": kind,
                        "stage": route.stage or "$default",
                        "method": route.verb,
                        "path": path,
                        "url": ("ws" + url.removeprefix("http")) if route.verb == "WS" else url + path,
                        "target": route.target,
                    }
                )
            return listed
        finally:
            await gateway.close()

    with tempfile.TemporaryDirectory(prefix="apigate-routes-") as scratch:
        return asyncio.run(deploy(Path(scratch)))
