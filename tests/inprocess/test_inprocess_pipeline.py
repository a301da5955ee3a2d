"""Each data-plane step through ``Pipeline.run`` with fake services: routing, validation, mapping ($context built
once), the function path (event, response rules, missing function, timeout) and gateway responses."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from fakes import FakeFunctions, FakeResult, aws_proxy, deploy, invocation, method, mock, pipeline, run

import apigate.dataplane.invocation as invocation_module
import apigate.dataplane.mapping.context as context_module
from apigate.dataplane.function_call import FunctionCallFailed, call_function


def _json(body: bytes) -> Any:
    return json.loads(body)


def test_routing_prefers_literals_then_variables_then_greedy() -> None:
    api = deploy(
        {
            "/pets/mine": {"GET": method(mock('"literal"'))},
            "/pets/{id}": {"GET": method(mock('"$input.params(\'id\')"'))},
            "/files/{path+}": {"ANY": method(mock('"$input.params(\'path\')"'))},
        }
    )
    pipe = pipeline()
    assert _json(run(pipe, invocation(api, "GET", "/pets/mine")).body) == "literal"
    assert _json(run(pipe, invocation(api, "GET", "/pets/7")).body) == "7"
    assert _json(run(pipe, invocation(api, "DELETE", "/files/a/b/c")).body) == "a/b/c"
    # Every spelling of a path routes as its canonical form (request_path.py).
    assert _json(run(pipe, invocation(api, "GET", "/pets/x/../%6Dine")).body) == "literal"


def test_no_route_is_the_missing_authentication_token_gateway_response() -> None:
    response = run(pipeline(), invocation(deploy({"/a": {"GET": method()}}), "GET", "/b"))
    assert response.status == 403
    assert ("x-amzn-ErrorType", "MissingAuthenticationTokenException") in response.headers
    assert _json(response.body) == {"message": "Missing Authentication Token"}
    assert any(name == "x-amzn-RequestId" for name, _ in response.headers)  # response steps ran


def test_validation_names_the_missing_parameters() -> None:
    validated = method(requestValidatorId="v", requestParameters={"method.request.querystring.q": True})
    api = deploy({"/search": {"GET": validated}}, validators=[{"id": "v", "validateRequestParameters": True}])
    pipe = pipeline()
    missing = run(pipe, invocation(api, "GET", "/search"))
    assert missing.status == 400
    assert _json(missing.body) == {"message": "Missing required request parameters: [q]"}
    assert run(pipe, invocation(api, "GET", "/search", "q=1")).status == 200


def test_context_is_built_once_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """A response template and a ``context.requestId`` header mapping read one ``$context``."""
    built: list[object] = []
    original = context_module.request_context

    def counting(inv: Any) -> dict[str, Any]:
        built.append(inv)
        return original(inv)

    monkeypatch.setattr(context_module, "request_context", counting)
    template = '{"id": "$context.requestId", "stage": "$context.stage", "q": "$input.params(\'q\')"}'
    mapped = mock(template, responseParameters={"method.response.header.x-id": "context.requestId"})
    api = deploy({"/ctx": {"GET": method(mapped)}})
    inv = invocation(api, "GET", "/ctx", "q=a&q=b")
    response = run(pipeline(), inv)
    assert _json(response.body) == {"id": inv.request_id, "stage": "prod", "q": "b"}
    assert ("x-id", inv.request_id) in response.headers
    assert built == [inv]


def test_query_string_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    original = invocation_module.parse_qsl

    def counting(query: str, **kwargs: Any) -> list[tuple[str, str]]:
        parsed.append(query)
        return original(query, **kwargs)

    monkeypatch.setattr(invocation_module, "parse_qsl", counting)
    template = '"$input.params(\'a\')$input.params().querystring.b"'
    validated = method(
        mock(template), requestValidatorId="v", requestParameters={"method.request.querystring.a": True}
    )
    api = deploy({"/q": {"GET": validated}}, validators=[{"id": "v", "validateRequestParameters": True}])
    response = run(pipeline(), invocation(api, "GET", "/q", "a=1&b=2"))  # validation, then the template
    assert _json(response.body) == "12"
    assert parsed == ["a=1&b=2"]


def _proxy_answer(payload: bytes) -> FakeResult:
    event = orjson.loads(payload)
    answer = {"statusCode": 201, "headers": {"x-resource": event["resource"]}, "body": json.dumps(event)}
    return FakeResult(orjson.dumps(answer))


def test_aws_proxy_sends_the_v1_event_and_reads_the_response() -> None:
    functions = FakeFunctions({"echo": _proxy_answer})
    api = deploy({"/items/{id}": {"GET": method(aws_proxy("echo"))}})
    response = run(pipeline(functions), invocation(api, "GET", "/items/42", "tag=x&tag=y"))
    assert response.status == 201
    assert ("x-resource", "/items/{id}") in response.headers
    assert ("Content-Type", "application/json") in response.headers  # added when the function sets none
    event = _json(response.body)
    assert event["path"] == "/items/42" and event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"tag": "y"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["x", "y"]}
    assert event["requestContext"]["resourcePath"] == "/items/{id}"
    assert event["requestContext"]["path"] == "/prod/items/42"
    assert event["body"] is None and event["isBase64Encoded"] is False
    assert [name for name, _ in functions.calls] == ["echo"]


@pytest.mark.parametrize(
    ("functions", "status"),
    [
        (FakeFunctions(), 500),  # no such function: a configuration error
        (FakeFunctions(hang={"echo"}), 504),  # past the integration's timeout
        (FakeFunctions({"echo": lambda _: FakeResult(b'{"errorMessage": "boom"}', "Unhandled")}), 502),
        (FakeFunctions({"echo": lambda _: FakeResult(b'{"statusCode": 200, "extra": 1}')}), 502),  # malformed
    ],
)
def test_aws_proxy_failures_are_gateway_responses(functions: FakeFunctions, status: int) -> None:
    api = deploy({"/f": {"GET": method(aws_proxy("echo", timeout_ms=50))}})
    assert run(pipeline(functions), invocation(api, "GET", "/f")).status == status


@pytest.mark.parametrize(("functions", "timed_out"), [(FakeFunctions(), False), (FakeFunctions(hang={"f"}), True)])
def test_function_call_helper_says_missing_or_timed_out(functions: FakeFunctions, timed_out: bool) -> None:
    import asyncio

    with pytest.raises(FunctionCallFailed) as failed:
        asyncio.run(call_function(functions, "f", b"{}", timeout=0.05, request_id="r"))  # type: ignore[arg-type]
    assert failed.value.timed_out is timed_out and failed.value.name == "f"
