"""The ``readings`` topic: stored device messages handed to fold workers, partitioned by device.

When the service does not fold its devices itself (``fold_in_service = false``), ingest
publishes each message it has stored to the partition of ``readings`` its device falls in
(:func:`~embercast.bus.partitions.publish_keyed`), with the device's zone, and the fold workers
(:mod:`embercast.service.fold_worker`) read them back with :func:`message_of`. A message's id
is its device, kind and time, so publishing it twice is one message. Frames travel as base64
of their little-endian uint16 centikelvin, as devices send them; readings and edge rows as
numbers (null where missing).
"""

from __future__ import annotations

import base64
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from embercast.bus.base import Bus
from embercast.bus.partitions import partition_of, partition_topic
from embercast.dataset.schema import FRAME_HEIGHT, FRAME_WIDTH
from embercast.errors import InputError
from embercast.features.base import Reading
from embercast.features.edge import EdgeProblem, edge_row
from embercast.service.messages import EDGE, Message

READINGS_TOPIC = "readings"


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def message_id(m: Message) -> str:
    """The bus id of a stored message: device, kind and time."""
    return f"{m.device_id}:{m.kind}:{m.ts!r}"


def payload_of(m: Message, zone: str | None) -> dict[str, Any]:
    """The ``readings`` payload of the stored message ``m`` of a device in ``zone``."""
    out: dict[str, Any] = {
        "device_id": m.device_id, "kind": m.kind, "ts": m.ts, "received_s": m.received_s,
        "zone": zone,
    }  # fmt: skip
    if m.reading is not None:
        r = m.reading
        out["reading"] = [_number(r.co2_ppm), _number(r.temperature_c), _number(r.humidity_pct)]
    if m.frame is not None:
        out["frame"] = base64.b64encode(m.frame.astype("<u2").tobytes()).decode("ascii")
        out["ffc"], out["gain"] = m.ffc, m.gain
    if m.edge is not None:
        out["edge"] = m.edge.payload()
    return out


def message_of(payload: dict[str, Any]) -> Message:
    """The message of a ``readings`` payload; InputError naming what is wrong with one that
    is not (a payload this code did not write)."""
    try:
        device, kind = str(payload["device_id"]), str(payload["kind"])
        ts, received = float(payload["ts"]), float(payload["received_s"])
        if kind == "scd41":
            reading = Reading(ts, *(_float(v) for v in payload["reading"]))
            return Message(device, kind, ts, received, reading=reading)
        if kind == "thermal":
            raw = base64.b64decode(payload["frame"], validate=True)
            frame = np.frombuffer(raw, "<u2").reshape(FRAME_HEIGHT, FRAME_WIDTH)
            return Message(device, kind, ts, received, frame=frame.astype(np.uint16),
                           ffc=bool(payload["ffc"]), gain=str(payload["gain"]))  # fmt: skip
        if kind == EDGE:
            e = payload["edge"]
            row = edge_row(ts, e["feature_set"], e["feature_version"], e["status"], e["features"])
            return Message(device, kind, ts, received, edge=row)
    except (KeyError, TypeError, ValueError, EdgeProblem) as exc:
        raise InputError(f"a {READINGS_TOPIC} message cannot be read: {exc!r}") from None
    raise InputError(f"a {READINGS_TOPIC} message of an unknown kind {kind!r}")


def publish_stored(
    bus: Bus, messages: Iterable[Message], zone_of: Callable[[str], str | None], partitions: int
) -> int:
    """Publish stored ``messages`` to their devices' partitions of ``readings`` (one round trip
    per partition); how many."""
    by_topic: dict[str, list[tuple[dict[str, Any], str, str | None]]] = defaultdict(list)
    for m in messages:
        topic = partition_topic(READINGS_TOPIC, partition_of(m.device_id, partitions))
        by_topic[topic].append((payload_of(m, zone_of(m.device_id)), m.device_id, message_id(m)))
    return sum(bus.publish_many(topic, items) for topic, items in by_topic.items())
