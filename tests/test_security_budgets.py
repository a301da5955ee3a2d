"""Issue #13 item 5: no single request can stall the gateway.

Mapping templates run under a render budget (steps, characters, collection size) and owner-written regular
expressions (model patterns, identityValidationExpression, template regexes) run in linear time (RE2) or under
a timeout. Each attack goes to a running gateway while another thread asks ``/_apigate/health``: the health
check must answer, and the attacking request must get AWS's error, not hang the process.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests

from apigate.dataplane.regex_budget import (
    RegexBudgetExceeded,
    compile_user_regex,
    regex_deadline,
    restore_regex_deadline,
)

from helpers import GatewayProcess, RestApi

pytestmark = pytest.mark.timeout(300)

LOOP_BOMB = (
    "#foreach($i in [1..1000])#foreach($j in [1..1000])#foreach($k in [1..1000])#set($x = $k)#end#end#end{}"
)
STRING_BOMB = '#set($s = "aaaaaaaa")#foreach($i in [1..64])#set($s = "$s$s")#end$s'
REPLACE_BOMB = "#set($s = 'aaaaaaaa')#foreach($i in [1..30])#set($s = $s.replace('a', 'aaaaaaaaaa'))#end$s"
NEST_BOMB = "#set($a = [1])#foreach($i in [1..64])#set($a = [$a, $a])#end$a"
# Request templates: the regex runs over the client's body. The lookahead makes RE2 refuse the pattern, so the
# timeout-bounded engine runs it; the other is RE2's (linear: answers "no match" at once).
REGEX_BOMB = "#if($input.body.matches('(a|aa)+(?=b)'))#end{\"statusCode\": 200}"
REGEX_LINEAR = "#if($input.body.matches('(a|aa)+$'))#set($x = 1)#end{\"statusCode\": 200}"
EVIL_TEXT = "a" * 5000 + "!"


def _template_method(
    apigw: Any, api: RestApi, path: str, template: str, request: str = '{"statusCode": 200}'
) -> None:
    rid = api.resource(path)
    apigw.put_method(restApiId=api.id, resourceId=rid, httpMethod="POST", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="POST",
        type="MOCK",
        requestTemplates={"application/json": request},
    )
    apigw.put_method_response(restApiId=api.id, resourceId=rid, httpMethod="POST", statusCode="200")
    apigw.put_integration_response(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="POST",
        statusCode="200",
        selectionPattern="",
        responseTemplates={"application/json": template},
    )


@pytest.fixture(scope="module")
def bombs(apigw: Any) -> RestApi:
    api = RestApi(apigw, "budgets")
    for path, template in {
        "/loop": LOOP_BOMB,
        "/string": STRING_BOMB,
        "/replace": REPLACE_BOMB,
        "/nest": NEST_BOMB,
        "/ok": "#foreach($i in [1..3])$i#end",
    }.items():
        _template_method(apigw, api, path, template)
    _template_method(apigw, api, "/regex", "never rendered", REGEX_BOMB)
    _template_method(apigw, api, "/linear", "linear", REGEX_LINEAR)
    _template_method(apigw, api, "/inbound", "never rendered", LOOP_BOMB.replace("{}", '{"statusCode": 200}'))
    # A model whose patterns backtrack, and a TOKEN authorizer whose validation expression would.
    schema = {
        "type": "object",
        "properties": {
            "linear": {"type": "string", "pattern": "^(a|aa)+$"},
            "lookahead": {"type": "string", "pattern": "^(a|aa)+(?=b)"},
        },
    }
    api.validated_mock("/validated", "Evil", schema)
    authorizer = apigw.create_authorizer(
        restApiId=api.id,
        name="token",
        type="TOKEN",
        authorizerUri=(
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            "arn:aws:lambda:us-east-1:000000000000:function:never-called/invocations"
        ),
        identitySource="method.request.header.Authorization",
        identityValidationExpression="^(a|aa)+$",
    )["id"]
    rid = api.resource("/guarded")
    apigw.put_method(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        authorizationType="CUSTOM",
        authorizerId=authorizer,
    )
    apigw.put_integration(
        restApiId=api.id,
        resourceId=rid,
        httpMethod="GET",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    api.deploy()
    return api


def _while_attacking(gateway: GatewayProcess, attack: Any) -> requests.Response:
    """Run ``attack`` in a thread; meanwhile the health check must answer. Returns the attack's response."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["response"] = attack()
        except Exception as exc:  # surfaced by the assert below
            result["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    try:
        health = requests.get(f"{gateway.url}/_apigate/health", timeout=60)
        assert health.status_code == 200
    finally:
        thread.join(timeout=240)
    assert not thread.is_alive(), "the attacking request never finished"
    assert "error" not in result, result.get("error")
    response: requests.Response = result["response"]
    return response


@pytest.mark.parametrize("path", ["/loop", "/string", "/replace", "/nest", "/regex", "/inbound"])
def test_template_bomb_is_a_500_and_gateway_stays_up(
    gateway: GatewayProcess, bombs: RestApi, path: str
) -> None:
    url = gateway.invoke_url(bombs.id, "test", path)
    response = _while_attacking(
        gateway,
        lambda: requests.post(url, data=EVIL_TEXT, headers={"Content-Type": "application/json"}, timeout=120),
    )
    assert response.status_code == 500, response.text
    assert response.json() == {"message": "Internal server error"}
    # and the gateway serves the next request normally
    ok = requests.post(gateway.invoke_url(bombs.id, "test", "/ok"), json={}, timeout=30)
    assert ok.status_code == 200 and ok.text == "123"


def test_linear_template_regex_answers(gateway: GatewayProcess, bombs: RestApi) -> None:
    url = gateway.invoke_url(bombs.id, "test", "/linear")
    response = _while_attacking(gateway, lambda: requests.post(url, data=EVIL_TEXT * 20, timeout=120))
    assert response.status_code == 200 and response.text == "linear"


@pytest.mark.parametrize("field", ["linear", "lookahead"])
def test_backtracking_model_pattern_is_a_400(gateway: GatewayProcess, bombs: RestApi, field: str) -> None:
    url = gateway.invoke_url(bombs.id, "test", "/validated")
    response = _while_attacking(gateway, lambda: requests.post(url, json={field: EVIL_TEXT}, timeout=120))
    assert response.status_code == 400, response.text
    assert response.json() == {"message": "Invalid request body"}
    good = requests.post(url, json={"linear": "aaa"}, timeout=30)
    assert good.status_code == 200, good.text


def test_backtracking_identity_validation_is_a_401(gateway: GatewayProcess, bombs: RestApi) -> None:
    url = gateway.invoke_url(bombs.id, "test", "/guarded")
    response = _while_attacking(
        gateway, lambda: requests.get(url, headers={"Authorization": "a" * 5000 + "!"}, timeout=120)
    )
    assert response.status_code == 401, response.text
    assert response.json() == {"message": "Unauthorized"}


# ---------------------------------------------------------------------------------- the shared regex helper


def test_user_regex_is_linear_on_catastrophic_patterns() -> None:
    for pattern in ("(a+)+$", "(a|aa)+$", "(x+x+)+y", "^(\\w+\\s?)*$"):
        assert compile_user_regex(pattern).search("a" * 100_000 + "!") is None


def test_user_regex_fallback_has_a_budget() -> None:
    pattern = compile_user_regex("(a|aa)+(?=b)")  # lookahead: the timeout-bounded engine
    assert pattern.search("aab") is not None
    outer = regex_deadline(0.05)
    try:
        with pytest.raises(RegexBudgetExceeded):
            pattern.search("a" * 5000 + "!")
    finally:
        restore_regex_deadline(outer)


def test_user_regex_speaks_java() -> None:
    assert compile_user_regex("\\p{Alpha}+\\p{Digit}").fullmatch("abc1") is not None
    assert compile_user_regex("a++b").fullmatch("aab") is not None  # possessive: Java, not RE2
    assert compile_user_regex("(a)\\1").fullmatch("aa") is not None  # backreference: Java, not RE2
