"""Where a function's layers appear to it: Lambda's ``/opt`` paths, one unpacked directory per layer version.

Lambda extracts every layer of a function into ``/opt`` (a later layer's files win over an earlier one's) and
puts ``/opt/python/lib/pythonX.Y/site-packages`` and ``/opt/python`` on ``sys.path``, ``/opt/nodejs/nodeNN/
node_modules`` and ``/opt/nodejs/node_modules`` on ``NODE_PATH``, ``/opt/bin`` on ``PATH`` and ``/opt/lib`` on
``LD_LIBRARY_PATH``. apigate cannot write ``/opt``: each layer version stays in its own directory under the data
dir (unpacked once, see code_store.py) and the same subdirectories of each are put on the same variables, the
last layer first, so the lookup order is the one the merged ``/opt`` gives.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from .interpreters import Interpreter

__all__ = ["MAX_LAYERS", "layer_paths"]

MAX_LAYERS = 5  # Lambda's limit on a function's layers


def layer_paths(layer_dirs: Sequence[Path], interpreter: Interpreter | None) -> dict[str, list[str]]:
    """The entries each path variable gets from the layers, in lookup order."""
    if not layer_dirs:
        return {}
    newest_first = list(reversed(layer_dirs))
    language = interpreter.language if interpreter is not None else "python"
    paths: dict[str, list[str]] = {
        "PATH": [str(d / "bin") for d in newest_first],
        "LD_LIBRARY_PATH": [str(d / "lib") for d in newest_first],
    }
    if language == "python":
        version = (
            ".".join(interpreter.version.split(".")[:2])
            if interpreter is not None
            else f"{sys.version_info[0]}.{sys.version_info[1]}"
        )
        paths["PYTHONPATH"] = [
            str(d / "python" / "lib" / f"python{version}" / "site-packages") for d in newest_first
        ]
        paths["PYTHONPATH"] += [str(d / "python") for d in newest_first]
    elif language == "nodejs":
        major = interpreter.version.split(".")[0] if interpreter is not None else ""
        paths["NODE_PATH"] = [str(d / "nodejs" / f"node{major}" / "node_modules") for d in newest_first]
        paths["NODE_PATH"] += [str(d / "nodejs" / "node_modules") for d in newest_first]
    return paths
