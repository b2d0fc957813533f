"""The test suite's time against an older suite's, on this machine in the same run.

Runs the suite of ``BASELINE_COMMIT`` (5262d3e, where the issue asking to halve the suite's time
was filed) as its ``make test`` did (``pytest -q``, one process), with this checkout's installed
libraries and that commit's package; then, with this checkout's code, only the tests whose
names that suite had, as today's ``make test`` runs them (three xdist workers, ``--dist
loadfile``). A machine's speed varies from day to day by up to 2x here, so only a ratio measured
in one run says anything. (At 5262d3e two tests of a Dask cluster fail: the ``dask`` worker
processes run this checkout's package.) About 7 minutes.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE_COMMIT = "5262d3e"
"""The commit whose suite is the baseline."""
WORKERS = 3
"""xdist workers of today's ``make test``."""
PLUGIN = """
import os, pytest
_names = set(open(os.environ["OLD_TEST_NAMES"]).read().split())
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    keep = [i for i in items if i.nodeid.split("::")[-1].split("[")[0] in _names]
    config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    items[:] = keep
"""
"""A pytest plugin that keeps the tests whose function names are in ``$OLD_TEST_NAMES``."""


@dataclass(frozen=True)
class SuiteTimes:
    """Both suites' wall times [s] and the last line pytest printed for each."""

    commit: str
    then_s: float
    then_tail: str
    now_s: float
    now_tail: str

    @property
    def ratio(self) -> float:
        return self.now_s / self.then_s


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


def time_against(commit: str = BASELINE_COMMIT, paths: Sequence[str] = ()) -> SuiteTimes:
    """Time ``commit``'s suite, then today's tests of the same names (both limited to the test
    ``paths`` when given)."""
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
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("EMBERCAST_", "PYTEST_"))}  # fmt: skip
            names = Path(work) / "names.txt"
            names.write_text("\n".join(sorted(test_names(commit))))
            (Path(work) / "oldnames_plugin.py").write_text(PLUGIN)
            then_s, then_tail = timed([str(venv / "bin" / "python"), "-m", "pytest", "-q",
                                       "-p", "no:cacheprovider", *paths], old, env)  # fmt: skip
            mine = env | {"OLD_TEST_NAMES": str(names), "PYTHONPATH": work,
                          "PYTHONDONTWRITEBYTECODE": ""}  # fmt: skip
            now_s, now_tail = timed([str(ROOT / ".venv" / "bin" / "python"), "-m", "pytest", "-q",
                                     "-n", str(WORKERS), "--dist", "loadfile",
                                     "--no-loadscope-reorder", "-p", "no:cacheprovider",
                                     "-p", "oldnames_plugin", *paths], ROOT, mine)  # fmt: skip
        finally:
            git("worktree", "remove", "--force", str(old))
    return SuiteTimes(commit, then_s, then_tail, now_s, now_tail)


def tests_section(
    quick: bool, *, commit: str = BASELINE_COMMIT, paths: Sequence[str] = ()
) -> list[str]:
    """The "Test suite" part of BENCHMARKS.md (``quick`` changes nothing: both suites run
    whole unless ``paths`` limits them)."""
    times = time_against(commit, paths)
    scope = f" (`{' '.join(paths)}` only)" if paths else ""
    return [
        "## Test suite (`make test`)",
        "",
        f"The suite of commit {commit}{scope} as its `make test` ran it (one process), then "
        "the tests of today's suite that have the same names, as today's `make test` runs them "
        f"({WORKERS} xdist workers over both cores), in the same run; this checkout's installed "
        "libraries for both (`python benchmarks/run.py --only tests`).",
        "",
        "| suite | s | pytest's summary |",
        "|---|---:|---|",
        f"| {commit}'s suite, its `make test` | {times.then_s:.1f} | {times.then_tail} |",
        f"| the same tests, today's `make test` | {times.now_s:.1f} | {times.now_tail} |",
        f"| ratio | {times.ratio:.2f} | |",
        "",
    ]


if __name__ == "__main__":
    done = time_against(sys.argv[1] if len(sys.argv) > 1 else BASELINE_COMMIT)
    print(f"{done.commit}'s suite, its make test:  {done.then_s:6.1f} s  ({done.then_tail})")
    print(f"the same tests, today's make test: {done.now_s:6.1f} s  ({done.now_tail})")
    print(f"ratio: {done.ratio:.2f}")
