"""GetSdkTypes, GetSdkType and GetSdk: client libraries for a deployed stage (see apigate/sdk)."""

from __future__ import annotations

from functools import partial
from typing import Any

from apigate import sdk
from apigate.aws import openapi
from apigate.aws.errors import bad_request, not_found
from apigate.aws.wire import OperationHandler
from apigate.control import documentation
from apigate.control.common import Doc, page, rest_api
from apigate.control.context import ControlContext
from apigate.sdk import openapi_generator


def stage_document(ctx: ControlContext, api_id: str, stage_name: str) -> tuple[Doc, Doc]:
    """A stage's OpenAPI 3 export with its documentation (what SDKs and the reference page are made from),
    and the stage."""
    rest_api(ctx, api_id)
    stage = ctx.store.get("stage", f"{api_id}/{stage_name}")
    if stage is None:
        raise not_found("Invalid Stage identifier specified")
    snapshot = ctx.store.get("snapshot", f"{api_id}/{stage['deploymentId']}")
    if snapshot is None:
        raise not_found("Invalid Deployment identifier specified")
    document = openapi.export(
        snapshot["restApi"],
        snapshot["resources"],
        ctx.store.get("openapi", api_id) or {},
        kind="oas30",
        stage=stage_name,
        region=ctx.region_of(api_id),
        extensions={"authorizers"},
        stage_url=ctx.settings.invoke_urls(api_id, stage_name)[0].rstrip("/"),
        models=snapshot.get("models"),
        validators=snapshot.get("validators"),
        gateway_responses=snapshot.get("gatewayResponses"),
        authorizers=snapshot.get("authorizers"),
    )
    version, parts = documentation.stage_parts(ctx.store, api_id, stage)
    documentation.document(document, parts, version)
    return document, stage


def _types() -> dict[str, Doc]:
    return {**sdk.SDK_TYPES, **openapi_generator.sdk_types()}


def _sdk_type(name: Any) -> Doc:
    found = _types().get(str(name))
    if found is None:
        if name in sdk.UNAVAILABLE:
            raise bad_request(
                f"SDK type {name} is not available here: OpenAPI Generator makes it when the 'sdk' extra "
                f"(openapi-generator-cli) and a Java runtime are installed; available: {', '.join(_types())}"
            )
        raise not_found(f"Invalid SDK type specified: {name}")
    return found


async def get_sdk_types(_ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return page(list(_types().values()), params, key="item")


async def get_sdk_type(_ctx: ControlContext, params: dict[str, Any]) -> Doc:
    return _sdk_type(params.get("id"))


async def get_sdk(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    # Not under the management lock (the generators may take seconds): the document is read under it.
    api_id, stage_name, kind = params["restApiId"], params["stageName"], params.get("sdkType")
    if kind in sdk.UNAVAILABLE:
        _sdk_type(kind)
    async with ctx.writes:
        document, _ = stage_document(ctx, api_id, stage_name)
    _sdk_type(kind)
    if kind in openapi_generator.GENERATORS:
        try:
            body = await openapi_generator.generate(str(kind), document, params.get("parameters") or {})
        except openapi_generator.GeneratorError as exc:
            raise bad_request(str(exc)) from exc
    else:
        base_url = ctx.settings.invoke_urls(api_id, stage_name)[0]
        body = sdk.generate(str(kind), document, base_url, ctx.region_of(api_id))
    return {
        "contentType": "application/octet-stream",
        "contentDisposition": f'attachment; filename="{kind}_{stage_name}.zip"',
        "body": body,
    }


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "GetSdkTypes": partial(get_sdk_types, ctx),
        "GetSdkType": partial(get_sdk_type, ctx),
        "GetSdk": partial(get_sdk, ctx),
    }
