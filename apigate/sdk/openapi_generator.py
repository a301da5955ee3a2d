"""The SDK types apigate does not template itself (java, android, objectivec, swift, ruby), made by OpenAPI
Generator when it can run here: its jar ships inside the ``openapi-generator-cli`` wheel on PyPI (the ``sdk``
extra; nothing is downloaded at run time) and runs on the machine's Java (17 here).

Measured here for a five-operation API, one core: ruby 6.0 s, android 7.9 s, objectivec 8.1 s, java 8.6 s,
swift 9.6 s (mostly the JVM starting and warming up), 33 to 52 files each. The call runs in a subprocess, off the
event loop and outside the management lock.
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import io
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import orjson

from apigate.sdk.spec import operation_name

# AWS's SDK type -> OpenAPI Generator's generator.
GENERATORS = {"java": "java", "android": "android", "objectivec": "objc", "swift": "swift5", "ruby": "ruby"}
# AWS's GetSdk parameters -> OpenAPI Generator's additional properties, by type.
_PROPERTIES = {
    "java": {
        "javaGroupId": "groupId",
        "javaArtifactId": "artifactId",
        "javaArtifactVersion": "artifactVersion",
        "javaPackageName": "invokerPackage",
    },
    "android": {
        "groupId": "groupId",
        "artifactId": "artifactId",
        "artifactVersion": "artifactVersion",
        "invokerPackage": "invokerPackage",
    },
    "objectivec": {"classPrefix": "classPrefix"},
    "swift": {"classPrefix": "projectName"},
    "ruby": {"ruby.gem-name": "gemName", "ruby.module-name": "moduleName", "ruby.gem-version": "gemVersion"},
}
TIMEOUT = 180.0
_FRIENDLY = {"java": "Java", "android": "Android", "objectivec": "iOS (Objective-C)", "swift": "iOS (Swift)",
             "ruby": "Ruby"}  # fmt: skip


class GeneratorError(Exception):
    """The generator failed or could not run; the message says why."""


def _jar() -> Path | None:
    spec = importlib.util.find_spec("openapi_generator_cli")
    if spec is None or not spec.submodule_search_locations:
        return None
    jar = Path(next(iter(spec.submodule_search_locations))) / "openapi-generator.jar"
    return jar if jar.is_file() else None


def available() -> bool:
    """Whether the generator can run here: the wheel's jar and a Java runtime."""
    return _jar() is not None and shutil.which("java") is not None


def sdk_types() -> dict[str, dict[str, Any]]:
    """GetSdkType's description of each type the generator makes (empty when it cannot run)."""
    if not available():
        return {}
    return {
        kind: {
            "id": kind,
            "friendlyName": _FRIENDLY[kind],
            "description": f"{_FRIENDLY[kind]} SDK made by OpenAPI Generator ({GENERATORS[kind]})",
            "configurationProperties": [
                {"name": name, "friendlyName": name, "description": f"OpenAPI Generator's {prop}", "required": False}
                for name, prop in _PROPERTIES[kind].items()
            ],
        }
        for kind in GENERATORS
    }


def _with_operation_ids(document: dict[str, Any]) -> dict[str, Any]:
    """Operations named as AWS names them (``petsIdGet``) where the export has no operationId."""
    out = copy.deepcopy(document)
    for path, item in (out.get("paths") or {}).items():
        for verb, operation in item.items():
            if isinstance(operation, dict) and not verb.startswith("x-") and "operationId" not in operation:
                operation["operationId"] = operation_name(path, verb)
    return out


async def generate(sdk_type: str, document: dict[str, Any], parameters: dict[str, Any]) -> bytes:
    """The zip of one SDK, made by OpenAPI Generator from the stage's OpenAPI 3 document."""
    jar, java = _jar(), shutil.which("java")
    if jar is None or java is None:
        raise GeneratorError("OpenAPI Generator cannot run here (needs the 'sdk' extra and a Java runtime)")
    properties = [
        f"{ours}={parameters[theirs]}"
        for theirs, ours in _PROPERTIES[sdk_type].items()
        if isinstance(parameters.get(theirs), str) and parameters[theirs] and "," not in parameters[theirs]
    ]
    with tempfile.TemporaryDirectory(prefix="apigate-sdk-") as scratch:
        spec = Path(scratch) / "openapi.json"
        spec.write_bytes(orjson.dumps(_with_operation_ids(document)))
        out = Path(scratch) / "out"
        command = [java, "-jar", str(jar), "generate", "-g", GENERATORS[sdk_type], "-i", str(spec), "-o", str(out)]
        if properties:
            command.append("--additional-properties=" + ",".join(properties))
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise GeneratorError(f"OpenAPI Generator took longer than {TIMEOUT:.0f} s") from None
        if process.returncode != 0:
            raise GeneratorError("OpenAPI Generator failed: " + output.decode(errors="replace")[-1000:])
        buffer = io.BytesIO()
        folder = f"apiGateway-{sdk_type}-sdk"
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(out.rglob("*")):
                if file.is_file():
                    archive.write(file, f"{folder}/{file.relative_to(out)}")
        return buffer.getvalue()
