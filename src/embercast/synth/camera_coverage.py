"""Camera coverage of a scenario's fire: is its origin in the field of view of a device camera?

A Lepton 3.5 in a ceiling corner sees 57 x 44 degrees of its room, so fires near the walls either
side of it, or under it, are outside every camera's view unless a second device covers them.
Such a fire reaches the device only through the air: a flaming fire's heat and CO2 soon do, but a
smoulder of a few hundred watts adds about as much CO2 as one person breathing. Evaluation
reports detection separately for fires in and out of view (:mod:`embercast.evaluation.metrics`), so
what a model misses can be told apart from what no camera could see, and installers know what
their camera placement leaves to the gas sensor.

The facts come from a scenario's sampled parameters (a row of ``scenarios.parquet``) through the
builders' own geometry (:func:`~embercast.synth.builders.base.device_poses`,
:func:`~embercast.synth.builders.fires.fire_position`,
:func:`~embercast.synth.builders.base.hob_position`), and from the furniture that stands between
a camera and the fire. The furniture is drawn from the scenario's seed, so the generator records
the verdict in the ``fire_in_view`` column of ``scenarios.parquet`` (from generator 7); for a
dataset written before, the verdict is recomputed from the parameters alone and counts no
furniture.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from embercast.scene.geometry import CameraPose, Room
from embercast.scene.objects import Box, hit_range
from embercast.synth.builders.base import device_poses, hob_position, scenario_room
from embercast.synth.builders.fires import fire_position
from embercast.synth.replicas import FAA_PAN_Z, FAA_TESTS, probe_device


def fire_origin(room: Room, params: Mapping[str, Any]) -> tuple[float, float, float]:
    """Where a fire scenario's fire starts in ``room`` [m]: the pan on the hob for a cooking-oil
    fire, the test's pan for a replica, else the sampled fire position."""
    if params["scenario_class"] == "cooking_oil_fire":
        return hob_position(room, params)
    if params.get("faa_test") is not None:
        return (*FAA_TESTS[str(params["faa_test"])].fire_xy, FAA_PAN_Z)
    (x, y), z = fire_position(room, params)
    return x, y, z


def fire_in_view(params: Mapping[str, Any], obstacles: Sequence[Box] = ()) -> bool | None:
    """Whether a fire scenario's fire origin (:func:`fire_origin`) is in the field of view of
    one of its device cameras with none of ``obstacles`` (the room's furniture) on the line of
    sight; None for a scenario without fire. ``params`` is a row of ``scenarios.parquet``:
    ``scenario_class``, ``is_fire``, the room's size, the cameras' ``camera_pitch``,
    ``camera_yaw_offset`` and ``second_device``, and the fire's position (``fire_x_frac``,
    ``fire_y_frac``, ``fire_z``; ``hob_x_frac``, ``hob_y_frac`` for cooking oil). Raises
    KeyError naming a parameter ``params`` lacks.

    >>> row = dict(scenario_class="smouldering", is_fire=True, room_length=5.0, room_width=4.0,
    ...            room_height=2.7, camera_pitch=30.0, camera_yaw_offset=0.0,
    ...            second_device=False, fire_x_frac=0.6, fire_y_frac=0.5, fire_z=0.4)
    >>> fire_in_view(row), fire_in_view({**row, "fire_x_frac": 0.95, "fire_y_frac": 0.05})
    (True, False)
    """
    if not params["is_fire"]:
        return None
    room = scenario_room(params)
    origin = np.array(fire_origin(room, params), dtype=np.float64)
    return any(
        bool(pose.sees(origin[None, :])[0]) and not _hidden(origin, pose.position, obstacles)
        for pose in camera_poses(room, params)
    )


def camera_poses(room: Room, params: Mapping[str, Any]) -> list[CameraPose]:
    """The device cameras of a scenario: one at each gas probe of a replica, else those of
    :func:`~embercast.synth.builders.base.device_poses`."""
    if params.get("faa_test") is not None:
        test = FAA_TESTS[str(params["faa_test"])]
        return [probe_device("", p.xyz, test.fire_xy).pose for p in test.probes]
    return device_poses(room, params)


SIGHT_TOLERANCE = 1e-3
"""How far before the fire origin [m] an obstacle must start to hide it (one resting on the
fire's item does not)."""


def _hidden(
    origin: np.ndarray, camera: tuple[float, float, float], obstacles: Sequence[Box]
) -> bool:
    """Whether a box meets the line of sight from ``camera`` to ``origin`` before it [m]."""
    start = np.asarray(camera, dtype=np.float64)
    rel = origin - start
    distance = float(np.linalg.norm(rel))
    ray = rel / distance
    return any(float(hit_range(box, start, ray)) < distance - SIGHT_TOLERANCE for box in obstacles)
