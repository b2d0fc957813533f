"""Device messages (DESIGN 4.6) as they arrive, parsed and checked the same way whether they
come over MQTT or HTTP.

Topics are ``embercast/v1/devices/{device_id}/{kind}`` with ``kind`` ``scd41`` (a reading:
``ts`` [s], ``co2_ppm``, ``temperature_c``, ``humidity_pct``) or ``thermal``: a raw frame (``ts``
[s], ``ffc``, ``gain`` and ``data``, base64 of 120 x 160 uint16 centikelvin, little-endian), or
edge-computed thermal features, told apart by their ``edge`` field (the format version, 1):
``ts`` [s] of the reading the row is for, ``feature_set``, ``feature_version``, ``status`` and
``features`` (:class:`~embercast.service.schemas.EdgeIn`, made on the device by
:class:`~embercast.features.edge.EdgeThermal`). A payload is one JSON object, or over HTTP a JSON
list of them. A message that cannot be used raises :class:`Rejected` with a short reason (those
of the feature stream where they apply: ``frame_shape``, ``frame_range``, ``edge_missing``, ...)
and a sentence saying what is wrong.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import ValidationError

from embercast import jsonio
from embercast.errors import InputError
from embercast.features.base import Reading
from embercast.features.edge import EdgeProblem, EdgeRow
from embercast.features.stream import frame_problem
from embercast.service.schemas import EdgeIn, FrameIn, ReadingIn

KINDS = ("scd41", "thermal")
"""Message kinds a device sends (its topics)."""
EDGE = "edge"
"""Kind of a :class:`Message` that carries edge values (sent on the ``thermal`` topic)."""
TOPIC_PREFIX = "embercast/v1/devices/"
DEVICE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
"""What a device id may be (it is part of a topic and of file names)."""


class Rejected(InputError):
    """A message that cannot be used: ``reason`` (short, counted) and the message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Message:
    """One checked message of ``device_id``: a reading (kind ``scd41``), a frame (``thermal``:
    uint16 centikelvin with its FFC flag and gain) or edge values (``edge``), at ``ts`` [s];
    ``received_s`` the service's clock [Unix s]."""

    device_id: str
    kind: str
    ts: float
    received_s: float
    reading: Reading | None = None
    frame: NDArray[np.uint16] | None = field(default=None, repr=False)
    ffc: bool = False
    gain: str = "high"
    edge: EdgeRow | None = field(default=None, repr=False)

    @property
    def key(self) -> tuple[str, str, float]:
        """What makes two messages the same: device, kind and time."""
        return (self.device_id, self.kind, self.ts)


def parse_topic(topic: str) -> tuple[str, str]:
    """(device_id, kind) of an MQTT topic; Rejected for any other topic."""
    if not topic.startswith(TOPIC_PREFIX):
        raise Rejected("topic", f"topic {topic!r} is not under {TOPIC_PREFIX}")
    parts = topic[len(TOPIC_PREFIX) :].split("/")
    if len(parts) != 2 or parts[1] not in KINDS or not DEVICE_ID.match(parts[0]):
        raise Rejected("topic", f"topic {topic!r} is not {TOPIC_PREFIX}<device>/<scd41|thermal>")
    return parts[0], parts[1]


def check_device_id(device_id: str) -> str:
    if not DEVICE_ID.match(device_id):
        raise Rejected("device_id", f"device id {device_id!r} is not 1-128 of A-Z a-z 0-9 _ . : -")
    return device_id


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _one(device_id: str, kind: str, obj: Any, received_s: float) -> Message:
    if isinstance(obj, dict) and obj.get("device_id") not in (None, device_id):
        raise Rejected(
            "device_mismatch",
            f"{kind} message names device {obj['device_id']!r} but came from {device_id!r}",
        )
    if kind == "thermal" and isinstance(obj, dict) and ("edge" in obj or "features" in obj):
        return _edge(device_id, obj, received_s)
    try:
        if kind == "scd41":
            r = ReadingIn.model_validate(obj)
            reading = Reading(r.ts, _nan(r.co2_ppm), _nan(r.temperature_c), _nan(r.humidity_pct))
            return Message(device_id, kind, r.ts, received_s, reading=reading)
        f = FrameIn.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        size = "frame_size" if "bytes (120 x 160" in str(first["msg"]) else "schema"
        raise Rejected(size, f"{kind} message: {where}: {first['msg']}") from None
    frame = f.pixels()  # FrameIn checked the base64 and the size
    problem = frame_problem(frame)
    if problem is not None:
        raise Rejected(problem, f"thermal message at ts={f.ts}: {problem.replace('_', ' ')}")
    return Message(device_id, kind, f.ts, received_s, frame=frame, ffc=f.ffc, gain=f.gain)


def _edge(device_id: str, obj: dict[str, Any], received_s: float) -> Message:
    if "edge" not in obj:
        raise Rejected(
            "edge_version",
            'thermal message with features but no "edge" (the edge payload\'s format version)',
        )
    try:
        e = EdgeIn.model_validate(obj)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise Rejected("schema", f"thermal edge message: {where}: {first['msg']}") from None
    try:
        row = e.row()
    except EdgeProblem as exc:
        raise Rejected(exc.reason, f"thermal edge message at ts={e.ts}: {exc}") from None
    return Message(device_id, EDGE, e.ts, received_s, edge=row)


def parse(device_id: str, kind: str, payload: bytes, received_s: float) -> list[Message]:
    """The messages in ``payload`` (a JSON object, or a list of them); Rejected naming the
    first problem (nothing of a payload is taken when part of it is bad)."""
    check_device_id(device_id)
    if kind not in KINDS:
        raise Rejected("kind", f"unknown message kind {kind!r}: one of {', '.join(KINDS)}")
    try:
        obj = jsonio.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Rejected("json", f"{kind} message is not JSON: {exc}") from None
    items = obj if isinstance(obj, list) else [obj]
    if not items:
        raise Rejected("schema", f"{kind} message: an empty list")
    return [_one(device_id, kind, item, received_s) for item in items]
