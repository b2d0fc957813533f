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
    lines = bench.bus_section(True, n=300, zones=4, interval_s=0.1)
    rows = [line for line in lines if line.startswith(("| SQLite", "| Redis"))]
    assert [r.split(" | ")[:2] for r in rows] == [
        [f"| {b}", m] for b in ("SQLite (embedded)", "Redis Streams")
        for m in ("publish", "publish_many", "receive_ack")
    ]  # fmt: skip
    for row in rows:
        assert float(row.split(" | ")[2].replace(",", "")) > 0
    (latency,) = [line for line in lines if line.startswith("From a fire's reading")]
    assert "4 of 4 delivered" in latency
    assert re.search(r"p99 \d+ ms", latency)
