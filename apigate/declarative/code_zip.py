"""Local code folders as zips, the same bytes for the same files (so an unchanged folder keeps its CodeSha256)."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

__all__ = ["FIXED_TIME", "zip_folder"]

FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def zip_folder(folder: Path) -> bytes:
    """A folder as a zip, in a stable order with fixed timestamps: the same code gives the same CodeSha256."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", ".aws-sam", ".git"))
            for name in sorted(files):
                if name.endswith(".pyc"):
                    continue
                path = Path(root) / name
                info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), FIXED_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()
