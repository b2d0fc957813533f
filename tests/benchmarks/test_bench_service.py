"""The live service's benchmark (benchmarks/bench_service.py) at a tiny size, so that it keeps
working: devices over MQTT through the broker alone and through the service, ``wrk`` on REST,
and the section ``benchmarks/run.py --only service`` rewrites alone in BENCHMARKS.md."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from types import ModuleType

import pytest

from components import need

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _script(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """A benchmark script imported by its name, as ``run.py`` imports the others."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module(name)


def test_every_run_at_a_tiny_size_counts_every_message_and_sees_every_risk(
    fire_registry: Path,
    features: Path,
    frames_dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for binary, package in (("mosquitto", "mosquitto"), ("mosquitto_passwd", "mosquitto"),
                            ("wrk", "wrk")):  # fmt: skip
        need(binary, package)
    bench = _script("bench_service", monkeypatch)
    sizes = bench.Sizes(raw=(3,), edge=(4,), send_s=4.0, drain_s=30.0, rest_s=1.0,
                        connections=(2,), apart_edge=(4,))  # fmt: skip
    prepared = bench.Prepared(features, frames_dataset, fire_registry)
    runs, rest, info = bench.measure(sizes, tmp_path / "work", prepared)

    assert [(r.edge, r.service, r.devices, r.agents_apart) for r in runs] == [
        (False, False, 3, 0), (True, False, 4, 0), (False, True, 3, 0), (True, True, 4, 0),
        (True, True, 4, len(bench.AGENTS)),
    ]  # fmt: skip
    assert runs[-1].cores["agent processes"] > 0
    for r in runs:
        # every message counted (by the service, or the plain subscriber), every reading's
        # prediction (or message) seen, after it was published
        assert r.caught_up and r.published == r.acked == r.counted > 0 and r.lost == 0
        assert r.readings > 0 and len(r.latencies_ms) == r.readings
        assert 0 < r.pct(50) <= r.pct(99) < 30_000
        assert r.kept == r.counted and r.skipped == r.dropped == 0
        assert r.cores["load processes"] > 0
    raw, edge = runs[2], runs[3]
    assert raw.published == 3 * raw.readings  # the frames at t - 1 s and t, then the reading
    assert edge.published == 2 * edge.readings  # the edge row at t, then the reading
    assert raw.cores["service"] > 0 and "event client" in raw.cores
    assert [(w.target, w.connections) for w in rest] == [
        ("GET /healthz", 2), ("POST /v1/predict", 2)
    ]  # fmt: skip
    for w in rest:
        assert w.requests > 0 and w.errors == 0 and 0 < w.p50_ms <= w.p99_ms
        assert w.service_mean_ms > 0 and w.cores["wrk"] > 0
    text = "\n".join(bench.section(sizes, runs, rest, info))
    assert text.startswith("## Live service") and not re.search(r"\bnan\b", text)
    assert "### Raw-frame devices" in text and "### REST: single-row predict" in text
    assert f"4 devices with {', '.join(bench.AGENTS)} in 5 processes of their own" in text


def test_only_the_section_asked_for_is_rewritten(monkeypatch: pytest.MonkeyPatch) -> None:
    run = _script("run", monkeypatch)

    old = ["# Benchmarks", "", "## Generator (x)", "", "g", "", "## Against a plain numpy "
           "baseline", "b", "", "## Features (y)", "f", "", "## Models", "m", "",
           "Command: `make bench`.", ""]  # fmt: skip
    text = "\n".join(old)
    added = run.replace_section(text, "service", ["## Live service (z)", "", "s1", ""])
    # a section not there yet goes after the last one, before the footer
    assert added.split("\n") == [*old[:-2], "## Live service (z)", "", "s1", "", *old[-2:]]
    again = run.replace_section(added, "service", ["## Live service (z)", "", "s2", ""])
    assert again == added.replace("s1", "s2")
    generator = run.replace_section(again, "generator", ["## Generator (x)", "", "G", ""])
    assert generator.split("\n")[2:6] == ["## Generator (x)", "", "G", ""]
    assert generator.split("\n")[6:] == again.split("\n")[9:]
    models = run.replace_section(again, "models", ["## Models", "M", ""])
    assert models == again.replace("## Models\nm\n", "## Models\nM\n")
