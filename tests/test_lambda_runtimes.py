"""A function's declared runtime is the one that runs it (issue #17): pythonX.Y on that interpreter, a
runtime the machine lacks refused at deploy time (or run on the gateway's Python with --runtime-fallback,
saying so), deprecated runtimes refused with AWS's error."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from helpers import GatewayProcess, create_function, unique

WHO = """
import os, sys
def lambda_handler(event, context):
    return {"version": "%d.%d" % sys.version_info[:2], "env": os.environ["AWS_EXECUTION_ENV"],
            "executable": os.path.realpath(sys.executable)}
"""

# The interpreters this machine kind has (pyenv); the gateway runs on its own (3.11 here).
PYENV = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"


def _invoke(lam: Any, name: str) -> dict[str, Any]:
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in answer, answer["Payload"].read()
    result: dict[str, Any] = json.loads(answer["Payload"].read())
    return result


@pytest.mark.parametrize("runtime", ["python3.9", "python3.12", "python3.13"])
def test_declared_python_runs_on_that_interpreter(gateway: GatewayProcess, lam: Any, runtime: str) -> None:
    name = create_function(lam, WHO, Runtime=runtime)
    version = runtime.removeprefix("python")
    answer = _invoke(lam, name)
    assert (answer["version"], answer["env"]) == (version, f"AWS_Lambda_{runtime}")
    assert answer["executable"].startswith(os.path.realpath(PYENV / version) + ".")
    init = [
        line
        for line in (gateway.data_dir / "logs" / f"{name}.log").read_text().splitlines()
        if line.startswith("INIT_START")
    ]
    assert init and init[0].startswith(f"INIT_START Runtime Version: python:{version}.")


@pytest.mark.parametrize("runtime", ["python2.7", "python3.6", "python3.7", "python3.8"])
def test_deprecated_runtime_is_refused_with_aws_error(lam: Any, runtime: str) -> None:
    with pytest.raises(ClientError) as caught:
        create_function(lam, WHO, Runtime=runtime)
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"].startswith(
        f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda functions."
    )


def test_update_to_a_deprecated_runtime_keeps_the_function(lam: Any) -> None:
    name = create_function(lam, WHO, Runtime="python3.12")
    with pytest.raises(ClientError):
        lam.update_function_configuration(FunctionName=name, Runtime="python3.8")
    assert lam.get_function_configuration(FunctionName=name)["Runtime"] == "python3.12"
    assert _invoke(lam, name)["version"] == "3.12"


def _bare_environment(tmp_path: Path) -> dict[str, str]:
    """A gateway that finds no pyenv and only the system's Python on PATH."""
    empty = tmp_path / "no-pyenv"
    empty.mkdir()
    return {**os.environ, "PYENV_ROOT": str(empty), "PATH": "/usr/bin:/bin"}


@pytest.fixture
def bare_gateway(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[GatewayProcess]:
    process = GatewayProcess(tmp_path / "data", list(request.param), env=_bare_environment(tmp_path))
    process.start()
    yield process
    process.stop()


@pytest.mark.parametrize("bare_gateway", [[]], indirect=True)
def test_missing_runtime_is_refused_at_deploy(bare_gateway: GatewayProcess) -> None:
    lam = bare_gateway.client("lambda")
    with pytest.raises(ClientError) as caught:
        create_function(lam, WHO, Runtime="python3.13", name=unique("missing"))
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert "python3.13 is not installed on this machine" in error["Message"]
    assert "--runtime-fallback" in error["Message"]


@pytest.mark.parametrize("bare_gateway", [["--runtime-fallback"]], indirect=True)
def test_fallback_runs_on_the_gateways_python_and_says_so(bare_gateway: GatewayProcess) -> None:
    lam = bare_gateway.client("lambda")
    name = create_function(lam, WHO, Runtime="python3.13", name=unique("fallback"))
    config = lam.get_function_configuration(FunctionName=name)
    own = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    assert config["Runtime"] == "python3.13"
    assert config["LastUpdateStatusReason"] == (
        f"python3.13 is not installed on this machine: the function runs on {own} (--runtime-fallback)"
    )
    # The truth, not the declaration: what the worker is and says it is.
    assert _invoke(lam, name)["env"] == f"AWS_Lambda_{own}"
    # A runtime the machine has clears the reason.
    lam.update_function_configuration(FunctionName=name, Runtime=own)
    assert "LastUpdateStatusReason" not in lam.get_function_configuration(FunctionName=name)


@pytest.mark.parametrize(
    "bare_gateway", [["--python", f"python3.12={PYENV}/3.12.1/bin/python3.12"]], indirect=True
)
def test_python_option_names_the_interpreter(bare_gateway: GatewayProcess) -> None:
    lam = bare_gateway.client("lambda")
    name = create_function(lam, WHO, Runtime="python3.12", name=unique("named"))
    assert _invoke(lam, name) == {
        "version": "3.12",
        "env": "AWS_Lambda_python3.12",
        "executable": os.path.realpath(f"{PYENV}/3.12.1/bin/python3.12"),
    }


def test_tags_and_account_settings(lam: Any) -> None:
    name = create_function(lam, WHO, Tags={"team": "a"})
    arn = lam.get_function_configuration(FunctionName=name)["FunctionArn"]
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a"}
    lam.tag_resource(Resource=arn, Tags={"env": "dev", "team": "b"})
    lam.untag_resource(Resource=arn, TagKeys=["env"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "b"}
    assert lam.get_function(FunctionName=name)["Tags"] == {"team": "b"}
    with pytest.raises(ClientError) as caught:
        lam.list_tags(Resource=arn + "-missing")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    settings = lam.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountUsage"]["FunctionCount"] >= 1
    assert settings["AccountUsage"]["TotalCodeSize"] > 0
