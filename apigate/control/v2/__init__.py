"""The apigatewayv2 management API for HTTP APIs: one module per entity family."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apigate.aws.wire import OperationHandler
from apigate.control.context import ControlContext
from apigate.control.v2 import (
    apis,
    authorizers,
    integrations,
    models,
    openapi,
    routes,
    stages,
    vpc_links,
    websocket,
)
from apigate.control.v2.deploy import load_all

if TYPE_CHECKING:
    from apigate.dataplane.http_api import HttpApis

__all__ = ["handlers", "load_all"]


def handlers(ctx: ControlContext, http: HttpApis) -> dict[str, OperationHandler]:
    # WebSocket APIs share these calls; the module wraps the ones whose rules differ for them.
    return websocket.handlers(
        ctx,
        http,
        {
            **apis.handlers(ctx, http),
            **routes.handlers(ctx, http),
            **integrations.handlers(ctx, http),
            **stages.handlers(ctx, http),
            **authorizers.handlers(ctx, http),
            **openapi.handlers(ctx, http),
            **models.handlers(ctx, http),
            **vpc_links.handlers(ctx, http),
        },
    )
