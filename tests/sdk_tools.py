"""Tools the SDK tests run the generated clients with: node (the machine's), and TypeScript from npm at a pinned
version, installed once into a cache folder outside the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

TYPESCRIPT_VERSION = "5.6.3"
NODE = shutil.which("node")
NPM = shutil.which("npm")


def cache_dir() -> Path:
    root = Path(os.environ.get("APIGATE_TEST_CACHE") or Path.home() / ".cache" / "apigate-tests")
    root.mkdir(parents=True, exist_ok=True)
    return root


def tsc() -> Path:
    """The pinned TypeScript compiler, installed from npm on first use."""
    assert NPM is not None, "npm is needed (apt-get install npm; .ci/run installs it)"
    prefix = cache_dir() / f"typescript-{TYPESCRIPT_VERSION}"
    binary = prefix / "node_modules" / ".bin" / "tsc"
    if not binary.exists():
        # Into a folder of this process's own, then renamed into place: runs in parallel (pytest-xdist workers,
        # two checkouts) never see a half-made install, and the one that loses the rename uses the winner's.
        staging = cache_dir() / f"{prefix.name}.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        subprocess.run(
            [
                NPM,
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(staging),
                f"typescript@{TYPESCRIPT_VERSION}",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        if prefix.exists() and not binary.exists():  # left half-made by an install killed before renames
            shutil.rmtree(prefix, ignore_errors=True)
        try:
            staging.rename(prefix)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return binary


def run(command: list[str], cwd: Path | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{command[0]} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout
