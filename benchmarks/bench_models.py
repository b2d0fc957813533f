"""Model benchmarks: training time per model on 100,000 rows, batch inference rows/s, and
single-row latency (p50/p99) of the champion-type model through predict_proba and through the
compiled single-row path, timed in the same run."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from embercast.models.data import load_features
from embercast.models.fast import RowScorer
from embercast.models.zoo import make_detector
from embercast.synth.writer import generate_dataset

MODELS = ("rf", "gbm", "gas", "ensemble", "gru", "lstm")


@dataclass
class ModelRate:
    model: str
    rows: int
    train_s: float
    predict_rows_per_s: float


def dataset(path: str, scenarios: int) -> str:
    """A dataset with extended features computed while generating (reused when complete)."""
    generate_dataset(path, scenarios=scenarios, seed=2, frames="none", workers=2,
                     features="extended", holdout="room_size=large")  # fmt: skip
    return f"{path}/features"


def train_and_predict(features: str, rows: int) -> list[ModelRate]:
    data = load_features(features).rows.iloc[:rows]
    y = data["fire"].to_numpy()
    out = []
    for name in MODELS:
        det = make_detector(name).set_params(feature_set="extended")
        t0 = time.perf_counter()
        det.fit(data, y, groups=data["scenario_id"].to_numpy())
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        det.predict_proba(data)
        out.append(ModelRate(name, len(data), train_s, len(data) / (time.perf_counter() - t0)))
        print(out[-1], flush=True)
    return out


def latency(features: str, n: int = 2000) -> dict[str, tuple[float, float]]:
    """p50 and p99 [ms] of one-row scoring of a LightGBM detector, both ways."""
    data = load_features(features).rows
    det = make_detector("gbm").set_params(feature_set="extended")
    det.fit(data, data["fire"].to_numpy(), groups=data["scenario_id"].to_numpy())
    scorer = RowScorer(det)
    sample = data.sample(n=min(n, len(data)), random_state=0)
    arr = sample[list(scorer.features)].to_numpy()

    def percentiles(times: list[float]) -> tuple[float, float]:
        ms = np.array(times) * 1e3
        return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))

    slow, fast = [], []
    for i in range(len(sample)):
        row = sample.iloc[[i]]
        t0 = time.perf_counter()
        det.predict_proba(row)
        slow.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        scorer.score(arr[i])
        fast.append(time.perf_counter() - t0)
    return {
        "predict_proba (one-row DataFrame)": percentiles(slow),
        "RowScorer (boosters on an array, calibration tables, mean of members)": percentiles(fast),
    }
