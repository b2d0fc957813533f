"""Feature benchmarks: frame pairs/s per core for standard18 with and without optical flow and
for the extended set, against a plain numpy reference of the same features, and rows/s of
`embercast features`."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import pyarrow.parquet as pq
from scipy import ndimage

from embercast.features.base import Reading
from embercast.features.build import build_features
from embercast.features.flow import flow_magnitude
from embercast.features.frame_diff import FrameDiff
from embercast.features.frame_stats import FrameStats
from embercast.features.gas import Trend, co2
from embercast.features.gradient import Gradient
from embercast.features.hot_area import HotArea
from embercast.features.stream import DeviceFeatures
from embercast.features.tproxy import TProxy
from embercast.synth.writer import generate_dataset


@dataclass
class Rate:
    name: str
    count: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.count / self.seconds


def load_pairs(dataset: str, n: int) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """(t, P, F) frame pairs in °C from a generated dataset (the pairs its features use)."""
    frames = pq.read_table(f"{dataset}/frames").to_pandas().sort_values(["device_id", "t_s"])
    pairs = []
    blobs, times = frames.frame.to_list(), frames.t_s.to_numpy()
    for i in range(0, len(blobs) - 1, 2):
        p, f = (
            np.frombuffer(b, "<u2").reshape(120, 160).astype(np.float32) / 100 - 273.15
            for b in blobs[i : i + 2]
        )
        pairs.append((float(times[i + 1]), p, f))
        if len(pairs) == n:
            break
    return pairs


def numpy_reference(p: np.ndarray, f: np.ndarray) -> list[float]:
    """The 13 non-flow thermal features of standard18 written plainly with numpy/scipy."""
    hot = f > 40.0
    labels, count = ndimage.label(hot, structure=np.ones((3, 3), bool))
    largest = np.bincount(labels.ravel())[1:].max() if count else 0
    gy, gx = np.gradient(f)
    mag = np.hypot(gx, gy)
    d = f - p
    r, c = np.unravel_index(np.argmax(f), f.shape)
    spot = f[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2].mean()
    return [f.mean(), f.std(), f.max(), np.percentile(f, 95), 100 * hot.mean(),
            100 * largest / f.size, mag.mean(), mag.std(), d.mean(), d.std(), spot]  # fmt: skip


def stream_rate(
    name: str,
    pairs: list[tuple[float, np.ndarray, np.ndarray]],
    flow: bool,
    feature_set: str = "standard18",
) -> Rate:
    extractors = (
        None
        if flow
        else [FrameStats(), HotArea(), Gradient(), FrameDiff(), TProxy(), Trend("gas", co2, 60.0)]
    )
    dev = DeviceFeatures(feature_set, extractors)
    t0 = time.perf_counter()
    for k, (_, p, f) in enumerate(pairs):
        ts = 5.0 * (k + 1)
        dev.update_frame(ts - 1.0, p)
        dev.update_frame(ts, f)
        # CO2 and the room's water vapour rise together, so the gas slopes are computed
        dev.update_reading(Reading(ts, 420.0 + 0.5 * k, 21.0 + 0.001 * k, 40.0 + 0.01 * k))
    return Rate(name, len(pairs), time.perf_counter() - t0)


def frame_rates(n_pairs: int, workdir: str) -> list[Rate]:
    ds = f"{workdir}/pairs"
    generate_dataset(ds, scenarios=12, seed=9, frames="all", workers=2, overwrite=True)
    pairs = load_pairs(ds, n_pairs)
    rates = [
        stream_rate("standard18 with flow (streaming, 1 core)", pairs, flow=True),
        stream_rate("standard18 without flow (streaming, 1 core)", pairs, flow=False),
        stream_rate("extended with flow (streaming, 1 core)", pairs, True, "extended"),
    ]
    t0 = time.perf_counter()
    for _, p, f in pairs:
        numpy_reference(p, f)
    rates.append(
        Rate("numpy reference of the same non-flow features", len(pairs), time.perf_counter() - t0)
    )
    t0 = time.perf_counter()
    for _, p, f in pairs:
        flow_magnitude(p, f)
    rates.append(
        Rate("Farneback flow alone (OpenCV, 1 thread)", len(pairs), time.perf_counter() - t0)
    )
    return rates


def table_rates(workdir: str, scenarios: int) -> list[Rate]:
    ds = f"{workdir}/table"
    generate_dataset(
        ds,
        scenarios=scenarios,
        seed=10,
        frames="all",
        workers=2,
        scenarios_per_task=2,
        overwrite=True,
    )
    out = []
    for name, engine, workers in (
        ("local, 1 worker", "local", 1),
        ("local, 2 workers", "local", 2),
        ("dask LocalCluster, 2 workers", "dask", 2),
    ):
        target = tempfile.mkdtemp(dir=workdir)
        t0 = time.perf_counter()
        s = build_features(ds, target, feature_set="standard18", engine=engine, workers=workers)
        out.append(
            Rate(f"embercast features, standard18, {name}", s.rows, time.perf_counter() - t0)
        )
        shutil.rmtree(target)
    return out
