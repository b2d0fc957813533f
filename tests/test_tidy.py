"""A test session leaves nothing of its own behind in the temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_session_removes_its_catalog_folders(tmp_path: Path) -> None:
    """Each test process (the controller and its xdist worker) makes a folder for the
    catalog, MLflow store and compiled models; all are gone when the session ends."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMBERCAST_", "PYTEST_"))}
    env["TMPDIR"] = str(tmp)
    test = "tests/test_jsonio.py::test_integers_past_64_bits_are_read_as_floats"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "1", test],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert not list(tmp.glob("embercast-tests-*")), sorted(p.name for p in tmp.iterdir())
