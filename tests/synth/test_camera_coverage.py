"""Camera coverage of a scenario's fire: the same geometry the generator renders."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from embercast.dataset.schema import FramePolicy
from embercast.evaluation.feature_data import _fires_in_view
from embercast.scene.geometry import Room
from embercast.scene.objects import Box, Disc
from embercast.scene.render import FrameState, SceneRenderer, StaticObject
from embercast.synth.builders import build_plan
from embercast.synth.builders.base import (
    FURNITURE_CLEARANCE,
    device_poses,
    furniture_boxes,
    plan_distance,
    source_xy,
)
from embercast.synth.camera_coverage import fire_in_view, fire_origin
from embercast.synth.runner import run_scenario
from embercast.synth.scenarios import sample_spec

FIRE_CLASSES = ("flaming_fire", "smouldering", "electrical_overheat", "cooking_oil_fire")


SMOULDER_ROOM = {
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
"""A smoulder's scenario row in a 6 x 4.5 x 2.7 m room with one camera (no fire position)."""


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
    base = dict(SMOULDER_ROOM)
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


SOURCE_CLASSES = (
    *FIRE_CLASSES,
    "cooking_gas_stove",
    "cooking_electric",
    "toaster",
    "space_heater",
    "candles_smoking",
    "steam",
)


@pytest.mark.parametrize("cls", SOURCE_CLASSES)
def test_furniture_stands_clear_of_the_source(cls: str) -> None:
    """No piece of furniture encloses or touches the burning item, hob or appliance: before
    generator 7 a wardrobe could stand over a smoulder and hide it whole."""
    pieces = 0
    for index in range(40):
        spec = sample_spec(index, 11, cls)
        plan = build_plan(spec)
        source = source_xy(plan.room, dict(spec.params))
        assert source is not None
        boxes = furniture_boxes(plan)
        assert all(plan_distance(box, source) >= FURNITURE_CLEARANCE for box in boxes)
        pieces += len(boxes)
    assert pieces > 40  # furniture is still drawn (1-5 pieces a room, few left out)


def test_the_source_of_a_class_without_one_is_none() -> None:
    room = Room(length=5.0, width=4.0, height=2.7)
    assert source_xy(room, dict(sample_spec(0, 1, "sunlight").params)) is None
    assert source_xy(room, {"fire_x_frac": 0.5, "fire_y_frac": 0.25}) == (2.5, 1.0)


def test_furniture_on_the_line_of_sight_hides_a_fire_the_renderer_agrees() -> None:
    """A wardrobe between the camera and a fire in its field of view hides the fire, in the
    coverage verdict and in the rendered frame; one beside the line of sight does not."""
    params = {**SMOULDER_ROOM, "fire_x_frac": 0.8, "fire_y_frac": 0.6}
    room = Room(length=6.0, width=4.5, height=2.7)
    x, y, z = fire_origin(room, params)
    (pose,) = device_poses(room, params)
    # halfway along the line of sight in plan, tall enough to cut it
    mx, my = (pose.position[0] + x) / 2, (pose.position[1] + y) / 2
    wardrobe = Box(lo=(mx - 0.3, my - 0.3, 0.0), hi=(mx + 0.3, my + 0.3, 1.8))
    aside = Box(lo=(0.2, 3.6, 0.0), hi=(0.8, 4.2, 1.8))
    ember = StaticObject(name="ember", shape=Disc(center=(x, y, z), radius=0.05))
    for box, seen in ((wardrobe, False), (aside, True)):
        assert fire_in_view(params, [box]) is seen
        furniture = StaticObject(name="furniture", shape=box)
        render = SceneRenderer(
            room,
            pose,
            [furniture, ember],
            fire_xy=None,
            fire_height=2.4,
            layer_depth=0.8,
            texture_k=0.0,
            rng=np.random.default_rng(0),
        )
        cold = render.render(FrameState(ambient=20.0, objects=np.array([20.0, 20.0])))
        hot = render.render(FrameState(ambient=20.0, objects=np.array([20.0, 400.0])))
        assert bool((hot - cold).max() > 5.0) is seen
    assert fire_in_view(params) is True  # without furniture


def test_the_generator_records_coverage_with_the_furniture() -> None:
    """``run_scenario`` writes ``fire_in_view`` with the room's furniture counted, and the
    evaluation reads that verdict instead of recomputing one without furniture."""
    hidden = None
    for index in range(60):
        spec = sample_spec(index, 5, "smouldering")
        plan = build_plan(spec)
        row = spec.to_row()
        if fire_in_view(row) and not fire_in_view(row, furniture_boxes(plan)):
            hidden = spec
            break
    assert hidden is not None  # a fire in a camera's field of view behind furniture
    short = replace(hidden, params={**hidden.params, "duration_s": 300.0, "ignition_frac": 0.1})
    result = run_scenario(short, FramePolicy.parse("none"))
    assert result.scenario["fire_in_view"] is False
    scen = pd.DataFrame([result.scenario])
    assert _fires_in_view(scen) == {short.scenario_id: False}
    assert _fires_in_view(scen.drop(columns="fire_in_view")) == {short.scenario_id: True}
    nuisance = run_scenario(sample_spec(0, 5, "toaster"), FramePolicy.parse("none"))
    assert nuisance.scenario["fire_in_view"] is None
