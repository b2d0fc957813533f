"""A catalog whose file and folder cannot be written still serves look-ups and verification.

The checks run in a forked child that has given up root (uid and gid 65534, "nobody"), so the
file system itself refuses the writes, as it does for a user reading a shared catalog.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from embercast.store.integrity import open_artifact
from embercast.store.lineage import Catalog, CatalogError
from helpers import generate_fake

NOBODY = 65534


def as_nobody(action: Callable[[], Any]) -> Any:
    """``action()`` in a forked child running as nobody; its JSON result, or raise RuntimeError
    with the child's exception."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 0
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            payload = ["ok", action()]
        except BaseException as exc:  # reported to the parent
            payload = ["error", f"{type(exc).__name__}: {exc}"]
            status = 1
        os.write(write, json.dumps(payload).encode())
        os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as handle:
        data = handle.read()
    os.waitpid(pid, 0)
    kind, value = json.loads(data)
    if kind == "error":
        raise RuntimeError(value)
    return value


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder every user may read (pytest's own temporary folders are private)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to become another user")
    root = Path(tempfile.mkdtemp(prefix="embercast-ro-"))
    root.chmod(0o755)
    monkeypatch.setenv("EMBERCAST_CATALOG_PATH", str(root / "cat" / "catalog.sqlite"))
    try:
        yield root
    finally:
        shutil.rmtree(root)


def _read_only(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        mode = 0o555 if path.is_dir() else 0o444
        path.chmod(mode)
    root.chmod(0o555)


def test_a_read_only_catalog_still_reads(shared: Path) -> None:
    summary = generate_fake(shared / "ds")
    catalog_path = shared / "cat" / "catalog.sqlite"
    _read_only(shared)
    assert not os.stat(catalog_path).st_mode & stat.S_IWOTH

    def look_up() -> dict[str, Any]:
        with Catalog(catalog_path) as catalog:
            artifact = catalog.get(summary.content_hash[:8])
            try:
                catalog.register(str(shared / "ds"))
                refused = ""
            except CatalogError as exc:
                refused = str(exc)
            read_only = catalog.read_only
        verified = open_artifact(str(shared / "ds"), "dataset")  # hashes; cannot remember
        return {"id": artifact.id, "read_only": read_only, "refused": refused,
                "verified": verified.content_hash}  # fmt: skip

    found = as_nobody(look_up)
    assert found["id"] == summary.content_hash[:16]
    assert found["read_only"] is True
    assert "read-only" in found["refused"]
    assert found["verified"] == summary.content_hash


def test_the_child_really_cannot_write(shared: Path) -> None:
    """The premise of the test above: as nobody, a read-only folder refuses a new file."""
    _read_only(shared)
    with pytest.raises(RuntimeError, match="PermissionError"):
        as_nobody(lambda: (shared / "new").write_text("x"))
