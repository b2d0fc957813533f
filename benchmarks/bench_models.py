"""Model benchmarks: training time per model on 100,000 rows, batch inference rows/s, and
batch rows/s of the champion-type model through predict_proba and through its compiled trees,
single-row latency (p50/p99) through predict_proba and through the single-row path, timed in
the same run; and the peak memory a sequence net adds while
scoring a large table, its windows built per chunk against all at once, in the same run."""

from __future__ import annotations

import gc
import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embercast.evaluation.feature_data import load_features
from embercast.features.inline import InlineFeatureSet
from embercast.models import sequence
from embercast.models.compiled import CompiledScorer, RowScorer
from embercast.models.factory import make_detector
from embercast.synth.writer import generate_dataset

MODELS = ("rf", "gbm", "gas", "ensemble", "gru", "lstm")


@dataclass
class ModelRate:
    model: str
    rows: int
    train_s: float
    predict_rows_per_s: float


def dataset(path: str, scenarios: int) -> str:
    """A dataset with extended features computed while generating (reused when complete and
    made by this generator; one of an older generator is replaced)."""
    generate_dataset(path, scenarios=scenarios, seed=2, frames="none", workers=2,
                     features=InlineFeatureSet("extended"), holdout="room_size=large",
                     overwrite=True)  # fmt: skip
    return f"{path}/features"


def train_and_predict(features: str, rows: int) -> tuple[list[ModelRate], Any]:
    """Training time and batch rows/s of each model on the first ``rows`` rows, and the
    fitted LightGBM detector (the champion type), which the batch and latency benchmarks
    time further."""
    data = load_features(features).rows.iloc[:rows]
    y = data["fire"].to_numpy()
    out = []
    fitted = {}
    for name in MODELS:
        det = make_detector(name).set_params(feature_set="extended")
        t0 = time.perf_counter()
        det.fit(data, y, groups=data["scenario_id"].to_numpy())
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        det.predict_proba(data)
        out.append(ModelRate(name, len(data), train_s, len(data) / (time.perf_counter() - t0)))
        print(out[-1], flush=True)
        fitted[name] = det
    return out, fitted["gbm"]


def compiled_batch(
    det: Any, features: str, rows: int, cache: str, repeats: int = 3
) -> dict[str, float]:
    """Batch rows/s of a fitted LightGBM detector over the first ``rows`` rows through
    ``predict_proba`` and through its trees compiled into ``cache`` (one thread each, best of
    ``repeats``), and the seconds the first compile took."""
    data = load_features(features).rows.iloc[:rows]
    t0 = time.perf_counter()
    scorer = CompiledScorer(det, cache)
    compile_s = time.perf_counter() - t0
    plain, compiled = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        det.predict_proba(data)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        scorer.score(data)
        compiled.append(time.perf_counter() - t0)
    return {
        "predict_proba rows/s": len(data) / min(plain),
        "compiled rows/s": len(data) / min(compiled),
        "compile s": compile_s,
    }


def latency(det: Any, features: str, cache: str, n: int = 2000) -> dict[str, tuple[float, float]]:
    """p50 and p99 [ms] of one-row scoring of a fitted LightGBM detector: ``predict_proba``
    on a one-row DataFrame, and :class:`RowScorer` through the boosters and through their
    trees compiled into ``cache`` (compiled there before by :func:`compiled_batch`)."""
    data = load_features(features).rows
    scorer = RowScorer(det)
    native = RowScorer(det, compiled=True, directory=cache)
    sample = data.sample(n=min(n, len(data)), random_state=0)
    arr = sample[list(scorer.features)].to_numpy()

    def percentiles(times: list[float]) -> tuple[float, float]:
        ms = np.array(times) * 1e3
        return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))

    slow, fast, compiled = [], [], []
    for i in range(len(sample)):
        row = sample.iloc[[i]]
        t0 = time.perf_counter()
        det.predict_proba(row)
        slow.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        scorer.score(arr[i])
        fast.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        native.score(arr[i])
        compiled.append(time.perf_counter() - t0)
    return {
        "predict_proba (one-row DataFrame)": percentiles(slow),
        "RowScorer (boosters on an array, calibration tables, mean of members)": percentiles(fast),
        "RowScorer, compiled trees": percentiles(compiled),
    }


def _status_kib(key: str) -> int:
    """A /proc/self/status figure [KiB] (VmRSS: resident now, VmHWM: its peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _scoring_peak(features: str, copies: int, whole: bool, out: Any) -> None:
    """In a fresh process: fit a GRU on the first 20,000 rows, then put in ``out`` the rows
    scored and the peak resident memory [MiB] that scoring ``copies`` copies of the table
    (as distinct scenarios) added, windows per chunk or (``whole``) for all rows at once."""
    base = load_features(features).rows
    det = make_detector("gru").set_params(feature_set="extended", epochs=1)
    head = base.iloc[:20_000]
    det.fit(head, head["fire"].to_numpy(), groups=head["scenario_id"].to_numpy())
    data = pd.concat(
        [base.assign(scenario_id=f"{k}/" + base["scenario_id"]) for k in range(copies)],
        ignore_index=True,
    )
    del base
    if whole:
        sequence.SCORE_CHUNK = len(data)
    gc.collect()
    before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    det.predict_proba(data)
    out.put((len(data), (_status_kib("VmHWM") - before) / 1024))


def scoring_memory(features: str, copies: int) -> dict[str, tuple[int, float]]:
    """Rows and peak memory added [MiB] while a GRU scores ``copies`` copies of the table, its
    windows cut per chunk (:data:`embercast.models.sequence.SCORE_CHUNK` rows) and for the
    whole table at once (how they were cut before), each in a fresh process."""
    ctx = multiprocessing.get_context("spawn")
    result = {}
    for label, whole in (("per chunk", False), ("whole table at once", True)):
        queue = ctx.Queue()
        proc = ctx.Process(target=_scoring_peak, args=(features, copies, whole, queue))
        proc.start()
        result[label] = queue.get()
        proc.join()
    return result
