"""Serving apigatewayv2 stages, HTTP and WebSocket alike: a stage's deployment snapshot compiled and
installed in the data plane's ``DeployedStages``."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol, TypeVar

import orjson

from apigate.control.context import ControlContext
from apigate.control.v2.common import SNAPSHOT, STAGE, Doc
from apigate.registry import CompiledStage, DeployedStages

log = logging.getLogger("apigate")

_D = TypeVar("_D", bound=CompiledStage)
_D_co = TypeVar("_D_co", bound=CompiledStage, covariant=True)


class Compiler(Protocol[_D_co]):
    """A deployment's snapshot and the stage document, compiled into what the data plane serves."""

    def __call__(self, snap: Doc, stage: Doc, *, region: str, account_id: str) -> _D_co: ...


def serve_stage(
    ctx: ControlContext,
    served: DeployedStages[_D],
    compile_stage: Compiler[_D],
    kind: str,
    api_id: str,
    stage: Doc,
) -> None:
    """Serve ``stage`` of the API as its deployment compiles; a stage with no deployment is not served.
    ``kind`` names the API in logs ("HTTP API", "WebSocket API")."""
    served.declare(api_id)
    name = stage["StageName"]
    deployment_id = stage.get("DeploymentId")
    snap = ctx.store.get(SNAPSHOT, f"{api_id}/{deployment_id}") if deployment_id else None
    if snap is None:
        if deployment_id:
            log.error("stage %s of %s %s points at a missing deployment", name, kind, api_id)
        served.forget(api_id, name)
        return
    snap = _with_settings(ctx, snap)
    served.install(compile_stage(snap, stage, region=ctx.region_of(api_id), account_id=ctx.settings.account_id))
    served.remember(api_id, name, _fingerprint(stage))


def load_all(
    ctx: ControlContext,
    served: DeployedStages[_D],
    compile_stage: Compiler[_D],
    kind: str,
    apis: Iterable[Doc],
) -> None:
    """Serve every stored stage of ``apis`` and nothing else.

    A stage whose document did not change keeps its compiled snapshot (deployments are immutable); APIs and
    stages that are gone stop being served.
    """
    compiled: dict[str, dict[str, _D]] = {}
    for api in apis:
        api_id = api["ApiId"]
        stages = compiled[api_id] = {}
        for stage in ctx.store.list(STAGE, api_id):
            name = stage["StageName"]
            current = served.get(api_id, name)
            if current is not None and served.fingerprint(api_id, name) == _fingerprint(stage):
                stages[name] = current
                continue
            if not stage.get("DeploymentId"):
                continue
            snap = ctx.store.get(SNAPSHOT, f"{api_id}/{stage['DeploymentId']}")
            if snap is None:
                log.error("stage %s of %s %s points at a missing deployment", name, kind, api_id)
                continue
            try:
                stages[name] = compile_stage(
                    _with_settings(ctx, snap), stage, region=ctx.region_of(api_id), account_id=ctx.settings.account_id
                )
            except Exception:
                log.exception("stage %s of %s %s could not be compiled", name, kind, api_id)
                continue
            served.remember(api_id, name, _fingerprint(stage))
    served.replace_all(compiled)


def _with_settings(ctx: ControlContext, snap: Doc) -> Doc:
    """What the gateway's settings add to a deployment: where private integrations' targets are here
    (`apigate serve --vpc-link-target ARN=URL`), read at each compile, not frozen into the deployment."""
    return {**snap, "vpcLinkTargets": dict(ctx.settings.vpc_link_targets)}


def _fingerprint(stage: Doc) -> bytes:
    return orjson.dumps(stage, option=orjson.OPT_SORT_KEYS)
