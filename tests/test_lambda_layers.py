"""Layers (issue #17): PublishLayerVersion and friends, and a function's ``Layers`` found where Lambda puts them
(``python/``, ``python/lib/pythonX.Y/site-packages``, ``nodejs/node_modules``), later layers first."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from helpers import GatewayProcess, create_function, unique, zip_code

PY = """
import greeting
def lambda_handler(event, context):
    out = {"greeting": greeting.hello(), "where": greeting.__file__.split("/")[-2]}
    try:
        import shout
        out["shout"] = shout.loud("hi")
    except ImportError as e:
        out["shout"] = str(e)
    return out
"""

NODE = """
const greeting = require("greeting");
exports.handler = async () => ({ greeting: greeting.hello() });
"""


def _layer(lam: Any, name: str, files: dict[str, str], **extra: Any) -> dict[str, Any]:
    published: dict[str, Any] = lam.publish_layer_version(LayerName=name, Content={"ZipFile": zip_code(files)}, **extra)
    return published


def test_layer_versions_api(gateway: GatewayProcess, lam: Any) -> None:
    name = unique("layer")
    first = _layer(lam, name, {"python/a.py": "A = 1"}, Description="one", CompatibleRuntimes=["python3.11"])
    assert first["Version"] == 1
    assert first["LayerVersionArn"] == f"{first['LayerArn']}:1"
    assert first["LayerArn"].endswith(f":layer:{name}")
    second = _layer(lam, name, {"python/a.py": "A = 2"}, CompatibleRuntimes=["nodejs20.x"])
    assert second["Version"] == 2
    got = lam.get_layer_version(LayerName=name, VersionNumber=1)
    assert got["Description"] == "one" and got["Content"]["CodeSha256"] == first["Content"]["CodeSha256"]
    downloaded = requests.get(got["Content"]["Location"], timeout=10).content
    assert base64.b64encode(hashlib.sha256(downloaded).digest()).decode() == first["Content"]["CodeSha256"]
    assert lam.get_layer_version_by_arn(Arn=second["LayerVersionArn"])["Version"] == 2
    assert [v["Version"] for v in lam.list_layer_versions(LayerName=name)["LayerVersions"]] == [2, 1]
    python_only = lam.list_layer_versions(LayerName=name, CompatibleRuntime="python3.11")["LayerVersions"]
    assert [v["Version"] for v in python_only] == [1]
    listed = {layer["LayerName"]: layer for layer in lam.list_layers()["Layers"]}
    assert listed[name]["LatestMatchingVersion"]["Version"] == 2
    lam.delete_layer_version(LayerName=name, VersionNumber=2)
    lam.delete_layer_version(LayerName=name, VersionNumber=2)  # again: nothing there, still 204
    with pytest.raises(ClientError) as caught:
        lam.get_layer_version(LayerName=name, VersionNumber=2)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # numbers are not reused
    assert _layer(lam, name, {"python/a.py": "A = 3"})["Version"] == 3
    with pytest.raises(ClientError) as caught:
        lam.publish_layer_version(LayerName=name, Content={"ZipFile": b"not a zip"})
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_python_function_imports_from_its_layers(gateway: GatewayProcess, lam: Any) -> None:
    base = _layer(lam, unique("base"), {"python/greeting.py": "def hello():\n    return 'from base'\n"})
    site = _layer(
        lam,
        unique("site"),
        {
            "python/lib/python3.11/site-packages/greeting.py": "def hello():\n    return 'from site'\n",
            "python/lib/python3.11/site-packages/shout.py": "def loud(s):\n    return s.upper()\n",
        },
    )
    name = create_function(lam, PY, Layers=[base["LayerVersionArn"], site["LayerVersionArn"]])
    config = lam.get_function_configuration(FunctionName=name)
    assert [layer["Arn"] for layer in config["Layers"]] == [base["LayerVersionArn"], site["LayerVersionArn"]]
    answer = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    # the later layer wins, as it would overwrite the earlier one's file in /opt
    assert answer == {"greeting": "from site", "shout": "HI", "where": "site-packages"}

    # site-packages come before python/ whatever the order, as on Lambda
    lam.update_function_configuration(FunctionName=name, Layers=[site["LayerVersionArn"], base["LayerVersionArn"]])
    answer = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    assert answer["greeting"] == "from site"

    # two layers with the same python/ file: the later one's, in either order
    other = _layer(lam, unique("other"), {"python/greeting.py": "def hello():\n    return 'from other'\n"})
    for layers, expected in (((base, other), "from other"), ((other, base), "from base")):
        lam.update_function_configuration(FunctionName=name, Layers=[layer["LayerVersionArn"] for layer in layers])
        answer = json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
        assert answer == {"greeting": expected, "where": "python", "shout": "No module named 'shout'"}

    lam.update_function_configuration(FunctionName=name, Layers=[])
    assert "Layers" not in lam.get_function_configuration(FunctionName=name)


def test_node_function_requires_from_its_layer(gateway: GatewayProcess, lam: Any) -> None:
    layer = _layer(
        lam,
        unique("node"),
        {"nodejs/node_modules/greeting/index.js": "exports.hello = () => 'from a layer';\n"},
    )
    name = unique("fn")
    lam.create_function(
        FunctionName=name,
        Runtime="nodejs20.x",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="index.handler",
        Code={"ZipFile": zip_code({"index.js": NODE})},
        Layers=[layer["LayerVersionArn"]],
    )
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"greeting": "from a layer"}


def test_layers_are_checked(gateway: GatewayProcess, lam: Any) -> None:
    one = _layer(lam, unique("x"), {"python/x.py": ""})
    again = _layer(lam, one["LayerArn"].rsplit(":", 1)[1], {"python/x.py": "# 2"})
    for layers in (
        [one["LayerVersionArn"].rsplit(":", 1)[0] + ":99"],  # no such version
        [one["LayerVersionArn"], again["LayerVersionArn"]],  # two versions of one layer
        [one["LayerVersionArn"]] * 6,  # more than five
    ):
        with pytest.raises(ClientError) as caught:
            create_function(lam, PY, Layers=layers)
        assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException", layers


BOOTSTRAP = r"""#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  curl -sS -D "$HEADERS" "$API/invocation/next" >/dev/null
  REQUEST_ID=$(grep -i Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
  curl -sS -X POST "$API/invocation/$REQUEST_ID/response" -d "{\"said\":\"$(greet)\"}" >/dev/null
done
"""


def test_provided_function_runs_a_program_from_its_layer(gateway: GatewayProcess, lam: Any) -> None:
    program = "#!/bin/sh\necho hello from bin\n"
    layer = lam.publish_layer_version(
        LayerName=unique("bin"), Content={"ZipFile": zip_code({"bin/greet": program}, executable={"bin/greet"})}
    )
    name = unique("fn")
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role="arn:aws:iam::000000000000:role/lambda-role",
        Handler="function.handler",
        Code={"ZipFile": zip_code({"bootstrap": BOOTSTRAP}, executable={"bootstrap"})},
        Layers=[layer["LayerVersionArn"]],
    )
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in answer, answer["Payload"].read()
    assert json.loads(answer["Payload"].read()) == {"said": "hello from bin"}
