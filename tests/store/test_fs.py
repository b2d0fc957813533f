"""Tests of the storage helpers: resolving locations, atomic writes, hashes, writability."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import embercast.store.fs as fs_module
from embercast.config import get_settings
from embercast.store.fs import (
    OutputLocationError,
    atomic_write_bytes,
    check_writable,
    is_temporary_name,
    remove_temporaries,
    resolve,
    sha256,
    storage_options,
    write_table_atomic,
)
from helpers import drop_root_override


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_resolve_local_path_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    fs, root = resolve("runs/ds")
    assert fs_module.is_local(fs)
    assert root == f"{tmp_path.as_posix()}/runs/ds"
    _, root = resolve(f"file://{tmp_path}/ds/")
    assert root == f"{tmp_path.as_posix()}/ds"


def test_s3_uses_the_endpoint_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMBERCAST_S3_ENDPOINT_URL", raising=False)
    get_settings.cache_clear()
    assert storage_options("s3://bucket/ds") == {}
    monkeypatch.setenv("EMBERCAST_S3_ENDPOINT_URL", "http://127.0.0.1:3900")
    get_settings.cache_clear()
    try:
        expected = {"client_kwargs": {"endpoint_url": "http://127.0.0.1:3900"}}
        assert storage_options("s3://bucket/ds") == expected
        assert storage_options("/local/path") == {}
        fs, root = resolve("s3://bucket/ds")
        assert root == "bucket/ds"
        assert fs.storage_options["client_kwargs"] == expected["client_kwargs"]
    finally:
        get_settings.cache_clear()


def test_unknown_protocol_is_a_location_error() -> None:
    with pytest.raises(OutputLocationError, match="cannot write to 'nosuch://x/y'"):
        resolve("nosuch://x/y")
    with pytest.raises(OutputLocationError, match="empty"):
        resolve("")


def test_atomic_write_bytes_replaces_whole_files(tmp_path: Path) -> None:
    fs, root = resolve(str(tmp_path))
    path = f"{root}/sub/data.bin"
    atomic_write_bytes(fs, path, b"first")
    atomic_write_bytes(fs, path, b"second version")
    assert Path(path).read_bytes() == b"second version"
    assert _names(tmp_path / "sub") == ["data.bin"]


def test_failed_parquet_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fs, root = resolve(str(tmp_path))
    table = pa.table({"x": list(range(1000))})
    path = f"{root}/part-00000.parquet"
    write_table_atomic(fs, path, table)
    before = Path(path).read_bytes()

    def write_half_then_fail(data: pa.Table, where: str, **kwargs: Any) -> None:
        Path(where).write_bytes(b"PAR1" + b"\0" * 4096)  # some bytes are already on disk
        raise RuntimeError("writer died mid-way")

    monkeypatch.setattr(pq, "write_table", write_half_then_fail)
    with pytest.raises(RuntimeError, match="mid-way"):
        write_table_atomic(fs, path, pa.table({"x": [1, 2, 3]}))
    with pytest.raises(RuntimeError, match="mid-way"):
        write_table_atomic(fs, f"{root}/part-00001.parquet", table)
    assert _names(tmp_path) == ["part-00000.parquet"]
    assert Path(path).read_bytes() == before


def test_failed_move_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fs, root = resolve(str(tmp_path))

    def no_replace(src: str, dst: str) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "replace", no_replace)
    with pytest.raises(OSError, match="I/O error"):
        atomic_write_bytes(fs, f"{root}/manifest.json", b"{}")
    assert _names(tmp_path) == []


def test_parquet_round_trip_and_sha256(tmp_path: Path) -> None:
    fs, root = resolve(str(tmp_path))
    table = pa.table({"x": [1.0, 2.0], "s": ["a", "b"]})
    path = f"{root}/t.parquet"
    write_table_atomic(fs, path, table, compression="zstd")
    assert pq.read_table(path).equals(table)
    assert sha256(fs, path) == hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_temporaries_are_recognised_and_removed(tmp_path: Path) -> None:
    (tmp_path / ".part-00001.parquet.tmp-0123456789ab").write_bytes(b"x")
    (tmp_path / ".embercast-probe-0123456789ab").write_bytes(b"x")
    (tmp_path / "part-00001.parquet").write_bytes(b"x")
    (tmp_path / ".hidden").write_bytes(b"x")
    assert is_temporary_name(".manifest.json.tmp-abc")
    assert not is_temporary_name("manifest.json")
    fs, root = resolve(str(tmp_path))
    removed = remove_temporaries(fs, [root, f"{root}/missing"])
    assert len(removed) == 2
    assert _names(tmp_path) == [".hidden", "part-00001.parquet"]


def test_check_writable_creates_the_directory(tmp_path: Path) -> None:
    fs, root = resolve(str(tmp_path / "a" / "b"))
    check_writable(fs, root)
    assert (tmp_path / "a" / "b").is_dir()
    assert _names(tmp_path / "a" / "b") == []


def test_location_below_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    fs, root = resolve(str(tmp_path / "file" / "ds"))
    with pytest.raises(OutputLocationError, match=r"file/ds'.*\((ENOTDIR|EEXIST)\)"):
        check_writable(fs, root, str(tmp_path / "file" / "ds"))


@pytest.mark.parametrize(
    ("code", "text"),
    [(errno.EACCES, "Permission denied"), (errno.ENOSPC, "No space left on device")],
)
def test_write_failures_name_the_errno(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, text: str
) -> None:
    def failing_open(*args: Any, **kwargs: Any) -> Any:
        raise OSError(code, os.strerror(code), str(args[0]))

    monkeypatch.setattr(fs_module, "open", failing_open, raising=False)
    fs, root = resolve(str(tmp_path))
    with pytest.raises(OutputLocationError) as e:
        check_writable(fs, root, "my-output")
    name = errno.errorcode[code]
    assert str(e.value) == f"cannot write to 'my-output': {text} ({name})"
    assert e.value.errno == code and e.value.location == "my-output"


def test_almost_full_disk_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=1000))
    fs, root = resolve(str(tmp_path))
    with pytest.raises(OutputLocationError, match=r"1000 bytes free\) \(ENOSPC\)"):
        check_writable(fs, root)


def test_read_only_directory_is_a_clear_error(tmp_path: Path) -> None:
    """A real read-only directory (the child gives up root's override, if it is root)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    code = textwrap.dedent(
        f"""
        from embercast.store.fs import OutputLocationError, check_writable, resolve
        fs, root = resolve({str(locked / "ds")!r})
        try:
            check_writable(fs, root, {str(locked / "ds")!r})
        except OutputLocationError as exc:
            print(exc)
        """
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=drop_root_override,
        )
    finally:
        locked.chmod(stat.S_IRWXU)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"cannot write to '{locked / 'ds'}': Permission denied (EACCES)"
    )
