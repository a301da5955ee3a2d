"""Every operation of botocore's apigateway and apigatewayv2 models is served (issue 23, class 6): each is called
once over HTTP at its URI (placeholders filled, an empty JSON body) and none may answer NotImplementedException.
What each answers otherwise (mostly a validation error for the empty input) is for the other tests; the last
operations added have their own here (DeleteAccessLogSettings) or in test_fidelity_portals.py,
test_fidelity_routing_rules.py and test_fidelity_private_domains.py."""

from __future__ import annotations

import re
from typing import Any

import botocore.session
import pytest
import requests

from helpers import GatewayProcess, unique, wait_for

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


def test_delete_access_log_settings_stops_a_stages_access_log(gateway: GatewayProcess) -> None:
    v2 = gateway.client("apigatewayv2")
    group = unique("deleted-access-log")
    settings = {"DestinationArn": f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"}
    urls = []
    for name in ("quiet", "marker"):
        api = v2.create_api(Name=unique(name), ProtocolType="HTTP", Target="http://127.0.0.1:9/")["ApiId"]
        v2.update_stage(
            ApiId=api,
            StageName="$default",
            AccessLogSettings={**settings, "Format": f"{name} $context.requestId"},
        )
        urls.append((api, f"{gateway.url}/_aws/execute-api/{api}/anything"))
    (quiet, quiet_url), (_, marker_url) = urls
    answer = v2.delete_access_log_settings(ApiId=quiet, StageName="$default")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "AccessLogSettings" not in v2.get_stage(ApiId=quiet, StageName="$default")
    requests.get(quiet_url, timeout=10)
    after = requests.get(marker_url, timeout=10).headers["apigw-requestid"]
    logs = gateway.client("logs")  # a log group destination lands in the gateway's CloudWatch Logs

    def lines() -> list[str]:
        try:
            return [event["message"] for event in logs.filter_log_events(logGroupName=group)["events"]]
        except logs.exceptions.ResourceNotFoundException:
            return []

    wait_for(lambda: any(after in line for line in lines()))
    assert [line.split()[0] for line in lines()] == ["marker"]
    # A stage without settings answers the same; an unknown stage is AWS's NotFound.
    v2.delete_access_log_settings(ApiId=quiet, StageName="$default")
    with pytest.raises(v2.exceptions.NotFoundException):
        v2.delete_access_log_settings(ApiId=quiet, StageName="nope")
