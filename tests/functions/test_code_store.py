"""Function code on disk: content-addressed, unpacked safely, recoverable after a restart."""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from apigate.functions import CodeNotFoundError, CodeStore, InvalidZipError

UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."


def _zip(files: dict[str, str], modes: dict[str, int] | None = None) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = ((modes or {}).get(name, 0o644) | stat.S_IFREG) << 16
            zf.writestr(info, text)
    return archive.getvalue()


def test_put_stores_and_unpacks(tmp_path: Path) -> None:
    store = CodeStore(tmp_path)
    data = _zip({"lambda_function.py": "x = 1\n", "pkg/__init__.py": "", "pkg/mod.py": "y = 2\n"})
    info = store.put("my-fn", data)
    digest = hashlib.sha256(data).digest()
    assert info.sha256_b64 == base64.b64encode(digest).decode()
    assert info.size == len(data)
    assert info.zip_path == tmp_path / "my-fn" / f"{digest.hex()}.zip"
    assert info.zip_path.read_bytes() == data
    assert info.code_dir == tmp_path / "my-fn" / digest.hex()
    assert (info.code_dir / "lambda_function.py").read_text() == "x = 1\n"
    assert (info.code_dir / "pkg" / "mod.py").read_text() == "y = 2\n"
    assert store.zip_bytes("my-fn", info.sha256_b64) == data
    assert store.code_dir("my-fn", info.sha256_b64) == info.code_dir
    assert sorted(p.name for p in (tmp_path / "my-fn").iterdir()) == sorted(
        [digest.hex(), f"{digest.hex()}.zip"]
    )


def test_same_code_twice_is_one_copy(tmp_path: Path) -> None:
    store = CodeStore(tmp_path)
    data = _zip({"a.py": "a = 1\n"})
    assert store.put("fn", data) == store.put("fn", data)
    assert len(list((tmp_path / "fn").iterdir())) == 2


def test_versions_live_side_by_side(tmp_path: Path) -> None:
    store = CodeStore(tmp_path)
    one, two = store.put("fn", _zip({"a.py": "v = 1\n"})), store.put("fn", _zip({"a.py": "v = 2\n"}))
    assert one.code_dir != two.code_dir
    assert (one.code_dir / "a.py").read_text() == "v = 1\n"
    assert (two.code_dir / "a.py").read_text() == "v = 2\n"


def test_code_dir_is_unpacked_again_when_missing(tmp_path: Path) -> None:
    info = CodeStore(tmp_path).put("fn", _zip({"a.py": "a = 1\n"}))
    shutil.rmtree(info.code_dir)
    restarted = CodeStore(tmp_path)
    assert restarted.code_dir("fn", info.sha256_b64) == info.code_dir
    assert (info.code_dir / "a.py").read_text() == "a = 1\n"


def test_execute_bits_are_kept(tmp_path: Path) -> None:
    info = CodeStore(tmp_path).put("fn", _zip({"bootstrap": "#!/bin/sh\n", "a.py": ""}, {"bootstrap": 0o755}))
    assert (info.code_dir / "bootstrap").stat().st_mode & 0o777 == 0o755
    assert (info.code_dir / "a.py").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("data", [b"", b"not a zip at all", _zip({"a.py": "x"})[:-30]])
def test_bad_zip_is_refused(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(InvalidZipError, match=UNZIP_FAILED):
        CodeStore(tmp_path).put("fn", data)
    assert not (tmp_path / "fn").exists() or not any((tmp_path / "fn").iterdir())


@pytest.mark.parametrize(
    "name", ["../evil.py", "a/../../evil.py", "/etc/evil.py", "C:/evil.py", "..\\evil.py"]
)
def test_paths_outside_the_code_dir_are_refused(tmp_path: Path, name: str) -> None:
    store = CodeStore(tmp_path / "store")
    with pytest.raises(InvalidZipError, match=UNZIP_FAILED):
        store.put("fn", _zip({"ok.py": "", name: "x"}))
    assert not (tmp_path / "evil.py").exists()
    assert list(tmp_path.rglob("evil.py")) == []


def test_corrupt_member_is_refused_and_cleaned_up(tmp_path: Path) -> None:
    data = bytearray(_zip({"a.py": "print('hello world')\n" * 50}))
    offset = data.index(b"a.py") + len(b"a.py") + 5  # inside the first member's compressed bytes
    data[offset] ^= 0xFF
    with pytest.raises(InvalidZipError):
        CodeStore(tmp_path).put("fn", bytes(data))
    leftovers = [p for p in (tmp_path / "fn").iterdir() if p.is_dir()] if (tmp_path / "fn").exists() else []
    assert leftovers == []


def test_delete_removes_every_version(tmp_path: Path) -> None:
    store = CodeStore(tmp_path)
    info = store.put("fn", _zip({"a.py": ""}))
    store.put("fn", _zip({"b.py": ""}))
    kept = store.put("other", _zip({"a.py": ""}))
    store.delete("fn")
    store.delete("fn")  # already gone: fine
    assert not (tmp_path / "fn").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["other"]
    with pytest.raises(CodeNotFoundError):
        store.zip_bytes("fn", info.sha256_b64)
    with pytest.raises(CodeNotFoundError):
        store.code_dir("fn", info.sha256_b64)
    assert store.code_dir("other", kept.sha256_b64) == kept.code_dir


def test_unknown_code_and_bad_names(tmp_path: Path) -> None:
    store = CodeStore(tmp_path)
    with pytest.raises(CodeNotFoundError):
        store.zip_bytes("fn", base64.b64encode(b"\0" * 32).decode())
    with pytest.raises(CodeNotFoundError):
        store.code_dir("fn", "not-base64!")
    for name in ["../x", "a/b", "", "x" * 65]:
        with pytest.raises(ValueError):
            store.put(name, _zip({"a.py": ""}))
