"""What the WebSocket API tests share: a builder over boto3, functions that record their events, clients."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from helpers import GatewayProcess, create_function, lambda_uri

# Answers with the event it received (a two-way route sends it back to the client).
ECHO = """
import json
def lambda_handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
"""

# Writes each event to a file of its own in OUT_DIR; $connect answers ?status=N when asked to; messages get
# their connection id back.
RECORDER = """
import json, os, uuid
def lambda_handler(event, context):
    rc = event["requestContext"]
    name = f"{rc['eventType']}-{rc['connectionId']}-{uuid.uuid4().hex}.json"
    with open(os.path.join(os.environ["OUT_DIR"], name), "w") as out:
        json.dump(event, out)
    query = event.get("queryStringParameters") or {}
    if rc["eventType"] == "CONNECT" and "status" in query:
        return {"statusCode": int(query["status"]), "body": "refused by $connect"}
    return {"statusCode": 200, "body": rc["connectionId"]}  # a two-way route tells the client its id
"""


def run(coroutine: Coroutine[Any, Any, Any], timeout: float = 30.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coroutine, timeout)

    return asyncio.run(bounded())


def events(out_dir: Path, kind: str, connection_id: str | None = None) -> list[dict[str, Any]]:
    found = []
    for path in sorted(out_dir.glob(f"{kind}-*.json")):
        try:
            event = json.loads(path.read_text())
        except ValueError:
            continue  # still being written
        if connection_id is None or event["requestContext"]["connectionId"] == connection_id:
            found.append(event)
    return found


def wait_for_events(out_dir: Path, kind: str, connection_id: str | None = None, count: int = 1) -> list[Any]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = events(out_dir, kind, connection_id)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {kind} event recorded")


class SocketApi:
    """A WebSocket API built through apigatewayv2, as a user would with boto3."""

    def __init__(
        self, gateway: GatewayProcess, selection: str = "$request.body.action", **extra: Any
    ) -> None:
        self.gateway = gateway
        self.v2 = gateway.client("apigatewayv2")
        self.lam = gateway.client("lambda")
        api = self.v2.create_api(
            Name="sockets", ProtocolType="WEBSOCKET", RouteSelectionExpression=selection, **extra
        )
        self.id: str = api["ApiId"]
        self.doc = api

    def function(self, source: str, **extra: Any) -> str:
        return create_function(self.lam, source, **extra)

    def integration(self, function: str | None = None, **extra: Any) -> str:
        if function is not None:
            extra = {"IntegrationType": "AWS_PROXY", "IntegrationUri": lambda_uri(function), **extra}
        return str(self.v2.create_integration(ApiId=self.id, **extra)["IntegrationId"])

    def route(self, key: str, integration: str | None, *, two_way: bool = False, **extra: Any) -> str:
        if integration is not None:
            extra["Target"] = f"integrations/{integration}"
        route_id = str(self.v2.create_route(ApiId=self.id, RouteKey=key, **extra)["RouteId"])
        if two_way:
            self.v2.create_route_response(ApiId=self.id, RouteId=route_id, RouteResponseKey="$default")
        return route_id

    def deploy(self, stage: str = "dev", **extra: Any) -> str:
        deployment = self.v2.create_deployment(ApiId=self.id)["DeploymentId"]
        stages = {s["StageName"] for s in self.v2.get_stages(ApiId=self.id)["Items"]}
        if stage in stages:
            self.v2.update_stage(ApiId=self.id, StageName=stage, DeploymentId=deployment)
        else:
            self.v2.create_stage(ApiId=self.id, StageName=stage, DeploymentId=deployment, **extra)
        return stage

    def url(self, stage: str = "dev", query: str = "") -> str:
        base = self.gateway.url.replace("http://", "ws://", 1)
        return f"{base}/_aws/execute-api/{self.id}/{stage}" + (f"?{query}" if query else "")

    def stage_url(self, stage: str = "dev") -> str:
        return f"{self.gateway.url}/_aws/execute-api/{self.id}/{stage}"

    def connections(self, stage: str = "dev") -> Any:
        """The @connections client, with endpoint_url set to the stage's URL as AWS's docs say."""
        import boto3

        return boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=self.stage_url(stage),
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
