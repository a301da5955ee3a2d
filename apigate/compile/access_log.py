"""A stage's ``accessLogSettings`` -> an AccessLogFormat: the format's ``$context`` variables found once."""

from __future__ import annotations

import re
from typing import Any

from apigate.model.access_log import AccessLogFormat

__all__ = ["PRESETS", "compile_access_log", "v2_access_log"]

# The formats the AWS console offers (Stage > Logs and tracing > Log format).
PRESETS = {
    "CLF": "$context.identity.sourceIp $context.identity.caller $context.identity.user [$context.requestTime] "
    '"$context.httpMethod $context.resourcePath $context.protocol" $context.status $context.responseLength '
    "$context.requestId $context.extendedRequestId",
    "JSON": '{ "requestId":"$context.requestId", "extendedRequestId":"$context.extendedRequestId", '
    '"ip": "$context.identity.sourceIp", "caller":"$context.identity.caller", "user":"$context.identity.user", '
    '"requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod", '
    '"resourcePath":"$context.resourcePath", "status":"$context.status", "protocol":"$context.protocol", '
    '"responseLength":"$context.responseLength" }',
    "XML": '<request id="$context.requestId"> <extendedRequestId>$context.extendedRequestId</extendedRequestId> '
    "<ip>$context.identity.sourceIp</ip> <caller>$context.identity.caller</caller> "
    "<user>$context.identity.user</user> <requestTime>$context.requestTime</requestTime> "
    "<httpMethod>$context.httpMethod</httpMethod> <resourcePath>$context.resourcePath</resourcePath> "
    "<status>$context.status</status> <protocol>$context.protocol</protocol> "
    "<responseLength>$context.responseLength</responseLength> </request>",
    "CSV": "$context.identity.sourceIp,$context.identity.caller,$context.identity.user,$context.requestTime,"
    "$context.httpMethod,$context.resourcePath,$context.protocol,$context.status,$context.responseLength,"
    "$context.requestId,$context.extendedRequestId",
}

# `$context.a.b`, or `${context.a.b}`; a trailing dot is punctuation, not part of the name.
_VARIABLE = re.compile(r"\$\{context\.([A-Za-z0-9_.\-]+)\}|\$context\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_\-]+)*)")


def compile_access_log(settings: dict[str, Any] | None) -> AccessLogFormat | None:
    """A stage's ``accessLogSettings`` -> its compiled format; None when access logging is off."""
    if not settings or not settings.get("destinationArn") or not settings.get("format"):
        return None
    text = str(settings["format"])
    text = PRESETS.get(text.upper(), text)  # an apigate shorthand: the preset's name
    literals: list[str] = []
    paths: list[tuple[str, ...]] = []
    position = 0
    for match in _VARIABLE.finditer(text):
        literals.append(text[position : match.start()])
        paths.append(tuple((match.group(1) or match.group(2)).split(".")))
        position = match.end()
    literals.append(text[position:])
    return AccessLogFormat(tuple(literals), tuple(paths), str(settings["destinationArn"]))


def v2_access_log(settings: dict[str, Any] | None) -> dict[str, Any] | None:
    """apigatewayv2's AccessLogSettings (DestinationArn, Format; HTTP and WebSocket APIs) in apigateway's names."""
    if not settings:
        return None
    return {"destinationArn": settings.get("DestinationArn"), "format": settings.get("Format")}
