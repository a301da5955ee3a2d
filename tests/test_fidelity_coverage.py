"""Every operation of botocore's apigateway and apigatewayv2 models is served (issue 23, class 6): each is called
once over HTTP at its URI (placeholders filled, an empty JSON body) and none may answer NotImplementedException.
What each answers otherwise (mostly a validation error for the empty input) is for the other tests."""

from __future__ import annotations

import re
from typing import Any

import botocore.session
import pytest
import requests

from helpers import GatewayProcess

_SERVICES = ("apigateway", "apigatewayv2")


def _calls(service: str) -> list[tuple[str, str, str]]:
    model = botocore.session.get_session().get_service_model(service)
    calls = []
    for name in model.operation_names:
        http: Any = model.operation_model(name).http
        uri = re.sub(r"\{[^}]+\}", "placeholder", http["requestUri"])
        calls.append((name, http["method"], uri))
    return calls


@pytest.mark.parametrize("service", _SERVICES)
def test_no_operation_answers_not_implemented(gateway: GatewayProcess, service: str) -> None:
    unserved = []
    for name, method, uri in _calls(service):
        answer = requests.request(method, f"{gateway.url}{uri}", json={}, timeout=30)
        if answer.headers.get("x-amzn-ErrorType", "").startswith("NotImplementedException"):
            unserved.append(name)
    assert unserved == []
