"""The template corpus (tests/templates/*/template.yaml): each template is served as a user would serve it, and
every route its ``calls.yaml`` lists is called through the URLs the template's own Outputs print (AWS host names
rewritten to the gateway's). A call names its expected status, and optionally a subset of the JSON answer,
response headers, or text the answer contains; ``output`` lists lines the gateway must print, ``warnings``
the warnings it must print exactly once each.

``users`` are made in the template's own user pools through the gateway's cognito-idp API (boto3, as a client
would): created, given a password, signed in; ``${id:NAME}`` and ``${access:NAME}`` are then their tokens.
``machines`` get an access token from a pool domain's token endpoint (the client_credentials grant, HTTP Basic
with the client's id and secret), as ``${access:NAME}``."""

from __future__ import annotations

import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from helpers import GatewayProcess, wait_for

CORPUS = Path(__file__).parent / "templates"
CASES = sorted(path.parent.name for path in CORPUS.glob("*/calls.yaml"))


def outputs(gateway: GatewayProcess) -> dict[str, str]:
    """The Outputs the gateway printed (``Outputs:`` then ``  Name: value`` lines)."""
    wait_for(lambda: any(line == "Outputs:" for line in gateway.output), timeout=20)
    lines = gateway.output[gateway.output.index("Outputs:") + 1 :]
    found = {}
    for line in lines:
        if not line.startswith("  "):
            break
        name, _, value = line.strip().partition(": ")
        found[name] = value
    return found


def subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and subset(v, actual[k]) for k, v in expected.items()
        )
    return bool(expected == actual)


class _Values(string.Template):
    idpattern = r"[A-Za-z0-9_.:*@-]+"


def _fill(text: str, gateway: GatewayProcess, found: dict[str, str]) -> str:
    def key(name: str) -> str:
        """``${key:NAME}``: the value of the API key named NAME (``*``: the only one), as a client is handed it."""
        keys = gateway.client("apigateway").get_api_keys(includeValues=True)["items"]
        matching = [k for k in keys if name in ("*", k["name"])]
        assert len(matching) == 1, keys
        return str(matching[0]["value"])

    values = dict(found)
    template = _Values(text)
    names = {m.group("braced") for m in template.pattern.finditer(text) if m.group("braced")}
    for name in names:
        if name.startswith("key:"):
            values[name] = key(name[4:])
    return template.substitute(values)


def sign_in(gateway: GatewayProcess, found: dict[str, str], users: list[dict[str, str]]) -> dict[str, str]:
    """Each user created in the pool an Output names and signed in through its client: their tokens by name."""
    idp = gateway.client("cognito-idp")
    tokens = {}
    for user in users:
        pool, client, name = found[user["pool"]], found[user["client"]], user["username"]
        extra = [{"Name": "email", "Value": user["email"]}] if "email" in user else []
        if not user.get("existing"):  # else the template made the user
            idp.admin_create_user(UserPoolId=pool, Username=name, UserAttributes=extra, MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool, Username=name, Password=user["password"], Permanent=True)
        credentials = {"USERNAME": name, "PASSWORD": user["password"]}
        if user.get("flow") == "admin":
            answer = idp.admin_initiate_auth(
                UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH", AuthParameters=credentials
            )
        else:
            answer = idp.initiate_auth(ClientId=client, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=credentials)
        tokens[f"id:{name}"] = answer["AuthenticationResult"]["IdToken"]
        tokens[f"access:{name}"] = answer["AuthenticationResult"]["AccessToken"]
    return tokens


def machine_tokens(found: dict[str, str], machines: list[dict[str, str]]) -> dict[str, str]:
    tokens = {}
    for machine in machines:
        answer = requests.post(
            found[machine["token_url"]],
            data={"grant_type": "client_credentials", "scope": machine["scope"]},
            auth=(found[machine["client"]], found[machine["secret"]]),
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["token_type"] == "Bearer"
        tokens[f"access:{machine['name']}"] = answer.json()["access_token"]
    return tokens


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[GatewayProcess] = []

    def start(template: Path, *args: str) -> GatewayProcess:
        process = GatewayProcess(tmp_path / f"data-{len(started)}", [str(template), "--no-watch", *args])
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.mark.parametrize("case", CASES)
def test_template(case: str, serve: Any) -> None:
    spec = yaml.safe_load((CORPUS / case / "calls.yaml").read_text())
    gateway = serve(CORPUS / case / "template.yaml", *spec.get("args", []))
    # Lines arrive through a reader thread: wait until every Output the case names has been read.
    needed = {
        m.group("braced")
        for m in _Values.pattern.finditer(yaml.safe_dump(spec))
        if m.group("braced") and ":" not in m.group("braced")
    }
    needed |= {user[k] for user in spec.get("users", []) for k in ("pool", "client")}
    needed |= {m[k] for m in spec.get("machines", []) for k in ("token_url", "client", "secret")}
    wait_for(lambda: needed <= set(outputs(gateway)), timeout=20)
    found = outputs(gateway)
    found.update(sign_in(gateway, found, spec.get("users", [])))
    found.update(machine_tokens(found, spec.get("machines", [])))
    for expected in spec.get("output", []):
        assert any(expected in line for line in gateway.output), (expected, gateway.output)
    printed = [line for line in gateway.output if line.startswith("Warning: ")]
    for expected in spec.get("warnings", []):
        assert printed.count(f"Warning: {expected}") == 1, (expected, printed)
    assert spec["calls"], "every template calls its routes"
    for call in spec["calls"]:
        url = _fill(call["url"], gateway, found)
        headers = {k: _fill(str(v), gateway, found) for k, v in (call.get("headers") or {}).items()}
        body = None if call.get("body") is None else _fill(str(call["body"]), gateway, found)
        answer = requests.request(call["method"], url, headers=headers, data=body, timeout=30)
        where = f"{call['method']} {url}: {answer.status_code} {answer.text[:300]}"
        assert answer.status_code == call["status"], where
        if "json" in call:
            assert subset(call["json"], answer.json()), where
        if "text" in call:
            assert call["text"] in answer.text, where
        for name, value in (call.get("response_headers") or {}).items():
            assert answer.headers.get(name) == value, (where, dict(answer.headers))
        if "content" in call:
            assert answer.content == call["content"].encode("latin-1"), where
