"""Generator v10's physics correction, with a regression test that fails on generator v9.

The ceiling jet is driven by a fire's convective heat release: Alpert's correlations take the
total heat release of fires that radiated about 30 % of it, so a fire that radiates more is
given as the fire of their data with its convective heat release (a sooty one that radiates
55 % drives the jet of 0.64 Q). Generator v9 gave every fire its total heat release.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from embercast.errors import InputError
from embercast.physics.ceiling_jet import (
    ALPERT_CONVECTIVE_SHARE,
    alpert_excess_temperature,
    jet_equivalent_hrr,
)
from embercast.scene.geometry import CameraPose
from embercast.synth.builders import build_plan
from embercast.synth.fuels import FUELS
from embercast.synth.ground_truth import sensor_truth, zone_truth
from embercast.synth.plan import Device
from embercast.synth.scenarios import sample_spec


def test_the_jet_of_a_fire_that_radiates_30_percent_is_alperts() -> None:
    q = np.array([0.0, 5.0, 500.0])
    np.testing.assert_allclose(jet_equivalent_hrr(q, 1.0 - ALPERT_CONVECTIVE_SHARE), q)
    # a fire that radiates 55 %: its convective heat release is that of a 0.643 Q fire of
    # Alpert's data, so its jet is (0.45 / 0.7)^(2/3) = 0.745 as warm
    hot = alpert_excess_temperature(jet_equivalent_hrr(100.0, 0.55), 2.5, 2.0)
    assert float(hot / alpert_excess_temperature(100.0, 2.5, 2.0)) == pytest.approx(
        (0.45 / 0.7) ** (2.0 / 3.0)
    )
    with pytest.raises(InputError, match="chi_rad"):
        jet_equivalent_hrr(q, 1.0)


def test_a_fire_that_radiates_more_drives_a_cooler_jet() -> None:
    """Two fires the same but for their radiated share: the sensor sees the jet of each one's
    convective heat release (generator v9 gave both the same jet)."""
    spec = sample_spec(0, 7, "flaming_fire")
    params = dict(spec.params) | {
        "room_length": 6.0, "room_width": 5.0, "room_height": 2.5, "people": 0,
        "hvac": False, "ach": 0.5, "duration_s": 900, "ignition_frac": 0.1, "fire_z": 0.0,
        "fire_x_frac": 0.5, "fire_y_frac": 0.5,
    }  # fmt: skip
    plan = build_plan(replace(spec, params=params))
    fire = plan.fires[0]
    x, y = fire.xy
    device = Device(
        device_id="probe", pose=CameraPose(position=(x + 2.0, y, 2.5), yaw=0.0, pitch=45.0)
    )
    rises = {}
    for chi in (0.3, 0.55):
        fuel = replace(fire.fuel, chi_rad=chi)
        plan.fires = [replace(fire, fuel=fuel)]
        zone = zone_truth(plan)
        jet = sensor_truth(plan, zone, device).temp - zone.temp
        rises[chi] = float(jet.max())
    assert rises[0.3] > 1.0
    assert rises[0.55] / rises[0.3] == pytest.approx((0.45 / 0.7) ** (2.0 / 3.0), rel=0.05)


def test_the_faa_resin_fire_is_given_its_convective_heat_release() -> None:
    """The tests' fire radiates 55 %: directly above it (B707 test 1, TC23 at r = 0.1 m, 90 s
    after ignition, 4.7 kW) the jet alone is about 22 K, the thermocouple's 22.7 K with the
    layer; with its total heat release the jet alone is 29 K."""
    q = 4.72
    h = 1.37 - 0.02
    v10 = float(
        alpert_excess_temperature(jet_equivalent_hrr(q, FUELS["faa_resin"].chi_rad), h, 0.1)
    )
    v9 = float(alpert_excess_temperature(q, h, 0.1))
    assert v10 == pytest.approx(21.6, abs=0.5)
    assert v9 == pytest.approx(29.0, abs=0.5)
