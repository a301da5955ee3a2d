"""Serving WebSocket API stages (compiled by ``apigate/compile/websocket.py``)."""

from __future__ import annotations

from dataclasses import replace

from apigate.compile.websocket import compile_stage
from apigate.control.client_certificates import client_identity
from apigate.control.context import ControlContext
from apigate.control.v2 import serving
from apigate.control.v2.common import API, Doc, is_websocket
from apigate.model.websocket import DeployedWebSocketApi
from apigate.store.regional import everywhere


def compiler(ctx: ControlContext) -> serving.Compiler[DeployedWebSocketApi]:
    """compile_stage, with the stage's client certificate (``ClientCertificateId``) for its HTTP integrations."""

    def compiled(snap: Doc, stage: Doc, *, region: str, account_id: str) -> DeployedWebSocketApi:
        deployed = compile_stage(snap, stage, region=region, account_id=account_id)
        certificate = stage.get("ClientCertificateId")
        identity = client_identity(ctx, certificate) if certificate else None
        return deployed if identity is None else replace(deployed, client_identity=identity)

    return compiled


def serve_stage(ctx: ControlContext, api_id: str, stage: Doc) -> None:
    if ctx.websocket_apis is not None:
        serving.serve_stage(ctx, ctx.websocket_apis, compiler(ctx), "WebSocket API", api_id, stage)


def load_all(ctx: ControlContext) -> None:
    """At startup and after another process changed the data dir: serve every stored WebSocket API stage."""
    if ctx.websocket_apis is not None:
        with everywhere():
            apis = [api for api in ctx.store.list(API) if is_websocket(api)]
            serving.load_all(ctx, ctx.websocket_apis, compiler(ctx), "WebSocket API", apis)
