"""The SAM transform: AWS::Serverless::* resources into the plain CloudFormation resources apigate deploys.

As AWS's own transform does: a function's ``Api`` events become paths of an OpenAPI body (the implicit
``ServerlessRestApi`` with stage ``Prod``, or the ``AWS::Serverless::Api`` named by ``RestApiId``), each API becomes
an ``AWS::ApiGateway::RestApi`` with that body, a ``Deployment`` and a ``Stage``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apigate.aws import openapi
from apigate.declarative.template import Doc, TemplateError

IMPLICIT_API = "ServerlessRestApi"
_FUNCTION_KEYS = (
    "FunctionName",
    "Handler",
    "Runtime",
    "Timeout",
    "MemorySize",
    "Environment",
    "Description",
    "Architectures",
)


@dataclass(slots=True)
class Transformed:
    resources: Doc
    http_api_events: list[Doc] = field(default_factory=list)  # as written, kept in the stack document
    api_settings: Doc = field(default_factory=dict)  # Auth, Cors, MethodSettings as written, by API
    warnings: list[str] = field(default_factory=list)


def _merge(defaults: Any, own: Any) -> Any:
    """SAM's Globals: maps merge, lists concatenate, the resource's own scalars win."""
    if isinstance(defaults, dict) and isinstance(own, dict):
        out = dict(copy.deepcopy(defaults))
        for key, value in own.items():
            out[key] = _merge(defaults[key], value) if key in defaults else value
        return out
    if isinstance(defaults, list) and isinstance(own, list):
        return [*copy.deepcopy(defaults), *own]
    return own


def _api_ref(value: Any, function: str, file: Path) -> str:
    if value is None:
        return IMPLICIT_API
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        return str(value["Ref"])
    if isinstance(value, str):
        return value
    raise TemplateError(
        "an Api event's RestApiId must be a !Ref to an AWS::Serverless::Api", file=file, resource=function
    )


def transform(template: Doc, base: Path, file: Path, stack_name: str) -> Transformed:
    resources: Doc = template["Resources"]
    globals_ = template.get("Globals") or {}
    out = Transformed(resources={})
    api_paths: dict[str, dict[str, dict[str, str]]] = {}
    http_routes: dict[str, str] = {}  # route key -> function, on SAM's implicit HTTP API
    apis = {
        name: _merge(globals_.get("Api") or {}, r.get("Properties") or {})
        for name, r in resources.items()
        if r["Type"] == "AWS::Serverless::Api"
    }
    for logical_id, resource in resources.items():
        kind = resource["Type"]
        if kind != "AWS::Serverless::Function":
            if kind != "AWS::Serverless::Api":
                out.resources[logical_id] = resource
            continue
        props = _merge(globals_.get("Function") or {}, resource.get("Properties") or {})
        function: Doc = {k: props[k] for k in _FUNCTION_KEYS if k in props}
        if "InlineCode" in props:
            function["Code"] = {"ZipFile": props["InlineCode"]}
        elif "CodeUri" in props:
            code_uri = props["CodeUri"]
            if isinstance(code_uri, dict) or (isinstance(code_uri, str) and code_uri.startswith("s3://")):
                raise TemplateError(
                    "CodeUri must be a local folder (code in S3 is not served by apigate)",
                    file=file,
                    resource=logical_id,
                )
            function["Code"] = code_uri
        else:
            function["Code"] = "."  # SAM's default: the template's folder
        if "Handler" not in function:
            raise TemplateError("Handler is required", file=file, resource=logical_id)
        if (props.get("PackageType") or "Zip") != "Zip":
            raise TemplateError(
                "only PackageType Zip is served (no container images)", file=file, resource=logical_id
            )
        out.resources[logical_id] = {
            **{k: v for k, v in resource.items() if k in ("Condition", "DependsOn")},
            "Type": "AWS::Lambda::Function",
            "Properties": function,
        }
        for event_name, event in (props.get("Events") or {}).items():
            where = f"{logical_id} (event {event_name})"
            event_props = (event or {}).get("Properties") or {}
            event_type = (event or {}).get("Type")
            if event_type == "Api":
                api = _api_ref(event_props.get("RestApiId"), where, file)
                if api != IMPLICIT_API and api not in apis:
                    raise TemplateError(
                        f"RestApiId {api} is not an AWS::Serverless::Api of this template",
                        file=file,
                        resource=where,
                    )
                path, method = event_props.get("Path"), event_props.get("Method")
                if not isinstance(path, str) or not isinstance(method, str):
                    raise TemplateError("an Api event needs a Path and a Method", file=file, resource=where)
                verb = method.lower()
                if verb not in (*openapi.VERBS, "any"):
                    raise TemplateError(f"unknown Method {method}", file=file, resource=where)
                taken = api_paths.setdefault(api, {}).setdefault(path, {})
                if verb in taken:
                    raise TemplateError(
                        f"{method.upper()} {path} is already served by {taken[verb]}",
                        file=file,
                        resource=where,
                    )
                taken[verb] = logical_id
            elif event_type == "HttpApi":
                out.http_api_events.append({"function": logical_id, "event": event_name, **event_props})
                if event_props.get("ApiId") is not None:
                    out.warnings.append(
                        f"{where}: HttpApi events on an AWS::Serverless::HttpApi are not served yet"
                    )
                    continue
                http_path, http_method = event_props.get("Path"), event_props.get("Method")
                key = "$default" if http_path is None and http_method is None else None
                if key is None:
                    if not isinstance(http_path, str) or not isinstance(http_method, str):
                        raise TemplateError(
                            "an HttpApi event needs both a Path and a Method", file=file, resource=where
                        )
                    key = (
                        f"{'ANY' if http_method.lower() in ('any', '*') else http_method.upper()} {http_path}"
                    )
                if key in http_routes:
                    raise TemplateError(
                        f"{key} is already served by {http_routes[key]}", file=file, resource=where
                    )
                http_routes[key] = logical_id
            else:
                out.warnings.append(f"{where}: event type {event_type} is not served by apigate")
    if IMPLICIT_API in api_paths:
        if IMPLICIT_API in resources:
            raise TemplateError("the name is taken by SAM's implicit API", file=file, resource=IMPLICIT_API)
        apis[IMPLICIT_API] = {"StageName": "Prod", **(globals_.get("Api") or {})}
    for logical_id, props in apis.items():
        _api(out, template, logical_id, props, api_paths.get(logical_id) or {}, base, file, stack_name)
    if http_routes:
        if IMPLICIT_HTTP_API in resources:
            raise TemplateError(
                "the name is taken by SAM's implicit HTTP API", file=file, resource=IMPLICIT_HTTP_API
            )
        _http_api(out, http_routes, stack_name)
    return out


IMPLICIT_HTTP_API = "ServerlessHttpApi"


def _http_api(out: Transformed, routes: dict[str, str], stack_name: str) -> None:
    """SAM's implicit HTTP API: an OpenAPI 3.0 body with one AWS_PROXY (payload 2.0) route per event, and an
    auto-deployed ``$default`` stage, as ``AWS::ApiGatewayV2::Api`` and ``AWS::ApiGatewayV2::Stage``."""
    paths: Doc = {}
    for key, function in sorted(routes.items()):
        verb, path = ("ANY", "/$default") if key == "$default" else key.split(" ", 1)
        method = "x-amazon-apigateway-any-method" if verb == "ANY" else verb.lower()
        paths.setdefault(path, {})[method] = {
            "x-amazon-apigateway-integration": {
                "type": "aws_proxy",
                "httpMethod": "POST",
                "uri": {"Fn::GetAtt": [function, "Arn"]},
                "payloadFormatVersion": "2.0",
            },
            "responses": {},
        }
    out.resources[IMPLICIT_HTTP_API] = {
        "Type": "AWS::ApiGatewayV2::Api",
        "Properties": {
            "Body": {"openapi": "3.0.1", "info": {"title": stack_name, "version": "1.0"}, "paths": paths}
        },
    }
    out.resources[f"{IMPLICIT_HTTP_API}ApiGatewayDefaultStage"] = {
        "Type": "AWS::ApiGatewayV2::Stage",
        "Properties": {"ApiId": {"Ref": IMPLICIT_HTTP_API}, "StageName": "$default", "AutoDeploy": True},
    }


def _api(
    out: Transformed,
    template: Doc,
    logical_id: str,
    props: Doc,
    paths: dict[str, dict[str, str]],
    base: Path,
    file: Path,
    stack_name: str,
) -> None:
    resource = template["Resources"].get(logical_id) or {}
    if "DefinitionBody" in props:
        body = copy.deepcopy(props["DefinitionBody"])
    elif "DefinitionUri" in props:
        uri = props["DefinitionUri"]
        if not isinstance(uri, str) or uri.startswith("s3://"):
            raise TemplateError("DefinitionUri must be a local file", file=file, resource=logical_id)
        try:
            body = openapi.load((base / uri).read_bytes())
        except OSError as exc:
            raise TemplateError(
                f"cannot read DefinitionUri {uri}: {exc.strerror}", file=file, resource=logical_id
            ) from exc
        except openapi.OpenApiError as exc:
            raise TemplateError(f"DefinitionUri {uri}: {exc}", file=file, resource=logical_id) from exc
    else:
        title = props.get("Name") or (stack_name if logical_id == IMPLICIT_API else logical_id)
        body = {"swagger": "2.0", "info": {"version": "1.0", "title": title}, "paths": {}}
    if not isinstance(body, dict):
        raise TemplateError("DefinitionBody must be an OpenAPI document", file=file, resource=logical_id)
    body_paths = body.setdefault("paths", {})
    for path, methods in paths.items():
        item = body_paths.setdefault(path, {})
        for verb, function in methods.items():
            key = openapi.ANY_METHOD if verb == "any" else verb
            item.setdefault(
                key,
                {
                    "x-amazon-apigateway-integration": {
                        "type": "aws_proxy",
                        "httpMethod": "POST",
                        "uri": {
                            "Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                            f"${{{function}.Arn}}/invocations"
                        },
                    },
                    "responses": {},
                },
            )
    if props.get("Cors") is not None:
        _cors(body, props["Cors"], file, logical_id)
    if props.get("BinaryMediaTypes"):
        media = props["BinaryMediaTypes"]
        body["x-amazon-apigateway-binary-media-types"] = [
            m.replace("~1", "/") if isinstance(m, str) else m
            for m in (media if isinstance(media, list) else [media])
        ]
    stage_name = props.get("StageName")
    if stage_name is None:
        raise TemplateError("StageName is required", file=file, resource=logical_id)
    rest: Doc = {"Body": body}
    if props.get("Name"):
        rest["Name"] = props["Name"]
    endpoint = props.get("EndpointConfiguration")
    if isinstance(endpoint, str) or (isinstance(endpoint, dict) and "Type" in endpoint):
        kind = endpoint if isinstance(endpoint, str) else endpoint["Type"]
        rest["EndpointConfiguration"] = {"Types": [kind]}
        if isinstance(endpoint, dict) and endpoint.get("VPCEndpointIds"):
            rest["EndpointConfiguration"]["VpcEndpointIds"] = endpoint["VPCEndpointIds"]
    condition = {k: v for k, v in resource.items() if k == "Condition"}
    out.resources[logical_id] = {**condition, "Type": "AWS::ApiGateway::RestApi", "Properties": rest}
    deployment = f"{logical_id}Deployment"
    out.resources[deployment] = {
        **condition,
        "Type": "AWS::ApiGateway::Deployment",
        "Properties": {
            "RestApiId": {"Ref": logical_id},
            "Description": f"apigate deployment of {logical_id}",
        },
    }
    stage: Doc = {
        "RestApiId": {"Ref": logical_id},
        "DeploymentId": {"Ref": deployment},
        "StageName": stage_name,
    }
    for key in ("Variables", "MethodSettings", "Description", "TracingEnabled", "CacheClusterEnabled"):
        if key in props:
            stage[key] = props[key]
    stage_id = f"{logical_id}{stage_name}Stage" if isinstance(stage_name, str) else f"{logical_id}Stage"
    out.resources[stage_id] = {**condition, "Type": "AWS::ApiGateway::Stage", "Properties": stage}
    kept = {
        k: props[k]
        for k in ("Auth", "Cors", "MethodSettings", "GatewayResponses", "AccessLogSetting")
        if k in props
    }
    if kept:
        out.api_settings[logical_id] = kept
        for key in kept:
            if key not in ("MethodSettings", "Cors"):
                out.warnings.append(f"{logical_id}: {key} is stored but not enforced by apigate yet")


_ALL_VERBS = "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"


def _cors(body: Doc, cors: Any, file: Path, logical_id: str) -> None:
    """SAM's Cors: an OPTIONS method on every path, a MOCK answering the preflight with the CORS headers.

    As on AWS, the other methods' responses are the function's to decorate (a proxy integration's headers
    come from the function).
    """
    settings = {"AllowOrigin": cors} if isinstance(cors, str) else cors
    if not isinstance(settings, dict) or "AllowOrigin" not in settings:
        raise TemplateError(
            "Cors needs AllowOrigin (or is a quoted origin like \"'*'\")", file=file, resource=logical_id
        )
    for item in (body.get("paths") or {}).values():
        if not isinstance(item, dict) or "options" in item:
            continue
        verbs = sorted({"OPTIONS", *(k.upper() for k in item if k in openapi.VERBS)})
        methods = _ALL_VERBS if openapi.ANY_METHOD in item else ",".join(verbs)
        headers = {
            "Access-Control-Allow-Origin": settings["AllowOrigin"],
            "Access-Control-Allow-Methods": settings.get("AllowMethods") or f"'{methods}'",
        }
        for key, header in (
            ("AllowHeaders", "Access-Control-Allow-Headers"),
            ("MaxAge", "Access-Control-Max-Age"),
        ):
            if settings.get(key) is not None:
                headers[header] = settings[key]
        if settings.get("AllowCredentials") is True:
            headers["Access-Control-Allow-Credentials"] = "'true'"
        item["options"] = {
            "summary": "CORS support",
            "consumes": ["application/json"],
            "produces": ["application/json"],
            "responses": {
                "200": {
                    "description": "Default response for CORS method",
                    "headers": {name: {"type": "string"} for name in headers},
                }
            },
            "x-amazon-apigateway-integration": {
                "type": "mock",
                "requestTemplates": {"application/json": '{\n  "statusCode" : 200\n}\n'},
                "responses": {
                    "default": {
                        "statusCode": "200",
                        "responseParameters": {
                            f"method.response.header.{name}": value
                            if not isinstance(value, int)
                            else f"'{value}'"
                            for name, value in headers.items()
                        },
                        "responseTemplates": {"application/json": "{}\n"},
                    }
                },
            },
        }
