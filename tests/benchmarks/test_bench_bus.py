"""The bus benchmark at a tiny size: every measure of both backends beside its floor, and every
zone's notification delivered and timed."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from components import need

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_the_bus_section_measures_both_backends_and_the_notification_latency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    need("redis-server", "redis-server")
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    bench = importlib.import_module("bench_bus")
    lines = bench.bus_section(True, n=300, zones=(2, 4), interval_s=0.1)
    rows = [line for line in lines if line.startswith(("| SQLite", "| Redis"))]
    assert [r.split(" | ")[:2] for r in rows] == [
        [f"| {b}", m] for b in ("SQLite (embedded)", "Redis Streams")
        for m in ("publish", "publish_many", "receive_ack")
    ]  # fmt: skip
    for row in rows:
        assert float(row.split(" | ")[2].replace(",", "")) > 0
    latency = [line.split(" | ") for line in lines if re.match(r"\| [24] \| ", line)]
    assert [(row[0], row[1]) for row in latency] == [("| 2", "2"), ("| 4", "4")]  # all delivered
    assert all(int(row[3]) >= int(row[2]) for row in latency)  # p99 >= p50
    assert any(line.startswith("- Goal, p99 under 1 s beyond the debounce:") for line in lines)
