"""Deploying a template: plain CloudFormation resources created through the management API's own handlers.

Everything a template creates is written in one store transaction: a template error (or a failing call) rolls
all of it back, so nothing half-deployed stays behind. A stack document (kind ``stack``) maps logical ids to
physical ids, so running the same template again updates the same APIs and functions instead of adding copies.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import heapq
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from apigate.aws.errors import AwsError
from apigate.aws.wire import OperationHandler
from apigate.control import (
    authorizers,
    deployments,
    gateway_responses,
    openapi,
    resources,
    rest_apis,
    user_pools,
)
from apigate.control import lambda_functions as lambda_api
from apigate.control import v2 as http_api_control
from apigate.control.context import ControlContext
from apigate.declarative import (
    assemblies,
    cognito,
    documentation,
    domains,
    function_versions,
    iam,
    includes,
    models,
    stored,
    translator,
    usage,
    websocket,
)
from apigate.declarative.code_zip import FIXED_TIME, zip_folder
from apigate.declarative.intrinsics import IntrinsicError, Resolver, references
from apigate.declarative.properties import Tracked, ignored, unread
from apigate.declarative.template import Doc, TemplateError, load

SUPPORTED = (
    "AWS::Lambda::Function",
    "AWS::Lambda::Permission",
    *function_versions.RESOURCE_TYPES,
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Stage",
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Stage",
    "AWS::ApiGateway::Authorizer",
    "AWS::ApiGateway::GatewayResponse",
    *websocket.RESOURCE_TYPES,
    *documentation.RESOURCE_TYPES,
    *usage.RESOURCE_TYPES,
    *iam.RESOURCE_TYPES,
    *models.RESOURCE_TYPES,
    *stored.RESOURCE_TYPES,
    *domains.RESOURCE_TYPES,
    *cognito.RESOURCE_TYPES,
)
_LAST = {
    "AWS::ApiGateway::Deployment": 1,
    documentation.VERSION: 1,  # a snapshot of every part
    "AWS::ApiGateway::Stage": 2,  # after every method exists
    "AWS::ApiGatewayV2::Deployment": 1,  # after every route and integration exists
    "AWS::ApiGatewayV2::Stage": 2,
    **usage.RANKS,
    **domains.RANKS,
}
_METHOD_SETTINGS = {
    "ThrottlingBurstLimit": "throttling/burstLimit",
    "ThrottlingRateLimit": "throttling/rateLimit",
    "CachingEnabled": "caching/enabled",
    "CacheTtlInSeconds": "caching/ttlInSeconds",
    "CacheDataEncrypted": "caching/dataEncrypted",
    "LoggingLevel": "logging/loglevel",
    "DataTraceEnabled": "logging/dataTrace",
    "MetricsEnabled": "metrics/enabled",
}
_QUIET = ("AWS::CDK::Metadata",)  # CDK's analytics record: no AWS resource, nothing for a user to learn


@dataclass(slots=True)
class Route:
    api_id: str
    stage: str
    verb: str
    path: str
    target: str


@dataclass(slots=True)
class Deployed:
    stack: str
    template: Path
    physical: dict[str, tuple[str, str]]  # logical id -> (type, physical id)
    outputs: dict[str, str]
    warnings: list[str]
    routes: list[Route]
    code_dirs: dict[str, Path] = field(default_factory=dict)  # function name -> local code folder
    layer_dirs: dict[str, Path] = field(default_factory=dict)  # layer name -> local content folder
    read_files: list[Path] = field(default_factory=list)  # AWS::Include and DefinitionUri files




def _changed_configuration(existing: Doc, config: Doc) -> bool:
    """Whether a redeploy must touch a function's configuration (and so replace its warm workers)."""
    variables = (existing.get("Environment") or {}).get("Variables") or {}
    return (
        any(
            existing.get(key) != config[key]
            for key in ("Handler", "Runtime", "Timeout", "MemorySize", "Description")
        )
        or ("Role" in config and existing.get("Role") != config["Role"])
        or variables != config["Environment"]["Variables"]
        or [layer["Arn"] for layer in existing.get("Layers") or ()] != config["Layers"]
    )


def _tags(value: Any) -> dict[str, str]:
    """CloudFormation's tags (a list of ``{Key, Value}``, or a map for some types) as a map."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, list):
        return {str(t.get("Key")): str(t.get("Value", "")) for t in value if isinstance(t, dict) and "Key" in t}
    return {}


def _rest_api_patches(props: Doc) -> list[Doc]:
    """A RestApi's properties that UpdateRestApi sets, as its patch operations."""
    operations: list[Doc] = []
    policy = props.get("Policy")
    if policy is not None:
        text = policy if isinstance(policy, str) else orjson.dumps(policy).decode()
        operations.append({"op": "replace", "path": "/policy", "value": text})
    if props.get("ApiKeySourceType") is not None:
        operations.append({"op": "replace", "path": "/apiKeySource", "value": str(props["ApiKeySourceType"])})
    if props.get("MinimumCompressionSize") is not None:
        size = str(props["MinimumCompressionSize"])
        operations.append({"op": "replace", "path": "/minimumCompressionSize", "value": size})
    disabled = props.get("DisableExecuteApiEndpoint")
    if disabled is not None:
        value = str(disabled).lower() if isinstance(disabled, bool) else str(disabled)
        operations.append({"op": "replace", "path": "/disableExecuteApiEndpoint", "value": value})
    return operations


def _method_setting_patches(settings: list[Doc]) -> list[Doc]:
    """``MethodSettings`` as UpdateStage's ``/{resource}/{method}/...`` patch operations."""
    operations: list[Doc] = []
    for setting in settings:
        resource_path = str(setting.get("ResourcePath") or "/*")
        key = "*" if resource_path == "/*" else resource_path.replace("/", "~1")
        verb = str(setting.get("HttpMethod") or "*")
        for field_name, patch_path in _METHOD_SETTINGS.items():
            if field_name in setting:
                value = setting[field_name]
                operations.append(
                    {
                        "op": "replace",
                        "path": f"/{key}/{verb}/{patch_path}",
                        "value": str(value).lower() if isinstance(value, bool) else str(value),
                    }
                )
    return operations


def _stage_patches(props: Doc) -> list[Doc]:
    """A stage's access log, cache size and canary (``AWS::ApiGateway::Stage`` properties, and a Deployment's
    ``StageDescription``) as UpdateStage's patch operations."""
    operations: list[Doc] = []
    access = props.get("AccessLogSetting")
    if isinstance(access, dict) and access.get("DestinationArn"):
        operations.append(
            {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": access["DestinationArn"]}
        )
        if access.get("Format"):
            operations.append({"op": "replace", "path": "/accessLogSettings/format", "value": access["Format"]})
    if props.get("CacheClusterSize") is not None:
        operations.append({"op": "replace", "path": "/cacheClusterSize", "value": str(props["CacheClusterSize"])})
    return operations


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase properties as the API's camelCase members (maps of names kept as written)."""
    if isinstance(value, dict):
        return {(k[:1].lower() + k[1:]): v for k, v in value.items()}
    return value


class Deployer:
    def __init__(self, ctx: ControlContext) -> None:
        self.ctx = ctx
        self.apis = rest_apis.handlers(ctx)
        self.res = resources.handlers(ctx)
        self.deps = deployments.handlers(ctx)
        self.oas = openapi.handlers(ctx)
        self.auth = authorizers.handlers(ctx)
        self.responses = gateway_responses.handlers(ctx)
        self.lam: dict[str, OperationHandler] = lambda_api.handlers(ctx.functions)
        self.v2: dict[str, OperationHandler] = (
            http_api_control.handlers(ctx, ctx.http_apis) if ctx.http_apis is not None else {}
        )

    async def deploy(self, path: Path, overrides: dict[str, str], stack_name: str | None = None) -> Deployed:
        given = path.resolve()
        path = assemblies.template_path(given, stack_name)
        template = load(path)
        assemblies.local_code(template, path.parent)
        stack = stack_name or _stack_name(given if given.is_dir() else path)
        # One management call as far as others are concerned: its transaction spans awaits.
        async with self.ctx.writes:
            with contextlib.redirect_stdout(
                io.StringIO()
            ):  # the handlers announce stages; we print one table
                return await _Run(self, template, path, overrides, stack).run()


def _stack_name(path: Path) -> str:
    folder = path.parent
    if folder.name == "build" and folder.parent.name == ".aws-sam":  # `sam build` output: the project's name
        folder = folder.parent.parent
    name = re.sub(r"[^A-Za-z0-9-]", "-", folder.name).strip("-")
    return name if name and name[0].isalpha() else f"apigate-{name or 'stack'}"


class _Run:
    def __init__(
        self, deployer: Deployer, template: Doc, path: Path, overrides: dict[str, str], stack: str
    ) -> None:
        self.d = deployer
        self.ctx = deployer.ctx
        self.template = template
        self.path = path
        self.base = path.parent
        self.stack = stack
        self.overrides = overrides
        self.physical: dict[str, tuple[str, str]] = {}
        self.attributes: dict[str, dict[str, Any]] = {}
        self.physical_ref: dict[str, str] = {}  # what Ref gives where it is not the physical id kept
        self.code_dirs: dict[str, Path] = {}
        self.layer_dirs: dict[str, Path] = {}
        self.read_files: list[Path] = []  # files the template includes or names as API definitions
        self.previous: Doc = self.ctx.store.get("stack", stack) or {}
        self.types: dict[str, str] = {}
        self.unsupported: list[str] = []
        self.stages: list[str] = []  # "api/stage" of every stage deployed
        self.http_stages: list[tuple[str, str]] = []  # (api, stage) of every HTTP API stage deployed
        self.warnings: list[str] = []  # from resource handlers, one line each
        self.managed_policies: dict[str, str] = {}  # a template's managed policies by ARN -> document

    def error(self, message: str, resource: str | None = None) -> TemplateError:
        return TemplateError(message, file=self.path, resource=resource)

    # --- resolution ----------------------------------------------------------------------------------------

    def _parameters(self) -> dict[str, Any]:
        declared = self.template.get("Parameters") or {}
        unknown = sorted(set(self.overrides) - set(declared))
        if unknown:
            raise self.error(f"--parameter-overrides names unknown parameters: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            spec = spec or {}
            if name in self.overrides:
                value: Any = self.overrides[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise self.error(f"parameter {name} has no Default and no --parameter-overrides value")
            allowed = spec.get("AllowedValues")
            if allowed is not None and str(value) not in [str(a) for a in allowed]:
                raise self.error(f"parameter {name}: {value} is not one of {', '.join(map(str, allowed))}")
            kind = str(spec.get("Type", "String"))
            if kind.startswith("AWS::SSM::Parameter::Value<"):
                found = stored.ssm_value(self.ctx, str(value))
                used = references({k: self.template.get(k) for k in ("Resources", "Outputs", "Conditions")})
                if found is None and name not in used:  # e.g. CDK's BootstrapVersion, read by Rules only
                    found = f"unresolved-ssm:{value}"
                if found is None:
                    raise self.error(
                        f"parameter {name} reads SSM parameter {value}, which apigate's store does not have "
                        "(an AWS::SSM::Parameter resource of a template served before creates it)"
                    )
                value, kind = found, kind.removeprefix("AWS::SSM::Parameter::Value<").removesuffix(">")
            if kind.startswith("List<") or kind == "CommaDelimitedList":
                value = value if isinstance(value, list) else [v.strip() for v in str(value).split(",")]
            else:
                value = str(value)
            values[name] = value
        region = self.ctx.settings.region
        account = self.ctx.settings.account_id
        values.update(
            {
                "AWS::Region": region,
                "AWS::AccountId": account,
                "AWS::StackName": self.stack,
                "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{self.stack}/apigate",
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::NotificationARNs": [],
            }
        )
        return values

    def _ref(self, name: str) -> Any:
        if name in self.physical_ref:
            return self.physical_ref[name]
        if name in self.physical:
            return self.physical[name][1]
        if name in self.types:
            if self.types[name] not in SUPPORTED:
                return skipped(self.types[name], name)
            raise IntrinsicError(f"{name} is referenced before it exists (a dependency cycle?)")
        raise IntrinsicError(f"unknown name {name} (not a parameter, pseudo parameter or resource)")

    def _get_att(self, name: str, attribute: str) -> Any:
        if name in self.attributes:
            found = self.attributes[name].get(attribute)
            if found is None:
                if self.types.get(name) in stored.RESOURCE_TYPES:
                    return f"stored:{self.types[name]}:{name}.{attribute}"
                raise IntrinsicError(f"{name} has no attribute {attribute}")
            return found
        if name in self.types and self.types[name] not in SUPPORTED:
            return skipped(self.types[name], f"{name}.{attribute}")
        return self._ref(name)

    def _conditions(self, resolver: Resolver) -> None:
        pending = dict(self.template.get("Conditions") or {})
        for _ in range(len(pending) + 1):
            for name, expression in list(pending.items()):
                try:
                    resolver.conditions[name] = bool(resolver.resolve(expression))
                except IntrinsicError as exc:
                    if "unknown condition" not in str(exc):
                        raise self.error(f"condition {name}: {exc}") from exc
                    continue
                del pending[name]
        if pending:
            raise self.error(f"conditions cannot be evaluated: {', '.join(sorted(pending))}")

    # --- the run -------------------------------------------------------------------------------------------

    async def run(self) -> Deployed:
        self.template = includes.expand(self.template, self.path, self.read_files)
        parameters = self._parameters()
        if translator.is_sam(self.template):
            self.template = translator.translate(
                self.template, parameters, self.path, self.ctx.settings.region, self.read_files
            )
        resolver = Resolver(
            parameters, ref=self._ref, get_att=self._get_att, mappings=self.template.get("Mappings")
        )
        self._conditions(resolver)
        active: Doc = {}
        for logical_id, resource in self.template["Resources"].items():
            condition = resource.get("Condition")
            if condition is not None:
                if condition not in resolver.conditions:
                    raise self.error(f"unknown condition {condition}", logical_id)
                if not resolver.conditions[condition]:
                    continue
            active[logical_id] = resource
        kept: dict[str, Doc] = {}
        for logical_id, resource in active.items():
            self.types[logical_id] = resource["Type"]
            kept[logical_id] = resource
        self.unsupported = sorted({r["Type"] for r in kept.values() if r["Type"] not in SUPPORTED})
        # Resources a false condition left out stay known names: only the branches of Fn::If taken are resolved.
        known = set(resolver.values) | set(self.types) | set(self.template["Resources"]) | {"AWS::NoValue"}
        for logical_id, resource in kept.items():
            for name in references(resource.get("Properties") or {}) - known:
                raise self.error(
                    f"refers to {name}, which is not a parameter or resource of the template", logical_id
                )
        for name, output in (self.template.get("Outputs") or {}).items():
            for ref in references(output) - known:
                raise self.error(f"output {name} refers to {ref}, which is not a parameter or resource")
        order = self._order(kept)
        store = self.ctx.store
        try:
            with store.transaction():
                for logical_id in order:
                    resource = kept[logical_id]
                    if resource["Type"] not in SUPPORTED:
                        continue
                    try:
                        props = Tracked(resolver.resolve(resource.get("Properties") or {}))
                        await self._create(logical_id, resource["Type"], props)
                        self._unread(logical_id, resource["Type"], props)
                    except IntrinsicError as exc:
                        raise self.error(str(exc), logical_id) from exc
                    except AwsError as exc:
                        raise self.error(exc.message, logical_id) from exc
                await self._remove_stale()
                outputs = self._outputs(resolver)
                store.put(
                    "stack",
                    self.stack,
                    {
                        "StackName": self.stack,
                        "TemplatePath": str(self.path),
                        "Resources": {k: {"Type": t, "PhysicalId": p} for k, (t, p) in self.physical.items()},
                        "Outputs": outputs,
                    },
                )
        except BaseException:
            self._reinstall()
            raise
        warnings = list(dict.fromkeys([*self._skipped_lines(kept), *self.warnings]))  # each once
        return Deployed(
            self.stack,
            self.path,
            dict(self.physical),
            outputs,
            warnings,
            self._routes(),
            self.code_dirs,
            self.layer_dirs,
            list(dict.fromkeys(self.read_files)),
        )

    def _unread(self, logical_id: str, kind: str, props: Tracked) -> None:
        """One warning per property the resource's handler did not act on (a stored type has its own line)."""
        if kind in stored.RESOURCE_TYPES and kind != stored.SSM_PARAMETER:
            return
        for name in unread(props):
            self.warnings.append(ignored(logical_id, kind, name))

    def _skipped_lines(self, kept: dict[str, Doc]) -> list[str]:
        """One line per resource apigate does not create, saying what references to it give."""
        lines = []
        for logical_id, resource in kept.items():
            kind = resource["Type"]
            if kind in SUPPORTED or kind in _QUIET:
                continue
            lines.append(
                f"skipped {logical_id} ({kind}): apigate does not serve this type; "
                f"references to it give {skipped(kind, logical_id)!r}"
            )
        return lines

    def _reinstall(self) -> None:
        """After a rollback: the registry serves again exactly what the store holds."""
        from apigate.compile.rest import StageDefaults, compile_stage

        user_pools.publish(self.ctx)  # the pools the rollback undid are no issuers

        for api_id in {p for t, p in self.physical.values() if t == "AWS::ApiGateway::RestApi"}:
            self.ctx.registry.forget_api(api_id)
        if self.ctx.http_apis is not None:
            http_api_control.load_all(self.ctx, self.ctx.http_apis)
        for api in self.ctx.store.list("restapi"):
            for stage in self.ctx.store.list("stage", api["id"]):
                snapshot = self.ctx.store.get("snapshot", f"{api['id']}/{stage['deploymentId']}")
                if snapshot is not None:
                    settings = self.ctx.settings
                    self.ctx.registry.install(
                        compile_stage(
                            snapshot,
                            stage,
                            region=settings.region,
                            account_id=settings.account_id,
                            defaults=StageDefaults.of(settings),
                        )
                    )

    def _order(self, kept: dict[str, Doc]) -> list[str]:
        """Creation order from real references only (Ref, GetAtt, Sub, DependsOn): a cycle there is the
        template's. Among resources that are ready, lower ranks go first (methods before the deployment that
        snapshots them, stages before the usage plans naming them), which never makes a cycle of its own."""
        graph: dict[str, set[str]] = {}
        for logical_id, resource in kept.items():
            needs = references(resource.get("Properties") or {}) & set(kept)
            depends = resource.get("DependsOn") or []
            for name in [depends] if isinstance(depends, str) else depends:
                if name not in kept:
                    if name in self.template["Resources"]:
                        continue  # left out by a false condition
                    raise self.error(
                        f"DependsOn names {name}, which is not a resource of the template", logical_id
                    )
                needs.add(name)
            graph[logical_id] = needs - {logical_id}
        position = {name: index for index, name in enumerate(kept)}
        waiting = {name: len(needs) for name, needs in graph.items()}
        users: dict[str, list[str]] = {name: [] for name in graph}
        for name, needs in graph.items():
            for need in needs:
                users[need].append(name)

        def key(name: str) -> tuple[int, int, str]:
            return (_LAST.get(kept[name]["Type"], 0), position[name], name)

        ready = [key(name) for name, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            name = heapq.heappop(ready)[2]
            order.append(name)
            for user in users[name]:
                waiting[user] -= 1
                if waiting[user] == 0:
                    heapq.heappush(ready, key(user))
        if len(order) < len(graph):
            stuck = sorted(name for name, count in waiting.items() if count > 0)
            raise self.error(f"circular dependency among {', '.join(stuck)}", stuck[0])
        return order

    def _old(self, logical_id: str, kind: str) -> str | None:
        entry = (self.previous.get("Resources") or {}).get(logical_id)
        if entry and entry.get("Type") == kind:
            return str(entry["PhysicalId"])
        return None

    # --- resource types ------------------------------------------------------------------------------------

    async def _create(self, logical_id: str, kind: str, props: Doc) -> None:
        if kind == "AWS::Lambda::Function":
            await self._function(logical_id, props)
        elif kind == "AWS::Lambda::Permission":
            await self._permission(logical_id, props)
        elif kind == "AWS::ApiGateway::RestApi":
            await self._rest_api(logical_id, props)
        elif kind == "AWS::ApiGateway::Resource":
            created = await self.d.res["CreateResource"](
                {
                    "restApiId": props.get("RestApiId"),
                    "parentId": props.get("ParentId"),
                    "pathPart": props.get("PathPart"),
                }
            )
            self.physical[logical_id] = (kind, created["id"])
        elif kind == "AWS::ApiGateway::Method":
            await self._method(logical_id, props)
        elif kind == "AWS::ApiGateway::Deployment":
            params: Doc = {"restApiId": props.get("RestApiId"), "description": props.get("Description")}
            if props.get("StageName"):
                params["stageName"] = props["StageName"]
                params["variables"] = (props.get("StageDescription") or {}).get("Variables")
            created = await self.d.deps["CreateDeployment"](
                {k: v for k, v in params.items() if v is not None}
            )
            self.physical[logical_id] = (kind, created["id"])
            if props.get("StageName"):  # the stage it made serves too: the route table lists it
                self.stages.append(f"{props.get('RestApiId')}/{props['StageName']}")
                await self._stage_description(logical_id, props)
        elif kind == "AWS::ApiGateway::Stage":
            await self._stage(logical_id, props)
        elif kind == "AWS::ApiGateway::Authorizer":
            await self._authorizer(logical_id, props)
        elif kind == "AWS::ApiGateway::GatewayResponse":
            await self._gateway_response(logical_id, props)
        elif kind == "AWS::ApiGatewayV2::Api":
            await self._http_api(logical_id, props)
        elif kind == "AWS::ApiGatewayV2::Stage":
            await self._http_stage(logical_id, props)
        elif kind in websocket.RESOURCE_TYPES:
            await websocket.create(self, logical_id, kind, props)
        elif kind in documentation.RESOURCE_TYPES:
            await documentation.create(self, logical_id, kind, props)
        elif kind in usage.RESOURCE_TYPES:
            await usage.create(self, logical_id, kind, props)
        elif kind in iam.RESOURCE_TYPES:
            await iam.create(self, logical_id, kind, props)
        elif kind in models.RESOURCE_TYPES:
            await models.create(self, logical_id, kind, props)
        elif kind in stored.RESOURCE_TYPES:
            stored.create(self, logical_id, kind, props)
        elif kind in domains.RESOURCE_TYPES:
            await domains.create(self, logical_id, kind, props)
        elif kind in function_versions.RESOURCE_TYPES:
            await function_versions.create(self, logical_id, kind, props, self.d.lam)
        elif kind in cognito.RESOURCE_TYPES:
            await cognito.create(self, logical_id, kind, props)

    def _v2(self, operation: str) -> OperationHandler:
        handler = self.d.v2.get(operation)
        if handler is None:
            raise IntrinsicError("HTTP APIs are not served by this deployer")
        return handler

    async def _http_api(self, logical_id: str, props: Doc) -> None:
        """An HTTP API from its OpenAPI ``Body`` (imported again on a redeploy, keeping its id)."""
        if props.get("ProtocolType") == "WEBSOCKET":
            await websocket.create_api(self, logical_id, props)
            return
        body = props.get("Body")
        if body is None:  # quick create (Target), or Route/Integration/Stage resources of its own
            await websocket.create_api(self, logical_id, props, protocol="HTTP")
            if props.get("Target"):  # quick create's $default stage serves: the route table lists it
                self.http_stages.append((self.physical[logical_id][1], "$default"))
            return
        if not isinstance(body, dict):
            raise IntrinsicError("Body must be an OpenAPI 3.0 document")
        if props.get("Name"):
            body = {**body, "info": {**(body.get("info") or {}), "title": props["Name"]}}
        existing = self._old(logical_id, "AWS::ApiGatewayV2::Api")
        raw = orjson.dumps(body).decode()
        if existing is not None and self.ctx.store.get("v2api", existing) is not None:
            api = await self._v2("ReimportApi")({"ApiId": existing, "Body": raw})
        else:
            api = await self._v2("ImportApi")({"Body": raw})
        for warning in api.get("Warnings") or ():  # what the import did not act on, in the OpenAPI body
            self.warnings.append(f"{logical_id} (AWS::ApiGatewayV2::Api) Body: {warning}")
        self.physical[logical_id] = ("AWS::ApiGatewayV2::Api", api["ApiId"])
        self.attributes[logical_id] = {"ApiId": api["ApiId"], "ApiEndpoint": api["ApiEndpoint"]}

    async def _http_stage(self, logical_id: str, props: Doc) -> None:
        api_id, name = props.get("ApiId"), props.get("StageName")
        params = {
            k: v
            for k, v in {
                "ApiId": api_id,
                "StageName": name,
                "DeploymentId": props.get("DeploymentId"),
                "AutoDeploy": props.get("AutoDeploy"),
                "StageVariables": props.get("StageVariables"),
                "DefaultRouteSettings": props.get("DefaultRouteSettings"),
                "RouteSettings": props.get("RouteSettings"),
                "Description": props.get("Description"),
                "Tags": _tags(props.get("Tags")) or None,
            }.items()
            if v is not None
        }
        if self.ctx.store.get("v2stage", f"{api_id}/{name}") is not None:
            params.pop("Tags", None)  # UpdateStage takes none; tags are kept from the creation
            await self._v2("UpdateStage")(params)
        else:
            await self._v2("CreateStage")(params)
        self.physical[logical_id] = ("AWS::ApiGatewayV2::Stage", str(name))
        self.http_stages.append((str(api_id), str(name)))

    async def _function(self, logical_id: str, props: Doc) -> None:
        name = str(props.get("FunctionName") or logical_id)
        handler = props.get("Handler")
        if not handler:
            raise IntrinsicError("Handler is required")
        code = props.get("Code")
        if isinstance(code, dict) and "ZipFile" in code:
            module = str(handler).rsplit(".", 1)[0].replace(".", "/")
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr(zipfile.ZipInfo(f"{module}.py", FIXED_TIME), str(code["ZipFile"]))
            zipped = buffer.getvalue()
        elif isinstance(code, str):
            local = (self.base / code).resolve()
            if local.is_dir():
                zipped = zip_folder(local)
                self.code_dirs[name] = local
            elif local.is_file() and local.suffix == ".zip":
                zipped = local.read_bytes()
            else:
                raise IntrinsicError(f"code folder {code} does not exist (looked in {local})")
        else:
            raise IntrinsicError(
                "Code must be a local path or Code.ZipFile (S3 code is not served by apigate)"
            )
        config: Doc = {
            "FunctionName": name,
            "Handler": handler,
            "Runtime": props.get("Runtime") or "python3.12",
            "Timeout": int(props.get("Timeout") or 3),
            "MemorySize": int(props.get("MemorySize") or 128),
            "Description": props.get("Description") or "",
            "Environment": {
                "Variables": {
                    k: str(v) for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()
                }
            },
            "Layers": [str(arn) for arn in props.get("Layers") or ()],
        }
        role = props.get("Role")
        if isinstance(role, str) and role.startswith("arn:"):  # its sessions carry the role's policies
            config["Role"] = role
        tags = _tags(props.get("Tags"))
        existing = self.ctx.store.get("function", name)
        if existing is None:
            architectures = props.get("Architectures")
            doc = await self.d.lam["CreateFunction"](
                {
                    **config,
                    "Code": {"ZipFile": zipped},
                    **({"Tags": tags} if tags else {}),
                    **({"Architectures": architectures} if architectures else {}),  # recorded; runs on this host
                }
            )
        else:
            doc = existing
            if _changed_configuration(existing, config):
                doc = await self.d.lam["UpdateFunctionConfiguration"](config)
            if existing.get("CodeSha256") != base64.b64encode(hashlib.sha256(zipped).digest()).decode():
                doc = await self.d.lam["UpdateFunctionCode"]({"FunctionName": name, "ZipFile": zipped})
            props.get("Architectures")  # fixed at creation, as a redeploy on AWS replaces the function
            if tags:
                await self.d.lam["TagResource"]({"Resource": doc["FunctionArn"], "Tags": tags})
        reserved = props.get("ReservedConcurrentExecutions")
        if reserved is not None:
            await self.d.lam["PutFunctionConcurrency"](
                {"FunctionName": name, "ReservedConcurrentExecutions": int(reserved)}
            )
        self.physical[logical_id] = ("AWS::Lambda::Function", name)
        self.attributes[logical_id] = {"Arn": doc["FunctionArn"]}

    async def _permission(self, logical_id: str, props: Doc) -> None:
        function = props.get("FunctionName")
        with contextlib.suppress(AwsError):
            await self.d.lam["RemovePermission"]({"FunctionName": function, "StatementId": logical_id})
        params = {
            "FunctionName": function,
            "StatementId": logical_id,
            "Action": props.get("Action") or "lambda:InvokeFunction",
            "Principal": props.get("Principal") or "apigateway.amazonaws.com",
            "SourceArn": props.get("SourceArn"),
            "SourceAccount": props.get("SourceAccount"),
        }
        await self.d.lam["AddPermission"]({k: v for k, v in params.items() if v is not None})
        self.physical[logical_id] = ("AWS::Lambda::Permission", logical_id)

    async def _rest_api(self, logical_id: str, props: Doc) -> None:
        body = props.get("Body")
        name = props.get("Name")
        endpoint = props.get("EndpointConfiguration") or {}
        types = endpoint.get("Types") or ["EDGE"]
        if body is None:
            body = {"swagger": "2.0", "info": {"title": name or logical_id}, "paths": {}}
        if not isinstance(body, dict):
            raise IntrinsicError("Body must be an OpenAPI document")
        if props.get("BinaryMediaTypes"):
            # CloudFormation applies them as patch paths, where "~1" is "/" (SAM passes them through encoded).
            binary = [str(t).replace("~1", "/") for t in props["BinaryMediaTypes"]]
            body = {**body, "x-amazon-apigateway-binary-media-types": binary}
        parameters = {**(props.get("Parameters") or {}), "endpointConfigurationTypes": ",".join(types)}
        existing = self._old(logical_id, "AWS::ApiGateway::RestApi")
        raw = orjson.dumps(body)
        strict = props.get("FailOnWarnings") in (True, "true", "True")  # a body with warnings fails, as on AWS
        if existing is not None and self.ctx.store.get("restapi", existing) is not None:
            mode = "merge" if props.get("Mode") == "merge" else "overwrite"  # CloudFormation's: the body wins
            api = await self.d.oas["PutRestApi"](
                {
                    "restApiId": existing,
                    "mode": mode,
                    "body": raw,
                    "parameters": parameters,
                    "failOnWarnings": strict,
                }
            )
        else:
            props.get("Mode")  # a first deployment has nothing to merge with
            api = await self.d.oas["ImportRestApi"](
                {"body": raw, "parameters": parameters, "failOnWarnings": strict}
            )
        doc = self.ctx.store.get("restapi", api["id"]) or {}
        if name:
            doc["name"] = name
        if props.get("Description"):
            doc["description"] = props["Description"]
        # As CloudFormation tags what it creates: tests and tools find a stack's APIs by logical id.
        doc["tags"] = {
            **(doc.get("tags") or {}),
            "aws:cloudformation:logical-id": logical_id,
            "aws:cloudformation:stack-name": self.stack,
        }
        doc["tags"].update(_tags(props.get("Tags")))
        if endpoint.get("VpcEndpointIds"):
            doc.setdefault("endpointConfiguration", {})["vpcEndpointIds"] = list(endpoint["VpcEndpointIds"])
        self.ctx.store.put("restapi", api["id"], doc)
        operations = _rest_api_patches(props)
        if operations:  # checked as UpdateRestApi checks them
            await self.d.apis["UpdateRestApi"]({"restApiId": api["id"], "patchOperations": operations})
        for warning in api.get("warnings") or ():  # what the import did not act on, in the OpenAPI body
            self.warnings.append(f"{logical_id} (AWS::ApiGateway::RestApi) Body: {warning}")
        self.physical[logical_id] = ("AWS::ApiGateway::RestApi", api["id"])
        self.attributes[logical_id] = {"RootResourceId": doc["rootResourceId"], "RestApiId": api["id"]}

    async def _method(self, logical_id: str, props: Doc) -> None:
        ids = {
            "restApiId": props.get("RestApiId"),
            "resourceId": props.get("ResourceId"),
            "httpMethod": props.get("HttpMethod"),
        }
        method = {
            "authorizationType": props.get("AuthorizationType") or "NONE",
            "apiKeyRequired": props.get("ApiKeyRequired"),
            "authorizerId": props.get("AuthorizerId"),
            "operationName": props.get("OperationName"),
            "requestParameters": props.get("RequestParameters"),
            "requestModels": props.get("RequestModels"),
            "requestValidatorId": props.get("RequestValidatorId"),
            "authorizationScopes": props.get("AuthorizationScopes"),
        }
        await self.d.res["PutMethod"]({**ids, **{k: v for k, v in method.items() if v is not None}})
        for response in props.get("MethodResponses") or []:
            await self.d.res["PutMethodResponse"](
                {**ids, **_camel(response), "statusCode": str(response.get("StatusCode"))}
            )
        integration = props.get("Integration")
        if integration:
            params = {k: v for k, v in _camel(integration).items() if k != "integrationResponses"}
            await self.d.res["PutIntegration"]({**ids, **params})
            codes = set(
                (self.ctx.store.get("resource", f"{ids['restApiId']}/{ids['resourceId']}") or {})
                .get("resourceMethods", {})
                .get(ids["httpMethod"], {})
                .get("methodResponses", {})
            )
            for response in integration.get("IntegrationResponses") or []:
                code = str(response.get("StatusCode"))
                if code not in codes:
                    await self.d.res["PutMethodResponse"]({**ids, "statusCode": code})
                    codes.add(code)
                await self.d.res["PutIntegrationResponse"]({**ids, **_camel(response), "statusCode": code})
        self.physical[logical_id] = (
            "AWS::ApiGateway::Method",
            f"{ids['restApiId']}/{ids['resourceId']}/{ids['httpMethod']}",
        )

    async def _authorizer(self, logical_id: str, props: Doc) -> None:
        """Created once, then updated in place by later deployments: its id (what ``Ref`` gives and methods'
        ``AuthorizerId`` name) stays the same."""
        api_id = str(props.get("RestApiId"))
        fields = {
            key: value
            for key, value in {
                "name": props.get("Name") or logical_id,
                "type": props.get("Type"),
                "authType": props.get("AuthType"),
                "authorizerUri": props.get("AuthorizerUri"),
                "authorizerCredentials": props.get("AuthorizerCredentials"),
                "identitySource": props.get("IdentitySource"),
                "identityValidationExpression": props.get("IdentityValidationExpression"),
                "authorizerResultTtlInSeconds": props.get("AuthorizerResultTtlInSeconds"),
                "providerARNs": props.get("ProviderARNs"),
            }.items()
            if value is not None
        }
        existing = self._old(logical_id, "AWS::ApiGateway::Authorizer")
        current = None if existing is None else self.ctx.store.get("authorizer", f"{api_id}/{existing}")
        if current is not None:
            doc = current
            operations = authorizers.patch_operations(current, fields)
            if operations:
                doc = await self.d.auth["UpdateAuthorizer"](
                    {"restApiId": api_id, "authorizerId": current["id"], "patchOperations": operations}
                )
        else:
            doc = await self.d.auth["CreateAuthorizer"]({"restApiId": api_id, **fields})
        self.physical[logical_id] = ("AWS::ApiGateway::Authorizer", str(doc["id"]))

    async def _gateway_response(self, logical_id: str, props: Doc) -> None:
        api_id, response_type = str(props.get("RestApiId")), str(props.get("ResponseType"))
        params = {
            "restApiId": api_id,
            "responseType": response_type,
            "statusCode": None if props.get("StatusCode") is None else str(props["StatusCode"]),
            "responseParameters": props.get("ResponseParameters"),
            "responseTemplates": props.get("ResponseTemplates"),
        }
        await self.d.responses["PutGatewayResponse"]({k: v for k, v in params.items() if v is not None})
        self.physical[logical_id] = ("AWS::ApiGateway::GatewayResponse", f"{api_id}/{response_type}")

    async def _stage_description(self, logical_id: str, props: Doc) -> None:
        """A Deployment's ``StageDescription``: the settings of the stage it makes (its ``Variables`` went with
        CreateDeployment), each key it does not act on warned about by name."""
        description = Tracked(props.get("StageDescription") or {})
        description.get("Variables")
        operations: list[Doc] = []
        for field_name, path in (
            ("Description", "/description"),
            ("TracingEnabled", "/tracingEnabled"),
            ("CacheClusterEnabled", "/cacheClusterEnabled"),
            ("DocumentationVersion", "/documentationVersion"),
        ):
            if field_name in description:
                value = description[field_name]
                text = str(value).lower() if isinstance(value, bool) else str(value)
                operations.append({"op": "replace", "path": path, "value": text})
        # Settings written on the description itself are those of every method.
        shortcut = {k: description[k] for k in _METHOD_SETTINGS if k in description}
        operations += _method_setting_patches([*(description.get("MethodSettings") or []), shortcut])
        operations += _stage_patches(description)
        if operations:
            await self.d.deps["UpdateStage"](
                {"restApiId": props.get("RestApiId"), "stageName": props["StageName"], "patchOperations": operations}
            )
        for name in unread(description):
            self.warnings.append(ignored(logical_id, "AWS::ApiGateway::Deployment", f"StageDescription.{name}"))

    async def _stage(self, logical_id: str, props: Doc) -> None:
        api_id, name = props.get("RestApiId"), props.get("StageName")
        variables = {k: str(v) for k, v in (props.get("Variables") or {}).items()}
        if self.ctx.store.get("stage", f"{api_id}/{name}") is None:
            params = {
                "restApiId": api_id,
                "stageName": name,
                "deploymentId": props.get("DeploymentId"),
                "variables": variables or None,
                "description": props.get("Description"),
                "tracingEnabled": props.get("TracingEnabled"),
                "cacheClusterEnabled": props.get("CacheClusterEnabled"),
                "documentationVersion": props.get("DocumentationVersion"),
                "tags": _tags(props.get("Tags")) or None,
            }
            await self.d.deps["CreateStage"]({k: v for k, v in params.items() if v is not None})
            operations: list[Doc] = []
        else:
            stage = self.ctx.store.get("stage", f"{api_id}/{name}") or {}
            operations = [{"op": "replace", "path": "/deploymentId", "value": props.get("DeploymentId")}]
            operations += [
                {"op": "remove", "path": f"/variables/{k}"}
                for k in (stage.get("variables") or {})
                if k not in variables
            ]
            operations += [
                {"op": "replace", "path": f"/variables/{k}", "value": v} for k, v in variables.items()
            ]
            operations.append(
                {"op": "replace", "path": "/description", "value": props.get("Description") or ""}
            )
            if props.get("DocumentationVersion"):
                operations.append(
                    {"op": "replace", "path": "/documentationVersion", "value": props["DocumentationVersion"]}
                )
        operations += _method_setting_patches(props.get("MethodSettings") or [])
        operations += _stage_patches(props)
        if operations:
            await self.d.deps["UpdateStage"](
                {"restApiId": api_id, "stageName": name, "patchOperations": operations}
            )
        self.physical[logical_id] = ("AWS::ApiGateway::Stage", str(name))  # Ref gives the stage's name
        self.stages.append(f"{api_id}/{name}")

    async def _remove_stale(self) -> None:
        current = {(t, p) for t, p in self.physical.values()}
        entries = list((self.previous.get("Resources") or {}).values())
        # APIs first: a removed API takes its authorizers (and the methods naming them) along.
        entries.sort(key=lambda e: e.get("Type") != "AWS::ApiGateway::RestApi")
        for entry in entries:
            kind, physical = entry.get("Type"), entry.get("PhysicalId")
            if (kind, physical) in current:
                continue
            if kind == "AWS::ApiGateway::RestApi" and self.ctx.store.get("restapi", physical) is not None:
                await self.d.apis["DeleteRestApi"]({"restApiId": physical})
            elif kind == "AWS::Lambda::Function" and self.ctx.store.get("function", physical) is not None:
                await self.d.lam["DeleteFunction"]({"FunctionName": physical})
            elif kind == "AWS::ApiGateway::Authorizer":
                for api in self.ctx.store.list("restapi"):  # its id is unique; its API is not recorded
                    if self.ctx.store.get("authorizer", f"{api['id']}/{physical}") is not None:
                        await self.d.auth["DeleteAuthorizer"](
                            {"restApiId": api["id"], "authorizerId": physical}
                        )
            elif kind == "AWS::ApiGateway::GatewayResponse":
                api_id, _, response_type = str(physical).partition("/")
                if self.ctx.store.get(gateway_responses.KIND, str(physical)) is not None:
                    await self.d.responses["DeleteGatewayResponse"](
                        {"restApiId": api_id, "responseType": response_type}
                    )
            elif kind in documentation.RESOURCE_TYPES:
                stack_apis = {p for t, p in current if t == "AWS::ApiGateway::RestApi"} | {
                    str(e.get("PhysicalId")) for e in entries if e.get("Type") == "AWS::ApiGateway::RestApi"
                }
                await documentation.remove(self, str(kind), str(physical), stack_apis)
            elif kind in iam.RESOURCE_TYPES:
                iam.remove(self.ctx, str(kind), str(physical))
            elif kind == "AWS::ApiGatewayV2::Api" and self.ctx.store.get("v2api", physical) is not None:
                await self._v2("DeleteApi")({"ApiId": physical})
            elif kind == "AWS::Lambda::Alias":  # versions are kept, as SAM's DeletionPolicy: Retain does
                function, _, alias = str(physical).rsplit(":function:", 1)[-1].partition(":")
                if self.ctx.store.get("function-alias", f"{function}:{alias}") is not None:
                    await self.d.lam["DeleteAlias"]({"FunctionName": function, "Name": alias})
            elif kind in cognito.RESOURCE_TYPES:
                await cognito.remove(self.ctx, str(kind), str(physical))

    def _outputs(self, resolver: Resolver) -> dict[str, str]:
        outputs: dict[str, str] = {}
        for name, output in (self.template.get("Outputs") or {}).items():
            condition = (output or {}).get("Condition")
            if condition is not None and not resolver.conditions.get(condition, False):
                continue
            try:
                value = resolver.resolve((output or {}).get("Value"))
            except IntrinsicError as exc:
                raise self.error(f"output {name}: {exc}") from exc
            text = value if isinstance(value, str) else orjson.dumps(value).decode()
            outputs[name] = local_urls(text, self.ctx.settings.base_url)
        return outputs

    def _routes(self) -> list[Route]:  # the table printed at start-up
        routes: list[Route] = []
        for physical in dict.fromkeys(self.stages):
            api_id, stage_name = physical.split("/", 1)
            stage = self.ctx.store.get("stage", physical) or {}
            snapshot = self.ctx.store.get("snapshot", f"{api_id}/{stage.get('deploymentId')}") or {}
            for doc in sorted(snapshot.get("resources") or [], key=lambda d: d["path"]):
                for verb, method in sorted((doc.get("resourceMethods") or {}).items()):
                    integration = method.get("methodIntegration") or {}
                    uri = str(integration.get("uri") or "")
                    target = _route_target(uri) or str(integration.get("type") or "")
                    routes.append(Route(api_id, stage_name, verb, doc["path"], target))
        for api_id, stage_name in self.http_stages:
            integrations = {d["IntegrationId"]: d for d in self.ctx.store.list("v2integration", api_id)}
            for doc in sorted(self.ctx.store.list("v2route", api_id), key=lambda d: d["RouteKey"]):
                key = doc["RouteKey"]
                if " " in key:
                    verb, path = key.split(" ", 1)
                else:  # $default, or a WebSocket API's route key
                    verb, path = ("ANY", "/*") if key == "$default" else ("WS", f"/ ({key})")
                target_id = str(doc.get("Target") or "").removeprefix("integrations/")
                found = integrations.get(target_id) or {}
                uri = str(found.get("IntegrationUri") or "")
                target = _route_target(uri) or str(found.get("IntegrationSubtype") or "")  # SQS-SendMessage…
                # The $default stage is served at the API's root: no stage segment in its URLs.
                routes.append(
                    Route(api_id, "" if stage_name == "$default" else stage_name, verb, path, target)
                )
        return routes


def skipped(kind: str, what: str) -> str:
    """What a reference to a resource apigate does not create gives: a value that says so, never a made-up ARN
    that would pass for a real one."""
    return f"skipped:{kind}:{what}"


_AWS_INVOKE_URL = re.compile(
    r"(?P<scheme>https?|wss?)://(?P<api>[a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?(?P<rest>/[^\s\"']*)?"
)


_POOL_DOMAIN_URL = re.compile(
    r"https://(?P<domain>[a-z0-9-]+)\.auth\.[a-z0-9-]+\.amazoncognito\.com(?P<rest>/[^\s\"']*)?"
)


def local_urls(text: str, base_url: str) -> str:
    """AWS invoke URLs (``https://{api}.execute-api.{region}.amazonaws.com/Prod/hello``) as the gateway's own
    (``http://127.0.0.1:PORT/_aws/execute-api/{api}/Prod/hello``): an Output must be an address that answers."""

    def local(match: re.Match[str]) -> str:
        scheme = "ws" if match["scheme"].startswith("ws") else "http"
        base = scheme + base_url.removeprefix("http")
        return f"{base}/_aws/execute-api/{match['api']}{match['rest'] or ''}"

    text = _AWS_INVOKE_URL.sub(local, text)
    # A user pool domain (``https://{domain}.auth.{region}.amazoncognito.com/oauth2/token``): its local form.
    return _POOL_DOMAIN_URL.sub(lambda m: f"{base_url}/_aws/cognito-idp/{m['domain']}{m['rest'] or ''}", text)


def _route_target(uri: str) -> str:
    """What the route table shows for an integration URI: the function's name (from a REST invocation URI or an
    HTTP API's function ARN, without a version or alias), else the URI itself."""
    if ":function:" not in uri:
        return uri
    return uri.split(":function:", 1)[1].split("/", 1)[0].split(":", 1)[0]
