"""Which function an HTTP API integration or authorizer URI names."""

from __future__ import annotations

from apigate.dataplane.integrations.lambda_proxy import function_name
from apigate.functions.directory import qualified_name_of


def lambda_function(uri: str) -> str | None:
    """A function ARN, a bare name, or the apigateway invocation URI that wraps one; with its qualifier, if any
    (``name:alias``)."""
    if ":apigateway:" in uri:
        return function_name(uri)
    if ":function:" in uri or ":" not in uri:
        return qualified_name_of(uri)
    return None
