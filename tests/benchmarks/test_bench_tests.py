"""The test-suite benchmark on a small folder against this very commit: both runs pass the same
tests, and the table holds both times and their ratio."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_the_tests_section_times_an_older_suite_and_the_same_tests_today(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    bench = importlib.import_module("bench_tests")
    lines = bench.tests_section(True, commit="HEAD", paths=["tests/sensors/test_scd41.py"])
    assert lines[0] == "## Test suite (`make test`)"
    rows = [line.strip("| ").split(" | ") for line in lines if line.startswith("| ")]
    then, now, ratio = rows[-3:]
    assert then[0].startswith("HEAD's suite") and now[0].startswith("the same tests")
    # the same tests ran and passed in both: HEAD's suite in one process, today's on workers
    passed = [re.findall(r"(\d+) passed", row[2]) for row in (then, now)]
    assert passed[0] == passed[1] and len(passed[0]) == 1 and passed[0][0] != "0"
    assert "failed" not in then[2] + now[2]
    assert float(ratio[1]) == pytest.approx(float(now[1]) / float(then[1]), rel=0.05)  # rounded
