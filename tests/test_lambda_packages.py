"""What a function can import (issue #17): its own code, its requirements.txt (installed once per content at
deploy time), the runtime and the SDK, as on Lambda; never the gateway's own packages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from helpers import GatewayProcess, unique, zip_code

IMPORTS = """
import importlib, sys
def lambda_handler(event, context):
    seen = {}
    for name in event["modules"]:
        try:
            importlib.import_module(name)
            seen[name] = True
        except ImportError:
            seen[name] = False
    return {"seen": seen, "site": [p for p in sys.path if "site-packages" in p],
            "version": "%d.%d" % sys.version_info[:2]}
"""

TABLE = """
import tabulate
def lambda_handler(event, context):
    return {"table": tabulate.tabulate([[1, 2]], tablefmt="plain"), "from": tabulate.__file__}
"""


def _create(lam: Any, files: dict[str, str], runtime: str = "python3.12", name: str | None = None) -> str:
    name = name or unique("pkg")
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": zip_code(files)},
    )
    return name


def _invoke(lam: Any, name: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    assert "FunctionError" not in answer, answer["Payload"].read()
    result: dict[str, Any] = json.loads(answer["Payload"].read())
    return result


@pytest.mark.parametrize("runtime", ["python3.11", "python3.12"])
def test_functions_see_the_sdk_but_not_the_gateways_packages(lam: Any, runtime: str) -> None:
    name = _create(lam, {"lambda_function.py": IMPORTS}, runtime)
    # uvloop, yaml and jinja2 are the gateway's; requests and pytest its tests'. boto3 is Lambda's SDK.
    modules = ["boto3", "json", "uvloop", "yaml", "jinja2", "requests", "pytest", "orjson"]
    answer = _invoke(lam, name, {"modules": modules})
    assert answer["seen"] == {
        "boto3": True,
        "json": True,
        "uvloop": False,
        "yaml": False,
        "jinja2": False,
        "requests": False,
        "pytest": False,
        "orjson": False,
    }
    assert answer["site"] == []
    assert answer["version"] == runtime.removeprefix("python")


def test_requirements_are_installed_once_per_content(gateway: GatewayProcess, lam: Any) -> None:
    files = {"lambda_function.py": TABLE, "requirements.txt": "tabulate==0.9.0\n"}
    first = _create(lam, files)
    assert _invoke(lam, first)["table"] == "1  2"
    built = sorted((gateway.data_dir / "function-packages").iterdir())
    # Another function with the same requirements (comments aside) shares the build.
    second = _create(lam, {**files, "requirements.txt": "# table\ntabulate==0.9.0\n"})
    assert _invoke(lam, second)["table"] == "1  2"
    assert sorted((gateway.data_dir / "function-packages").iterdir()) == built
    # Without them, the package is not there.
    bare = _create(lam, {"lambda_function.py": IMPORTS})
    assert _invoke(lam, bare, {"modules": ["tabulate"]})["seen"] == {"tabulate": False}


def test_failed_install_refuses_the_deploy_and_keeps_the_previous_code(lam: Any) -> None:
    bad = {"lambda_function.py": TABLE, "requirements.txt": "apigate-no-such-package-17==0.0.1\n"}
    with pytest.raises(ClientError) as caught:
        _create(lam, bad)
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert "requirements could not be installed" in error["Message"]
    assert "apigate-no-such-package-17" in error["Message"]

    name = _create(lam, {"lambda_function.py": IMPORTS})
    before = lam.get_function_configuration(FunctionName=name)["CodeSha256"]
    with pytest.raises(ClientError):
        lam.update_function_code(FunctionName=name, ZipFile=zip_code(bad))
    assert lam.get_function_configuration(FunctionName=name)["CodeSha256"] == before
    assert _invoke(lam, name, {"modules": ["json"]})["seen"] == {"json": True}


def test_an_install_shows_its_progress(tmp_path: Any) -> None:
    from helpers import wait_for

    gateway = GatewayProcess(tmp_path / "data", ["--log-level", "INFO"], capture_stderr=True)
    gateway.start()
    try:
        _create(
            gateway.client("lambda"), {"lambda_function.py": TABLE, "requirements.txt": "tabulate==0.9.0\n"}
        )
        wait_for(
            lambda: any("installed " in line and "requirements.txt in " in line for line in gateway.errors)
        )
        assert any(
            "installing " in line and "requirements.txt (pip, Python 3.12" in line for line in gateway.errors
        )
    finally:
        gateway.stop()
