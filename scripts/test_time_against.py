"""The test suite's time against an older suite's, on this machine in the same hour.

Runs the suite of ``COMMIT`` (default 5262d3e, where the issue asking to halve the suite's time
was filed) as its ``make test`` did (``pytest -q``, one process), with this checkout's installed
libraries and that commit's package; then, with this checkout's code, only the tests whose
names that suite had, as today's ``make test`` runs them (three xdist workers). Prints both
times and their ratio. A machine's speed varies from day to day by up to 2x here, so only a
ratio measured in one sitting says anything. (At 5262d3e two tests of a Dask cluster fail: the
``dask`` worker processes run this checkout's package.)

    .venv/bin/python scripts/test_time_against.py [COMMIT]   # about 8 minutes
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = """
import os, pytest
_names = set(open(os.environ["OLD_TEST_NAMES"]).read().split())
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    keep = [i for i in items if i.nodeid.split("::")[-1].split("[")[0] in _names]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep
"""


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True,
                          text=True).stdout  # fmt: skip


def test_names(commit: str) -> set[str]:
    """The names of the test functions in ``tests/`` at ``commit``."""
    names: set[str] = set()
    for path in git("ls-tree", "-r", "--name-only", commit, "tests").split():
        if re.search(r"(^|/)test_[^/]*\.py$", path):
            tree = ast.parse(git("show", f"{commit}:{path}"))
            names |= {node.name for node in ast.walk(tree)
                      if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                      and node.name.startswith("test_")}  # fmt: skip
    return names


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    """Seconds ``command`` took in ``cwd``, and its last line of output."""
    t0 = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    lines = done.stdout.strip().splitlines() or ["(no output)"]
    return seconds, lines[-1]


def main() -> None:
    commit = sys.argv[1] if len(sys.argv) > 1 else "5262d3e"
    site = next((ROOT / ".venv" / "lib").glob("python3*/site-packages"))
    with tempfile.TemporaryDirectory(prefix="embercast-test-time-") as work:
        old, venv = Path(work) / "old", Path(work) / "venv"
        git("worktree", "add", "--detach", str(old), commit)
        try:
            (Path(work) / "shared").symlink_to(ROOT.parent / "shared")  # ../shared of the old
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            # that commit's package first, then this checkout's libraries (not its package)
            lib = next((venv / "lib").glob("python3*/site-packages"))
            (lib / "aaa_old.pth").write_text(f"{old / 'src'}\n{site}\n")
            entry = venv / "bin" / "embercast"
            entry.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\n"
                             "from embercast.cli import app\nsys.exit(app())\n")  # fmt: skip
            entry.chmod(0o755)
            for dask in (ROOT / ".venv" / "bin").glob("dask*"):  # (these run today's package)
                (venv / "bin" / dask.name).symlink_to(dask)
            env = {k: v for k, v in os.environ.items() if not k.startswith("EMBERCAST_")}
            then, then_tail = timed([str(venv / "bin" / "python"), "-m", "pytest", "-q",
                                     "-p", "no:cacheprovider"], old, env)  # fmt: skip
            names = Path(work) / "names.txt"
            names.write_text("\n".join(sorted(test_names(commit))))
            (Path(work) / "oldnames_plugin.py").write_text(PLUGIN)
            mine = env | {"OLD_TEST_NAMES": str(names), "PYTHONPATH": work,
                          "PYTHONDONTWRITEBYTECODE": ""}  # fmt: skip
            now, now_tail = timed([str(ROOT / ".venv" / "bin" / "python"), "-m", "pytest", "-q",
                                   "-n", "3", "--dist", "loadfile", "--no-loadscope-reorder",
                                   "-p", "no:cacheprovider", "-p", "oldnames_plugin"],
                                  ROOT, mine)  # fmt: skip
        finally:
            git("worktree", "remove", "--force", str(old))
    print(f"{commit}'s suite, its make test:  {then:6.1f} s  ({then_tail})")
    print(f"the same tests, today's make test: {now:6.1f} s  ({now_tail})")
    print(f"ratio: {now / then:.2f}")


if __name__ == "__main__":
    main()
