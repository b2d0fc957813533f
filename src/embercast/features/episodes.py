"""One device's recorded window around an alarm as a labelled episode's feature rows.

The service's ingest log keeps what devices sent (readings: ``device_id, ts, co2_ppm,
temperature_c, humidity_pct``; frames: ``device_id, ts, ffc, frame``, times in the devices'
clock [s]). :func:`episode_rows` folds a window of it through the offline path
(:func:`~embercast.features.fold.fold`, the streaming objects of the live service) and labels
the rows with the operator's verdict:

- a false alarm: every row ``fire = 0``, phase ``normal``;
- a confirmed fire: rows from the alarm on ``fire = 1``, phase ``growth``; rows before it are
  left out, since when the fire started is not known (they are still folded, so the rows kept
  have their full windows).

``t_s`` of the rows counts from the window's first reading, as a dataset's counts from the
scenario's start.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from embercast.dataset.episodes import VERDICTS, episode_class
from embercast.errors import InputError
from embercast.features.fold import fold


def episode_rows(
    readings: pa.Table,
    frames: pa.Table,
    episode_id: str,
    *,
    feature_set: str,
    verdict: str,
    cause: str | None,
    alarm_t: float,
) -> pa.Table:
    """The labelled feature rows of one device's window (``readings`` and ``frames`` of that
    device in the ingest log's columns; ``alarm_t`` [s, device clock]). InputError when the
    window holds no reading, or no row is left to label."""
    if verdict not in VERDICTS:
        raise InputError(f"unknown verdict {verdict!r}; one of {', '.join(VERDICTS)}")
    if readings.num_rows == 0:
        raise InputError(f"episode {episode_id}: the device sent no reading in the window")
    t0 = float(pc.min(readings["ts"]).as_py())
    fire = verdict == "fire"
    ts = readings["ts"].to_numpy()
    n = readings.num_rows
    labels = (ts >= alarm_t) if fire else np.zeros(n, bool)
    shaped = pa.table(
        {
            "scenario_id": pa.array([episode_id] * n, pa.string()),
            "device_id": pc.cast(readings["device_id"], pa.string()),
            "t_s": pa.array(ts - t0),
            "co2_ppm": readings["co2_ppm"],
            "temperature_c": readings["temperature_c"],
            "humidity_pct": readings["humidity_pct"],
            "fire": pa.array(labels.astype(np.int8)),
            "phase": ["growth" if on else "normal" for on in labels],
            "scenario_class": [episode_class(verdict, cause)] * n,
        }
    )
    frames_shaped = pa.table(
        {
            "scenario_id": pa.array([episode_id] * frames.num_rows, pa.string()),
            "device_id": pc.cast(frames["device_id"], pa.string()),
            "t_s": pa.array(frames["ts"].to_numpy() - t0),
            "ffc": frames["ffc"],
            "frame": frames["frame"],
        }
    )
    rows = fold(shaped, frames_shaped, feature_set, {episode_id: "train"})
    if fire:
        rows = rows.filter(pc.greater_equal(rows["t_s"], alarm_t - t0))
    if rows.num_rows == 0:
        raise InputError(f"episode {episode_id}: no reading of the window could be labelled")
    return rows
