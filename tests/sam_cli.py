"""The AWS SAM CLI for the tests that run it (`sam logs`): a pinned release installed once into its own virtual
environment in the test cache (tests/sdk_tools.py), because every SAM CLI release pins boto3, botocore and click
to exact versions older than the test environment's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sdk_tools import cache_dir

SAM_CLI_VERSION = "1.170.0"


def sam() -> Path:
    """The `sam` command of the pinned release, installed on first use."""
    venv = cache_dir() / f"aws-sam-cli-{SAM_CLI_VERSION}"
    binary = venv / "bin" / "sam"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=120)
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", f"aws-sam-cli=={SAM_CLI_VERSION}"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"installing aws-sam-cli failed:\n{done.stderr[-4000:]}"
    return binary
