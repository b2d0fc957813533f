"""Fold recorded streams through :class:`~embercast.features.stream.DeviceFeatures`.

This is the offline path: the same streaming objects as the live service, fed with a dataset's
frames and readings in time order (for each reading at t, the frames at or before t first).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from embercast.dataset.feature_table import FLAG_COLUMNS, KEY_COLUMNS, LABEL_COLUMNS
from embercast.dataset.schema import FRAME_HEIGHT, FRAME_WIDTH
from embercast.features.base import Reading
from embercast.features.sets import feature_names
from embercast.features.stream import DeviceFeatures


def features_schema(feature_set: str) -> pa.Schema:
    """Columns of a feature table: keys, features in order, flags, labels."""
    return pa.schema(
        [
            pa.field("scenario_id", pa.string(), nullable=False),
            pa.field("device_id", pa.string(), nullable=False),
            pa.field("t_s", pa.float64(), nullable=False),
            *(pa.field(name, pa.float64()) for name in feature_names(feature_set)),
            pa.field("thermal_missing", pa.bool_(), nullable=False),
            pa.field("thermal_status", pa.string(), nullable=False),
            pa.field("fire", pa.int8(), nullable=False),
            pa.field("phase", pa.string(), nullable=False),
            pa.field("scenario_class", pa.string(), nullable=False),
            pa.field("split_group", pa.string(), nullable=False),
        ]
    )


def _groups(table: pa.Table) -> list[tuple[str, str, np.ndarray]]:
    """(scenario_id, device_id, row indices sorted by t_s) of every device stream of a table."""
    if table.num_rows == 0:
        return []
    keys = pc.binary_join_element_wise(table["scenario_id"], table["device_id"], "\x1f")
    order = np.lexsort((table["t_s"].to_numpy(), keys.to_numpy(zero_copy_only=False)))
    sorted_keys = keys.to_numpy(zero_copy_only=False)[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    out = []
    for a, b in zip(starts, np.r_[starts[1:], len(order)], strict=True):
        sid, dev = str(sorted_keys[a]).split("\x1f")
        out.append((sid, dev, order[a:b]))
    return out


def fold(
    readings: pa.Table,
    frames: pa.Table,
    feature_set: str,
    split_groups: Mapping[str, str],
    rejected: Counter[str] | None = None,
) -> pa.Table:
    """Feature table of every device stream in ``readings`` (with its ``frames``).

    ``split_groups`` maps scenario_id -> split group. Rejected inputs are added to ``rejected``.
    """
    schema = features_schema(feature_set)
    names = feature_names(feature_set)
    frame_groups = {(s, d): idx for s, d, idx in _groups(frames)}
    cols: dict[str, list[object]] = {name: [] for name in schema.names}
    f_t = frames["t_s"].to_numpy() if frames.num_rows else np.empty(0)
    f_ffc = frames["ffc"].to_numpy(zero_copy_only=False) if frames.num_rows else np.empty(0, bool)
    f_data = frames["frame"] if frames.num_rows else None
    reading_columns = ("t_s", "co2_ppm", "temperature_c", "humidity_pct", "fire", "phase",
                       "scenario_class")  # fmt: skip
    r = {c: readings[c].to_numpy(zero_copy_only=False) for c in reading_columns}
    for sid, dev, rows in _groups(readings):
        stream = DeviceFeatures(feature_set)
        fidx = frame_groups.get((sid, dev), np.empty(0, np.intp))
        k = 0
        for i in rows:
            t = float(r["t_s"][i])
            while k < fidx.size and f_t[fidx[k]] <= t + 1e-6:
                j = int(fidx[k])
                assert f_data is not None
                raw = np.frombuffer(f_data[j].as_py(), dtype="<u2").reshape(
                    FRAME_HEIGHT, FRAME_WIDTH
                )
                stream.update_frame(float(f_t[j]), raw, bool(f_ffc[j]))
                k += 1
            reading = Reading(t, float(r["co2_ppm"][i]), float(r["temperature_c"][i]),
                              float(r["humidity_pct"][i]))  # fmt: skip
            row = stream.update_reading(reading)
            if row is None:
                continue
            cols["scenario_id"].append(sid)
            cols["device_id"].append(dev)
            cols["t_s"].append(t)
            for name, value in zip(names, row, strict=True):
                cols[name].append(value)
            cols["thermal_missing"].append(stream.status != "ok")
            cols["thermal_status"].append(stream.status)
            cols["fire"].append(int(r["fire"][i]))
            cols["phase"].append(str(r["phase"][i]))
            cols["scenario_class"].append(str(r["scenario_class"][i]))
            cols["split_group"].append(split_groups.get(sid, "unknown"))
        if rejected is not None:
            rejected.update(stream.rejected)
    assert list(schema.names[:3]) == list(KEY_COLUMNS)
    assert tuple(schema.names[-6:-4]) == FLAG_COLUMNS and tuple(schema.names[-4:]) == LABEL_COLUMNS
    return pa.Table.from_pydict(cols, schema=schema)
