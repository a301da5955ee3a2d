"""Request validation: required parameters, then the body against its model (schemas compiled at deploy time).

AWS's messages: ``Missing required request parameters: [a, b]`` (names in the order of the sorted mapping
expressions) and ``Invalid request body``. ``$context.error.validationErrorString`` is kept on the invocation.
AWS's validator (Java's json-schema-validator, draft 4) lists every schema error, as
``[object has missing required properties (["name"]), ...]``. fastjsonschema stops at the first, so our
validationErrorString holds one entry, worded as AWS words it for the common keywords (``_aws_wording``).
"""

from __future__ import annotations

from typing import Any, Final

import fastjsonschema
import orjson

from apigate.dataplane.invocation import Invocation
from apigate.dataplane.regex_budget import RegexBudgetExceeded, regex_deadline, restore_regex_deadline
from apigate.dataplane.responses import GatewayError, ResponseType
from apigate.model import RequestValidation, RestMethod


def _present(inv: Invocation, location: str, name: str) -> bool:
    if location == "path":
        return name in inv.path_parameters
    if location in ("querystring", "multivaluequerystring"):
        return any(key == name for key, _ in inv.query_pairs)
    if location in ("header", "multivalueheader"):
        return inv.request.header(name) is not None
    return True


REGEX_SECONDS: Final = 0.1  # backtracking-regex time shared by one body's validation


def _body(inv: Invocation) -> Any:
    return orjson.loads(inv.request.body or b"{}")


def validate(inv: Invocation, rules: RequestValidation) -> None:
    if rules.required_parameters:
        missing = [name for location, name in rules.required_parameters if not _present(inv, location, name)]
        if missing:
            message = f"Missing required request parameters: [{', '.join(missing)}]"
            inv.validation_error = message
            inv.log(f"Request validation failed for: {message}")
            raise GatewayError(ResponseType.BAD_REQUEST_PARAMETERS, message)
    if rules.body_models is None:
        return
    content_type = (inv.request.header("content-type") or "application/json").split(";", 1)[0].strip().lower()
    model = rules.body_models.get(content_type) or rules.body_models.get("$default")
    if model is None:
        return
    outer = regex_deadline(REGEX_SECONDS) if model.timed else None
    try:
        model.validate(_body(inv))
    except orjson.JSONDecodeError as exc:  # also orjson's depth limit (1024 levels)
        _invalid(inv, content_type, f"[Invalid JSON: {exc}]")
    except fastjsonschema.JsonSchemaValueException as exc:
        _invalid(inv, content_type, f"[{_aws_wording(exc)}]")
    except RegexBudgetExceeded as exc:  # a backtracking model pattern ran out of time on this body
        _invalid(inv, content_type, f"[{exc}]")
    except RecursionError:  # a recursive model ($ref to itself) over a body nested ~300+ levels
        _invalid(inv, content_type, "[instance nests too deeply to validate]")
    finally:
        if model.timed:
            restore_regex_deadline(outer)


_JAVA_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _aws_wording(exc: fastjsonschema.JsonSchemaValueException) -> str:
    """fastjsonschema's error in the words of the validator behind AWS; its own words for other keywords."""
    rule, expected, value = exc.rule, exc.rule_definition, exc.value
    if rule == "required" and isinstance(value, dict) and isinstance(expected, list):
        missing = sorted(str(name) for name in expected if name not in value)
        return f"object has missing required properties ({_json(missing)})"
    if rule == "type":
        allowed = sorted(expected) if isinstance(expected, list) else [expected]
        found = "null" if value is None else _JAVA_TYPES.get(type(value), "object")
        return (
            f"instance type ({found}) does not match any allowed primitive type (allowed: {_json(allowed)})"
        )
    if rule == "enum":
        return f"instance value ({_json(value)}) not found in enum (possible values: {_json(expected)})"
    if rule in ("minLength", "maxLength") and isinstance(value, str):
        bound = "required minimum" if rule == "minLength" else "maximum allowed"
        size = "short" if rule == "minLength" else "long"
        return f"string {_json(value)} is too {size} (length: {len(value)}, {bound}: {expected})"
    if rule == "minimum":
        return f"numeric instance is lower than the required minimum (minimum: {expected}, found: {value})"
    if rule == "maximum":
        return f"numeric instance is greater than the required maximum (maximum: {expected}, found: {value})"
    if rule == "pattern":
        return f"ECMA 262 regex {_json(expected)} does not match input string {_json(value)}"
    return str(exc.message)


def _invalid(inv: Invocation, content_type: str, detail: str) -> None:
    inv.validation_error = detail
    inv.log(f"Request body does not match model schema for content type {content_type}: {detail}")
    inv.log("Request validation failed")
    raise GatewayError(ResponseType.BAD_REQUEST_BODY)


class ValidationStep:
    """The pipeline step: validate when the method has a validator (the plan leaves it out otherwise)."""

    __slots__ = ()

    @staticmethod
    def applies(method: RestMethod) -> bool:
        return method.validation is not None

    async def __call__(self, inv: Invocation) -> None:
        method = inv.method
        assert method is not None
        if method.validation is not None:
            validate(inv, method.validation)
