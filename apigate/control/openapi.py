"""ImportRestApi, PutRestApi and GetExport: OpenAPI definitions in and out.

An import is the sequence of management calls a person would make (CreateRestApi, CreateResource, PutMethod,
PutIntegration, ...) run through the very same handlers, inside one store transaction: an error anywhere leaves
nothing behind.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson

from apigate.aws import openapi
from apigate.aws.errors import AwsError, bad_request, not_found
from apigate.aws.wire import OperationHandler
from apigate.control import (
    authorizers,
    documentation,
    gateway_responses,
    models,
    resources,
    rest_apis,
    validators,
)
from apigate.control.common import Doc, drop_none, rest_api
from apigate.control.context import ControlContext

_CONTENT_TYPES = ("application/json", "application/yaml")


def _documented(params: dict[str, Any]) -> bool:
    """An import creates the definition's documentation parts unless told ``ignore=documentation``."""
    return (params.get("parameters") or {}).get("ignore") != "documentation"


def _definition_of(ctx: ControlContext, params: dict[str, Any]) -> openapi.Definition:
    options = params.get("parameters") or {}
    body = params.get("body") or b""
    if len(body) > 6 * 1024 * 1024:
        raise bad_request("Definition exceeds the 6 MB limit")
    try:
        definition = openapi.parse(
            openapi.load(body),
            basepath=str(options.get("basepath") or "ignore"),
            endpoint_types=options.get("endpointConfigurationTypes"),
        )
    except openapi.OpenApiError as exc:
        raise bad_request(str(exc)) from exc
    if params.get("failOnWarnings") and definition.warnings:
        raise bad_request("Warnings found during import:\n\t" + "\n\t".join(definition.warnings))
    return definition


async def _build(
    ctx: ControlContext,
    api_id: str,
    definition: openapi.Definition,
    *,
    overwrite: bool,
    with_documentation: bool = True,
) -> None:
    declared = definition.extensions.pop(documentation.EXTENSION, None)
    parts = documentation.parts_in({documentation.EXTENSION: declared})
    if with_documentation and (parts or overwrite):
        documentation.import_parts(ctx.store, api_id, parts, overwrite=overwrite)
    everything = ctx.store.list("resource", api_id)
    root = next(doc for doc in everything if doc.get("parentId") is None)
    if overwrite:
        for doc in everything:
            if doc.get("parentId") == root["id"]:
                await resources.delete_resource(ctx, {"restApiId": api_id, "resourceId": doc["id"]})
        for verb in list(root.get("resourceMethods") or {}):
            await resources.delete_method(
                ctx, {"restApiId": api_id, "resourceId": root["id"], "httpMethod": verb}
            )
        everything = ctx.store.list("resource", api_id)
        for doc in ctx.store.list("validator", api_id):
            await validators.delete_request_validator(
                ctx, {"restApiId": api_id, "requestValidatorId": doc["id"]}
            )
        for doc in models.list_models(ctx.store, api_id):
            if doc["name"] not in models.DEFAULT_MODELS:
                await models.delete_model(ctx, {"restApiId": api_id, "modelName": doc["name"]})
        for doc in ctx.store.list(gateway_responses.KIND, api_id):
            await gateway_responses.delete_gateway_response(
                ctx, {"restApiId": api_id, "responseType": doc["responseType"]}
            )
    for response_type, fields in definition.gateway_responses.items():
        try:
            await gateway_responses.put_gateway_response(
                ctx, {"restApiId": api_id, "responseType": response_type, **fields}
            )
        except AwsError as exc:
            raise AwsError(
                exc.code, f"Errors found during import: {response_type}: {exc.message}", exc.status
            ) from exc
    for name, schema in definition.models.items():
        text = orjson.dumps(openapi.model_schema(schema, api_id)).decode()
        try:
            if ctx.store.get("model", f"{api_id}/{name}") is None:
                await models.create_model(
                    ctx,
                    {
                        "restApiId": api_id,
                        "name": name,
                        "contentType": "application/json",
                        "schema": text,
                        "_imported": True,
                    },
                )
            else:
                await models.update_model(
                    ctx,
                    {
                        "restApiId": api_id,
                        "modelName": name,
                        "patchOperations": [{"op": "replace", "path": "/schema", "value": text}],
                        "_imported": True,
                    },
                )
        except AwsError as exc:
            raise AwsError(
                exc.code, f"Errors found during import: model {name}: {exc.message}", exc.status
            ) from exc
    validator_ids = {doc.get("name"): doc["id"] for doc in ctx.store.list("validator", api_id)}
    for name, flags in definition.validators.items():
        if name in validator_ids:
            await validators.update_request_validator(
                ctx,
                {
                    "restApiId": api_id,
                    "requestValidatorId": validator_ids[name],
                    "patchOperations": [
                        {"op": "replace", "path": f"/{key}", "value": str(value).lower()}
                        for key, value in flags.items()
                    ],
                },
            )
        else:
            created = await validators.create_request_validator(
                ctx, {"restApiId": api_id, "name": name, **flags}
            )
            validator_ids[name] = created["id"]
    authorizer_ids, imported_authorizers = await _build_authorizers(
        ctx, api_id, definition, overwrite=overwrite
    )
    by_path: dict[str, str] = {doc["path"]: doc["id"] for doc in everything}

    async def ensure(path: str) -> str:
        if path in by_path:
            return by_path[path]
        parent, _, part = path.rpartition("/")
        parent_id = await ensure(parent or "/")
        created = await resources.create_resource(
            ctx, {"restApiId": api_id, "parentId": parent_id, "pathPart": part}
        )
        new_id = str(created["id"])
        by_path[path] = new_id
        return new_id

    previous = (ctx.store.get("openapi", api_id) or {}) if not overwrite else {}
    kept_methods: Doc = dict(previous.get("methods") or {})
    for method in sorted(definition.methods, key=lambda m: (m.path, m.verb)):
        where = f"{method.verb} {method.path}"
        try:
            rid = await ensure(method.path)
            ids = {"restApiId": api_id, "resourceId": rid, "httpMethod": method.verb}
            current = ctx.store.get("resource", f"{api_id}/{rid}") or {}
            if method.verb in (current.get("resourceMethods") or {}):
                await resources.delete_method(ctx, ids)
            validator = validator_ids.get(method.validator) if method.validator else None
            authorizer_id = authorizer_ids.get(method.authorizer) if method.authorizer else None
            await resources.put_method(
                ctx,
                {
                    **ids,
                    **drop_none(
                        {**method.method, "requestValidatorId": validator, "authorizerId": authorizer_id}
                    ),
                },
            )
            codes = set()
            for response in method.method_responses:
                await resources.put_method_response(ctx, {**ids, **drop_none(response)})
                codes.add(response["statusCode"])
            if method.integration is not None:
                await resources.put_integration(ctx, {**ids, **drop_none(method.integration)})
                for response in method.integration_responses:
                    if response["statusCode"] not in codes:  # AWS creates the method response it needs
                        await resources.put_method_response(
                            ctx, {**ids, "statusCode": response["statusCode"]}
                        )
                        codes.add(response["statusCode"])
                    await resources.put_integration_response(ctx, {**ids, **drop_none(response)})
        except AwsError as exc:
            raise AwsError(
                exc.code, f"Errors found during import: {where}: {exc.message}", exc.status
            ) from exc
        kept_methods.pop(where, None)
        if method.extensions:
            kept_methods[where] = method.extensions
    kept = {
        "api": {**(previous.get("api") or {}), **definition.extensions},
        "methods": kept_methods,
        "securitySchemes": {**(previous.get("securitySchemes") or {}), **definition.security_schemes},
        "authorizers": imported_authorizers,
    }
    ctx.store.put("openapi", api_id, kept, parent=api_id)


async def _build_authorizers(
    ctx: ControlContext, api_id: str, definition: openapi.Definition, *, overwrite: bool
) -> tuple[dict[str, str], list[str]]:
    """The definition's authorizers, created or updated in place by name: their ids by scheme name, and
    the names imports have declared so far. An overwrite removes those an earlier import declared and
    this one does not; authorizers made by CreateAuthorizer (or a template's resource) stay."""
    existing = {str(doc.get("name")): doc for doc in ctx.store.list("authorizer", api_id)}
    declared = set((ctx.store.get("openapi", api_id) or {}).get("authorizers") or [])
    if overwrite:
        for name in sorted(declared - set(definition.authorizers)):
            if name in existing:  # its methods went with the overwrite
                doc = existing.pop(name)
                await authorizers.delete_authorizer(ctx, {"restApiId": api_id, "authorizerId": doc["id"]})
        declared = set()
    ids: dict[str, str] = {}
    for name, fields in definition.authorizers.items():
        try:
            if name in existing:
                doc = existing[name]
                operations = authorizers.patch_operations(doc, fields)
                if operations:
                    doc = await authorizers.update_authorizer(
                        ctx, {"restApiId": api_id, "authorizerId": doc["id"], "patchOperations": operations}
                    )
            else:
                doc = await authorizers.create_authorizer(ctx, {"restApiId": api_id, **fields})
        except AwsError as exc:
            raise AwsError(
                exc.code, f"Errors found during import: authorizer {name}: {exc.message}", exc.status
            ) from exc
        ids[name] = str(doc["id"])
    return ids, sorted(declared | set(definition.authorizers))


async def import_rest_api(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    definition = _definition_of(ctx, params)
    with ctx.store.transaction():
        api = await rest_apis.create_rest_api(ctx, drop_none(definition.api))
        await _build(ctx, api["id"], definition, overwrite=True, with_documentation=_documented(params))
    return {**rest_api(ctx, api["id"]), "warnings": definition.warnings or None}


async def put_rest_api(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    rest_api(ctx, api_id)
    mode = params.get("mode") or "merge"
    if mode not in ("merge", "overwrite"):
        raise bad_request(f"Invalid mode: {mode}. Must be one of: [merge, overwrite]")
    definition = _definition_of(ctx, params)
    with ctx.store.transaction():
        doc = rest_api(ctx, api_id)
        fields = dict(definition.api)
        if "endpointConfigurationTypes" not in (params.get("parameters") or {}):
            fields.pop("endpointConfiguration", None)  # the endpoint type is not the definition's to change
        for key, value in fields.items():
            if value is not None:
                doc[key] = value
            elif mode == "overwrite" and key in ("description", "version"):
                doc.pop(key, None)
        ctx.store.put("restapi", api_id, doc)
        await _build(
            ctx, api_id, definition, overwrite=mode == "overwrite", with_documentation=_documented(params)
        )
    return {**rest_api(ctx, api_id), "warnings": definition.warnings or None}


async def get_export(ctx: ControlContext, params: dict[str, Any]) -> Doc:
    api_id = params["restApiId"]
    rest_api(ctx, api_id)
    kind = params.get("exportType")
    if kind not in ("oas30", "swagger"):
        raise bad_request(f"Invalid export type: {kind}. Must be one of: [oas30, swagger]")
    stage = ctx.store.get("stage", f"{api_id}/{params['stageName']}")
    if stage is None:
        raise not_found("Invalid Stage identifier specified")
    snapshot = ctx.store.get("snapshot", f"{api_id}/{stage['deploymentId']}")
    if snapshot is None:
        raise not_found("Invalid Deployment identifier specified")
    accept = (params.get("accepts") or "application/json").split(",")[0].split(";")[0].strip()
    content_type = accept if accept in _CONTENT_TYPES else "application/json"
    options = params.get("parameters") or {}
    extensions = {e.strip() for e in str(options.get("extensions") or "").split(",") if e.strip()}
    unknown = extensions - {"integrations", "apigateway", "authorizers", "postman", "documentation"}
    if unknown:
        raise bad_request(f"Invalid extensions parameter: {', '.join(sorted(unknown))}")
    document = openapi.export(
        snapshot["restApi"],
        snapshot["resources"],
        ctx.store.get("openapi", api_id) or {},
        kind=kind,
        stage=stage["stageName"],
        region=ctx.region_of(api_id),
        extensions=extensions,
        stage_url=ctx.settings.invoke_urls(api_id, stage["stageName"])[0].rstrip("/")
        if "postman" in extensions
        else None,
        models=snapshot.get("models"),
        validators=snapshot.get("validators"),
        gateway_responses=snapshot.get("gatewayResponses"),
        authorizers=snapshot.get("authorizers"),
    )
    if "documentation" in extensions:
        version, parts = documentation.stage_parts(ctx.store, api_id, stage)
        documentation.document(document, parts, version)
    suffix = "yaml" if content_type == "application/yaml" else "json"
    return {
        "contentType": content_type,
        "contentDisposition": f'attachment; filename="{kind}_{stage["stageName"]}.{suffix}"',
        "body": openapi.dump(document, content_type),
    }


def handlers(ctx: ControlContext) -> dict[str, OperationHandler]:
    return {
        "ImportRestApi": partial(import_rest_api, ctx),
        "PutRestApi": partial(put_rest_api, ctx),
        "GetExport": partial(get_export, ctx),
    }
