"""OpenAPI (Swagger 2.0 and OpenAPI 3.0) ↔ API Gateway's documents, with the x-amazon-apigateway-* extensions.

``parse`` reads a definition into the parameters of the management calls that build it (PutMethod,
PutIntegration, ...), so an import goes through the same code as boto3's calls. ``export`` writes a deployed
snapshot back out the way AWS's GetExport does. Nothing here touches the store.
"""

from __future__ import annotations

import copy
import datetime
from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml

from apigate.aws import limits

Doc = dict[str, Any]

VERBS = ("get", "put", "post", "delete", "patch", "options", "head")
ANY_METHOD = "x-amazon-apigateway-any-method"
INTEGRATION = "x-amazon-apigateway-integration"
AUTHORIZER = "x-amazon-apigateway-authorizer"
AUTHTYPE = "x-amazon-apigateway-authtype"
# x-amazon-apigateway-authorizer's type -> the authorizer's, for REST APIs (jwt is for HTTP APIs only).
_AUTHORIZER_TYPES = {"token": "TOKEN", "request": "REQUEST", "cognito_user_pools": "COGNITO_USER_POOLS"}
_HEADER_SOURCE = "method.request.header."
SIGV4_SCHEME = "sigv4"  # the scheme names AWS's exports give IAM authorization and API keys
API_KEY_SCHEME = "api_key"
_PREFIX = "x-amazon-apigateway-"

# Extensions apigate turns into API Gateway's own fields.
_APPLIED_API = {
    "x-amazon-apigateway-binary-media-types",
    "x-amazon-apigateway-endpoint-configuration",
    "x-amazon-apigateway-api-key-source",
    "x-amazon-apigateway-minimum-compression-size",
    "x-amazon-apigateway-policy",
    "x-amazon-apigateway-importexport-version",
    "x-amazon-apigateway-request-validators",
    "x-amazon-apigateway-request-validator",
    "x-amazon-apigateway-gateway-responses",
}
VALIDATOR = "x-amazon-apigateway-request-validator"
GATEWAY_RESPONSES = "x-amazon-apigateway-gateway-responses"
VALIDATORS = "x-amazon-apigateway-request-validators"
MODEL_URI = "https://apigateway.amazonaws.com/restapis/{api}/models/{name}"
# AWS's other extensions: kept in the stored API (and exported again) for the features that will enforce them.
KNOWN = {
    "x-amazon-apigateway-authorizer",
    "x-amazon-apigateway-authtype",
    "x-amazon-apigateway-auth",
    "x-amazon-apigateway-api-key-source",
    "x-amazon-apigateway-cors",
    "x-amazon-apigateway-documentation",
    "x-amazon-apigateway-gateway-responses",
    "x-amazon-apigateway-tag-value",
    "x-amazon-apigateway-integrations",
    "x-amazon-apigateway-security-policy",
    "x-amazon-apigateway-endpoint-access-mode",
    *_APPLIED_API,
    INTEGRATION,
    ANY_METHOD,
}


class OpenApiError(Exception):
    """The definition cannot be imported; the message says where and why."""


class _Loader(limits.BoundedLoader):
    """YAML without implicit timestamps: ``version: 2024-01-01`` stays the string it looks like."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(body: bytes | str) -> Doc:
    """A definition from JSON or YAML bytes."""
    document: Any
    try:
        limits.check_size(body)
        text = body.decode("utf-8-sig") if isinstance(body, bytes) else body
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            if str(exc).startswith("depth limit exceeded"):  # orjson's own cap (1024 levels)
                raise limits.DocumentLimitError(
                    f"The document nests deeper than {limits.MAX_DEPTH} levels"
                ) from None
            document = limits.load_yaml(text, _Loader)
        limits.check_depth(document)
    except yaml.YAMLError as exc:
        raise OpenApiError(f"Invalid OpenAPI input: {str(exc).splitlines()[0]}") from exc
    except limits.DocumentLimitError as exc:
        raise OpenApiError(f"Invalid OpenAPI input: {exc}") from exc
    if not isinstance(document, dict) or not ("swagger" in document or "openapi" in document):
        raise OpenApiError(
            "Invalid OpenAPI input: a 'swagger: \"2.0\"' or 'openapi: 3.0.x' document is required"
        )
    return document


@dataclass(slots=True)
class Method:
    path: str
    verb: str
    method: Doc  # PutMethod parameters (without ids)
    integration: Doc | None  # PutIntegration parameters
    method_responses: list[Doc] = field(default_factory=list)
    integration_responses: list[Doc] = field(default_factory=list)
    extensions: Doc = field(default_factory=dict)  # the operation's other x-amazon-apigateway-* values
    validator: str | None = None  # the name of its request validator
    authorizer: str | None = None  # the security scheme naming its authorizer


@dataclass(slots=True)
class Definition:
    api: Doc  # CreateRestApi fields
    methods: list[Method]
    models: Doc  # schemas by name; references to other models as "#/definitions/{name}"
    extensions: Doc  # top-level x-amazon-apigateway-* kept as written
    security_schemes: Doc
    warnings: list[str]
    validators: Doc = field(default_factory=dict)  # request validators by name
    gateway_responses: Doc = field(default_factory=dict)  # PutGatewayResponse fields by response type
    authorizers: Doc = field(default_factory=dict)  # CreateAuthorizer fields by security scheme name


def _deref(root: Doc, node: Any, seen: frozenset[str] = frozenset()) -> Any:
    """Follow a local ``$ref`` (components, definitions, parameters, responses ...) to what it names."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            raise OpenApiError(f"Unresolvable reference: {ref}")
        seen = seen | {ref}
        target: Any = root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or part not in target:
                raise OpenApiError(f"Unresolvable reference: {ref}")
            target = target[part]
        node = target
    return node


def _model_name(schema: Any) -> str | None:
    if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        ref: str = schema["$ref"]
        for prefix in ("#/components/schemas/", "#/definitions/"):
            if ref.startswith(prefix):
                return ref[len(prefix) :]
        if ref.startswith("https://apigateway.amazonaws.com/restapis/") and "/models/" in ref:
            return ref.rsplit("/models/", 1)[1]
    return None


def model_schema(schema: Any, api_id: str) -> Any:
    """A parsed schema as a model's: references to other models in AWS's URL form."""
    if isinstance(schema, dict):
        name = _model_name(schema)
        if name is not None and len(schema) == 1:
            return {"$ref": MODEL_URI.format(api=api_id, name=name)}
        return {k: model_schema(v, api_id) for k, v in schema.items()}
    if isinstance(schema, list):
        return [model_schema(v, api_id) for v in schema]
    return schema


def _inline_refs(root: Doc, node: Any, depth: int = 0) -> Any:
    """A schema with references to other schemas turned into API Gateway's model references."""
    if depth > 64:
        raise OpenApiError("Schema references nest too deeply")
    if isinstance(node, dict):
        name = _model_name(node)
        if name is not None and len(node) == 1:
            return {"$ref": f"#/definitions/{name}"}  # normalised: both versions export from this
        return {k: _inline_refs(root, v, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(root, v, depth + 1) for v in node]
    return node


def base_path(document: Doc) -> str:
    if "swagger" in document:
        return str(document.get("basePath") or "/")
    servers = document.get("servers") or []
    if not servers:
        return "/"
    server = servers[0] if isinstance(servers[0], dict) else {}
    url = str(server.get("url") or "/")
    for name, variable in (server.get("variables") or {}).items():
        url = url.replace("{" + name + "}", str((variable or {}).get("default", "")))
    if "://" in url:
        url = url.split("://", 1)[1]
        url = "/" + url.split("/", 1)[1] if "/" in url else "/"
    return url if url.startswith("/") else "/" + url


def _prefix(document: Doc, mode: str) -> str:
    if mode not in ("ignore", "prepend", "split"):
        raise OpenApiError(f"Invalid basepath mode: {mode}. Must be one of: [ignore, prepend, split]")
    if mode == "ignore":
        return ""
    parts = [p for p in base_path(document).split("/") if p]
    if mode == "split":
        parts = parts[1:]
    return "".join("/" + p for p in parts)


def parse(document: Doc, *, basepath: str = "ignore", endpoint_types: str | None = None) -> Definition:
    warnings: list[str] = []
    swagger = "swagger" in document
    info = document.get("info") or {}
    if not info.get("title"):
        raise OpenApiError("Invalid OpenAPI input: info.title is required (it names the API)")
    api: Doc = {
        "name": str(info["title"]),
        "description": info.get("description"),
        "version": None if info.get("version") is None else str(info["version"]),
    }
    extensions: Doc = {}
    for key, value in document.items():
        if not key.startswith(_PREFIX):
            continue
        if key not in KNOWN:
            warnings.append(f"Unsupported extension ignored: {key}")
            continue
        if key not in _APPLIED_API:
            warnings.append(f"{key} is stored but not enforced by apigate yet")
        extensions[key] = value
    if "x-amazon-apigateway-binary-media-types" in document:
        api["binaryMediaTypes"] = list(document["x-amazon-apigateway-binary-media-types"] or [])
    endpoint = document.get("x-amazon-apigateway-endpoint-configuration") or {}
    types = [t.strip().upper() for t in (endpoint_types or "").split(",") if t.strip()] or endpoint.get(
        "types"
    )
    api["endpointConfiguration"] = {"types": list(types or ["EDGE"])}
    if endpoint.get("vpcEndpointIds"):
        api["endpointConfiguration"]["vpcEndpointIds"] = list(endpoint["vpcEndpointIds"])
    if "disableExecuteApiEndpoint" in endpoint:
        api["disableExecuteApiEndpoint"] = bool(endpoint["disableExecuteApiEndpoint"])
    if "x-amazon-apigateway-api-key-source" in document:
        api["apiKeySource"] = document["x-amazon-apigateway-api-key-source"]
    if "x-amazon-apigateway-policy" in document:
        policy = document["x-amazon-apigateway-policy"]
        api["policy"] = policy if isinstance(policy, str) else orjson.dumps(policy).decode()
    if "x-amazon-apigateway-minimum-compression-size" in document:
        api["minimumCompressionSize"] = int(document["x-amazon-apigateway-minimum-compression-size"])
    tags = {
        str(tag["name"]): str(tag["x-amazon-apigateway-tag-value"])
        for tag in document.get("tags") or ()
        if isinstance(tag, dict) and tag.get("name") and "x-amazon-apigateway-tag-value" in tag
    }
    if tags:  # AWS's way of tagging in a definition (and of naming the id: `_custom_id_`)
        api["tags"] = tags

    schemas = document.get("definitions") if swagger else (document.get("components") or {}).get("schemas")
    models = {name: _inline_refs(document, schema) for name, schema in (schemas or {}).items()}
    schemes_raw = (
        document.get("securityDefinitions")
        if swagger
        else (document.get("components") or {}).get("securitySchemes")
    )
    security_schemes = {name: _deref(document, s) for name, s in (schemes_raw or {}).items()}
    default_security = document.get("security")
    authorizers = {
        str(name): _authorizer(str(name), scheme)
        for name, scheme in security_schemes.items()
        if isinstance(scheme, dict) and AUTHORIZER in scheme
    }

    validators: Doc = {}
    for name, spec in (document.get(VALIDATORS) or {}).items():
        spec = spec or {}
        validators[str(name)] = {
            "validateRequestBody": bool(spec.get("validateRequestBody", False)),
            "validateRequestParameters": bool(spec.get("validateRequestParameters", False)),
        }
    default_validator = document.get(VALIDATOR)
    prefix = _prefix(document, basepath)
    methods: list[Method] = []
    for raw_path, item in (document.get("paths") or {}).items():
        item = _deref(document, item)
        if not isinstance(item, dict):
            raise OpenApiError(f"Invalid path item at {raw_path}")
        path = (prefix + "/" + str(raw_path).strip("/")).rstrip("/") or "/"
        shared = item.get("parameters") or []
        for key, operation in item.items():
            if key == ANY_METHOD:
                verb = "ANY"
            elif key in VERBS:
                verb = key.upper()
            else:
                if key.startswith(_PREFIX) and key not in KNOWN:
                    warnings.append(f"Unsupported extension ignored: {key} at {raw_path}")
                continue
            where = f"{verb} {path}"
            methods.append(
                _method(
                    document,
                    path,
                    verb,
                    _deref(document, operation) or {},
                    shared,
                    security_schemes,
                    default_security,
                    swagger,
                    warnings,
                    where,
                )
            )
    for method in methods:
        method.validator = method.validator or default_validator
        if method.validator is not None and method.validator not in validators:
            raise OpenApiError(
                f"{method.verb} {method.path}: no request validator named {method.validator} in {VALIDATORS}"
            )
    extensions.pop(VALIDATORS, None)
    extensions.pop(VALIDATOR, None)
    gateway_responses = _gateway_responses(extensions.pop(GATEWAY_RESPONSES, None))
    return Definition(
        api,
        methods,
        models,
        extensions,
        security_schemes,
        warnings,
        validators,
        gateway_responses,
        authorizers=authorizers,
    )


def _authorizer(name: str, scheme: Doc) -> Doc:
    """A security scheme's x-amazon-apigateway-authorizer as CreateAuthorizer fields."""
    spec = scheme.get(AUTHORIZER)
    if not isinstance(spec, dict):
        raise OpenApiError(f"Invalid {AUTHORIZER} in security scheme {name}: an object is expected")
    kind = _AUTHORIZER_TYPES.get(str(spec.get("type", "")).lower())
    if kind is None:
        raise OpenApiError(
            f"Invalid {AUTHORIZER} in security scheme {name}: type {spec.get('type')} is not one of "
            "token, request, cognito_user_pools"
        )
    source = spec.get("identitySource")
    if source is None and kind != "REQUEST" and scheme.get("in") == "header" and scheme.get("name"):
        source = _HEADER_SOURCE + str(scheme["name"])  # the apiKey scheme names the token's header
    arns = spec.get("providerARNs")
    fields: Doc = {
        "name": name,
        "type": kind,
        "authType": scheme.get(AUTHTYPE),
        "authorizerUri": spec.get("authorizerUri"),
        "authorizerCredentials": spec.get("authorizerCredentials"),
        "identitySource": None if source is None else str(source),
        "identityValidationExpression": spec.get("identityValidationExpression"),
        "authorizerResultTtlInSeconds": spec.get("authorizerResultTtlInSeconds"),
        "providerARNs": None
        if arns is None
        else [str(a) for a in (arns if isinstance(arns, list) else [arns])],
    }
    return {key: value for key, value in fields.items() if value is not None}


def _gateway_responses(value: Any) -> Doc:
    """``x-amazon-apigateway-gateway-responses`` -> PutGatewayResponse fields by type (status as a string)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise OpenApiError(f"Invalid {GATEWAY_RESPONSES}: an object of response types is expected")
    responses: Doc = {}
    for response_type, spec in value.items():
        spec = spec or {}
        if not isinstance(spec, dict):
            raise OpenApiError(f"Invalid {GATEWAY_RESPONSES}.{response_type}: an object is expected")
        fields: Doc = {}
        if spec.get("statusCode") is not None:
            fields["statusCode"] = str(spec["statusCode"])
        for key in ("responseParameters", "responseTemplates"):
            if spec.get(key):
                fields[key] = {str(k): str(v) for k, v in dict(spec[key]).items()}
        responses[str(response_type)] = fields
    return responses


def _method(
    root: Doc,
    path: str,
    verb: str,
    operation: Doc,
    shared: list[Any],
    schemes: Doc,
    default_security: Any,
    swagger: bool,
    warnings: list[str],
    where: str,
) -> Method:
    request_parameters: Doc = {}
    request_models: Doc = {}
    by_key: dict[tuple[str, str], Doc] = {}
    for raw in [*shared, *(operation.get("parameters") or [])]:
        parameter = _deref(root, raw)
        if isinstance(parameter, dict):
            by_key[(str(parameter.get("in")), str(parameter.get("name")))] = parameter
    for (location, name), parameter in by_key.items():
        place = {"path": "path", "query": "querystring", "header": "header"}.get(location)
        if place is not None:
            request_parameters[f"method.request.{place}.{name}"] = bool(
                parameter.get("required", location == "path")
            )
        elif location == "body":
            model = _model_name(parameter.get("schema"))
            if model:
                for content_type in operation.get("consumes") or root.get("consumes") or ["application/json"]:
                    request_models[content_type] = model
    body = _deref(root, operation.get("requestBody")) if "requestBody" in operation else None
    for content_type, media in ((body or {}).get("content") or {}).items():
        model = _model_name((media or {}).get("schema"))
        if model:
            request_models[content_type] = model

    method: Doc = {
        "authorizationType": "NONE",
        "apiKeyRequired": False,
        "operationName": operation.get("operationId"),
        "requestParameters": request_parameters or None,
        "requestModels": request_models or None,
    }
    authorizer_name: str | None = None
    security = operation.get("security", default_security) or []
    for requirement in security:
        for scheme_name, scopes in (requirement or {}).items():
            scheme = schemes.get(scheme_name) or {}
            authorizer = scheme.get("x-amazon-apigateway-authorizer")
            if scheme.get("x-amazon-apigateway-authtype") == "awsSigv4":
                method["authorizationType"] = "AWS_IAM"
            elif authorizer is not None:
                kind = str(authorizer.get("type", "")).lower()
                method["authorizationType"] = (
                    "COGNITO_USER_POOLS" if kind == "cognito_user_pools" else "CUSTOM"
                )
                authorizer_name = str(scheme_name)
                if scopes:
                    method["authorizationScopes"] = list(scopes)
            elif scheme.get("type") == "apiKey":
                method["apiKeyRequired"] = True

    method_responses: list[Doc] = []
    for code, raw_response in (operation.get("responses") or {}).items():
        code = str(code)
        if not (len(code) == 3 and code.isascii() and code.isdigit()):
            continue
        response = _deref(root, raw_response) or {}
        parameters = {f"method.response.header.{name}": False for name in (response.get("headers") or {})}
        models: Doc = {}
        if swagger:
            model = _model_name(response.get("schema"))
            if model:
                for content_type in operation.get("produces") or root.get("produces") or ["application/json"]:
                    models[content_type] = model
        else:
            for content_type, media in (response.get("content") or {}).items():
                model = _model_name((media or {}).get("schema"))
                if model:
                    models[content_type] = model
        method_responses.append(
            {"statusCode": code, "responseParameters": parameters or None, "responseModels": models or None}
        )

    extensions: Doc = {}
    for key, value in operation.items():
        if key.startswith(_PREFIX) and key not in (INTEGRATION, VALIDATOR):
            if key not in KNOWN:
                warnings.append(f"Unsupported extension ignored: {key} at {where}")
                continue
            warnings.append(f"{key} at {where} is stored but not enforced by apigate yet")
            extensions[key] = value
    if "security" in operation:
        extensions["security"] = operation["security"]

    raw_integration = operation.get(INTEGRATION)
    integration: Doc | None = None
    integration_responses: list[Doc] = []
    if raw_integration is not None:
        if not isinstance(raw_integration, dict):
            raise OpenApiError(f"Invalid {INTEGRATION} at {where}")
        integration = {
            "type": str(raw_integration.get("type", "")).upper(),
            "integrationHttpMethod": raw_integration.get("httpMethod"),
            "uri": raw_integration.get("uri"),
            "connectionType": raw_integration.get("connectionType"),
            "connectionId": raw_integration.get("connectionId"),
            "credentials": raw_integration.get("credentials"),
            "requestParameters": raw_integration.get("requestParameters"),
            "requestTemplates": raw_integration.get("requestTemplates"),
            "passthroughBehavior": _passthrough(raw_integration.get("passthroughBehavior")),
            "contentHandling": raw_integration.get("contentHandling"),
            "timeoutInMillis": raw_integration.get("timeoutInMillis"),
            "cacheNamespace": raw_integration.get("cacheNamespace"),
            "cacheKeyParameters": raw_integration.get("cacheKeyParameters"),
        }
        if raw_integration.get("payloadFormatVersion") not in (None, "1.0"):
            warnings.append(
                f"payloadFormatVersion {raw_integration['payloadFormatVersion']} ignored at {where}"
            )
        for pattern, raw_response in (raw_integration.get("responses") or {}).items():
            response = raw_response or {}
            integration_responses.append(
                {
                    "statusCode": str(response.get("statusCode", "200")),
                    "selectionPattern": None if pattern == "default" else str(pattern),  # AWS leaves it out
                    "responseParameters": response.get("responseParameters"),
                    "responseTemplates": response.get("responseTemplates"),
                    "contentHandling": response.get("contentHandling"),
                }
            )
    else:
        warnings.append(f"No {INTEGRATION} at {where}: the method cannot be deployed until it gets one")
    validator = operation.get(VALIDATOR)
    return Method(
        path,
        verb,
        method,
        integration,
        method_responses,
        integration_responses,
        extensions,
        None if validator is None else str(validator),
        authorizer_name,
    )


def _passthrough(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).upper()


# --- export -------------------------------------------------------------------------------------------------


def export(
    api: Doc,
    resources: list[Doc],
    kept: Doc,
    *,
    kind: str,
    stage: str,
    region: str,
    extensions: set[str],
    stage_url: str | None = None,
    models: list[Doc] | None = None,
    validators: list[Doc] | None = None,
    gateway_responses: list[Doc] | None = None,
    authorizers: list[Doc] | None = None,
) -> Doc:
    """GetExport's document for a deployed snapshot. ``kept`` is what the import stored beside the API."""
    swagger = kind == "swagger"
    with_integrations = bool(extensions & {"integrations", "apigateway", "postman"})
    with_apigateway = "apigateway" in extensions
    with_authorizers = bool(extensions & {"authorizers", "apigateway"})
    host = f"{api['id']}.execute-api.{region}.amazonaws.com"
    version = api.get("version") or datetime.datetime.fromtimestamp(
        int(api.get("createdDate", 0)), datetime.UTC
    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    info = {"title": api["name"], **({"description": api["description"]} if api.get("description") else {})}
    info["version"] = str(version)
    out: Doc
    if swagger:
        out = {"swagger": "2.0", "info": info, "host": host, "basePath": f"/{stage}", "schemes": ["https"]}
    else:
        url = stage_url or f"https://{host}/{{basePath}}"
        server: Doc = {"url": url}
        if stage_url is None:
            server["variables"] = {"basePath": {"default": stage}}
        out = {"openapi": "3.0.1", "info": info, "servers": [server]}
    paths: Doc = {}
    used_models: set[str] = set()
    method_extensions: Doc = kept.get("methods") or {}
    authorizer_names = {doc["id"]: str(doc.get("name") or doc["id"]) for doc in authorizers or []}
    used_schemes: set[str] = set()
    documentary = set(_documentary(kept.get("securitySchemes") or {}))
    validator_names = {doc["id"]: doc.get("name") or doc["id"] for doc in validators or []}
    for doc in sorted(resources, key=lambda d: d["path"]):
        methods = doc.get("resourceMethods") or {}
        if not methods:
            continue
        item: Doc = {}
        for verb in sorted(methods, key=lambda v: (v == "ANY", v)):
            item[ANY_METHOD if verb == "ANY" else verb.lower()] = _export_method(
                methods[verb],
                swagger=swagger,
                with_integrations=with_integrations,
                with_apigateway=with_apigateway,
                kept=method_extensions.get(f"{verb} {doc['path']}") or {},
                used_models=used_models,
                resource_id=doc["id"],
                authorizer_names=authorizer_names,
                used_schemes=used_schemes,
                documentary=documentary,
            )
            validator_id = methods[verb].get("requestValidatorId")
            if with_apigateway and validator_id in validator_names:
                item[ANY_METHOD if verb == "ANY" else verb.lower()][VALIDATOR] = validator_names[validator_id]
        paths[doc["path"]] = item
    out["paths"] = paths
    schemas: Doc = {}
    for model in sorted(models or [], key=lambda m: m["name"]):
        if model["name"] in ("Empty", "Error") and model["name"] not in used_models:
            continue  # AWS's default models, exported only where a method uses them
        try:
            schema = orjson.loads(model.get("schema") or "{}")
        except orjson.JSONDecodeError:
            schema = {}
        if isinstance(schema, dict):
            schema.pop("$schema", None)
        schemas[model["name"]] = schema
    for name in used_models:
        schemas.setdefault(name, {"title": f"{name} Schema", "type": "object"})
    if schemas:
        rewritten = {name: _model_refs(schema, swagger) for name, schema in schemas.items()}
        if swagger:
            out["definitions"] = rewritten
        else:
            out.setdefault("components", {})["schemas"] = rewritten
    schemes = _export_schemes(
        authorizers or [], kept.get("securitySchemes") or {}, used_schemes, with_authorizers
    )
    if schemes:
        if swagger:
            out["securityDefinitions"] = schemes
        else:
            out.setdefault("components", {})["securitySchemes"] = schemes
    if with_apigateway and validators:
        out[VALIDATORS] = {
            doc.get("name") or doc["id"]: {
                "validateRequestBody": bool(doc.get("validateRequestBody")),
                "validateRequestParameters": bool(doc.get("validateRequestParameters")),
            }
            for doc in validators
        }
    if with_apigateway and gateway_responses:
        out[GATEWAY_RESPONSES] = {
            doc["responseType"]: {
                key: doc[key]
                for key in ("statusCode", "responseParameters", "responseTemplates")
                if doc.get(key)
            }
            for doc in sorted(gateway_responses, key=lambda d: str(d["responseType"]))
        }
    if with_apigateway:
        for key, value in (kept.get("api") or {}).items():
            if key not in _APPLIED_API:
                out[key] = value
        if api.get("apiKeySource") and api["apiKeySource"] != "HEADER":
            out["x-amazon-apigateway-api-key-source"] = api["apiKeySource"]
        if api.get("policy"):
            try:
                out["x-amazon-apigateway-policy"] = orjson.loads(api["policy"])
            except orjson.JSONDecodeError:
                out["x-amazon-apigateway-policy"] = api["policy"]
        if api.get("minimumCompressionSize") is not None:
            out["x-amazon-apigateway-minimum-compression-size"] = api["minimumCompressionSize"]
        endpoint = api.get("endpointConfiguration") or {}
        exported: Doc = {}
        if endpoint.get("vpcEndpointIds"):
            exported["vpcEndpointIds"] = endpoint["vpcEndpointIds"]
        if api.get("disableExecuteApiEndpoint"):
            exported["disableExecuteApiEndpoint"] = True
        if exported:
            out["x-amazon-apigateway-endpoint-configuration"] = exported
    if api.get("binaryMediaTypes"):
        out["x-amazon-apigateway-binary-media-types"] = list(api["binaryMediaTypes"])
    return out


def _documentary(schemes: Doc) -> list[str]:
    """The imported schemes that enforce nothing here (OAuth 2, OpenID Connect, HTTP): exported as written."""
    return [
        str(name)
        for name, scheme in schemes.items()
        if isinstance(scheme, dict) and scheme.get("type") != "apiKey" and AUTHORIZER not in scheme
    ]


def _export_schemes(authorizers: list[Doc], kept: Doc, used: set[str], with_authorizers: bool) -> Doc:
    """Security schemes for the API's authorizers, IAM and API keys as methods use them, and the imported
    schemes apigate does not turn into anything (OAuth 2 and the like, kept for documentation)."""
    schemes: Doc = {name: copy.deepcopy(kept[name]) for name in _documentary(kept)}
    for doc in sorted(authorizers, key=lambda d: str(d.get("name"))):
        source = str(doc.get("identitySource") or "")
        single_header = source.startswith(_HEADER_SOURCE) and "," not in source
        scheme: Doc = {
            "type": "apiKey",
            "name": source[len(_HEADER_SOURCE) :] if single_header else "Unused",
            "in": "header",
        }
        if doc.get("authType"):
            scheme[AUTHTYPE] = doc["authType"]
        if with_authorizers:
            spec: Doc = {"type": str(doc["type"]).lower()}
            for key in (
                "authorizerUri",
                "authorizerCredentials",
                "authorizerResultTtlInSeconds",
                "identitySource",
                "identityValidationExpression",
                "providerARNs",
            ):
                if doc.get(key) not in (None, "", []):
                    spec[key] = copy.deepcopy(doc[key])
            scheme[AUTHORIZER] = spec
        schemes[str(doc.get("name") or doc["id"])] = scheme
    if SIGV4_SCHEME in used:
        schemes[SIGV4_SCHEME] = {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            AUTHTYPE: "awsSigv4",
        }
    if API_KEY_SCHEME in used:
        schemes[API_KEY_SCHEME] = {"type": "apiKey", "name": "x-api-key", "in": "header"}
    return schemes


def _model_refs(node: Any, swagger: bool) -> Any:
    if isinstance(node, dict):
        name = _model_name(node)
        if name is not None and len(node) == 1:
            return {"$ref": f"#/definitions/{name}" if swagger else f"#/components/schemas/{name}"}
        return {k: _model_refs(v, swagger) for k, v in node.items()}
    if isinstance(node, list):
        return [_model_refs(v, swagger) for v in node]
    return node


def _ref(name: str, swagger: bool) -> Doc:
    return {"$ref": f"#/definitions/{name}" if swagger else f"#/components/schemas/{name}"}


def _export_method(
    method: Doc,
    *,
    swagger: bool,
    with_integrations: bool,
    with_apigateway: bool,
    kept: Doc,
    used_models: set[str],
    resource_id: str,
    authorizer_names: dict[str, str],
    used_schemes: set[str],
    documentary: set[str],
) -> Doc:
    out: Doc = {}
    if method.get("operationName"):
        out["operationId"] = method["operationName"]
    parameters: list[Doc] = []
    for key, required in sorted((method.get("requestParameters") or {}).items()):
        parts = key.split(".", 3)
        if len(parts) != 4:
            continue
        location = {"path": "path", "querystring": "query", "header": "header"}.get(parts[2])
        if location is None:
            continue
        parameter: Doc = {"name": parts[3], "in": location, "required": bool(required or location == "path")}
        if swagger:
            parameter["type"] = "string"
        else:
            parameter["schema"] = {"type": "string"}
        parameters.append(parameter)
    request_models = method.get("requestModels") or {}
    if swagger and request_models:
        out["consumes"] = sorted(request_models)
        name = request_models[sorted(request_models)[0]]
        used_models.add(name)
        parameters.append({"in": "body", "name": name, "required": True, "schema": _ref(name, swagger)})
    if parameters:
        out["parameters"] = parameters
    if not swagger and request_models:
        for name in request_models.values():
            used_models.add(name)
        out["requestBody"] = {
            "content": {ct: {"schema": _ref(name, swagger)} for ct, name in sorted(request_models.items())},
            "required": True,
        }
    responses: Doc = {}
    produces: set[str] = set()
    for code, response in sorted((method.get("methodResponses") or {}).items()):
        entry: Doc = {"description": f"{code} response"}
        headers = {
            key.split(".", 3)[3]: {"type": "string"} if swagger else {"schema": {"type": "string"}}
            for key in sorted(response.get("responseParameters") or {})
            if key.startswith("method.response.header.")
        }
        if headers:
            entry["headers"] = headers
        models = response.get("responseModels") or {}
        for name in models.values():
            used_models.add(name)
        if swagger and models:
            produces.update(models)
            entry["schema"] = _ref(models[sorted(models)[0]], swagger)
        elif models:
            entry["content"] = {ct: {"schema": _ref(name, swagger)} for ct, name in sorted(models.items())}
        responses[code] = entry
    if swagger and produces:
        out["produces"] = sorted(produces)
    out["responses"] = responses
    # What the method enforces now (an authorizer may have been renamed or detached since the import).
    security: list[Doc] = []
    auth = method.get("authorizationType")
    if auth in ("CUSTOM", "COGNITO_USER_POOLS") and method.get("authorizerId") in authorizer_names:
        security.append(
            {authorizer_names[method["authorizerId"]]: list(method.get("authorizationScopes") or [])}
        )
    elif auth == "AWS_IAM":
        security.append({SIGV4_SCHEME: []})
    if method.get("apiKeyRequired"):
        security.append({API_KEY_SCHEME: []})
    for requirement in kept.get("security") or []:
        if isinstance(requirement, dict) and requirement and set(requirement) <= documentary:
            security.append(copy.deepcopy(requirement))
    for requirement in security:
        used_schemes.update(requirement)
    if security:
        out["security"] = security
    if with_apigateway:
        for key, value in kept.items():
            if key.startswith(_PREFIX):
                out[key] = copy.deepcopy(value)
    integration = method.get("methodIntegration")
    if with_integrations and integration is not None:
        out[INTEGRATION] = _export_integration(integration, resource_id)
    return out


def _export_integration(integration: Doc, resource_id: str) -> Doc:
    out: Doc = {"type": str(integration["type"]).lower()}
    for source, target in (
        ("httpMethod", "httpMethod"),
        ("uri", "uri"),
        ("connectionType", "connectionType"),
        ("connectionId", "connectionId"),
        ("credentials", "credentials"),
        ("requestParameters", "requestParameters"),
        ("requestTemplates", "requestTemplates"),
        ("passthroughBehavior", "passthroughBehavior"),
        ("contentHandling", "contentHandling"),
        ("timeoutInMillis", "timeoutInMillis"),
        ("cacheNamespace", "cacheNamespace"),
        ("cacheKeyParameters", "cacheKeyParameters"),
    ):
        value = integration.get(source)
        if source == "cacheNamespace" and value == resource_id:
            continue  # the default: a new resource id on re-import
        if value not in (None, {}, []):
            out[target] = copy.deepcopy(value)
    responses: Doc = {}
    for code, response in sorted((integration.get("integrationResponses") or {}).items()):
        key = response.get("selectionPattern") or "default"
        entry: Doc = {"statusCode": code}
        for name in ("responseParameters", "responseTemplates", "contentHandling"):
            if response.get(name):
                entry[name] = copy.deepcopy(response[name])
        responses[key] = entry
    if responses:
        out["responses"] = responses
    return out


def dump(document: Doc, content_type: str) -> bytes:
    if content_type == "application/yaml":
        text: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        return text.encode()
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)
