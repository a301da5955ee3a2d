"""Function code on disk: content-addressed zips, each unpacked once into the directory workers run in.

Layout: ``root/<function name>/<sha256 hex>.zip`` and ``root/<function name>/<sha256 hex>/``. Every method
does blocking file I/O; call them from a thread when on the event loop.

In cluster mode (``--store postgresql://…``) every zip is also kept in the store's ``blobs`` under
``code/<function name>/<sha256 hex>``, written before the function's document names it: a host that never
saw the upload fetches the zip from there on first use, so any host can start any function.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol, runtime_checkable

__all__ = ["Blobs", "CodeInfo", "CodeNotFoundError", "CodeStore", "InvalidZipError"]

UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."
MAX_UNZIPPED_BYTES = 262_144_000  # Lambda's limit for a function's unzipped code

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_UNIX = 3  # ZipInfo.create_system of archives made on Unix


class InvalidZipError(ValueError):
    """The upload is not a zip Lambda would accept (AWS: InvalidParameterValueException)."""


class CodeNotFoundError(LookupError):
    """No code with that hash is stored for the function."""


@dataclass(frozen=True, slots=True)
class CodeInfo:
    sha256_b64: str  # Lambda's CodeSha256: base64 of the raw digest
    size: int  # Lambda's CodeSize: bytes of the zip
    code_dir: Path
    zip_path: Path


@runtime_checkable
class Blobs(Protocol):
    """Bytes by key, shared by every host (``store.postgres.PostgresStore``)."""

    def put_blob(self, key: str, data: bytes) -> None: ...

    def get_blob(self, key: str) -> bytes | None: ...

    def delete_blobs(self, prefix: str) -> None: ...


class CodeStore:
    def __init__(self, root: Path, blobs: Blobs | None = None, *, blob_prefix: str = "code") -> None:
        self._root = Path(root)
        self._blobs = blobs
        self._prefix = blob_prefix  # "code" for functions, "layer" for layer versions

    def put(self, function_name: str, zip_bytes: bytes) -> CodeInfo:
        """Store a zip durably and unpack it; storing the same bytes again is a no-op."""
        members = _checked_members(zip_bytes)
        digest = hashlib.sha256(zip_bytes).digest()
        home = self._home(function_name)
        home.mkdir(parents=True, exist_ok=True)
        zip_path = home / f"{digest.hex()}.zip"
        if not zip_path.exists():
            _write_durably(zip_path, zip_bytes)
        if self._blobs is not None:
            self._blobs.put_blob(f"{self._prefix}/{function_name}/{digest.hex()}", zip_bytes)
        code_dir = home / digest.hex()
        if not code_dir.is_dir():
            _unpack(zip_bytes, members, code_dir)
        return CodeInfo(base64.b64encode(digest).decode(), len(zip_bytes), code_dir, zip_path)

    def code_dir(self, function_name: str, sha256_b64: str) -> Path:
        """The unpacked directory, unpacking the stored zip again if the directory is gone."""
        home, hex_digest = self._home(function_name), _hex(sha256_b64)
        code_dir = home / hex_digest
        if code_dir.is_dir():
            # Unpacked 0700 by earlier versions: the function's own (unprivileged) user must enter it.
            os.chmod(code_dir, 0o755)
            return code_dir
        zip_bytes = self._read_zip(home, hex_digest)
        home.mkdir(parents=True, exist_ok=True)
        _unpack(zip_bytes, _checked_members(zip_bytes), code_dir)
        return code_dir

    def zip_bytes(self, function_name: str, sha256_b64: str) -> bytes:
        return self._read_zip(self._home(function_name), _hex(sha256_b64))

    def delete(self, function_name: str) -> None:
        home = self._home(function_name)
        if self._blobs is not None:
            self._blobs.delete_blobs(f"{self._prefix}/{function_name}/")
        # Rename first so a half-deleted tree is never mistaken for live code.
        grave = self._root / f".deleted-{function_name}-{os.urandom(4).hex()}"
        try:
            home.rename(grave)
        except FileNotFoundError:
            return
        shutil.rmtree(grave, ignore_errors=True)

    def _home(self, function_name: str) -> Path:
        if not _NAME.fullmatch(function_name):
            raise ValueError(f"invalid function name: {function_name!r}")
        return self._root / function_name

    def _read_zip(self, home: Path, hex_digest: str) -> bytes:
        try:
            return (home / f"{hex_digest}.zip").read_bytes()
        except FileNotFoundError:
            pass
        shared = None if self._blobs is None else self._blobs.get_blob(f"{self._prefix}/{home.name}/{hex_digest}")
        if shared is None:
            raise CodeNotFoundError(f"no code {hex_digest} for {home.name}")
        home.mkdir(parents=True, exist_ok=True)  # uploaded on another host: kept here from now on
        _write_durably(home / f"{hex_digest}.zip", shared)
        return shared


def _hex(sha256_b64: str) -> str:
    try:
        digest = base64.b64decode(sha256_b64, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 32:
        raise CodeNotFoundError(f"not a CodeSha256: {sha256_b64!r}")
    return digest.hex()


def _checked_members(zip_bytes: bytes) -> list[zipfile.ZipInfo]:
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise InvalidZipError(UNZIP_FAILED) from None
    total = 0
    for info in members:
        path = PurePosixPath(info.filename.replace("\\", "/"))
        # Refuse rather than "fix" a path that would land outside the code directory.
        if path.is_absolute() or ".." in path.parts or re.match(r"[A-Za-z]:", info.filename):
            raise InvalidZipError(UNZIP_FAILED)
        total += info.file_size
    if total > MAX_UNZIPPED_BYTES:
        raise InvalidZipError(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")
    return members


def _unpack(zip_bytes: bytes, members: list[zipfile.ZipInfo], code_dir: Path) -> None:
    # Unpack beside the target and rename: a directory that exists is always complete.
    staging = Path(tempfile.mkdtemp(prefix=f".{code_dir.name}-", dir=code_dir.parent))
    try:
        # mkdtemp makes it 0700: the function's own (unprivileged) user must enter it. What guards it is
        # above: the data dir and its functions/ are the gateway's alone (see config.prepare_data_dir).
        os.chmod(staging, 0o755)
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            for info in members:
                _extract(archive, info, staging)
        try:
            staging.rename(code_dir)
        except OSError:
            if not code_dir.is_dir():  # not a concurrent unpack of the same code
                raise
            shutil.rmtree(staging, ignore_errors=True)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError):
        shutil.rmtree(staging, ignore_errors=True)
        raise InvalidZipError(UNZIP_FAILED) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, staging: Path) -> None:
    parts = [p for p in PurePosixPath(info.filename.replace("\\", "/")).parts if p not in ("", ".")]
    if not parts:
        return
    target = staging.joinpath(*parts)
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as source, open(target, "wb") as sink:
        shutil.copyfileobj(source, sink, 1 << 20)
    # Keep execute bits from zips made on Unix (bootstrap scripts, binaries); always leave files readable.
    mode = (info.external_attr >> 16) & 0o777 if info.create_system == _UNIX else 0
    os.chmod(target, (mode | 0o444) if mode else 0o644)


def _write_durably(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)
