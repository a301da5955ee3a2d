"""A gateway pinned to one core (as benchmarks/run.py runs it): concurrent AWS_PROXY calls to a Python function
reach its warm worker in batches (functions/frames.py). Every caller still gets its own answer, and every
invocation its own START..REPORT block in /aws/lambda/{name}, with what it printed inside it."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
import requests

from helpers import GatewayProcess, create_function, lambda_uri, log_lines, wait_for

SOURCE = """
import json
def lambda_handler(event, context):
    if (event.get("queryStringParameters") or {}).get("print"):
        print("printed by", context.aws_request_id)
    return {"statusCode": 200, "body": json.dumps({"id": context.aws_request_id})}
"""

CLIENTS = 8
CALLS = 24  # per client


@pytest.fixture(scope="module")
def one_core_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("needs Linux's CPU affinity")
    cores = os.sched_getaffinity(0)
    process = GatewayProcess(tmp_path_factory.mktemp("one-core-data"))
    os.sched_setaffinity(0, {max(cores)})  # the gateway inherits it, and its workers from it
    try:
        process.start()
    finally:
        os.sched_setaffinity(0, cores)
    yield process
    process.stop()


def test_concurrent_calls_on_one_core_keep_their_answers_and_their_logs(
    one_core_gateway: GatewayProcess,
) -> None:
    gateway = one_core_gateway
    lam, apigw = gateway.client("lambda"), gateway.client("apigateway")
    name = create_function(lam, SOURCE)
    api = apigw.create_rest_api(name=name)["id"]
    root = apigw.get_resources(restApiId=api)["items"][0]["id"]
    apigw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigw.put_integration(
        restApiId=api, resourceId=root, httpMethod="GET", type="AWS_PROXY", integrationHttpMethod="POST",
        uri=lambda_uri(name),
    )  # fmt: skip
    apigw.create_deployment(restApiId=api, stageName="s")
    url = gateway.invoke_url(api, "s", "/")
    assert requests.get(url, timeout=30).status_code == 200  # warm

    answers: dict[str, bool] = {}  # request id -> printed
    failures: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        with requests.Session() as session:
            for call in range(CALLS):
                printed = (number + call) % 3 == 0
                answer = session.get(url, params={"print": "1"} if printed else None, timeout=30)
                with lock:
                    if answer.status_code != 200:
                        failures.append(f"{answer.status_code} {answer.text}")
                    else:
                        answers[answer.json()["id"]] = printed

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    assert len(answers) == CLIENTS * CALLS  # every caller got its own invocation's answer

    group = f"/aws/lambda/{name}"
    wait_for(lambda: sum(line.startswith("REPORT ") for line in log_lines(gateway, group)) > CLIENTS * CALLS)
    lines = [line.rstrip("\n") for line in log_lines(gateway, group)]
    starts = {line.split()[2]: index for index, line in enumerate(lines) if line.startswith("START ")}
    for request_id, printed in answers.items():
        at = starts[request_id]
        block = lines[at + 1 : at + 4 if printed else at + 3]
        expected = [f"printed by {request_id}"] if printed else []
        assert block[: len(expected)] == expected, (request_id, block)
        assert block[len(expected)] == f"END RequestId: {request_id}", (request_id, block)
        assert block[len(expected) + 1].startswith(f"REPORT RequestId: {request_id}\t"), (request_id, block)
    assert sum(line.startswith("printed by ") for line in lines) == sum(answers.values())
