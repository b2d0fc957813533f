"""Plot one scenario of a dataset: thermal frames over time, CO2 / temperature / RH traces,
heat-release rate, with ignition marked.

Stored frames are used when the dataset has them for that scenario; otherwise the frames are
rendered again from the scenario's parameters (the generator is deterministic, so they are the
frames the dataset would have stored).
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.dataset as pads  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from embercast.dataset.manifest import FRAMES_DIR, READINGS_DIR, SCENARIOS_FILE  # noqa: E402
from embercast.dataset.schema import (  # noqa: E402
    FRAME_HEIGHT,
    FRAME_WIDTH,
    FramePolicy,
)
from embercast.errors import InputError
from embercast.sensors.lepton import counts_to_celsius  # noqa: E402
from embercast.store.fs import join, resolve  # noqa: E402
from embercast.store.integrity import open_artifact  # noqa: E402
from embercast.synth.scenarios import COMMON_PARAMETERS, SCENARIO_CLASSES, ScenarioSpec  # noqa: E402

N_FRAMES = 6
"""Thermal frames shown across the top of the figure."""


def _spec_from_row(row: dict[str, Any]) -> ScenarioSpec:
    """Rebuild a scenario's spec from its scenarios.parquet row."""
    cls = SCENARIO_CLASSES[row["scenario_class"]]
    names = ["duration_s", *COMMON_PARAMETERS, *cls.parameters]
    return ScenarioSpec(
        scenario_id=row["scenario_id"],
        scenario_class=row["scenario_class"],
        seed=int(row["seed"]),
        params={k: row[k] for k in names},
        split_group=row["split_group"],
    )


def load_scenario(
    dataset: str, scenario_id: str
) -> tuple[dict[str, Any], pa.Table, pa.Table | None]:
    """The scenarios row, readings and stored frames (None if none stored) of one scenario."""
    source = open_artifact(dataset, "dataset")
    fs, root = source.fs, source.root
    table = pq.read_table(join(root, SCENARIOS_FILE), filesystem=fs)
    rows = table.filter(pa.compute.equal(table["scenario_id"], scenario_id)).to_pylist()
    if not rows:
        raise InputError(f"scenario {scenario_id!r} is not in {dataset!r}")
    expr = pads.field("scenario_id") == scenario_id
    readings = pads.dataset(
        [join(root, READINGS_DIR, p) for p in source.parts(READINGS_DIR)],
        filesystem=fs,
        format="parquet",
    ).to_table(filter=expr)
    frames: pa.Table | None = None
    stored = [join(root, FRAMES_DIR, p) for p in source.parts(FRAMES_DIR)]
    if stored:
        frames = pads.dataset(stored, filesystem=fs, format="parquet").to_table(filter=expr)
        if frames.num_rows == 0:
            frames = None
    return rows[0], readings, frames


def _frames_for_plot(row: dict[str, Any], frames: pa.Table | None) -> tuple[np.ndarray, np.ndarray]:
    """(times [s], frames [°C]) of the first device, stored or rendered again."""
    if frames is None:
        from embercast.synth.runner import run_scenario

        frames = run_scenario(_spec_from_row(row), FramePolicy.parse("sample:12")).frames
    device = sorted(set(frames["device_id"].to_pylist()))[0]
    frames = frames.filter(pa.compute.equal(frames["device_id"], device))
    t = np.asarray(frames["t_s"].to_numpy())
    order = np.argsort(t)
    pick = order[np.linspace(0, len(order) - 1, min(N_FRAMES, len(order))).astype(int)]
    blobs = frames["frame"].to_pylist()
    imgs = np.stack(
        [
            counts_to_celsius(
                np.frombuffer(blobs[i], dtype="<u2").reshape(FRAME_HEIGHT, FRAME_WIDTH)
            )
            for i in pick
        ]
    )
    return t[pick], imgs


def _measured_beside(row: dict[str, Any], real_fires: str | None) -> tuple[Any, str, str] | None:
    """The measurements of the FAA test a replica scenario copies, and the CO2 and thermocouple
    columns of its first device's probe; None for other scenarios or without ``real_fires``."""
    if real_fires is None or "faa_test" not in row or row["faa_test"] is None:
        return None
    from pathlib import Path

    from embercast.synth.replica_check import read_faa_test
    from embercast.synth.replicas import FAA_TESTS

    probe = FAA_TESTS[str(row["faa_test"])].probes[0]
    return read_faa_test(Path(real_fires), str(row["faa_test"])), probe.column, probe.thermocouple


def plot_scenario(
    dataset: str, scenario_id: str, out: str, *, real_fires: str | None = None
) -> str:
    """Write a PNG of scenario ``scenario_id`` of ``dataset`` to ``out`` and return its path.

    With ``real_fires`` (the folder of the real fire tests), a replica of an FAA test is drawn
    beside that test's measured CO2 rise and warming at the first device's probe.
    """
    row, readings, frames = load_scenario(dataset, scenario_id)
    measured = _measured_beside(row, real_fires)
    times, imgs = _frames_for_plot(row, frames)
    device = sorted(set(readings["device_id"].to_pylist()))[0]
    r = readings.filter(pa.compute.equal(readings["device_id"], device))
    t = r["t_s"].to_numpy() / 60.0
    ign = row["ignition_s"]
    fig = plt.figure(figsize=(15, 9), constrained_layout=True)
    grid = fig.add_gridspec(3, N_FRAMES, height_ratios=[1.1, 1, 1])
    vmin, vmax = (
        float(np.percentile(imgs, 1)),
        float(max(np.percentile(imgs, 99.9), np.percentile(imgs, 1) + 5)),
    )
    for k in range(len(times)):
        ax = fig.add_subplot(grid[0, k])
        im = ax.imshow(imgs[k], cmap="inferno", vmin=vmin, vmax=vmax)
        ax.set_title(f"t = {times[k]:.0f} s, max {imgs[k].max():.0f} °C", fontsize=9)
        ax.axis("off")
    fig.colorbar(im, ax=fig.axes[: len(times)], shrink=0.8, label="°C")
    ax_gas = fig.add_subplot(grid[1, : N_FRAMES // 2])
    ax_gas.plot(t, r["co2_ppm"].to_numpy(), label="SCD41 CO2")
    ax_gas.plot(t, r["true_co2_ppm"].to_numpy(), "--", alpha=0.6, label="true CO2 at sensor")
    ax_gas.set_ylabel("CO2 [ppm]")
    ax_t = fig.add_subplot(grid[1, N_FRAMES // 2 :])
    ax_t.plot(t, r["temperature_c"].to_numpy(), label="SCD41 T")
    ax_t.plot(t, r["true_gas_temp_c"].to_numpy(), "--", alpha=0.6, label="true gas T")
    ax_t.set_ylabel("temperature [°C]")
    if measured is not None and ign is not None:
        data, co2_col, tc_col = measured
        t_m = (data["Time"].to_numpy() + ign) / 60.0
        base_co2 = float(r["true_co2_ppm"].to_numpy()[np.searchsorted(r["t_s"].to_numpy(), ign)])
        base_t = float(r["true_gas_temp_c"].to_numpy()[np.searchsorted(r["t_s"].to_numpy(), ign)])
        ax_gas.plot(t_m, base_co2 + data[co2_col].to_numpy() * 1e6, "k.", ms=2,
                    label=f"measured ({co2_col})")  # fmt: skip
        ax_t.plot(t_m, base_t + data[tc_col].to_numpy(), "k.", ms=2, label=f"measured ({tc_col})")
    ax_rh = fig.add_subplot(grid[2, : N_FRAMES // 2])
    ax_rh.plot(t, r["humidity_pct"].to_numpy(), label="SCD41 RH")
    ax_rh.set_ylabel("RH [%]")
    ax_q = fig.add_subplot(grid[2, N_FRAMES // 2 :])
    ax_q.plot(t, r["true_hrr_kw"].to_numpy(), color="tab:red", label="heat release rate")
    ax_q.set_ylabel("HRR [kW]")
    for ax in (ax_gas, ax_t, ax_rh, ax_q):
        ax.set_xlabel("time [min]")
        if ign is not None:
            ax.axvline(ign / 60.0, color="k", ls=":", label="ignition")
        ax.legend(fontsize=8, loc="upper left")
        ax.grid(alpha=0.3)
    fig.suptitle(f"{scenario_id}: {row['scenario_class']} ({device})")
    fs, path = resolve(out)
    with fs.open(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=90)
    plt.close(fig)
    return out
