"""Functions get least privilege: an unprivileged user when the gateway is root, their role's credentials
(never the admin key), and the role's policies when those credentials call the management API."""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from helpers import GatewayProcess, create_function, unique, zip_code

ADMIN = ("AKIAADMINFROMENV0001", "admin-secret-from-the-environment")
FILE_ADMIN = ("AKIAADMINFROMFILE001", "admin-secret-from-a-file")
ACCOUNT = "000000000000"

PROBE = """
import json, os

def attempt(action):
    try:
        return action()
    except OSError as exc:
        return type(exc).__name__

def lambda_handler(event, context):
    parent = os.getppid()
    scratch = "/tmp/probe-" + context.aws_request_id
    def use_tmp():
        with open(scratch, "w") as out:
            out.write("ok")
        with open(scratch) as back:
            found = back.read()
        os.remove(scratch)
        return found
    def read(path):
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    return {
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "groups": os.getgroups(),
        "aws": {k: v for k, v in os.environ.items() if k.startswith("AWS_")},
        "database": attempt(lambda: read(event["database"])[:16]),
        "data_dir": attempt(lambda: os.listdir(event["data_dir"])),
        "other_code": attempt(lambda: read(event["other_code"])),
        "parent_environ": attempt(lambda: read(f"/proc/{parent}/environ")),
        "parent_cmdline": attempt(lambda: read(f"/proc/{parent}/cmdline")),
        "own_code": attempt(lambda: read(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "lambda_function.py"))[:12]),
        "beside_file": attempt(lambda: read(os.path.join(os.path.dirname(__file__), "data.txt"))),
        "tmp": attempt(use_tmp),
        "gateway_env_leaked": sorted(k for k in os.environ if k.startswith("APIGATE") or k == "HOME"),
    }
"""

CALLER = """
import boto3, json
from botocore.exceptions import ClientError

def lambda_handler(event, context):
    try:
        if event["call"] == "list":
            return {"ok": [a["name"] for a in boto3.client("apigateway").get_rest_apis()["items"]]}
        if event["call"] == "invoke":
            answer = boto3.client("lambda").invoke(FunctionName=event["target"], Payload=b"{}")
            return {"ok": json.loads(answer["Payload"].read())}
        if event["call"] == "create":
            return {"ok": boto3.client("apigateway").create_rest_api(name="made-by-function")["id"]}
        if event["call"] == "whoami":
            return {"ok": boto3.client("sts").get_caller_identity()["Arn"]}
    except ClientError as exc:
        error = exc.response["Error"]
        return {"error": error["Code"], "status": exc.response["ResponseMetadata"]["HTTPStatusCode"],
                "message": error.get("Message", "")}
"""


def client(gateway: GatewayProcess, service: str, key: tuple[str, str]) -> Any:
    return boto3.client(
        service,
        endpoint_url=gateway.url,
        region_name="us-east-1",
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
    )


def start_with_env(data_dir: Path, args: list[str], env: dict[str, str]) -> GatewayProcess:
    """A gateway whose environment carries ``env`` (the test process's own stays as it was)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        process = GatewayProcess(data_dir, args)
        process.start()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return process


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    process = start_with_env(
        tmp_path_factory.mktemp("least-privilege"), [], {"APIGATE_ADMIN_KEY": ":".join(ADMIN)}
    )
    yield process
    process.stop()


def invoke(lam: Any, name: str, event: dict[str, Any]) -> Any:
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    payload = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, payload
    return payload


def create_with_role(lam: Any, source: str, role: str) -> str:
    name = unique("caller")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": zip_code({"lambda_function.py": source})},
        Timeout=30,
    )
    return name


def role_with_policy(iam: Any, statements: list[dict[str, Any]]) -> str:
    name = unique("fn-role")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
    if statements:
        policy = {"Version": "2012-10-17", "Statement": statements}
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
    return arn


def test_the_data_dir_is_the_gateways_alone(guarded: GatewayProcess) -> None:
    assert stat.S_IMODE(guarded.data_dir.stat().st_mode) == 0o700
    for name in ("apigate.db", "apigate.db-wal"):
        path = guarded.data_dir / name
        if name == "apigate.db" or path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    for name in ("logs", "functions"):
        assert stat.S_IMODE((guarded.data_dir / name).stat().st_mode) == 0o700, name


def test_a_function_sees_only_its_own_code_its_role_and_tmp(guarded: GatewayProcess) -> None:
    lam = client(guarded, "lambda", ADMIN)
    other = create_function(lam, "def lambda_handler(event, context):\n    return 'secret code'\n")
    other_code = lam.get_function(FunctionName=other)["Configuration"]["CodeSha256"]
    other_dir = next((guarded.data_dir / "functions" / other).glob("*/lambda_function.py"))
    name = unique("probe")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=f"arn:aws:iam::{ACCOUNT}:role/probe-role",
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": zip_code({"lambda_function.py": PROBE, "data.txt": "beside"})},
        Timeout=30,
    )
    seen = invoke(
        lam,
        name,
        {
            "database": str(guarded.data_dir / "apigate.db"),
            "data_dir": str(guarded.data_dir),
            "other_code": str(other_dir),
        },
    )
    assert other_code  # the other function exists: its code is there to be refused
    if os.geteuid() == 0:  # the gateway runs as root here: its workers must not
        nobody = pwd.getpwnam("nobody")
        assert (seen["uid"], seen["euid"]) == (nobody.pw_uid, nobody.pw_uid)
        assert seen["groups"] == []  # no supplementary groups (root's least of all)
        for what in ("database", "data_dir", "other_code", "parent_environ"):
            assert seen[what] == "PermissionError", (what, seen[what])
    else:  # documented: without root, functions run as the gateway's user
        assert seen["uid"] == os.geteuid()
    # Its own code, by LAMBDA_TASK_ROOT and beside __file__, and a writable /tmp.
    assert seen["own_code"] == "\nimport json"
    assert seen["beside_file"] == "beside"
    assert seen["tmp"] == "ok"
    # Nothing of the admin key anywhere it can look: not its environment, not the gateway's command line.
    assert ADMIN[0] not in json.dumps(seen) and ADMIN[1] not in json.dumps(seen)
    assert seen["gateway_env_leaked"] == []
    # Its role's session, as Lambda gives it.
    aws = seen["aws"]
    assert aws["AWS_ACCESS_KEY_ID"].startswith("ASIA") and len(aws["AWS_ACCESS_KEY_ID"]) == 20
    assert len(aws["AWS_SECRET_ACCESS_KEY"]) == 40 and aws["AWS_SESSION_TOKEN"]
    sts = boto3.client(
        "sts",
        endpoint_url=guarded.url,
        region_name="us-east-1",
        aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=aws["AWS_SESSION_TOKEN"],
    )
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/probe-role/{name}"


def test_a_functions_credentials_call_back_with_its_roles_policies(guarded: GatewayProcess) -> None:
    iam = client(guarded, "iam", ADMIN)
    lam = client(guarded, "lambda", ADMIN)
    client(guarded, "apigateway", ADMIN).create_rest_api(name="listed-by-role")
    target = create_function(lam, "def lambda_handler(event, context):\n    return 'pong'\n")
    target_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{target}"
    allowed = role_with_policy(
        iam,
        [
            {
                "Effect": "Allow",
                "Action": "apigateway:GET",
                "Resource": "arn:aws:apigateway:us-east-1::/restapis",
            },
            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": target_arn},
            {"Effect": "Deny", "Action": "apigateway:POST", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "apigateway:*",
                "Resource": "arn:aws:apigateway:us-east-1::/domainnames",
            },
        ],
    )
    bare = role_with_policy(iam, [])
    trusted = create_with_role(lam, CALLER, allowed)
    untrusted = create_with_role(lam, CALLER, bare)

    assert "listed-by-role" in invoke(lam, trusted, {"call": "list"})["ok"]
    assert invoke(lam, trusted, {"call": "invoke", "target": target}) == {"ok": "pong"}
    role_name = allowed.rsplit("/", 1)[1]
    who = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{trusted}"
    assert invoke(lam, trusted, {"call": "whoami"}) == {"ok": who}
    assert invoke(lam, trusted, {"call": "create"}) == {
        "error": "AccessDeniedException",
        "status": 403,
        "message": f"User: {who} is not authorized to perform: apigateway:POST on resource: "
        "arn:aws:apigateway:us-east-1::/restapis with an explicit deny in an identity-based policy",
    }

    bare_who = f"arn:aws:sts::{ACCOUNT}:assumed-role/{bare.rsplit('/', 1)[1]}/{untrusted}"
    assert invoke(lam, untrusted, {"call": "list"}) == {
        "error": "AccessDeniedException",
        "status": 403,
        "message": f"User: {bare_who} is not authorized to perform: apigateway:GET on resource: "
        "arn:aws:apigateway:us-east-1::/restapis because no identity-based policy allows the apigateway:GET action",
    }
    denied = invoke(lam, untrusted, {"call": "invoke", "target": target})
    assert (denied["error"], denied["status"]) == ("AccessDeniedException", 403)
    assert f"lambda:InvokeFunction on resource: {target_arn}" in denied["message"]


def test_without_an_admin_key_functions_still_get_role_credentials(gateway: GatewayProcess) -> None:
    lam = gateway.client("lambda")
    name = create_function(lam, PROBE, Timeout=30)
    seen = invoke(
        lam, name, {"database": "/nonexistent", "data_dir": "/nonexistent", "other_code": "/nonexistent"}
    )
    aws = seen["aws"]
    assert aws["AWS_ACCESS_KEY_ID"].startswith("ASIA") and aws["AWS_SESSION_TOKEN"] not in ("", "test")
    # Without --admin-key the management API is open on loopback, so the function can call it, as before.
    assert invoke(lam, create_function(lam, CALLER, Timeout=30), {"call": "list"}).keys() == {"ok"}


def test_the_admin_key_from_a_file_stays_off_the_command_line(tmp_path: Path) -> None:
    key_file = tmp_path / "admin.key"
    key_file.write_text(":".join(FILE_ADMIN) + "\n")
    process = GatewayProcess(tmp_path / "data", ["--admin-key-file", str(key_file), "--workers", "2"])
    process.start()
    try:
        assert process.proc is not None
        cmdline = Path(f"/proc/{process.proc.pid}/cmdline").read_bytes().decode()
        assert FILE_ADMIN[1] not in cmdline
        assert client(process, "apigateway", FILE_ADMIN).get_rest_apis()["items"] == []
        with pytest.raises(ClientError) as caught:
            client(process, "apigateway", ADMIN).get_rest_apis()
        assert caught.value.response["Error"]["Code"] == "UnrecognizedClientException"
    finally:
        process.stop()


def run_serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "apigate.cli", "serve", "--port", "0", "--data-dir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "APIGATE_ADMIN_KEY"},
    )


def test_admin_key_sources_are_checked(tmp_path: Path) -> None:
    # On the command line: a warning (any local process can read it), then it is used. An unknown function
    # user ends the start right after, so the warning can be read without serving.
    warned = run_serve(tmp_path, "--admin-key", "a:b", "--function-user", "no-such-user-here")
    assert "--admin-key on the command line can be read by every process" in warned.stderr
    assert warned.returncode == 2 and "no such user" in warned.stderr
    both = run_serve(tmp_path, "--admin-key", "a:b", "--admin-key-file", str(tmp_path / "k"))
    assert both.returncode != 0 and "not both" in both.stderr
    (tmp_path / "bad.key").write_text("no-colon\n")
    bad = run_serve(tmp_path, "--admin-key-file", str(tmp_path / "bad.key"))
    assert bad.returncode != 0 and "--admin-key-file expects ACCESS_KEY_ID:SECRET" in bad.stderr
    missing = run_serve(tmp_path, "--admin-key-file", str(tmp_path / "absent.key"))
    assert missing.returncode != 0 and "cannot read --admin-key-file" in missing.stderr


def test_a_functions_credentials_are_renewed_before_they_expire(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import types

    from apigate.config import Settings
    from apigate.functions import directory as directory_module
    from apigate.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "apigate.db")
    functions = directory_module.FunctionDirectory(Settings(data_dir=tmp_path), store)
    try:
        code = functions.code.put("renewed", zip_code({"app.py": "def handler(e, c): return 1\n"}))
        store.put(
            "function",
            "renewed",
            {
                "FunctionArn": functions.arn("renewed"),
                "Handler": "app.handler",
                "Runtime": "python3.11",
                "CodeSha256": code.sha256_b64,
                "Timeout": 3,
                "MemorySize": 128,
                "Role": f"arn:aws:iam::{ACCOUNT}:role/renewed-role",
            },
        )
        first = functions.spec("renewed")
        assert first.credentials is not None
        assert functions.spec("renewed") is first  # no new session per call
        lifetime = first.credentials.expires_at - time.time()
        assert lifetime > directory_module.SESSION_SECONDS - 60
        # An hour before the end: a new session, so new workers (a new pool key), while the old one still holds.
        later = first.credentials.expires_at - directory_module.SESSION_RENEW_BEFORE_SECONDS + 1
        monkeypatch.setattr(directory_module, "time", types.SimpleNamespace(time=lambda: later))
        second = functions.spec("renewed")
        assert second.credentials is not None
        assert second.credentials.access_key_id != first.credentials.access_key_id
        assert second.worker_key != first.worker_key
        assert store.get("sts-session", first.credentials.access_key_id) is not None  # not yet expired
    finally:
        asyncio.run(functions.close())
        store.close()
