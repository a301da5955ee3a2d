"""Serving WebSocket API stages (compiled by ``apigate/compile/websocket.py``)."""

from __future__ import annotations

from apigate.compile.websocket import compile_stage
from apigate.control.context import ControlContext
from apigate.control.v2 import serving
from apigate.control.v2.common import API, Doc, is_websocket
from apigate.store.regional import everywhere


def serve_stage(ctx: ControlContext, api_id: str, stage: Doc) -> None:
    if ctx.websocket_apis is not None:
        serving.serve_stage(ctx, ctx.websocket_apis, compile_stage, "WebSocket API", api_id, stage)


def load_all(ctx: ControlContext) -> None:
    """At startup and after another process changed the data dir: serve every stored WebSocket API stage."""
    if ctx.websocket_apis is not None:
        with everywhere():
            apis = [api for api in ctx.store.list(API) if is_websocket(api)]
            serving.load_all(ctx, ctx.websocket_apis, compile_stage, "WebSocket API", apis)
