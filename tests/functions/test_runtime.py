"""The Lambda execution model against real worker processes: no mocks, the gateway side on a real event loop."""

from __future__ import annotations

import asyncio
import io
import json
import os
import textwrap
import time
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

import apigate.functions
from apigate.functions import CodeStore, FunctionRuntime, FunctionSpec, InvokeResult

ENDPOINT = "http://127.0.0.1:4566"

HANDLERS = """
import json, os, sys, time, subprocess

calls = 0

def echo(event, context):
    return {"event": event, "pid": os.getpid()}

def counter(event, context):
    global calls
    calls += 1
    return {"calls": calls, "pid": os.getpid()}

def context_fields(event, context):
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "identity": context.identity.cognito_identity_id,
        "client_context": context.client_context,
        "cwd": os.getcwd(),
        "path0": sys.path[0],
    }

def environment(event, context):
    return dict(os.environ)

def boom(event, context):
    raise ValueError("boom")

def unmarshallable(event, context):
    return {1, 2}

def sleepy(event, context):
    time.sleep(event.get("sleep", 0))
    return {"pid": os.getpid()}

def gathered(event, context):
    # A barrier among concurrent calls: each marks itself, then waits for the others (or gives up).
    folder = event["folder"]
    open(os.path.join(folder, str(os.getpid())), "w").close()
    deadline = time.monotonic() + 60
    while len(os.listdir(folder)) < event["count"] and time.monotonic() < deadline:
        time.sleep(0.005)
    return {"pid": os.getpid(), "met": len(os.listdir(folder)) >= event["count"]}

def exit3(event, context):
    os._exit(3)

def exit0(event, context):
    sys.exit(0)

def chatty(event, context):
    print("hello from", context.aws_request_id)
    print("to stderr", file=sys.stderr)
    return "done"

def mixed(event, context):
    if event.get("touch"):
        open(event["touch"], "w").close()
    if event.get("print"):
        print("printed by", context.aws_request_id)
    if event.get("print_bytes"):
        sys.stdout.write("x" * event["print_bytes"] + "\\n")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("exit"):
        os._exit(event["exit"])
    return {"id": context.aws_request_id, "pid": os.getpid()}

def grandchild(event, context):
    child = subprocess.Popen(["sleep", "30"])
    return {"pid": os.getpid(), "grandchild": child.pid}
"""


def _code(tmp_path: Path, source: str = HANDLERS, module: str = "lambda_function.py") -> Path:
    code_dir = tmp_path / "code"
    code_dir.mkdir(exist_ok=True)
    (code_dir / module).write_text(textwrap.dedent(source))
    return code_dir


def _spec(code_dir: Path, handler: str, **overrides: Any) -> FunctionSpec:
    fields: dict[str, Any] = {
        "name": "fn",
        "arn": "arn:aws:lambda:eu-west-1:123456789012:function:fn",
        "handler": f"lambda_function.{handler}" if "." not in handler else handler,
        "runtime": "python3.11",
        "code_dir": code_dir,
        "code_sha": "sha-1",
        "region": "eu-west-1",
        "account_id": "123456789012",
    }
    fields.update(overrides)
    return FunctionSpec(**fields)


def _run(tmp_path: Path, body: Callable[[FunctionRuntime], Awaitable[None]], **options: Any) -> None:
    async def main() -> None:
        runtime = FunctionRuntime(tmp_path / "logs", ENDPOINT, **options)
        try:
            await body(runtime)
        finally:
            await runtime.close()

    asyncio.run(main())


def _json(result: InvokeResult) -> Any:
    return json.loads(result.payload)


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"  # a zombie left to init is gone too
    except FileNotFoundError:
        return True


def _is_gone(pid: int, reaped: bool) -> bool:
    # Our workers must be reaped (no /proc entry); their children may linger as zombies of init.
    return not os.path.exists(f"/proc/{pid}") if reaped else _gone(pid)


async def _wait_gone(pid: int, reaped: bool = True) -> None:
    """Inside the loop: reaping happens on the loop, so wait without blocking it."""
    for _ in range(150):
        if _is_gone(pid, reaped):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"process {pid} still exists")


def _assert_gone(pid: int, reaped: bool = True) -> None:
    deadline = time.monotonic() + 3
    while not _is_gone(pid, reaped):
        assert time.monotonic() < deadline, f"process {pid} still exists"
        time.sleep(0.02)


def test_public_interface_is_pinned() -> None:
    assert sorted(apigate.functions.__all__) == sorted(
        [
            "RESERVED_ENVIRONMENT_KEYS",
            "CodeInfo",
            "CodeNotFoundError",
            "CodeStore",
            "FunctionRuntime",
            "FunctionSpec",
            "InvalidZipError",
            "InvokeResult",
            "InvokeStatus",
            "PoolClosedError",
            "WorkerStartError",
        ]
    )
    for name in apigate.functions.__all__:
        assert getattr(apigate.functions, name) is not None


def test_handler_result_and_event(tmp_path: Path) -> None:
    spec = _spec(_code(tmp_path), "echo")

    async def body(runtime: FunctionRuntime) -> None:
        result = await runtime.invoke(spec, b'{"a": [1, "\xc3\xa9"]}', request_id="req-1")
        assert result.status == "ok"
        assert result.function_error is None
        assert result.request_id == "req-1"
        assert _json(result)["event"] == {"a": [1, "é"]}
        assert result.payload.startswith(b'{"event": {"a": [1, "\\u00e9"]}')  # AWS's encoder, spaces included
        assert result.duration_ms >= 0
        empty = await runtime.invoke(spec, b"")
        assert _json(empty)["event"] == {}

    _run(tmp_path, body)


def test_context_object(tmp_path: Path) -> None:
    code_dir = _code(tmp_path)
    spec = _spec(code_dir, "context_fields", memory_size=256, timeout=5)

    async def body(runtime: FunctionRuntime) -> None:
        result = _json(await runtime.invoke(spec, b"{}", request_id="4a3c1b52-0000-4000-8000-000000000001"))
        assert result["function_name"] == "fn"
        assert result["function_version"] == "$LATEST"
        assert result["invoked_function_arn"] == spec.arn
        assert result["memory_limit_in_mb"] == "256"  # a string, as on AWS
        assert result["aws_request_id"] == "4a3c1b52-0000-4000-8000-000000000001"
        assert result["log_group_name"] == "/aws/lambda/fn"
        assert result["log_stream_name"].startswith(time.strftime("%Y/%m/", time.gmtime()))
        assert "/[$LATEST]" in result["log_stream_name"]
        assert 0 < result["remaining"] <= 5000
        assert result["identity"] is None and result["client_context"] is None
        assert result["cwd"] == str(code_dir) == result["path0"]
        alias = await runtime.invoke(spec, b"{}", invoked_arn=f"{spec.arn}:live")
        assert _json(alias)["invoked_function_arn"] == f"{spec.arn}:live"

    _run(tmp_path, body)


def test_environment_is_lambdas_not_the_gateways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_SECRET", "do-not-leak")
    env = {"TABLE": "users", "AWS_REGION": "mars-1", "LANG": "C.UTF-8"}
    spec = _spec(_code(tmp_path), "environment", environment=env, memory_size=512)

    async def body(runtime: FunctionRuntime) -> None:
        seen = _json(await runtime.invoke(spec, b"{}"))
        assert "GATEWAY_SECRET" not in seen
        assert seen["TABLE"] == "users"
        assert seen["LANG"] == "C.UTF-8"  # not reserved: the function's value wins
        assert seen["AWS_REGION"] == seen["AWS_DEFAULT_REGION"] == "eu-west-1"  # reserved: ours wins
        assert seen["AWS_ENDPOINT_URL"] == ENDPOINT
        assert seen["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
        assert seen["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
        assert seen["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
        assert seen["_HANDLER"] == "lambda_function.environment"
        assert seen["LAMBDA_TASK_ROOT"] == str(spec.code_dir)
        assert seen["TZ"] == ":UTC"
        assert seen["AWS_ACCESS_KEY_ID"] == "test"

    _run(tmp_path, body)


def test_warm_worker_keeps_module_state(tmp_path: Path) -> None:
    spec = _spec(_code(tmp_path), "counter")

    async def body(runtime: FunctionRuntime) -> None:
        first = await runtime.invoke(spec, b"{}")
        second = await runtime.invoke(spec, b"{}")
        assert _json(first)["calls"] == 1
        assert _json(second) == {"calls": 2, "pid": _json(first)["pid"]}
        assert "Init Duration" in first.log_tail
        assert "Init Duration" not in second.log_tail

    _run(tmp_path, body)


def test_exception_is_an_unhandled_error(tmp_path: Path) -> None:
    spec = _spec(_code(tmp_path, "def boom(event, context):\n    raise ValueError('boom')\n"), "boom")

    async def body(runtime: FunctionRuntime) -> None:
        result = await runtime.invoke(spec, b"{}", request_id="req-9")
        assert result.status == "error"
        assert result.function_error == "Unhandled"
        error = _json(result)
        assert error["errorMessage"] == "boom"
        assert error["errorType"] == "ValueError"
        assert error["requestId"] == "req-9"
        path = spec.code_dir / "lambda_function.py"
        assert error["stackTrace"] == [f"  File \"{path}\", line 2, in boom\n    raise ValueError('boom')\n"]
        assert "[ERROR] ValueError: boom" in result.log_tail
        again = await runtime.invoke(spec, b"{}")  # the worker survives a handled exception
        assert again.status == "error"

    _run(tmp_path, body)


def test_unmarshallable_result(tmp_path: Path) -> None:
    spec = _spec(_code(tmp_path), "unmarshallable")

    async def body(runtime: FunctionRuntime) -> None:
        error = _json(await runtime.invoke(spec, b"{}"))
        assert error["errorType"] == "Runtime.MarshalError"
        assert (
            error["errorMessage"] == "Unable to marshal response: Object of type set is not JSON serializable"
        )

    _run(tmp_path, body)


@pytest.mark.parametrize(
    ("source", "handler", "error_type", "message"),
    [
        (
            "import not_installed_anywhere\n",
            "lambda_function.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'lambda_function': No module named 'not_installed_anywhere'",
        ),
        (
            "def handler(event, context):\n    return 1\n",
            "lambda_function.nope",
            "Runtime.HandlerNotFound",
            "Handler 'nope' missing on module 'lambda_function'",
        ),
        (
            "def handler(event, context)\n    return 1\n",
            "lambda_function.handler",
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module 'lambda_function': expected ':'",
        ),
        (
            "raise KeyError('setting')\n",
            "lambda_function.handler",
            "KeyError",
            "'setting'",
        ),
    ],
)
def test_init_errors(tmp_path: Path, source: str, handler: str, error_type: str, message: str) -> None:
    spec = _spec(_code(tmp_path, source), handler)

    async def body(runtime: FunctionRuntime) -> None:
        result = await runtime.invoke(spec, b"{}")
        assert result.status == "error"
        assert result.function_error == "Unhandled"
        error = _json(result)
        assert error["errorType"] == error_type
        assert error["errorMessage"].startswith(message)
        assert error["requestId"] == ""  # AWS reports init errors outside any request
        assert f"Status: error\tError Type: {error_type}" in result.log_tail
        assert (await runtime.invoke(spec, b"{}")).status == "error"  # and retries the init next time

    _run(tmp_path, body)


def test_handler_in_a_package_path(tmp_path: Path) -> None:
    code_dir = tmp_path / "code"
    (code_dir / "src" / "app").mkdir(parents=True)
    (code_dir / "src" / "app" / "main.py").write_text("def handler(event, context):\n    return 'nested'\n")
    spec = _spec(code_dir, "src/app/main.handler")

    async def body(runtime: FunctionRuntime) -> None:
        assert (await runtime.invoke(spec, b"{}")).payload == b'"nested"'
        dotted = _spec(code_dir, "src.app.main.handler", code_sha="sha-2")
        assert (await runtime.invoke(dotted, b"{}")).payload == b'"nested"'

    _run(tmp_path, body)


def test_timeout_kills_the_worker(tmp_path: Path) -> None:
    spec = _spec(_code(tmp_path), "sleepy", timeout=1)

    async def body(runtime: FunctionRuntime) -> None:
        warm = _json(await runtime.invoke(spec, b"{}"))["pid"]
        started = time.monotonic()
        result = await runtime.invoke(spec, b'{"sleep": 5}', request_id="req-slow")
        assert time.monotonic() - started < 2.5
        assert result.status == "timeout"
        assert result.function_error == "Unhandled"
        error = _json(result)
        assert list(error) == ["errorMessage"]
        assert error["errorMessage"].endswith(" req-slow Task timed out after 1.00 seconds")
        assert error["errorMessage"][:4].isdigit() and "Z req-slow" in error["errorMessage"]
        assert "Status: timeout" in result.log_tail
        await _wait_gone(warm)
        after = await runtime.invoke(spec, b"{}")
        assert after.status == "ok"
        assert _json(after)["pid"] != warm

    _run(tmp_path, body)


def test_init_timeout(tmp_path: Path) -> None:
    # Over the init budget, Lambda retries the init inside the invocation, against the function's timeout.
    spec = _spec(_code(tmp_path, "import time\ntime.sleep(30)\n"), "lambda_function.handler", timeout=1)

    async def body(runtime: FunctionRuntime) -> None:
        result = await runtime.invoke(spec, b"{}")
        assert result.status == "timeout"
        assert _json(result)["errorMessage"].endswith("Task timed out after 1.00 seconds")
        assert "Phase: init\tStatus: timeout" in result.log_tail
        assert "Phase: invoke\tStatus: timeout" in result.log_tail

    _run(tmp_path, body, init_timeout=0.5)


def test_memory_is_the_workers_own_not_the_gateways(tmp_path: Path) -> None:
    # Linux carries a parent's peak RSS across fork and exec: a gateway bigger than a function's MemorySize
    # must not make that function's every call look out of memory.
    ballast = b"x" * (256 * 1024 * 1024)  # this process stands for the gateway
    spec = _spec(_code(tmp_path), "echo", memory_size=128)

    async def body(runtime: FunctionRuntime) -> None:
        for _ in range(2):
            result = await runtime.invoke(spec, b"{}")
            assert result.status == "ok"
            used = int(result.log_tail.split("Max Memory Used: ")[1].split()[0])
            assert 1 < used < 128

    _run(tmp_path, body)
    assert len(ballast) == 256 * 1024 * 1024


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        ("exit3", "Runtime exited with error: exit status 3"),
        ("exit0", "Runtime exited without providing a reason"),
    ],
)
def test_worker_exit_is_an_exit_error(tmp_path: Path, handler: str, reason: str) -> None:
    spec = _spec(_code(tmp_path), handler)
    fine = _spec(spec.code_dir, "echo")

    async def body(runtime: FunctionRuntime) -> None:
        result = await runtime.invoke(spec, b"{}", request_id="req-x")
        assert result.status == "crashed"
        assert result.function_error == "Unhandled"
        assert _json(result) == {
            "errorMessage": f"RequestId: req-x Error: {reason}",
            "errorType": "Runtime.ExitError",
        }
        assert "Runtime.ExitError" in result.log_tail
        again = await runtime.invoke(spec, b"{}")  # a fresh worker, which exits the same way
        assert again.status == "crashed"
        assert (await runtime.invoke(fine, b"{}")).status == "ok"

    _run(tmp_path, body)


def test_output_goes_to_the_function_log(tmp_path: Path) -> None:
    spec = _spec(_code(tmp_path), "chatty")

    async def body(runtime: FunctionRuntime) -> None:
        result = await runtime.invoke(spec, b"{}", request_id="req-log")
        assert "hello from req-log\nto stderr\n" in result.log_tail
        await runtime.invoke(spec, b"{}", request_id="req-log-2")

    _run(tmp_path, body)
    lines = (tmp_path / "logs" / "fn.log").read_text().splitlines()
    assert lines[0].startswith("INIT_START Runtime Version: python:3.11")
    start = lines.index("START RequestId: req-log Version: $LATEST")
    assert lines[start + 1 : start + 4] == ["hello from req-log", "to stderr", "END RequestId: req-log"]
    report = lines[start + 4].split("\t")
    assert report[0] == "REPORT RequestId: req-log"
    assert report[1].startswith("Duration: ") and report[1].endswith(" ms")
    assert report[2].startswith("Billed Duration: ")
    assert report[3] == "Memory Size: 128 MB"
    assert report[4].startswith("Max Memory Used: ") and int(report[4].split()[3]) > 1
    assert report[5].startswith("Init Duration: ")
    assert lines[start + 5 :] == [
        "START RequestId: req-log-2 Version: $LATEST",
        "hello from req-log-2",
        "to stderr",
        "END RequestId: req-log-2",
        lines[-1],
    ]
    assert lines[-1].startswith("REPORT RequestId: req-log-2\tDuration: ")


def test_concurrent_invocations_get_workers_of_their_own(tmp_path: Path) -> None:
    """Four calls that can only end together (a barrier in the function) each get a worker of their own."""
    spec = _spec(_code(tmp_path), "gathered")
    folder = tmp_path / "barrier"
    folder.mkdir()
    event = json.dumps({"folder": str(folder), "count": 4}).encode()

    async def body(runtime: FunctionRuntime) -> None:
        results = await asyncio.gather(*(runtime.invoke(spec, event) for _ in range(4)))
        assert [r.status for r in results] == ["ok"] * 4
        assert all(_json(r)["met"] for r in results)
        assert len({_json(r)["pid"] for r in results}) == 4

    _run(tmp_path, body, max_workers_per_function=8)


def test_one_worker_runs_calls_one_after_another(tmp_path: Path) -> None:
    spec = _spec(_code(tmp_path), "sleepy")

    async def body(runtime: FunctionRuntime) -> None:
        started = time.monotonic()
        results = await asyncio.gather(*(runtime.invoke(spec, b'{"sleep": 0.3}') for _ in range(4)))
        assert [r.status for r in results] == ["ok"] * 4
        assert len({_json(r)["pid"] for r in results}) == 1
        assert time.monotonic() - started >= 1.2  # one after the other

    _run(tmp_path, body, max_workers_per_function=1)


def test_new_code_gets_new_workers(tmp_path: Path) -> None:
    store = CodeStore(tmp_path / "code-store")

    def upload(version: str) -> FunctionSpec:
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr(
                "lambda_function.py",
                f"import os\ndef handler(event, context):\n    return ['{version}', os.getpid()]\n",
            )
        info = store.put("fn", archive.getvalue())
        return _spec(info.code_dir, "handler", code_sha=info.sha256_b64)

    v1, v2 = upload("v1"), upload("v2")

    async def body(runtime: FunctionRuntime) -> None:
        old_version, old_pid = _json(await runtime.invoke(v1, b"{}"))
        new_version, new_pid = _json(await runtime.invoke(v2, b"{}"))
        assert (old_version, new_version) == ("v1", "v2")
        assert new_pid != old_pid
        await _wait_gone(old_pid)  # the old configuration's idle worker is retired
        configured = _spec(v2.code_dir, "handler", code_sha=v2.code_sha, environment={"X": "1"})
        assert _json(await runtime.invoke(configured, b"{}"))[1] != new_pid  # config change: new worker too

    _run(tmp_path, body)


def test_retire_and_close_leave_no_processes(tmp_path: Path) -> None:
    spec = _spec(_code(tmp_path), "grandchild")
    other = _spec(spec.code_dir, "sleepy", name="other")
    pids: list[int] = []
    grandchildren: list[int] = []

    async def body(runtime: FunctionRuntime) -> None:
        first = _json(await runtime.invoke(spec, b"{}"))
        await runtime.retire("fn")
        await _wait_gone(first["pid"])
        await _wait_gone(first["grandchild"], reaped=False)  # its process group went with it
        results = await asyncio.gather(*(runtime.invoke(spec, b"{}") for _ in range(2)))
        for result in results:
            pids.append(_json(result)["pid"])
            grandchildren.append(_json(result)["grandchild"])
        pids.append(_json(await runtime.invoke(other, b"{}"))["pid"])
        busy = asyncio.ensure_future(runtime.invoke(other, b'{"sleep": 5}'))
        await asyncio.sleep(0.1)
        await runtime.close()
        assert (await busy).status == "crashed"
        with pytest.raises(RuntimeError):
            await runtime.invoke(spec, b"{}")

    _run(tmp_path, body)
    for pid in pids:
        _assert_gone(pid)
    for pid in grandchildren:
        _assert_gone(pid, reaped=False)


def test_runs_on_uvloop(tmp_path: Path) -> None:
    uvloop = pytest.importorskip("uvloop")
    spec = _spec(_code(tmp_path), "sleepy", timeout=1)

    async def main() -> None:
        runtime = FunctionRuntime(tmp_path / "logs", ENDPOINT)
        try:
            first = await runtime.invoke(spec, b"{}")
            assert _json(first) == _json(await runtime.invoke(spec, b"{}"))
            assert (await runtime.invoke(spec, b'{"sleep": 3}')).status == "timeout"
            assert (await runtime.invoke(spec, b"{}")).status == "ok"
        finally:
            await runtime.close()

    uvloop.run(main())


def test_cancelled_invocation_costs_its_worker(tmp_path: Path) -> None:
    spec = _spec(_code(tmp_path), "sleepy")

    async def body(runtime: FunctionRuntime) -> None:
        pid = _json(await runtime.invoke(spec, b"{}"))["pid"]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(runtime.invoke(spec, b'{"sleep": 5}'), 0.2)
        await _wait_gone(pid)
        assert _json(await runtime.invoke(spec, b"{}"))["pid"] != pid

    _run(tmp_path, body, max_workers_per_function=1)


def test_worker_that_cannot_start(tmp_path: Path) -> None:
    from apigate.functions import WorkerStartError

    spec = _spec(tmp_path / "missing", "handler")

    async def body(runtime: FunctionRuntime) -> None:
        for _ in range(2):  # the slot is given back each time
            with pytest.raises(WorkerStartError):
                await runtime.invoke(spec, b"{}")

    _run(tmp_path, body, max_workers_per_function=1)


def _children() -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid():
                children.append(int(entry))
    return children


def test_close_during_cold_starts(tmp_path: Path) -> None:
    spec = _spec(_code(tmp_path), "sleepy")
    # This process's children from before (a gateway another test of this process left running for the
    # session, as under pytest-xdist) are not the runtime's.
    others = _children()

    async def main() -> None:
        runtime = FunctionRuntime(tmp_path / "logs", ENDPOINT)
        calls = [asyncio.ensure_future(runtime.invoke(spec, b'{"sleep": 1}')) for _ in range(3)]
        await asyncio.sleep(0.01)
        await runtime.close()
        for outcome in await asyncio.gather(*calls, return_exceptions=True):
            assert isinstance(outcome, RuntimeError) or outcome.status == "crashed"  # type: ignore[union-attr]

    asyncio.run(main())
    assert [pid for pid in _children() if pid not in others] == []


def test_on_one_core_a_short_call_is_answered_in_place(tmp_path: Path) -> None:
    # A gateway pinned to one core waits for a short call's reply right after sending it (the worker runs
    # while it blocks): the same results, logs, timeouts and crashes as through the event loop.
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("needs Linux's CPU affinity")
    code = _code(tmp_path)
    chatty, sleepy = _spec(code, "chatty", timeout=1), _spec(code, "sleepy", name="sleepy", timeout=1)
    boom, exit3 = _spec(code, "boom", name="boom"), _spec(code, "exit3", name="exit3")
    cores = os.sched_getaffinity(0)

    async def body(runtime: FunctionRuntime) -> None:
        assert runtime._wait_ms > 0  # the synchronous wait is on
        for n in range(3):
            result = await runtime.invoke(chatty, b"{}", request_id=f"req-{n}")
            assert (result.status, _json(result)) == ("ok", "done")
            assert f"hello from req-{n}\nto stderr\nEND RequestId: req-{n}\n" in result.log_tail
        assert (await runtime.invoke(boom, b"{}")).function_error == "Unhandled"
        assert (await runtime.invoke(boom, b"{}")).status == "error"
        warm = _json(await runtime.invoke(sleepy, b"{}"))["pid"]
        assert _json(await runtime.invoke(sleepy, b'{"sleep": 0.05}'))["pid"] == warm  # past the wait: async
        assert (await runtime.invoke(sleepy, b'{"sleep": 5}')).status == "timeout"
        assert (await runtime.invoke(sleepy, b"{}")).status == "ok"
        for _ in range(2):
            assert (await runtime.invoke(exit3, b"{}")).status == "crashed"
        results = await asyncio.gather(*(runtime.invoke(chatty, b"{}") for _ in range(20)))
        assert {r.status for r in results} == {"ok"}

    os.sched_setaffinity(0, {min(cores)})
    try:
        _run(tmp_path, body)
    finally:
        os.sched_setaffinity(0, cores)
    log = (tmp_path / "logs" / "fn.log").read_text()
    for n in range(3):
        assert (
            f"START RequestId: req-{n} Version: $LATEST\nhello from req-{n}\nto stderr\nEND RequestId: req-{n}\n"
            in log
        )


def test_on_one_core_concurrent_calls_go_to_a_worker_in_batches(tmp_path: Path) -> None:
    # Pinned to one core, calls invoked in the same turn of the loop reach a warm worker in one write and
    # are run one after another (frames.py). Each call keeps its own result and its own log block, output
    # included; a call that times out or crashes costs the worker, and the calls behind it run on a new one.
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("needs Linux's CPU affinity")
    spec = _spec(_code(tmp_path), "mixed", timeout=1)
    cores = os.sched_getaffinity(0)
    batches: list[int] = []

    async def round_of(runtime: FunctionRuntime, events: list[dict[str, Any]], tag: str) -> list[InvokeResult]:
        ids = [f"{tag}-{n}" for n in range(len(events))]
        results = await asyncio.gather(
            *(runtime.invoke(spec, json.dumps(e).encode(), request_id=i) for e, i in zip(events, ids, strict=True))
        )
        for result, request_id in zip(results, ids, strict=True):
            if result.status == "ok":
                assert _json(result)["id"] == request_id
        return list(results)

    async def body(runtime: FunctionRuntime) -> None:
        serve_batch = runtime._serve_batch

        def counted(worker: Any, calls: list[Any]) -> None:
            batches.append(len(calls))
            serve_batch(worker, calls)

        runtime._serve_batch = counted  # type: ignore[method-assign]  # (pools made from now on use it)
        assert (await runtime.invoke(spec, b"{}")).status == "ok"  # warm
        quiet_and_chatty = [{"print": n % 3 == 0} for n in range(24)]
        for n in range(6):
            results = await round_of(runtime, quiet_and_chatty, f"mix{n}")
            assert {r.status for r in results} == {"ok"}
        assert batches and max(batches) > 1
        big = [{}, {}, {"print_bytes": 3_000_000}, {}, {"print": True}, {}]
        results = await round_of(runtime, big, "big")
        assert [r.status for r in results] == ["ok"] * 6
        timeout = [{}, {}, {"sleep": 5}, {}, {}]
        await round_of(runtime, [{}] * 4, "warm")
        results = await round_of(runtime, timeout, "slow")
        assert [r.status for r in results] == ["ok", "ok", "timeout", "ok", "ok"]
        assert "Task timed out after 1.00 seconds" in _json(results[2])["errorMessage"]
        crash = [{}, {}, {"exit": 3}, {}, {}]
        await round_of(runtime, [{}] * 4, "warm2")
        results = await round_of(runtime, crash, "crash")
        assert [r.status for r in results] == ["ok", "ok", "crashed", "ok", "ok"]
        assert "exit status 3" in _json(results[2])["errorMessage"]
        after = await round_of(runtime, [{}] * 8, "after")
        assert {r.status for r in after} == {"ok"}

    os.sched_setaffinity(0, {min(cores)})
    try:
        _run(tmp_path, body)
    finally:
        os.sched_setaffinity(0, cores)
    log = (tmp_path / "logs" / "fn.log").read_text()
    for n in range(6):
        for index in range(24):
            request_id = f"mix{n}-{index}"
            printed = f"printed by {request_id}\n" if index % 3 == 0 else ""
            assert f"START RequestId: {request_id} Version: $LATEST\n{printed}END RequestId: {request_id}\n" in log
            assert log.count(f"START RequestId: {request_id} ") == 1
            assert log.count(f"REPORT RequestId: {request_id}\t") == 1
    assert "START RequestId: big-2 Version: $LATEST\nxxxx" in log
    assert "x\nEND RequestId: big-2\n" in log
    assert "START RequestId: big-4 Version: $LATEST\nprinted by big-4\nEND RequestId: big-4\n" in log
    assert log.count("printed by") == 6 * 8 + 1
    for request_id in ("slow-2", "crash-2"):
        assert log.count(f"START RequestId: {request_id} ") == 1
        assert log.count(f"REPORT RequestId: {request_id}\t") == 1
    for request_id in ("slow-3", "slow-4", "crash-3", "crash-4"):
        assert f"START RequestId: {request_id} Version: $LATEST\nEND RequestId: {request_id}\n" in log
        assert log.count(f"START RequestId: {request_id} ") == 1


def test_on_one_core_close_ends_a_batch_and_the_calls_behind_it(tmp_path: Path) -> None:
    # close() during a batch: the running call ends as crashed, the calls behind it (never started) fail
    # with the runtime's closing error instead of waiting for a worker that will not come.
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("needs Linux's CPU affinity")
    spec = _spec(_code(tmp_path), "mixed", timeout=30)
    marker = tmp_path / "started"
    cores = os.sched_getaffinity(0)
    others = _children()  # processes earlier tests in this process left (not this runtime's)

    async def main() -> list[Any]:
        runtime = FunctionRuntime(tmp_path / "logs", ENDPOINT)
        try:
            assert (await runtime.invoke(spec, b"{}")).status == "ok"  # warm
            await asyncio.gather(*(runtime.invoke(spec, b"{}") for _ in range(4)))  # batching is on
            events = [{"touch": str(marker), "sleep": 30}, {}, {}, {}]
            calls = asyncio.gather(
                *(runtime.invoke(spec, json.dumps(e).encode()) for e in events), return_exceptions=True
            )
            deadline = time.monotonic() + 30
            while not marker.exists() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert marker.exists()
        finally:
            await runtime.close()
        return list(await asyncio.wait_for(calls, 30))

    os.sched_setaffinity(0, {min(cores)})
    try:
        outcomes = asyncio.run(main())
    finally:
        os.sched_setaffinity(0, cores)
    assert outcomes[0].status == "crashed"
    for outcome in outcomes[1:]:
        assert isinstance(outcome, RuntimeError) or outcome.status in ("ok", "crashed")
    assert [pid for pid in _children() if pid not in others] == []


def test_a_large_event_reaches_the_handler_whole(tmp_path: Path) -> None:
    # Far larger than the request pipe: the worker reads it in pieces and runs it once, whole.
    spec = _spec(_code(tmp_path), "echo")
    event = {"blob": "x" * (5 * 1024 * 1024), "tail": "end"}

    async def body(runtime: FunctionRuntime) -> None:
        for _ in range(2):
            result = await runtime.invoke(spec, json.dumps(event).encode())
            assert result.status == "ok"
            echoed = _json(result)["event"]
            assert len(echoed["blob"]) == 5 * 1024 * 1024 and echoed["tail"] == "end"

    _run(tmp_path, body)
