"""Camera coverage of a scenario's fire: the same geometry the generator renders."""

from __future__ import annotations

import numpy as np
import pytest

from embercast.scene.geometry import Room
from embercast.scene.objects import Disc
from embercast.scene.render import FrameState, SceneRenderer, StaticObject
from embercast.synth.builders import build_plan
from embercast.synth.builders.base import device_poses
from embercast.synth.catalogue import sample_spec
from embercast.synth.coverage import fire_in_view, fire_origin

FIRE_CLASSES = ("flaming_fire", "smouldering", "electrical_overheat", "cooking_oil_fire")


@pytest.mark.parametrize("cls", FIRE_CLASSES)
def test_coverage_uses_the_generators_fire_and_cameras(cls: str) -> None:
    for index in range(4):
        spec = sample_spec(index, 3, cls)
        plan = build_plan(spec)
        p = dict(spec.params)
        assert device_poses(plan.room, p) == [d.pose for d in plan.devices]
        x, y, z = fire_origin(plan.room, {**p, "scenario_class": cls})
        assert (x, y) == pytest.approx(plan.fires[0].xy) and z == pytest.approx(plan.fires[0].z)
        assert fire_in_view({**p, "scenario_class": cls, "is_fire": True}) in (True, False)
    assert fire_in_view({**p, "scenario_class": "toaster", "is_fire": False}) is None


def test_a_fire_in_view_is_rendered_and_one_out_of_view_is_not() -> None:
    """A small hot disc at the fire origin warms pixels exactly when coverage says it is seen
    (empty room: nothing hides it)."""
    base = {
        "scenario_class": "smouldering",
        "is_fire": True,
        "room_length": 6.0,
        "room_width": 4.5,
        "room_height": 2.7,
        "camera_pitch": 30.0,
        "camera_yaw_offset": 0.0,
        "second_device": False,
        "fire_z": 0.3,
    }
    room = Room(length=6.0, width=4.5, height=2.7)
    verdicts = []
    for fx, fy in ((0.5, 0.5), (0.9, 0.8), (0.95, 0.05), (0.15, 0.9), (0.1, 0.1)):
        params = {**base, "fire_x_frac": fx, "fire_y_frac": fy}
        x, y, z = fire_origin(room, params)
        (pose,) = device_poses(room, params)
        ember = StaticObject(name="ember", shape=Disc(center=(x, y, z), radius=0.05))
        render = SceneRenderer(
            room,
            pose,
            [ember],
            fire_xy=None,
            fire_height=2.4,
            layer_depth=0.8,
            texture_k=0.0,
            rng=np.random.default_rng(0),
        )
        cold = render.render(FrameState(ambient=20.0, objects=np.array([20.0])))
        hot = render.render(FrameState(ambient=20.0, objects=np.array([400.0])))
        seen = bool(fire_in_view(params))
        assert bool((hot - cold).max() > 5.0) == seen, (fx, fy)
        verdicts.append(seen)
    assert True in verdicts and False in verdicts
    # a second device in the opposite corner covers what the first cannot see
    params = {**base, "fire_x_frac": 0.95, "fire_y_frac": 0.05}
    assert fire_in_view(params) is False
    assert fire_in_view({**params, "fire_x_frac": 0.1, "fire_y_frac": 0.9}) is False
    assert fire_in_view({**params, "second_device": True, "fire_x_frac": 0.1}) is True
