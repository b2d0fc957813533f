"""Simulated devices: recorded streams replayed to the live service as device messages, in real
time or faster, with faults (``embercast simulate``).

A :class:`Recording` is one (scenario, device) stream: SCD41 readings and the stored Lepton
frames, from a dataset (``readings/part-*.parquet``, ``frames/part-*.parquet``) or from the
FAA real fire tests (each CO2 probe a camera-less device, through the loaders of
:mod:`embercast.evaluation.sim_to_real`). Simulated device ``sim-<n>`` replays one recording in
the zone of its scenario (its room). For each reading at t it sends the frames the features
need (the latest frame at or before t - 1 s and at or before t, each once) and then the
reading, all at simulated time t; a message's ``ts`` is ``start + t_s`` [Unix s], so the
streams look live, and ``speed`` seconds of data go out per wall second. A device made with
``edge=<feature set>`` computes its thermal features itself (an
:class:`~embercast.features.edge.EdgeThermal` over those same frames and its readings, on the
``ts`` it sends) and sends, for each reading at t, its edge row instead of the frames.

Faults (:data:`FAULTS`) each strike half the devices (at least one), chosen from ``seed``; the
messages they drop, delay or send twice are drawn from ``seed`` and the device's number, so a
plan is the same at every run. What was planned, dropped and doubled, with the transport's
:class:`~embercast.service.transports.Tally`, makes the :class:`Summary`.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.dataset as pads
from numpy.typing import NDArray

from embercast.dataset.manifest import FRAMES_DIR, READINGS_DIR
from embercast.errors import InputError
from embercast.evaluation.sim_to_real import FAA_FOLDER, faa_streams, readings
from embercast.features.base import Reading
from embercast.features.edge import EdgeRow, EdgeThermal
from embercast.features.sets import get_feature_set
from embercast.service.transports import ServiceRefused, Transport

logger = logging.getLogger(__name__)

FAULTS: dict[str, tuple[float | None, str]] = {
    "dropout": (0.1, "share of the messages not sent [-]"),
    "late": (5.0, "every message delayed by up to this, so some arrive out of order [s]"),
    "duplicate": (0.1, "share of the messages sent twice [-]"),
    "stuck_co2": (0.3, "share of the stream after which the SCD41 repeats its last reading [-]"),
    "no_camera": (None, "the device sends no frames"),
}
"""Faults a simulated device can have: name -> (default value, what the value is); set a value
with ``name=value``."""
FAULT_SHARE = 0.5
"""Share of the devices each fault strikes (at least one) [-]."""
_VALUES = ("co2_ppm", "temperature_c", "humidity_pct")


@dataclass(frozen=True)
class Recording:
    """One recorded stream: ``readings`` (t_s [s], co2_ppm, temperature_c, humidity_pct) and
    ``frames`` (t_s [s], ffc, gain, frame: 120 x 160 uint16 LE centikelvin bytes), by time."""

    scenario_id: str
    device_id: str
    readings: pd.DataFrame = field(repr=False)
    frames: pd.DataFrame = field(repr=False)


@dataclass(frozen=True)
class SimDevice:
    """Simulated device ``<prefix>-<number>`` in ``zone``, replaying ``recording`` with
    ``faults``; with ``edge`` (a feature set) it sends the edge rows of that set's thermal
    features instead of frames."""

    number: int
    zone: str
    recording: Recording
    faults: dict[str, float | None]
    prefix: str = "sim"
    edge: str | None = None

    @property
    def device_id(self) -> str:
        return f"{self.prefix}-{self.number}"

    @property
    def name(self) -> str:
        """Where the stream comes from: ``scenario/device`` (at most 128 characters)."""
        return f"{self.recording.scenario_id}/{self.recording.device_id}"[:128]


@dataclass(frozen=True)
class Send:
    """One message to send at ``at_s`` (simulated seconds from the start): row ``index`` of
    the recording's readings (``scd41``, with the ``values`` sent) or frames (``thermal``), of
    time ``t_s`` [s]; with ``edge``, the device's edge row at reading ``index`` (``thermal``)."""

    at_s: float
    kind: str
    index: int
    t_s: float
    values: tuple[float, float, float] | None = None
    edge: bool = False


@dataclass
class Plan:
    """A device's messages in sending order; ``planned`` the stream's messages before the
    faults, of which ``dropped`` are not sent and ``doubled`` are sent twice."""

    device: SimDevice
    sends: list[Send]
    planned: int
    dropped: int = 0
    doubled: int = 0


# ---------------------------------------------------------------------------------- sources


def _round_robin(keys: pd.DataFrame) -> list[tuple[str, str]]:
    """(scenario, device) pairs, a device of each scenario in turn, so a few devices span
    several rooms."""
    by_scenario: dict[str, set[str]] = {}
    for sid, dev in zip(keys["scenario_id"], keys["device_id"], strict=True):
        by_scenario.setdefault(str(sid), set()).add(str(dev))
    devices = {sid: sorted(devs) for sid, devs in sorted(by_scenario.items())}
    order = []
    for j in range(max((len(d) for d in devices.values()), default=0)):
        order += [(sid, d[j]) for sid, d in devices.items() if j < len(d)]
    return order


def _dataset_recordings(root: Path, count: int) -> list[Recording]:
    parts = sorted((root / READINGS_DIR).glob("part-*.parquet"))
    if not parts:
        raise InputError(f"{root} is neither a dataset (readings/part-*.parquet) nor the real "
                         f"fire tests ({FAA_FOLDER}/)")  # fmt: skip
    table = pads.dataset(parts).to_table(columns=["scenario_id", "device_id", "t_s", *_VALUES])
    reads = table.to_pandas()
    chosen = _round_robin(reads)[:count]
    frames = pd.DataFrame(columns=["scenario_id", "device_id", "t_s", "ffc", "gain", "frame"])
    frame_parts = sorted((root / FRAMES_DIR).glob("part-*.parquet"))
    if frame_parts:
        wanted = pads.field("scenario_id").isin(sorted({s for s, _ in chosen}))
        frames = pads.dataset(frame_parts).to_table(columns=list(frames.columns), filter=wanted)
        frames = frames.to_pandas()
    out = []
    for sid, dev in chosen:
        mine = reads[(reads["scenario_id"] == sid) & (reads["device_id"] == dev)]
        shots = frames[(frames["scenario_id"] == sid) & (frames["device_id"] == dev)]
        out.append(Recording(sid, dev, mine.sort_values("t_s", kind="stable"),
                             shots.sort_values("t_s", kind="stable")))  # fmt: skip
    return out


def _real_fire_recordings(folder: Path, count: int, seed: int) -> list[Recording]:
    """The FAA tests' CO2 probes as camera-less devices: a test is a room, a probe a device."""
    reads = readings(faa_streams(folder), seed).to_pandas()
    names = reads["scenario_id"].str.split("/", n=1)
    reads = reads.assign(scenario_id=names.str[0], device_id=names.str[1])
    empty = pd.DataFrame({"t_s": pd.Series(dtype=float), "frame": pd.Series(dtype=object)})
    out = []
    for sid, dev in _round_robin(reads)[:count]:
        mine = reads[(reads["scenario_id"] == sid) & (reads["device_id"] == dev)]
        out.append(Recording(sid, dev, mine.sort_values("t_s", kind="stable"), empty))
    return out


def load_recordings(source: str | Path, count: int, seed: int = 0) -> list[Recording]:
    """Up to ``count`` recordings of ``source`` (a dataset folder, or the real fire tests'
    folder or its ``faa_cargo_compartments``), a device of each scenario in turn; the real
    tests' SCD41 readings are drawn from ``seed``."""
    root = Path(source)
    if not root.is_dir():
        raise InputError(f"--from {source}: no such folder")
    if (root / FAA_FOLDER).is_dir():
        return _real_fire_recordings(root, count, seed)
    if root.name == FAA_FOLDER:
        return _real_fire_recordings(root.parent, count, seed)
    return _dataset_recordings(root, count)


# ---------------------------------------------------------------------------------- devices


def parse_faults(text: str | None) -> dict[str, float | None]:
    """``dropout,late=3`` -> {"dropout": 0.1, "late": 3.0}; InputError naming :data:`FAULTS`."""
    faults: dict[str, float | None] = {}
    for item in (text or "").split(","):
        name, eq, raw = item.strip().partition("=")
        if not name:
            continue
        if name not in FAULTS:
            raise InputError(f"unknown fault {name!r} in FAULTS; valid: {', '.join(FAULTS)}")
        default, what = FAULTS[name]
        if not eq or default is None:
            if eq:
                raise InputError(f"fault {name!r} takes no value, got {item.strip()!r}")
            faults[name] = default
            continue
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        limit = 1.0 if what.endswith("[-]") else 3600.0
        if not 0.0 <= value <= limit:
            raise InputError(f"fault {item.strip()!r}: expected {name}=<{what}>, "
                             f"a number from 0 to {limit:g}")  # fmt: skip
        faults[name] = value
    return faults


def _zone(prefix: str, scenario_id: str, cycle: int) -> str:
    room = re.sub(r"[^A-Za-z0-9_.:-]", "_", scenario_id)[:40]
    return f"{prefix}-{room}" + (f"-{cycle}" if cycle else "")


def make_devices(
    recordings: list[Recording],
    count: int,
    faults: dict[str, float | None],
    seed: int = 0,
    prefix: str = "sim",
    edge: str | None = None,
) -> list[SimDevice]:
    """``count`` devices ``<prefix>-1`` ... over ``recordings`` (cycled when there are fewer:
    a replayed copy is in a room of its own), each fault on :data:`FAULT_SHARE` of them; a
    device's zone is ``<prefix>-<scenario>``. With ``edge`` (a feature set) every device sends
    edge rows of that set instead of frames."""
    if edge is not None:
        get_feature_set(edge)  # an unknown name fails here
    if not recordings:
        raise InputError("the source holds no readings to replay")
    if not re.fullmatch(r"[A-Za-z0-9_.:]{1,16}", prefix):
        raise InputError(f"device prefix {prefix!r} is not 1-16 of A-Z a-z 0-9 _ . :")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    struck: dict[str, set[int]] = {}
    for name in sorted(faults):
        k = max(1, round(FAULT_SHARE * count))
        struck[name] = {int(i) for i in rng.choice(count, size=k, replace=False)}
    out = []
    for i in range(count):
        rec = recordings[i % len(recordings)]
        mine = {name: faults[name] for name in faults if i in struck[name]}
        zone = _zone(prefix, rec.scenario_id, i // len(recordings))
        out.append(SimDevice(i + 1, zone, rec, mine, prefix, edge))
    return out


def frames_for(t_frames: np.ndarray, t_s: float) -> list[int]:
    """Indices of the frames a reading at ``t_s`` needs: the latest at or before t - 1 s and
    at or before t (``t_frames`` by time, [s]), earliest first, each once."""
    picks = {int(np.searchsorted(t_frames, at + 1e-6, side="right")) - 1 for at in (t_s - 1, t_s)}
    return sorted(k for k in picks if k >= 0)


def plan(device: SimDevice, duration_s: float | None = None, seed: int = 0) -> Plan:
    """The messages ``device`` sends, readings up to ``duration_s`` of simulated time [s]
    (None: all), with its faults applied (drawn from ``seed`` and its number)."""
    rec, faults = device.recording, device.faults
    values = _values(device)
    t_frames = rec.frames["t_s"].to_numpy(dtype=float)
    sent: set[int] = set()
    sends: list[Send] = []
    for i, t in enumerate(rec.readings["t_s"].to_numpy(dtype=float)):
        if duration_s is not None and t > duration_s:
            break
        if "no_camera" not in faults and device.edge is not None:
            sends.append(Send(float(t), "thermal", i, float(t), edge=True))
        elif "no_camera" not in faults:
            new = [k for k in frames_for(t_frames, t) if k not in sent]
            sent.update(new)
            sends += [Send(float(t), "thermal", k, float(t_frames[k])) for k in new]
        reading = (float(values[i, 0]), float(values[i, 1]), float(values[i, 2]))
        sends.append(Send(float(t), "scd41", i, float(t), reading))
    result = Plan(device, sends, planned=len(sends))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2, device.number]))
    if "dropout" in faults:
        keep = rng.random(len(sends)) >= float(faults["dropout"] or 0)
        result.dropped = int((~keep).sum())
        sends = [s for s, k in zip(sends, keep, strict=True) if k]
    if "late" in faults:
        delays = rng.uniform(0.0, float(faults["late"] or 0), len(sends))
        sends = [replace(s, at_s=s.at_s + d) for s, d in zip(sends, delays, strict=True)]
    if "duplicate" in faults:
        twice = np.flatnonzero(rng.random(len(sends)) < float(faults["duplicate"] or 0))
        gaps = rng.uniform(0.0, 1.0, twice.size)
        copies = [
            replace(sends[k], at_s=sends[k].at_s + g) for k, g in zip(twice, gaps, strict=True)
        ]
        result.doubled = len(copies)
        sends = sends + copies
    result.sends = sorted(sends, key=lambda s: s.at_s)  # stable: a reading after its frames
    return result


def _values(device: SimDevice) -> NDArray[np.float64]:
    """The SCD41 values ``device`` sends, one row per reading (CO2, temperature, humidity),
    stuck from its ``stuck_co2`` fault's onset on."""
    values = device.recording.readings[list(_VALUES)].to_numpy(dtype=float, copy=True)
    if device.faults.get("stuck_co2") is not None:
        onset = max(1, math.ceil(float(device.faults["stuck_co2"] or 0) * len(values)))
        values[onset:] = values[onset - 1]
    return values


def edge_rows(p: Plan, start: float) -> dict[int, EdgeRow]:
    """The edge rows of an edge device's plan for a simulation starting at ``start`` [Unix s],
    by reading index: its :class:`~embercast.features.edge.EdgeThermal` over the frames a raw
    device would send and every reading up to the last planned one (the device makes a row for
    each reading it takes, whether or not the message gets through), at the ``ts`` it sends.
    Empty for a device that sends frames."""
    device, wanted = p.device, [s.index for s in p.sends if s.edge]
    if device.edge is None or not wanted:
        return {}
    rec, values = device.recording, _values(device)
    t_frames = rec.frames["t_s"].to_numpy(dtype=float)
    edge = EdgeThermal(device.edge)
    used: set[int] = set()
    rows: dict[int, EdgeRow] = {}
    for i, t in enumerate(rec.readings["t_s"].to_numpy(dtype=float)[: max(wanted) + 1]):
        for k in frames_for(t_frames, t):
            if k not in used:
                used.add(k)
                frame = np.frombuffer(rec.frames["frame"].iloc[k], "<u2").reshape(120, 160)
                edge.update_frame(
                    float(start + t_frames[k]), frame, bool(rec.frames["ffc"].iloc[k])
                )
        row = edge.update(Reading(float(start + t), *(float(v) for v in values[i])))
        if row is not None:
            rows[i] = row
    return rows


def _num(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def payload(
    device: SimDevice, send: Send, start: float, rows: dict[int, EdgeRow] | None = None
) -> bytes:
    """The JSON payload of ``send`` (DESIGN 4.6) with ``ts`` = ``start`` + t_s [Unix s]; an
    edge row's from ``rows`` (:func:`edge_rows` of the device's plan and ``start``)."""
    if send.edge:
        if rows is None or send.index not in rows:
            raise InputError(f"{device.device_id}: no edge row for reading {send.index}; "
                             "pass rows=edge_rows(plan, start)")  # fmt: skip
        return json.dumps(rows[send.index].payload()).encode()
    if send.kind == "scd41":
        assert send.values is not None
        values = {k: _num(v) for k, v in zip(_VALUES, send.values, strict=True)}
        body: dict[str, Any] = {"ts": start + send.t_s, **values}
    else:
        f = device.recording.frames.iloc[send.index]
        body = {"ts": start + send.t_s, "ffc": bool(f["ffc"]), "gain": str(f["gain"]),
                "data": base64.b64encode(f["frame"]).decode()}  # fmt: skip
    return json.dumps(body).encode()


# ---------------------------------------------------------------------------------- running


@dataclass
class Summary:
    """A run: per device (``devices``) and in total, messages planned, dropped and doubled by
    the faults, sent, acknowledged (``duplicates`` of them already stored), rejected by
    reason, failed and not sent (``unsent``, a run stopped early), and how far the sending
    fell behind the schedule (``lag_s``, the most [wall s]: over HTTP a device waits for each
    answer, so a fast replay is bounded by the service's group commit); ``rate_per_s``
    messages sent per wall second."""

    start: float
    speed: float
    wall_s: float
    devices: list[dict[str, Any]]
    total: dict[str, Any]
    interrupted: bool = False

    @property
    def rate_per_s(self) -> float:
        return float(self.total["sent"]) / self.wall_s if self.wall_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rate_per_s": self.rate_per_s}


def _device_row(p: Plan, transport: Transport, unsent: int, lag_s: float) -> dict[str, Any]:
    c = transport.tally.counts(p.device.device_id)
    return {"device_id": p.device.device_id, "zone": p.device.zone, "stream": p.device.name,
            "faults": sorted(p.device.faults), "planned": p.planned, "dropped": p.dropped,
            "doubled": p.doubled, "sent": c.sent, "acknowledged": c.acknowledged,
            "duplicates": c.duplicates, "rejected": dict(sorted(c.rejected.items())),
            "failed": c.failed, "unsent": unsent, "lag_s": round(lag_s, 3)}  # fmt: skip


def run(
    plans: list[Plan],
    transport: Transport,
    speed: float,
    start: float | None = None,
    stop: threading.Event | None = None,
) -> Summary:
    """Send every plan's messages through ``transport``, ``speed`` simulated seconds per wall
    second, a thread per device; ``start`` the simulation's start [Unix s] (default: now);
    setting ``stop`` ends the run early.
    Ctrl-C stops it early; :class:`ServiceRefused` from any device stops all and is raised."""
    if not speed > 0 or math.isinf(speed):
        raise InputError(f"speed must be a finite number > 0, got {speed}")
    start = time.time() if start is None else start
    stop = threading.Event() if stop is None else stop
    edges = {p.device.device_id: edge_rows(p, start) for p in plans}
    unsent: Counter[str] = Counter()
    lag: dict[str, float] = {p.device.device_id: 0.0 for p in plans}
    errors: list[BaseException] = []
    began = time.monotonic()

    def device_loop(p: Plan) -> None:
        for k, s in enumerate(p.sends):
            due = began + s.at_s / speed
            if stop.wait(max(0.0, due - time.monotonic())):
                unsent[p.device.device_id] = len(p.sends) - k
                return
            behind = time.monotonic() - due
            if behind > lag[p.device.device_id]:
                lag[p.device.device_id] = behind
            try:
                body = payload(p.device, s, start, edges[p.device.device_id])
                transport.send(p.device.device_id, s.kind, body)
            except ServiceRefused as exc:
                errors.append(exc)
                stop.set()

    threads = [threading.Thread(target=device_loop, args=(p,), name=p.device.device_id,
                                daemon=True) for p in plans]  # fmt: skip
    for t in threads:
        t.start()
    interrupted = False
    try:
        for t in threads:
            while t.is_alive():  # a join with a timeout lets Ctrl-C through
                t.join(0.1)
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    rows = [_device_row(p, transport, unsent[p.device.device_id], lag[p.device.device_id])
            for p in plans]  # fmt: skip
    total: dict[str, Any] = {k: sum(r[k] for r in rows) for k in
                             ("planned", "dropped", "doubled", "sent", "acknowledged",
                              "duplicates", "failed", "unsent")}  # fmt: skip
    total["lag_s"] = max((r["lag_s"] for r in rows), default=0.0)
    total["rejected"] = dict(sorted(sum((Counter(r["rejected"]) for r in rows), Counter()).items()))
    return Summary(start, speed, time.monotonic() - began, rows, total, interrupted)
