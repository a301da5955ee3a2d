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
    api_event_auth: dict[str, dict[tuple[str, str], Any]] = {}  # API -> (path, verb) -> the event's Auth
    http_routes: dict[str, dict[str, Doc]] = {}  # HTTP API -> route key -> the function and the event's Auth
    http_apis = {
        name: _merge(globals_.get("HttpApi") or {}, r.get("Properties") or {})
        for name, r in resources.items()
        if r["Type"] == "AWS::Serverless::HttpApi"
    }
    apis = {
        name: _merge(globals_.get("Api") or {}, r.get("Properties") or {})
        for name, r in resources.items()
        if r["Type"] == "AWS::Serverless::Api"
    }
    for logical_id, resource in resources.items():
        kind = resource["Type"]
        if kind != "AWS::Serverless::Function":
            if kind not in ("AWS::Serverless::Api", "AWS::Serverless::HttpApi"):
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
                if event_props.get("Auth") is not None:
                    api_event_auth.setdefault(api, {})[(path, verb)] = event_props["Auth"]
            elif event_type == "HttpApi":
                out.http_api_events.append({"function": logical_id, "event": event_name, **event_props})
                http_api = IMPLICIT_HTTP_API
                if event_props.get("ApiId") is not None:
                    http_api = _api_ref(event_props["ApiId"], where, file)
                    if http_api not in http_apis:
                        raise TemplateError(
                            f"ApiId {http_api} is not an AWS::Serverless::HttpApi of this template",
                            file=file,
                            resource=where,
                        )
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
                taken_routes = http_routes.setdefault(http_api, {})
                if key in taken_routes:
                    raise TemplateError(
                        f"{key} is already served by {taken_routes[key]['function']}", file=file, resource=where
                    )
                taken_routes[key] = {"function": logical_id, "auth": event_props.get("Auth")}
            else:
                out.warnings.append(f"{where}: event type {event_type} is not served by apigate")
    if IMPLICIT_API in api_paths:
        if IMPLICIT_API in resources:
            raise TemplateError("the name is taken by SAM's implicit API", file=file, resource=IMPLICIT_API)
        apis[IMPLICIT_API] = {"StageName": "Prod", **(globals_.get("Api") or {})}
    for logical_id, props in apis.items():
        _api(
            out,
            template,
            logical_id,
            props,
            api_paths.get(logical_id) or {},
            base,
            file,
            stack_name,
            api_event_auth.get(logical_id) or {},
        )
    if IMPLICIT_HTTP_API in http_routes:
        if IMPLICIT_HTTP_API in resources:
            raise TemplateError(
                "the name is taken by SAM's implicit HTTP API", file=file, resource=IMPLICIT_HTTP_API
            )
        http_apis[IMPLICIT_HTTP_API] = dict(globals_.get("HttpApi") or {})
    for logical_id, props in http_apis.items():
        _http_api(out, logical_id, props, http_routes.get(logical_id) or {}, base, file, stack_name)
    return out


def _definition(props: Doc, base: Path, file: Path, logical_id: str) -> Doc | None:
    """An API's own OpenAPI document (a copy of ``DefinitionBody``, or the local file ``DefinitionUri``
    names), None when it declares none."""
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
        return None
    if not isinstance(body, dict):
        raise TemplateError("DefinitionBody must be an OpenAPI document", file=file, resource=logical_id)
    return body


IMPLICIT_HTTP_API = "ServerlessHttpApi"


def _http_api(
    out: Transformed,
    logical_id: str,
    props: Doc,
    routes: dict[str, Doc],
    base: Path,
    file: Path,
    stack_name: str,
) -> None:
    """An HTTP API (SAM's implicit one, or an ``AWS::Serverless::HttpApi``): its OpenAPI 3.0 body with one
    AWS_PROXY (payload 2.0) route per event, as ``AWS::ApiGatewayV2::Api``, and its auto-deployed stage
    (``$default`` unless ``StageName`` says otherwise) as ``AWS::ApiGatewayV2::Stage``."""
    body = _definition(props, base, file, logical_id)
    if body is None:
        title = props.get("Name") or (stack_name if logical_id == IMPLICIT_HTTP_API else logical_id)
        body = {"openapi": "3.0.1", "info": {"title": title, "version": "1.0"}, "paths": {}}
    auth = props.get("Auth") or {}
    schemes = _http_authorizers(auth.get("Authorizers") or {}, file, logical_id)
    if schemes:
        body.setdefault("components", {}).setdefault("securitySchemes", {}).update(schemes)
    paths = body.setdefault("paths", {})
    for key, route in sorted(routes.items()):
        verb, path = ("ANY", "/$default") if key == "$default" else key.split(" ", 1)
        method = "x-amazon-apigateway-any-method" if verb == "ANY" else verb.lower()
        operation: Doc = {
            "x-amazon-apigateway-integration": {
                "type": "aws_proxy",
                "httpMethod": "POST",
                "uri": {"Fn::GetAtt": [route["function"], "Arn"]},
                "payloadFormatVersion": "2.0",
            },
            "responses": {},
        }
        event_auth = route.get("auth") or {}
        authorizer = event_auth.get("Authorizer", auth.get("DefaultAuthorizer"))
        if authorizer is not None and authorizer != "NONE":
            if authorizer not in schemes:
                raise TemplateError(
                    f"Authorizer {authorizer} is not in the HttpApi's Auth.Authorizers",
                    file=file,
                    resource=route["function"],
                )
            # The event's scopes, else the authorizer's own (SAM's rule: an empty list falls back too).
            configured = (auth.get("Authorizers") or {}).get(authorizer) or {}
            scopes = event_auth.get("AuthorizationScopes") or configured.get("AuthorizationScopes") or []
            operation["security"] = [{authorizer: list(scopes)}]
        paths.setdefault(path, {})[method] = operation
    cors = props.get("CorsConfiguration")
    if cors is True:
        body["x-amazon-apigateway-cors"] = {"allowOrigins": ["*"], "allowHeaders": ["*"], "allowMethods": ["*"]}
    elif isinstance(cors, dict):
        body["x-amazon-apigateway-cors"] = {k[:1].lower() + k[1:]: v for k, v in cors.items()}
    for unsupported in ("Domain", "AccessLogSettings", "FailOnWarnings", "DisableExecuteApiEndpoint"):
        if unsupported in props:
            out.warnings.append(f"{logical_id}: {unsupported} is not applied by apigate yet")
    api_props: Doc = {"Body": body}
    if props.get("Name"):
        api_props["Name"] = props["Name"]
    out.resources[logical_id] = {"Type": "AWS::ApiGatewayV2::Api", "Properties": api_props}
    stage_name = props.get("StageName") or "$default"
    stage: Doc = {"ApiId": {"Ref": logical_id}, "StageName": stage_name, "AutoDeploy": True}
    for key in ("StageVariables", "DefaultRouteSettings", "RouteSettings"):
        if key in props:
            stage[key] = props[key]
    # SAM's own naming for the stage resource: ...ApiGatewayDefaultStage for $default, else ...{Name}Stage.
    suffix = "ApiGatewayDefaultStage" if stage_name == "$default" else f"{stage_name}Stage"
    out.resources[f"{logical_id}{suffix}"] = {"Type": "AWS::ApiGatewayV2::Stage", "Properties": stage}


def _http_authorizers(authorizers: Doc, file: Path, api: str) -> Doc:
    """SAM's HttpApi ``Auth.Authorizers`` as OpenAPI security schemes with AWS's authorizer extension."""
    schemes: Doc = {}
    for name, config in authorizers.items():
        config = config or {}
        if "JwtConfiguration" in config:
            jwt = config["JwtConfiguration"]
            schemes[name] = {
                "type": "oauth2",
                "x-amazon-apigateway-authorizer": {
                    "type": "jwt",
                    "jwtConfiguration": {k[:1].lower() + k[1:]: v for k, v in jwt.items()},
                    "identitySource": config.get("IdentitySource", "$request.header.Authorization"),
                },
            }
        elif "FunctionArn" in config:
            identity = config.get("Identity") or {}
            sources = [
                *(f"$request.header.{h}" for h in identity.get("Headers") or []),
                *(f"$request.querystring.{q}" for q in identity.get("QueryStrings") or []),
                *(f"$context.{c}" for c in identity.get("Context") or []),
                *(f"$stageVariables.{v}" for v in identity.get("StageVariables") or []),
            ]
            extension: Doc = {
                "type": "request",
                "authorizerUri": {
                    "Fn::Sub": [
                        "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Arn}/invocations",
                        {"Arn": config["FunctionArn"]},
                    ]
                },
                "authorizerPayloadFormatVersion": str(config.get("AuthorizerPayloadFormatVersion", "2.0")),
                "identitySource": ",".join(sources) if sources else None,
                "enableSimpleResponses": config.get("EnableSimpleResponses"),
                "authorizerResultTtlInSeconds": identity.get("ReauthorizeEvery"),
            }
            schemes[name] = {
                "type": "apiKey",
                "name": "Authorization",
                "in": "header",
                "x-amazon-apigateway-authorizer": {k: v for k, v in extension.items() if v is not None},
            }
        else:
            raise TemplateError(
                f"authorizer {name} needs JwtConfiguration or FunctionArn", file=file, resource=api
            )
    return schemes


def _api(
    out: Transformed,
    template: Doc,
    logical_id: str,
    props: Doc,
    paths: dict[str, dict[str, str]],
    base: Path,
    file: Path,
    stack_name: str,
    event_auth: dict[tuple[str, str], Any],
) -> None:
    resource = template["Resources"].get(logical_id) or {}
    body = _definition(props, base, file, logical_id)
    if body is None:
        title = props.get("Name") or (stack_name if logical_id == IMPLICIT_API else logical_id)
        body = {"swagger": "2.0", "info": {"version": "1.0", "title": title}, "paths": {}}
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
    if props.get("Auth") is not None or event_auth:
        _rest_auth(out, body, props.get("Auth") or {}, event_auth, file, logical_id)
    if props.get("GatewayResponses") is not None:
        _gateway_responses(body, props["GatewayResponses"], file, logical_id)
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
            if key not in ("MethodSettings", "Cors", "GatewayResponses", "Auth"):
                out.warnings.append(f"{logical_id}: {key} is stored but not enforced by apigate yet")


_ALL_VERBS = "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"
_LAMBDA_AUTHORIZER_URI = (
    "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Arn}/invocations"
)
# Where a REQUEST authorizer's Identity lists come from, as identity source prefixes.
_REQUEST_IDENTITY = {
    "Headers": "method.request.header.",
    "QueryStrings": "method.request.querystring.",
    "StageVariables": "stageVariables.",
    "Context": "context.",
}
_IAM = "AWS_IAM"
_API_KEY = "api_key"


def _rest_auth(
    out: Transformed,
    body: Doc,
    auth: Any,
    event_auth: dict[tuple[str, str], Any],
    file: Path,
    logical_id: str,
) -> None:
    """SAM's REST API ``Auth``, written into the definition as AWS's own transform does: each authorizer a
    security scheme with x-amazon-apigateway-authorizer, each method a ``security`` requirement (the event's
    Auth, else the API's defaults). Operations the definition already secures keep their own."""
    if not isinstance(auth, dict):
        raise TemplateError("Auth must be an object", file=file, resource=logical_id)
    for key in ("ResourcePolicy", "UsagePlan", "InvokeRole"):
        if key in auth:
            out.warnings.append(f"{logical_id}: Auth.{key} is not applied by apigate yet")
    schemes: Doc = {}
    scopes: dict[str, list[str]] = {}
    for name, config in (auth.get("Authorizers") or {}).items():
        schemes[name] = _rest_authorizer(str(name), config or {}, file, logical_id)
        scopes[name] = list((config or {}).get("AuthorizationScopes") or [])
    default = auth.get("DefaultAuthorizer")
    if default is not None and default not in (_IAM, "NONE") and default not in schemes:
        raise TemplateError(
            f"DefaultAuthorizer {default} is not in Auth.Authorizers", file=file, resource=logical_id
        )
    on_preflight = auth.get("AddDefaultAuthorizerToCorsPreflight", True) is not False
    key_on_preflight = auth.get("AddApiKeyRequiredToCorsPreflight", True) is not False
    used: set[str] = set()
    for path, item in (body.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for key, operation in item.items():
            if key not in (*openapi.VERBS, openapi.ANY_METHOD) or not isinstance(operation, dict):
                continue
            event = event_auth.get((path, "any" if key == openapi.ANY_METHOD else key))
            if event is None and "security" in operation:
                continue
            event = event if isinstance(event, dict) else {}
            preflight = key == "options"
            name = event.get("Authorizer", default if on_preflight or not preflight else None)
            security: list[Doc] = []
            if name == _IAM:
                security.append({_IAM: []})
            elif name not in (None, "NONE"):
                if name not in schemes:
                    raise TemplateError(
                        f"{key.upper()} {path}: Authorizer {name} is not in Auth.Authorizers",
                        file=file,
                        resource=logical_id,
                    )
                # The event's own, else the authorizer's (SAM's rule: an empty list falls back too).
                security.append({name: list(event.get("AuthorizationScopes") or scopes[name])})
            api_key = bool(auth.get("ApiKeyRequired")) and (key_on_preflight or not preflight)
            if event.get("ApiKeyRequired", api_key):
                security.append({_API_KEY: []})
            if security:
                operation["security"] = security
                for requirement in security:
                    used.update(requirement)
    if _IAM in used:
        schemes[_IAM] = {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "x-amazon-apigateway-authtype": "awsSigv4",
        }
    if _API_KEY in used:
        schemes[_API_KEY] = {"type": "apiKey", "name": "x-api-key", "in": "header"}
    if schemes:
        if "swagger" in body:
            target = body.setdefault("securityDefinitions", {})
        else:
            target = body.setdefault("components", {}).setdefault("securitySchemes", {})
        target.update(schemes)


def _rest_authorizer(name: str, config: Doc, file: Path, api: str) -> Doc:
    """One of a REST API's ``Auth.Authorizers``: a security scheme with x-amazon-apigateway-authorizer."""
    identity = config.get("Identity") or {}
    header = str(identity.get("Header") or "Authorization")
    spec: Doc
    if "UserPoolArn" in config:
        arns = config["UserPoolArn"]
        spec = {
            "type": "cognito_user_pools",
            "providerARNs": arns if isinstance(arns, list) else [arns],
            "identitySource": f"method.request.header.{header}",
            "identityValidationExpression": identity.get("ValidationExpression"),
        }
        authtype = "cognito_user_pools"
    elif "FunctionArn" in config:
        payload = str(config.get("FunctionPayloadType") or "TOKEN").upper()
        spec = {
            "authorizerUri": {"Fn::Sub": [_LAMBDA_AUTHORIZER_URI, {"Arn": config["FunctionArn"]}]},
            "authorizerCredentials": config.get("FunctionInvokeRole"),
        }
        if payload == "TOKEN":
            spec["type"] = "token"
            spec["identitySource"] = f"method.request.header.{header}"
            spec["identityValidationExpression"] = identity.get("ValidationExpression")
        elif payload == "REQUEST":
            spec["type"] = "request"
            sources = [
                prefix + str(value)
                for key, prefix in _REQUEST_IDENTITY.items()
                for value in identity.get(key) or []
            ]
            spec["identitySource"] = ", ".join(sources) or None
            header = "Unused"
        else:
            raise TemplateError(
                f"authorizer {name}: FunctionPayloadType must be TOKEN or REQUEST", file=file, resource=api
            )
        authtype = "custom"
    else:
        raise TemplateError(f"authorizer {name} needs FunctionArn or UserPoolArn", file=file, resource=api)
    spec["authorizerResultTtlInSeconds"] = identity.get("ReauthorizeEvery")
    return {
        "type": "apiKey",
        "name": header,
        "in": "header",
        "x-amazon-apigateway-authtype": authtype,
        "x-amazon-apigateway-authorizer": {k: v for k, v in spec.items() if v is not None},
    }


# SAM's ResponseParameters sections -> the gateway response's parameter prefix.
_RESPONSE_PARAMETERS = {
    "Headers": "gatewayresponse.header.",
    "Paths": "gatewayresponse.path.",
    "QueryStrings": "gatewayresponse.querystring.",
}


def _gateway_responses(body: Doc, responses: Any, file: Path, logical_id: str) -> None:
    """SAM's GatewayResponses, written into the definition as x-amazon-apigateway-gateway-responses (what
    SAM's own transform does); the definition's own entries for a type win."""
    if not isinstance(responses, dict):
        raise TemplateError(
            "GatewayResponses must map response types to responses", file=file, resource=logical_id
        )
    out = body.setdefault("x-amazon-apigateway-gateway-responses", {})
    for response_type, spec in responses.items():
        if not isinstance(spec, dict):
            raise TemplateError(
                f"GatewayResponses.{response_type} must be an object", file=file, resource=logical_id
            )
        entry: Doc = {}
        if spec.get("StatusCode") is not None:
            entry["statusCode"] = str(spec["StatusCode"])
        parameters: Doc = {}
        for section, names in (spec.get("ResponseParameters") or {}).items():
            prefix = _RESPONSE_PARAMETERS.get(section)
            if prefix is None or not isinstance(names, dict):
                raise TemplateError(
                    f"GatewayResponses.{response_type}.ResponseParameters: unknown section {section}",
                    file=file,
                    resource=logical_id,
                )
            parameters.update({prefix + str(name): value for name, value in names.items()})
        if parameters:
            entry["responseParameters"] = parameters
        if spec.get("ResponseTemplates"):
            entry["responseTemplates"] = dict(spec["ResponseTemplates"])
        out.setdefault(response_type, entry)


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
