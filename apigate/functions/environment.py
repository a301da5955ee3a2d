"""The environment a worker process starts with: Lambda's variables, never the gateway's own."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path

from .boot import IMPORTS_VARIABLE, imports_json, runtime_imports
from .layers import layer_paths
from .spec import RESERVED_ENVIRONMENT_KEYS, Credentials, FunctionSpec

__all__ = ["RUNTIME_DIR", "RUNTIME_IMPORTS", "new_log_stream_name", "worker_environment"]

# The directory holding the apigate package: the worker entry point must be importable from it.
RUNTIME_DIR = str(Path(__file__).resolve().parents[2])
# What a worker may import of the gateway's (boot.py): the runtime and the SDK, by name.
RUNTIME_IMPORTS = {**runtime_imports(), "apigate": RUNTIME_DIR}
_IMPORTS_JSON = imports_json(RUNTIME_IMPORTS)

_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"

# A spec without credentials (the runtime used on its own, without a gateway): values SDKs accept, so that they
# sign requests to the gateway instead of hunting for real credentials.
_PLACEHOLDER = Credentials("test", "test", "test", 0.0)


def worker_environment(
    spec: FunctionSpec, endpoint_url: str, log_stream_name: str, service_endpoints: Mapping[str, str]
) -> dict[str, str]:
    credentials = spec.credentials or _PLACEHOLDER
    env = {
        "PATH": os.environ.get("PATH", _DEFAULT_PATH),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.running_runtime}",
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "AWS_ENDPOINT_URL": endpoint_url,
        # The execution role's session, as Lambda gives it: never the gateway's admin key.
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        "AWS_SESSION_TOKEN": credentials.session_token,
        "_HANDLER": spec.handler,
        IMPORTS_VARIABLE: _IMPORTS_JSON,
    }
    env.update(service_endpoints)  # the services the gateway reaches elsewhere (DynamoDB, S3…): the same
    for key, value in spec.environment.items():
        if key not in RESERVED_ENVIRONMENT_KEYS:
            env[key] = value
    # The function's own PYTHONPATH, then its built dependencies, then its layers; never the gateway's (see
    # boot.py). The layers' other paths go after what the function and the system set, as Lambda's /opt ones.
    layers = layer_paths(spec.layer_dirs, spec.interpreter)
    path = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if spec.packages_dir is not None:
        path.append(str(spec.packages_dir))
    env_paths = {"PYTHONPATH": path}
    for variable, entries in layers.items():
        if variable != "PYTHONPATH":
            env_paths[variable] = [p for p in env.get(variable, "").split(os.pathsep) if p]
        env_paths[variable] += [entry for entry in entries if os.path.isdir(entry)]
    for variable, entries in env_paths.items():
        if entries:
            env[variable] = os.pathsep.join(entries)
    return env


def new_log_stream_name(version: str = "$LATEST") -> str:
    """One stream per execution environment, named as Lambda names them."""
    return time.strftime("%Y/%m/%d/", time.gmtime()) + f"[{version}]" + secrets.token_hex(16)
