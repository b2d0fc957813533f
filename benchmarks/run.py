"""Benchmarks of the generator, the features, the models and the live service; rewrites
BENCHMARKS.md.

Run with ``make bench``. Measures scenarios/s and feature-ready rows/s with and without frames,
1 worker vs 2, local process pool vs Dask, the 100,000-row goal run, and a plain numpy baseline
that renders the same number of frames in the same run; then the features, the models, the
service under load, the message bus, the service's restart and the test suite against an older
suite's (benchmarks/bench_*.py). ``--only service``
(repeatable) measures one section and rewrites only it in an existing BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from bench_bus import bus_section
from bench_features import Rate, frame_rates, table_rates
from bench_models import compiled_batch, dataset, latency, scoring_memory, train_and_predict
from bench_restart import restart_section
from bench_service import service_section
from bench_tests import tests_section

from embercast import __version__
from embercast.models.sequence import SCORE_CHUNK
from embercast.synth.scenarios import sample_scenarios
from embercast.synth.writer import generate_dataset

GOAL_ROWS = 100_000
"""Rows of the goal run (labelled 5-s rows with the frames their features need)."""
SUBSET = 48
"""Scenarios of the comparison runs."""


@dataclass
class Result:
    name: str
    scenarios: int
    rows: int
    frames: int
    seconds: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds

    @property
    def scenarios_per_s(self) -> float:
        return self.scenarios / self.seconds

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds


def expected_rows(n: int, seed: int) -> int:
    """Readings the first ``n`` scenarios of a dataset will have (cheap: from their specs)."""
    total = 0
    for spec in sample_scenarios(n, seed):
        p = spec.params
        period = 30.0 if p["scd41_low_power"] else 5.0
        total += int(float(p["duration_s"]) // period) * (2 if p["second_device"] else 1)
    return total


def scenarios_for_rows(rows: int, seed: int) -> int:
    n = 50
    while expected_rows(n, seed) < rows:
        n += 25
    return n


def run(
    name: str, n: int, frames: str, workers: int, engine: str = "local", seed: int = 0
) -> Result:
    out = tempfile.mkdtemp(prefix="embercast-bench-")
    try:
        t0 = time.perf_counter()
        s = generate_dataset(
            out, scenarios=n, seed=seed, frames=frames, workers=workers, engine=engine
        )
        seconds = time.perf_counter() - t0
        return Result(name, s.scenarios, s.rows, s.frames_rendered, seconds)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def numpy_baseline(n_frames: int, seed: int = 0) -> float:
    """Frames/s of a plain numpy renderer: background, one hot disc, noise, uint16 counts."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:120, 0:160]
    t0 = time.perf_counter()
    for k in range(n_frames):
        img = np.full((120, 160), 22.0) + rng.normal(0.0, 0.05, (120, 160))
        cx, cy = 80 + 20 * np.sin(k / 50), 60 + 10 * np.cos(k / 70)
        img[(xx - cx) ** 2 + (yy - cy) ** 2 < 36] = 300.0
        np.round((img + 273.15) * 100).astype("<u2").tobytes()
    return n_frames / (time.perf_counter() - t0)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )


def features_section(quick: bool) -> list[str]:
    """The features part of BENCHMARKS.md (issue: features)."""
    work = tempfile.mkdtemp(prefix="embercast-bench-features-")
    try:
        frames = frame_rates(100 if quick else 1_000, work)
        tables = table_rates(work, 4 if quick else 16)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for r in [*frames, *tables]:
        print(r, flush=True)
    by = {r.name: r for r in frames}
    flow = by["standard18 with flow (streaming, 1 core)"]
    noflow = by["standard18 without flow (streaming, 1 core)"]
    ref = by["numpy reference of the same non-flow features"]
    farneback = by["Farneback flow alone (OpenCV, 1 thread)"]
    extended = by["extended with flow (streaming, 1 core)"]

    def table(rates: list[Rate], unit: str) -> list[str]:
        rows = [f"| run | {unit} | seconds | {unit}/s |", "|---|---:|---:|---:|"]
        rows += [f"| {r.name} | {r.count:,} | {r.seconds:.2f} | {r.per_s:,.0f} |" for r in rates]
        return rows

    flow_ok = "met" if flow.per_s >= 1000 else "NOT met"
    ratio = ref.per_s / noflow.per_s
    return [
        "## Features (`standard18` and `extended`)",
        "",
        "Frame pairs (P at t - 1 s, F at t) from a generated dataset, through the streaming",
        "extractors one device at a time, on one core; the numpy reference computes the same",
        "non-flow features plainly (no streaming objects), timed in the same run.",
        "",
        *table(frames, "frame pairs"),
        "",
        f"- Goal of 1,000 frame pairs/s per core with flow: **{flow_ok}** ({flow.per_s:,.0f}/s). "
        f"The Farneback call alone (DESIGN's parameters, OpenCV on one thread) allows "
        f"{farneback.per_s:,.0f} pairs/s on this CPU, so the goal cannot be met with that "
        "definition of the flow; standard18 needs one pair per 5-s reading, so one core keeps up "
        f"with about {flow.per_s * 5:,.0f} devices at the feature cadence.",
        f"- The `extended` set (the models' features: standard18 plus the 10- and 30-min trends, "
        f"hot-spot growth and gas ratios) takes {flow.per_s / extended.per_s:.2f}x standard18's "
        f"time per pair ({extended.per_s:,.0f} pairs/s, about {extended.per_s * 5:,.0f} devices "
        "per core).",
        f"- Non-flow features within 2x of the numpy reference: "
        f"**{'met' if ratio <= 2 else 'NOT met'}** (the streaming path takes {ratio:.2f}x the "
        "reference's time).",
        "",
        "Whole `embercast features` runs over a dataset with every frame stored (reading parts,",
        "decoding, folding, writing the feature set):",
        "",
        *table(tables, "rows"),
        "",
    ]


def models_section(quick: bool) -> list[str]:
    """The models part of BENCHMARKS.md (issue: models)."""
    rows = 3_000 if quick else GOAL_ROWS
    n = scenarios_for_rows(rows, seed=2)
    features = dataset(f"runs/bench/models-{n}", n)  # kept between runs (same content hash)
    rates, gbm = train_and_predict(features, rows)
    with tempfile.TemporaryDirectory() as cache:
        batch = compiled_batch(gbm, features, rows, cache)
        print(batch, flush=True)
        lat = latency(gbm, features, cache, 300 if quick else 2_000)
    del gbm
    memory = scoring_memory(features, 1 if quick else 5)
    print(memory, flush=True)
    lines = [
        "## Models",
        "",
        f"Training on {rates[0].rows:,} rows of `extended` features (all rows, split by scenario "
        "inside the models for calibration), then batch inference over the same rows, one core:",
        "",
        "| model | rows | training s | batch inference rows/s |",
        "|---|---:|---:|---:|",
        *(
            f"| {r.model} | {r.rows:,} | {r.train_s:.1f} | {r.predict_rows_per_s:,.0f} |"
            for r in rates
        ),
        "",
        "Batch inference of a LightGBM detector (the champion type) over the same rows, one "
        "thread, through `predict_proba` and through its trees compiled to native code "
        "(`CompiledScorer`, lleaves; `embercast predict` uses it), best of three, same run:",
        "",
        "| path | rows/s | ratio to predict_proba |",
        "|---|---:|---:|",
        f"| predict_proba | {batch['predict_proba rows/s']:,.0f} | 1.00 |",
        f"| compiled trees (first compile {batch['compile s']:.1f} s, then kept) | "
        f"{batch['compiled rows/s']:,.0f} | "
        f"{batch['compiled rows/s'] / batch['predict_proba rows/s']:.2f} |",
        "",
        "Single-row latency of a LightGBM detector (the champion type), same run:",
        "",
        "| path | p50 ms | p99 ms |",
        "|---|---:|---:|",
        *(f"| {k} | {v[0]:.3f} | {v[1]:.3f} |" for k, v in lat.items()),
        "",
    ]
    champion = batch["compiled rows/s"]
    fast_p99 = lat["RowScorer (boosters on an array, calibration tables, mean of members)"][1]
    native_p99 = lat["RowScorer, compiled trees"][1]
    lines += [
        f"- Goal of 100,000 rows/s batch: **{'met' if champion >= 100_000 else 'NOT met'}** "
        f"with the compiled trees (the champion type, LightGBM `gbm`: {champion:,.0f} rows/s on "
        f"one thread; {batch['predict_proba rows/s']:,.0f} through `predict_proba`).",
        f"- Goal of p99 under 1 ms for one row of a tree model: "
        f"**{'met' if fast_p99 < 1.0 else 'NOT met'}** with the single-row path "
        f"({fast_p99:.3f} ms; {native_p99:.3f} ms through the compiled trees, "
        f"{fast_p99 / native_p99:.2f}x faster); plain `predict_proba` on a one-row DataFrame is "
        "shown beside them.",
        "",
        "Peak resident memory a GRU adds while scoring a table (copies of the benchmark's whole",
        "feature table as distinct scenarios), its 12-row windows cut per chunk of "
        f"{SCORE_CHUNK:,} rows or for the whole table at once, each in a fresh process:",
        "",
        "| windows | rows | peak MiB added |",
        "|---|---:|---:|",
        *(f"| {k} | {n:,} | {mib:,.0f} |" for k, (n, mib) in memory.items()),
        "",
        f"- Per chunk the peak is {memory['per chunk'][1] / memory['whole table at once'][1]:.2f}x "
        "the whole table's (the sequence nets score per chunk since commit 323a7c1).",
        "",
    ]
    return lines


def generator_section(quick: bool) -> list[str]:
    """The generator part of BENCHMARKS.md, with its numpy baseline."""
    subset = 8 if quick else SUBSET
    goal_rows = 5_000 if quick else GOAL_ROWS
    results: list[Result] = []
    for frames in ("all", "none"):
        for workers in (1, 2):
            results.append(
                run(f"frames={frames}, local, {workers} worker(s)", subset, frames, workers)
            )
            print(results[-1], flush=True)
    results.append(run("frames=all, dask LocalCluster, 2 workers", subset, "all", 2, engine="dask"))
    print(results[-1], flush=True)
    n_goal = scenarios_for_rows(goal_rows, seed=1)
    goal = run(f"goal: {goal_rows:,} rows, frames=all, local, 2 workers", n_goal, "all", 2, seed=1)
    print(goal, flush=True)
    ours_1 = results[0]
    base_fps = numpy_baseline(ours_1.frames)  # the same number of frames, in the same run
    lines = [
        "## Generator (`embercast generate`)",
        "",
        "Rows are labelled SCD41 readings (one per device every 5 s, or 30 s in low-power mode); "
        "with "
        "`frames=all` each row also gets its two Lepton frames (at t and t - 1 s), rendered, run "
        "through the sensor model and stored as zstd Parquet. Times include writing the dataset.",
        "",
        "| run | scenarios | rows | frames rendered | seconds | scenarios/s | rows/s | frames/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in [*results, goal]:
        lines.append(
            f"| {r.name} | {r.scenarios} | {r.rows:,} | {r.frames:,} | {r.seconds:.1f} | "
            f"{r.scenarios_per_s:.2f} | {r.rows_per_s:,.0f} | {r.frames_per_s:,.0f} |"
        )
    speedup = results[1].rows_per_s / results[0].rows_per_s
    verdict = "met" if goal.seconds < 300 and goal.rows >= goal_rows else "NOT met"
    lines += [
        "",
        f"- Goal ({goal_rows:,} rows with frames in under 5 minutes on 2 cores): **{verdict}**, "
        f"{goal.rows:,} rows in {goal.seconds:.0f} s.",
        f"- 2 workers vs 1 (frames=all): {speedup:.2f}x rows/s.",
        f"- frames=none is {results[2].rows_per_s / results[0].rows_per_s:.1f}x faster per row "
        "than frames=all "
        "(1 worker).",
        "",
        "## Against a plain numpy baseline",
        "",
        "The baseline renders a frame the simplest way: a uniform background, one hot disc, "
        "Gaussian noise, conversion to uint16 centikelvin; no room geometry, objects, physics, "
        "sensor model or "
        "storage.",
        "",
        f"Both render the {ours_1.frames:,} frames of the 1-worker `frames=all` run above.",
        "",
        "| renderer | frames/s (1 core) | ratio to baseline |",
        "|---|---:|---:|",
        f"| numpy baseline | {base_fps:,.0f} | 1.00 |",
        "| embercast generate, frames=all, 1 worker (whole pipeline) | "
        f"{ours_1.frames_per_s:,.0f} | "
        f"{ours_1.frames_per_s / base_fps:.2f} |",
        "",
    ]
    return lines


SECTIONS: dict[str, tuple[Callable[[bool], list[str]], tuple[str, ...]]] = {
    "generator": (generator_section, ("## Generator", "## Against a plain numpy baseline")),
    "features": (features_section, ("## Features",)),
    "models": (models_section, ("## Models",)),
    "service": (service_section, ("## Live service",)),
    "bus": (bus_section, ("## Message bus",)),
    "restart": (restart_section, ("## Restart",)),
    "tests": (tests_section, ("## Test suite",)),
}
"""Sections of BENCHMARKS.md in order: name -> (what writes it, the headings it owns)."""
FOOTER = "Command: `make bench`."


def commit() -> str:
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return found.stdout.strip() or "unknown"


def header() -> list[str]:
    return [
        "# Benchmarks",
        "",
        "Rewritten by `make bench` (`python benchmarks/run.py`) on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"embercast {__version__} at commit {commit()}.",
        "",
        f"Machine: {machine()}.",
        "",
    ]


def replace_section(text: str, name: str, lines: list[str]) -> str:
    """``text`` (a BENCHMARKS.md) with section ``name``'s lines replaced by ``lines`` (from its
    first heading up to the next heading it does not own, or the footer); a section not there
    yet goes where :data:`SECTIONS` orders it."""
    owned = SECTIONS[name][1]
    old = text.split("\n")
    begin = next((i for i, line in enumerate(old) if line.startswith(owned)), None)
    if begin is None:  # before the first later section that is there, else the footer
        later = [
            h for n in list(SECTIONS)[list(SECTIONS).index(name) + 1 :] for h in SECTIONS[n][1]
        ]
        stops = [i for i, line in enumerate(old) if line.startswith(tuple(later))
                 or line.startswith(FOOTER)]  # fmt: skip
        begin = end = stops[0] if stops else len(old)
    else:
        end = begin + 1
        while (
            end < len(old)
            and not old[end].startswith(FOOTER)
            and not (old[end].startswith("## ") and not old[end].startswith(owned))
        ):
            end += 1
    return "\n".join(old[:begin] + lines + old[end:])


def main() -> None:
    # what the benchmarks generate is registered in a throwaway catalog, not the user's
    os.environ["EMBERCAST_CATALOG_PATH"] = str(Path(tempfile.mkdtemp()) / "catalog.sqlite")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="BENCHMARKS.md")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the script")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(SECTIONS),
        help="measure only this section (repeatable) and rewrite only it in an existing --out, "
        "keeping the others",
    )
    args = parser.parse_args()
    if not args.only:
        lines = header()
        for write, _ in SECTIONS.values():
            lines += write(args.quick)
        Path(args.out).write_text("\n".join([*lines, FOOTER, ""]))
        print(f"wrote {args.out}")
        return
    out = Path(args.out)
    text = out.read_text() if out.is_file() else "\n".join([*header(), FOOTER, ""])
    for name in [n for n in SECTIONS if n in args.only]:
        lines = SECTIONS[name][0](args.quick)
        note = (
            f"Section rewritten alone (`python benchmarks/run.py --only {name}`) on "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC at commit {commit()}; machine: {machine()}."
        )
        text = replace_section(text, name, [lines[0], "", note, *lines[1:]])
        out.write_text(text)  # each section as soon as it is measured
    print(f"rewrote {', '.join(args.only)} in {args.out}")


if __name__ == "__main__":
    main()
