"""What ``POST /v1/predict`` computes: feature rows scored as they are (and, when they carry
times, run through sensor supervision, the heat watch and the alarm decision as an evaluation
runs them), or a device's raw readings and frames (or edge rows) folded through a fresh
:class:`~embercast.service.device_stream.DeviceStream`."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from embercast.alarm.decision import AlarmDecision
from embercast.alarm.heat import HeatWatch
from embercast.alarm.risk import risk_level
from embercast.errors import InputError
from embercast.evaluation.metrics import HEAT_COLUMN, co2_inputs
from embercast.evaluation.sensor_supervision import apply_sensor_supervision
from embercast.features.base import Reading
from embercast.features.edge import EdgeRow
from embercast.service.device_stream import DeviceStream
from embercast.service.live_model import LiveModel
from embercast.service.schemas import DeviceData, PredictionOut

_NAN = float("nan")
_EPS = 1e-6


def _nan(value: float | None) -> float:
    return _NAN if value is None else float(value)


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


def predict_rows(model: LiveModel, rows: list[dict[str, float | None]]) -> list[PredictionOut]:
    """Score feature rows (names of the model's features; a missing one is NaN, an unknown one
    an InputError). Rows that all carry ``t_s`` [s], in increasing order, are one device's
    time series: each gets the alarm decision's state after it."""
    known = set(model.features)
    unknown = sorted({k for row in rows for k in row} - known - {"t_s"})
    if unknown:
        raise InputError(
            f"unknown feature(s) {', '.join(unknown)}; the model {model.describe()} takes "
            f"{len(model.features)} features of the {model.feature_set!r} set "
            "(GET /v1/models/current lists them)"
        )
    timed = ["t_s" in row and row["t_s"] is not None for row in rows]
    if any(timed) and not all(timed):
        raise InputError("either every row carries t_s (a time series) or none does")
    if not all(timed):  # plain rows: straight to an array (no table needed)
        p = model.score(
            np.array([[_nan(row.get(n)) for n in model.features] for row in rows], np.float64)
        )
        return [
            PredictionOut(
                t_s=None,
                p_fire=_finite(float(v)),
                risk=risk_level(float(v)),
                above_threshold=bool(v >= model.params.threshold),
                alarm=None,
                onset=None,
            )  # fmt: skip
            for v in p
        ]
    frame = pd.DataFrame(
        {n: [_nan(row.get(n)) for row in rows] for n in model.features}, dtype=np.float64
    )
    t = np.array([float(row["t_s"]) for row in rows])  # type: ignore[arg-type]
    if np.any(np.diff(t) <= 0):
        raise InputError("a time series' rows must have increasing t_s")
    keyed = frame.assign(scenario_id="request", device_id="request", t_s=t)
    watched, faulted = apply_sensor_supervision(keyed)
    p = model.score(watched[list(model.features)].to_numpy())
    temperature = (
        watched[HEAT_COLUMN].to_numpy(float) if HEAT_COLUMN in watched else np.full(len(t), _NAN)
    )
    co2, rate = co2_inputs(watched)
    decision, heat = AlarmDecision(model.params), HeatWatch()
    out = []
    for ti, pi, ci, gi, ri, fault in zip(t, p, temperature, co2, rate, faulted, strict=True):
        evidence = heat.update(float(ti), float(ci))
        active = decision.update(float(ti), float(pi), evidence, float(gi), float(ri))
        out.append(
            PredictionOut(
                t_s=float(ti),
                p_fire=_finite(float(pi)),
                risk=risk_level(float(pi)),
                above_threshold=bool(pi >= model.params.threshold),
                alarm=active,
                onset=decision.onset,
                heat=heat.get(),
                sensor_fault=bool(fault),
            )  # fmt: skip
        )
    return out


def edge_rows(model: LiveModel, data: DeviceData) -> list[EdgeRow]:
    """The device's edge rows, checked, by time; InputError naming the first unusable one."""
    rows = []
    for i, item in enumerate(data.edge):
        try:
            row = item.row()
        except InputError as exc:
            raise InputError(f"device.edge[{i}] (ts={item.ts}): {exc}") from None
        if row.feature_set != model.feature_set:
            raise InputError(
                f"device.edge[{i}] (ts={item.ts}): features of {row.feature_set!r}, but the "
                f"model {model.describe()} takes {model.feature_set!r}"
            )
        rows.append(row)
    return sorted(rows, key=lambda r: r.t_s)


def predict_device(model: LiveModel, data: DeviceData) -> tuple[list[PredictionOut], Counter[str]]:
    """Fold a device's frames and readings in time order (for each reading at t, the frames at
    or before t first, as the offline fold does, or the edge row at t) through a fresh stream;
    the predictions of the accepted readings and the rejected inputs by reason (an edge row
    without a reading at its time is ``edge_unused``)."""
    stream = DeviceStream(model, data.device_id)
    frames = sorted(data.frames, key=lambda f: f.ts)
    edges = edge_rows(model, data)
    readings = sorted(data.readings, key=lambda r: r.ts)
    out: list[PredictionOut] = []
    i = j = 0
    for r in readings:
        while i < len(frames) and frames[i].ts <= r.ts:
            stream.update_frame(frames[i].ts, frames[i].pixels(), frames[i].ffc)
            i += 1
        edge = None
        while j < len(edges) and edges[j].t_s <= r.ts + _EPS:
            if edges[j].t_s >= r.ts - _EPS:
                edge = edges[j]
            else:
                stream.features.rejected["edge_unused"] += 1
            j += 1
        reading = Reading(r.ts, _nan(r.co2_ppm), _nan(r.temperature_c), _nan(r.humidity_pct))
        found = stream.update(reading, edge)
        if found is None:
            continue
        out.append(
            PredictionOut(
                t_s=found.t_s,
                p_fire=_finite(found.p_fire),
                risk=found.risk,
                above_threshold=bool(found.p_fire >= model.params.threshold),
                alarm=found.alarm,
                onset=found.onset,
                heat=found.heat,
                sensor_fault=found.sensor_fault,
                thermal_status=found.thermal_status,
                troubles=list(found.troubles),
            )  # fmt: skip
        )
    return out, stream.features.rejected
