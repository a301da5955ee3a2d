"""GetSdkTypes, GetSdkType and GetSdk: client libraries for a deployed stage (see apigate/sdk)."""

from __future__ import annotations

from typing import Any

from apigate import sdk
from apigate.aws import openapi
from apigate.aws.errors import bad_request, not_found
from apigate.aws.wire import OperationHandler
from apigate.control import documentation
from apigate.control.common import Doc, page, rest_api
from apigate.control.context import ControlContext


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
        region=ctx.settings.region,
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


def _sdk_type(name: Any) -> Doc:
    found = sdk.SDK_TYPES.get(str(name))
    if found is None:
        if name in sdk.UNAVAILABLE:
            raise bad_request(
                f"SDK type {name} is not available in apigate: no generator for it runs without a download; "
                f"available: {', '.join(sdk.SDK_TYPES)}"
            )
        raise not_found(f"Invalid SDK type specified: {name}")
    return found


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    async def get_sdk_types(params: dict[str, Any]) -> Doc:
        return page(list(sdk.SDK_TYPES.values()), params, key="item")

    async def get_sdk_type(params: dict[str, Any]) -> Doc:
        return _sdk_type(params.get("id"))

    async def get_sdk(params: dict[str, Any]) -> Doc:
        api_id, stage_name, kind = params["restApiId"], params["stageName"], params.get("sdkType")
        if kind in sdk.UNAVAILABLE:
            _sdk_type(kind)
        document, _ = stage_document(ctx, api_id, stage_name)
        _sdk_type(kind)
        base_url = ctx.settings.invoke_urls(api_id, stage_name)[0]
        body = sdk.generate(str(kind), document, base_url, ctx.settings.region)
        return {
            "contentType": "application/octet-stream",
            "contentDisposition": f'attachment; filename="{kind}_{stage_name}.zip"',
            "body": body,
        }

    return {"GetSdkTypes": get_sdk_types, "GetSdkType": get_sdk_type, "GetSdk": get_sdk}
