"""The restart benchmark at a tiny size: the replay reads the recent parts, the baseline every
part, the compaction leaves a part an hour, and the table says so."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_the_restart_section_replays_the_last_hours_beside_reading_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    bench = importlib.import_module("bench_restart")
    lines = bench.restart_section(True, sizes=(0.25, 1.0), devices=2, part_s=600.0)
    rows = [line.split(" | ") for line in lines if line.startswith(("| 0.25 |", "| 1 |"))]
    assert [row[0] for row in rows] == ["| 0.25", "| 1"]
    parts = [int(row[1].replace(",", "")) for row in rows]
    kept = [int(row[2].replace(",", "")) for row in rows]
    replayed = [int(row[3].replace(",", "")) for row in rows]
    assert parts == [37, 145] and kept == [2 * 120 * p for p in parts]  # 6 h and a day of parts
    # the same last 2 h of both devices whatever is kept: 2 devices x (2 h / 5 s + 1) readings
    assert replayed == [2 * 1441] * 2
    assert all(row[-1].endswith("x |") and row[6].endswith("x") for row in rows)
    # compacted: a part per hour gone by (6 h, then a day, of parts every 10 min), and the
    # open hour's parts as written (the window read the same rows: measure() checks it)
    after = [int(row[9].replace(",", "")) for row in rows]
    assert 6 <= after[0] <= 6 + 6 and 24 <= after[1] <= 25 + 6
    # the raw-frame replay at both frame budgets: the same messages (2 cameras, 1 h kept, all
    # within the 2-h window: 720 frames and 720 readings each)
    frames = [line.split(" | ") for line in lines if line.startswith(("| a group", "| every"))]
    assert len(frames) == 2 and frames[0][1] == frames[1][1] == "1,440"
    assert frames[0][2] == frames[1][2] == "2,880"
