"""What a function is, as the worker pool needs it: one frozen value per function configuration."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from .interpreters import Interpreter

__all__ = ["RESERVED_ENVIRONMENT_KEYS", "Credentials", "FunctionSpec"]

# Lambda refuses these in a function's Environment; the runtime owns them.
RESERVED_ENVIRONMENT_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
    }
)


class Credentials(NamedTuple):
    """A session of the function's execution role, as Lambda puts it in a function's environment."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: float  # epoch seconds


_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """One function configuration. Any change to it (code or config) means new workers."""

    name: str
    arn: str
    handler: str  # "module.func"; the module may be dotted or a path: "pkg/app.handler"
    runtime: str  # "python3.11"
    code_dir: Path
    code_sha: str
    environment: Mapping[str, str] = field(default_factory=dict, hash=False)
    timeout: float = 3.0  # seconds
    memory_size: int = 128  # MB
    region: str = "us-east-1"
    account_id: str = "000000000000"
    # The execution role's session (None: placeholder values, for a runtime used without a gateway).
    credentials: Credentials | None = field(default=None, repr=False)
    # What runs it (None: the gateway's own interpreter); see interpreters.py.
    interpreter: Interpreter | None = None
    # Its requirements.txt, installed (deps.py), or None.
    packages_dir: Path | None = None
    # "$LATEST", or the published version ("3") this configuration is a snapshot of.
    version: str = "$LATEST"
    # Its layers' directories, unpacked (layers.py), in the function's order.
    layer_dirs: tuple[Path, ...] = ()
    # Workers are pooled by this digest, so an update never reuses a worker of the old config.
    worker_key: str = field(init=False, repr=False, compare=False)
    # The runtime keeps one pool per function version: ``name`` for $LATEST, ``name:3`` for a version.
    pool_key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"invalid function name: {self.name!r}")
        # A private copy: the caller's dict changing later must not change a running function.
        env = MappingProxyType(dict(self.environment))
        object.__setattr__(self, "environment", env)
        object.__setattr__(self, "code_dir", Path(self.code_dir))
        config = [
            self.name,
            self.arn,
            self.handler,
            self.runtime,
            str(self.code_dir),
            self.code_sha,
            sorted(env.items()),
            repr(float(self.timeout)),
            self.memory_size,
            self.region,
            self.account_id,
            # New credentials mean new workers: an environment keeps the credentials it started with.
            self.credentials.access_key_id if self.credentials else None,
            self.interpreter.executable if self.interpreter else None,
            str(self.packages_dir) if self.packages_dir else None,
            self.version,
            [str(d) for d in self.layer_dirs],
        ]
        digest = hashlib.sha256(json.dumps(config).encode()).hexdigest()
        object.__setattr__(self, "worker_key", digest)
        object.__setattr__(self, "layer_dirs", tuple(Path(d) for d in self.layer_dirs))
        pool_key = self.name if self.version == "$LATEST" else f"{self.name}:{self.version}"
        object.__setattr__(self, "pool_key", pool_key)

    @property
    def running_runtime(self) -> str:
        """The runtime its workers really run: the declared one, unless a fallback runs it."""
        return self.interpreter.runtime if self.interpreter is not None else self.runtime

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.name}"
