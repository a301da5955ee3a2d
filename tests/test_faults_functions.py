"""Functions that misbehave: the caller gets AWS's error, a broken worker is replaced, everyone else is served.

Every fault goes through a deployed REST API (AWS_PROXY) on a gateway whose function init budget is short
(``--function-init-timeout 3``), so that a module hanging on import costs seconds, not Lambda's ten.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
import requests

from helpers import ECHO_EVENT, GatewayProcess, RestApi, create_function, rss_mb, wait_for

T = TypeVar("T")

FAULTS = r"""
import os, sys, time

def lambda_handler(event, context):
    kind = event["pathParameters"]["kind"]
    if kind == "pid":
        return {"statusCode": 200, "body": str(os.getpid())}
    if kind == "raise":
        raise RuntimeError("kaput")
    if kind == "sleep":
        time.sleep(60)
    if kind == "hog":  # 300 MB touched, in a 128 MB function
        blob = bytearray(300 * 1024 * 1024)
        return {"statusCode": 200, "body": str(len(blob))}
    if kind == "hold":  # over the limit, then lingering: the poll must stop it before the timeout
        blob = b"x" * (200 * 1024 * 1024)
        time.sleep(60)
    if kind == "huge":  # far too much at once: the backstop refuses the allocation itself
        blob = bytearray(64 * 1024 ** 3)
    if kind == "exit":
        os._exit(7)
    if kind == "print":  # 100 MB of output
        line = "x" * (1024 * 1024 - 1) + "\n"
        for _ in range(100):
            sys.stdout.write(line)
        return {"statusCode": 200, "body": "printed"}
    if kind == "garbage":  # user code scribbling on the runtime's own channel
        os.write(int(sys.argv[1]), b"\xff" * 64)
        time.sleep(60)
    if kind == "big":  # over Lambda's 6 MB response limit
        return {"statusCode": 200, "body": "x" * (7 * 1024 * 1024)}
    return {"statusCode": 404, "body": kind}
"""


@pytest.fixture(scope="module")
def gateway(faults_gateway: GatewayProcess) -> GatewayProcess:
    return faults_gateway


@pytest.fixture(scope="module")
def lam(gateway: GatewayProcess) -> Any:
    return gateway.client("lambda")


@pytest.fixture(scope="module")
def faults(gateway: GatewayProcess, lam: Any) -> dict[str, str]:
    """The API's URLs: the faulty function, a well-behaved one, and a function that hangs on import."""
    faulty = create_function(lam, FAULTS, Timeout=2, MemorySize=128)
    chatty = create_function(
        lam, FAULTS, Timeout=60
    )  # the same code, with time to print 100 MB on a busy host
    echo = create_function(lam, ECHO_EVENT)
    hangs = create_function(lam, "import time\ntime.sleep(600)\n" + ECHO_EVENT, Timeout=1)
    api = RestApi(gateway.client("apigateway"), "faults")
    api.lambda_proxy("/f/{kind}", "GET", faulty)
    api.lambda_proxy("/chatty/{kind}", "GET", chatty)
    api.lambda_proxy("/echo", "GET", echo)
    api.lambda_proxy("/hangs", "GET", hangs)
    api.lambda_proxy("/hangs-short", "GET", hangs, timeoutInMillis=500)
    api.deploy()
    return {
        "faulty": faulty,
        "chatty": chatty,
        "hangs": hangs,
        "url": gateway.invoke_url(api.id, "test"),
    }


def _workers(gateway: GatewayProcess, function: str) -> set[int]:
    """Live worker processes of one function: those whose working directory is its code."""
    home = str(gateway.data_dir.resolve() / "functions" / function)
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/cwd").startswith(home):
                    found.add(int(entry))
            except OSError:  # gone, or a zombie waiting to be reaped
                continue
    return found


def _while_serving(url: str, fault: Callable[[], T]) -> T:
    """Run ``fault`` while another client keeps calling a healthy function: every one of its calls succeeds."""
    served = 0
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(fault)
        while True:
            answer = requests.get(f"{url}echo", timeout=10)
            assert answer.status_code == 200, answer.text
            served += 1
            if pending.done():
                break
        assert served >= 1
        return pending.result()


def _call(faults: dict[str, str], path: str, timeout: float = 10) -> requests.Response:
    """GET one path of the API while another client is being served."""
    return _while_serving(faults["url"], lambda: requests.get(f"{faults['url']}{path}", timeout=timeout))


def _warm_pid(url: str) -> int:
    answer = requests.get(f"{url}f/pid", timeout=10)
    assert answer.status_code == 200
    return int(answer.text)


def _assert_replaced(gateway: GatewayProcess, faults: dict[str, str], old_pid: int) -> None:
    wait_for(lambda: old_pid not in _workers(gateway, faults["faulty"]))
    assert _warm_pid(faults["url"]) != old_pid


def _internal_error(answer: requests.Response) -> None:
    assert answer.status_code == 502
    assert answer.json() == {"message": "Internal server error"}
    assert answer.headers["x-amzn-ErrorType"] == "InternalServerErrorException"


def _invoke(lam: Any, function: str, kind: str) -> tuple[str | None, Any]:
    answer = lam.invoke(
        FunctionName=function, Payload=json.dumps({"pathParameters": {"kind": kind}}).encode()
    )
    return answer.get("FunctionError"), json.loads(answer["Payload"].read())


def test_an_exception_is_502_and_keeps_the_worker(gateway: GatewayProcess, faults: dict[str, str]) -> None:
    pid = _warm_pid(faults["url"])
    _internal_error(_call(faults, "f/raise"))
    assert _warm_pid(faults["url"]) == pid  # a handled error does not cost the environment, as on AWS


def test_a_timeout_is_502_and_the_worker_is_killed(gateway: GatewayProcess, faults: dict[str, str]) -> None:
    pid = _warm_pid(faults["url"])
    _internal_error(_call(faults, "f/sleep"))
    _assert_replaced(gateway, faults, pid)


@pytest.mark.parametrize("kind", ["hog", "hold", "huge"])
def test_exceeding_memory_size_is_502_and_the_worker_is_replaced(
    gateway: GatewayProcess, faults: dict[str, str], lam: Any, kind: str
) -> None:
    pid = _warm_pid(faults["url"])
    _internal_error(_call(faults, f"f/{kind}"))
    _assert_replaced(gateway, faults, pid)
    error, document = _invoke(lam, faults["faulty"], kind)
    assert error == "Unhandled"
    assert document["errorType"] == "Runtime.OutOfMemory"
    assert document["errorMessage"].endswith(" Error: Runtime exited with error: signal: killed")
    log = (gateway.data_dir / "logs" / f"{faults['faulty']}.log").read_text()
    assert "Memory Size: 128 MB\tMax Memory Used: 128 MB" in log
    assert "Error Type: Runtime.OutOfMemory" in log


def test_os_exit_is_502_and_the_worker_is_replaced(gateway: GatewayProcess, faults: dict[str, str]) -> None:
    pid = _warm_pid(faults["url"])
    _internal_error(_call(faults, "f/exit"))
    _assert_replaced(gateway, faults, pid)


def test_printing_100_mb_keeps_the_log_and_the_gateway_bounded(
    gateway: GatewayProcess, faults: dict[str, str], lam: Any
) -> None:
    assert gateway.proc is not None
    log_file = gateway.data_dir / "logs" / f"{faults['chatty']}.log"
    assert requests.get(f"{faults['url']}chatty/pid", timeout=10).status_code == 200  # warm, and logging
    before_log = log_file.stat().st_size
    before_rss = rss_mb(gateway.proc.pid)
    answer = _call(faults, "chatty/print", 60)
    assert answer.status_code == 200 and answer.text == "printed"
    # The first 4 MiB are logged, then one notice; the invocation still ends with its END and REPORT lines.
    grown = log_file.stat().st_size - before_log
    assert 4 * 1024 * 1024 <= grown < 5 * 1024 * 1024
    with log_file.open("rb") as log:
        log.seek(before_log)
        block = log.read()
    assert block.count(b"output truncated") == 1
    assert block.rstrip().splitlines()[-1].startswith(b"REPORT RequestId: ")
    assert rss_mb(gateway.proc.pid) < before_rss + 64  # the 100 MB streamed through, never held
    # LogType=Tail still shows the newest output, whatever was dropped before it.
    tail = lam.invoke(
        FunctionName=faults["chatty"], Payload=b'{"pathParameters": {"kind": "print"}}', LogType="Tail"
    )
    assert "FunctionError" not in tail
    shown = base64.b64decode(tail["LogResult"]).decode()
    assert "x" * 1000 in shown and "\nREPORT RequestId: " in shown


def test_garbage_on_the_runtime_channel_is_502_and_the_worker_is_replaced(
    gateway: GatewayProcess, faults: dict[str, str]
) -> None:
    pid = _warm_pid(faults["url"])
    _internal_error(_call(faults, "f/garbage"))
    _assert_replaced(gateway, faults, pid)


def test_a_response_over_6_mb_is_502(gateway: GatewayProcess, faults: dict[str, str], lam: Any) -> None:
    pid = _warm_pid(faults["url"])
    _internal_error(_call(faults, "f/big"))
    assert _warm_pid(faults["url"]) == pid  # Lambda refuses the payload, the environment lives on
    assert _invoke(lam, faults["faulty"], "big") == (
        "Unhandled",
        {
            "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
            "errorType": "Function.ResponseSizeTooLarge",
        },
    )


def test_hanging_on_import_times_out_and_leaves_no_worker(
    gateway: GatewayProcess, faults: dict[str, str]
) -> None:
    # The init budget (3 s here, 10 s on Lambda) runs out, the init is retried within the call against the
    # function's own 1 s timeout, and that times out too: a function error, 502.
    _internal_error(_call(faults, "hangs"))
    wait_for(lambda: not _workers(gateway, faults["hangs"]))
    # An integration timeout shorter than that is the gateway's 504; the worker is killed all the same.
    short = requests.get(f"{faults['url']}hangs-short", timeout=10)
    assert short.status_code == 504
    assert short.json() == {"message": "Endpoint request timed out"}
    wait_for(lambda: not _workers(gateway, faults["hangs"]))
    log = (gateway.data_dir / "logs" / f"{faults['hangs']}.log").read_text()
    assert "Phase: init\tStatus: timeout" in log and "Phase: invoke\tStatus: timeout" in log
    assert " Task timed out after 1.00 seconds\n" in log
