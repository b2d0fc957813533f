"""Physics functions: hand-computed values from the cited correlations, array-like inputs and NaN
handling, and property tests of physical invariants.

NaN handling, per function (checked by ``test_elementwise_array_like`` and
``test_time_series_nan``):

* elementwise correlations (plume, ceiling jet, species, ventilation, heating flux, radiation,
  transport delay): a NaN input gives NaN at that position and leaves the others alone.
* t-squared, fire-curve and smouldering heat release rates: a NaN time gives NaN.
* time integrators built on ``relax`` (``layer_temperature``, ``zone_concentration``,
  ``lumped_temperature``, ``surface_response``): a NaN sample poisons the state, so every later
  sample is NaN; earlier samples are unaffected. A scalar input (not a time series) raises.
* ``delayed``: a NaN in ``x`` arrives as a NaN at its arrival time only; a NaN ``delay`` makes
  every later arrival unknown, so the received signal is NaN from that arrival on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray
from scipy.integrate import quad

from embercast.physics.ceiling_jet import (
    alpert_excess_temperature,
    alpert_radial_factor,
    alpert_velocity,
)
from embercast.physics.compartment import layer_temperature, relax, zone_concentration
from embercast.physics.growth import (
    T_SQUARED_ALPHA,
    growth_alpha,
    hrr_curve,
    hrr_smouldering,
    hrr_t_squared,
    smoulder_front_radius,
)
from embercast.physics.heating import lumped_temperature, point_source_flux, surface_response
from embercast.physics.plume import (
    fire_diameter,
    flame_height,
    plume_centreline_excess_temperature,
    puffing_frequency,
    virtual_origin,
)
from embercast.physics.radiation import (
    apparent_temperature,
    band_radiance,
    band_radiance_exact,
    brightness_temperature,
    flame_emissivity,
)
from embercast.physics.species import (
    M_CO2,
    M_H2O,
    MET_W,
    P_ATM,
    R_GAS,
    gas_volume_rate,
    h2o_ppm_from_rh,
    jet_species_per_kelvin,
    occupant_co2_rate,
    occupant_h2o_rate,
    occupant_heat,
    relative_humidity,
    saturation_vapour_pressure,
    species_mass_rate,
)
from embercast.physics.transport import MAX_DELAY, delayed, transport_delay
from embercast.physics.ventilation import air_change_flow, window_flow

# deterministic Hypothesis runs (habit 12): the same examples on every run and every machine
PROPS = settings(max_examples=60, deadline=None, derandomize=True)

Array = NDArray[np.float64]


def finite_floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def series_of(lo: float, hi: float, min_size: int = 2, max_size: int = 60) -> Any:
    return hnp.arrays(np.float64, st.integers(min_size, max_size), elements=finite_floats(lo, hi))


# --------------------------------------------------------------------------------------------
# hand-computed values
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("growth_class", "t_1055"),
    [("slow", 600.0), ("medium", 300.0), ("fast", 150.0), ("ultra_fast", 75.0)],
)
def test_t_squared_classes_reach_1055_kw(growth_class: str, t_1055: float) -> None:
    # NFPA 72 Annex B: each class reaches 1055 kW (1000 BTU/s) at its characteristic time
    alpha = growth_alpha(growth_class)
    assert alpha == T_SQUARED_ALPHA[growth_class]
    assert float(hrr_t_squared(t_1055, alpha)) == pytest.approx(1055.0, rel=1e-3)
    assert float(hrr_t_squared(t_1055 + 20.0, alpha, t_ignition=20.0)) == pytest.approx(
        1055.0, rel=1e-3
    )


def test_t_squared_zero_before_ignition() -> None:
    q = hrr_t_squared([0.0, 10.0, 30.0], 0.04689, t_ignition=10.0)
    np.testing.assert_allclose(q, [0.0, 0.0, 0.04689 * 400.0])


def test_growth_alpha_bad_class_names_the_table() -> None:
    with pytest.raises(ValueError, match="T_SQUARED_ALPHA"):
        growth_alpha("explosive")


def test_hrr_curve_phases() -> None:
    # alpha 0.01, peak 100 kW -> growth 100 s releasing 0.01 * 100^3 / 3 = 3333.3 kJ; decay
    # 200 s releases 100 * 200 / 2 = 10000 kJ; 50000 kJ leaves 36666.7 kJ -> 366.67 s steady
    kw = {"alpha": 0.01, "q_peak": 100.0, "t_ignition": 10.0, "fuel_energy": 5e4}
    q = hrr_curve([5.0, 60.0, 300.0, 476.67 + 100.0, 476.67 + 250.0], decay_time=200.0, **kw)
    np.testing.assert_allclose(q, [0.0, 25.0, 100.0, 50.0, 0.0], atol=0.01)


def test_hrr_curve_fuel_limited_fire_never_reaches_peak() -> None:
    # growth + decay would need 3333.3 + 10000 kJ but only 1000 kJ exist
    t = np.linspace(0.0, 2000.0, 200_001)
    q = hrr_curve(t, alpha=0.01, q_peak=100.0, t_ignition=0.0, fuel_energy=1000.0, decay_time=200.0)
    scale = (1000.0 / (1e4 / 3.0 + 1e4)) ** (1.0 / 3.0)
    assert q.max() == pytest.approx(100.0 * scale**2, rel=1e-3)
    assert np.trapezoid(q, t) == pytest.approx(1000.0, rel=1e-3)


def test_hrr_smouldering_time_constant() -> None:
    q = hrr_smouldering([0.0, 100.0, 700.0, 1e5], q_smoulder=0.5, t_start=100.0, ramp_time=600.0)
    np.testing.assert_allclose(q, [0.0, 0.0, 0.5 * (1.0 - math.exp(-1.0)), 0.5])


def test_smoulder_front_spreads_linearly_until_the_item_ends() -> None:
    v = 1e-3 / 60.0  # 1 mm/min
    r = smoulder_front_radius([0.0, 100.0, 700.0, 1e6], 0.05, v, t_start=100.0, r_max=0.3)
    np.testing.assert_allclose(r, [0.05, 0.05, 0.06, 0.3])
    # an item smaller than the starting spot never shrinks it
    assert float(smoulder_front_radius(1e4, 0.2, v, 0.0, r_max=0.1)) == 0.2


def test_heskestad_flame_height_virtual_origin_diameter() -> None:
    # 1000 kW on a 1 m pool: L = 0.235 * 1000^0.4 - 1.02 = 2.7045 m, z0 = 0.083 * 15.849 - 1.02
    assert float(flame_height(1000.0, 1.0)) == pytest.approx(2.7045, abs=1e-4)
    assert float(virtual_origin(1000.0, 1.0)) == pytest.approx(0.29546, abs=1e-4)
    assert float(flame_height(5.0, 2.0)) == 0.0  # a large, weak fire has no coherent flame
    assert float(virtual_origin(5.0, 2.0)) < 0.0  # origin below the fuel
    # 500 kW at 500 kW/m^2 burns 1 m^2: D = sqrt(4 / pi)
    assert float(fire_diameter(500.0, 500.0)) == pytest.approx(1.128379, abs=1e-6)
    assert float(fire_diameter(-10.0, 500.0)) == 0.0


def test_heskestad_plume_centreline() -> None:
    # 9.1 (293.15 / (9.81 * 1 * 1.2^2))^(1/3) = 25.007; 100 kW at 3 m: 25.007 * 21.544 / 6.240
    assert float(plume_centreline_excess_temperature(100.0, 3.0, 0.0)) == pytest.approx(
        86.336, abs=1e-3
    )
    # z - z0 is what counts
    assert float(plume_centreline_excess_temperature(100.0, 3.5, 0.5)) == pytest.approx(
        86.336, abs=1e-3
    )
    # in the flame the rise is capped at the mean flame temperature rise
    assert float(plume_centreline_excess_temperature(5000.0, 0.3, 0.0)) == 900.0


def test_puffing_frequency() -> None:
    np.testing.assert_allclose(puffing_frequency([1.0, 0.25, 0.0]), [1.5, 3.0, 15.0])


def test_alpert_near_and_far_field() -> None:
    # 1000 kW, H = 3 m; near field r/H = 0.1: 16.9 Q^(2/3) / H^(5/3)
    assert float(alpert_excess_temperature(1000.0, 3.0, 0.3)) == pytest.approx(270.822, abs=1e-3)
    # far field r = 3 m: 5.38 (Q / r)^(2/3) / H
    assert float(alpert_excess_temperature(1000.0, 3.0, 3.0)) == pytest.approx(86.214, abs=1e-3)
    assert float(alpert_radial_factor(2.5, 0.0)) == pytest.approx(3.66989, abs=1e-5)
    # velocity: 0.96 (Q/H)^(1/3) near, 0.195 Q^(1/3) H^(1/2) / r^(5/6) far
    assert float(alpert_velocity(1000.0, 3.0, 0.3)) == pytest.approx(6.6563, abs=1e-4)
    assert float(alpert_velocity(1000.0, 3.0, 3.0)) == pytest.approx(1.35205, abs=1e-5)
    # excess = Q^(2/3) G, with negative heat release floored at zero
    np.testing.assert_allclose(
        alpert_excess_temperature([1000.0, -5.0], 3.0, 1.0),
        [100.0 * float(alpert_radial_factor(3.0, 1.0)), 0.0],
    )


def test_transport_delay() -> None:
    # H / U(0) + r / U(r): 2.5 / 3.2834 + 2 / 0.80322
    assert float(transport_delay(100.0, 2.5, 2.0)) == pytest.approx(3.2516, abs=1e-4)
    assert float(transport_delay(0.0, 2.5, 2.0)) == MAX_DELAY
    assert float(transport_delay(1e-6, 2.5, 2.0)) == MAX_DELAY


def test_delayed_constant_shift() -> None:
    t = np.arange(10.0)
    np.testing.assert_allclose(delayed(t, t**2, 2.0), [0, 0, 0, 1, 4, 9, 16, 25, 36, 49])
    # half-step delay interpolates linearly between emissions
    np.testing.assert_allclose(delayed(t, 10.0 * t, 0.5)[1:], 10.0 * t[1:] - 5.0)


def test_layer_temperature_steady_state() -> None:
    # 12 kW into a zone with walls 0.015 * 80 = 1.2 kW/K and flow 1.2 * 0.05 = 0.06 kW/K
    n = 20_000
    t = layer_temperature(1.0, np.full(n, 12.0), 40.0, 80.0, np.full(n, 0.05), 18.0)
    assert t[0] == 18.0
    assert t[-1] == pytest.approx(18.0 + 12.0 / 1.26, abs=1e-6)
    # supply air at 5 °C pulls the steady state down by 0.06 * 13 / 1.26 K
    t = layer_temperature(1.0, np.full(n, 12.0), 40.0, 80.0, 0.05, 18.0, temp_supply=5.0)
    assert t[-1] == pytest.approx(18.0 + (12.0 - 0.06 * 13.0) / 1.26, abs=1e-6)


def test_zone_concentration_time_constant() -> None:
    # 1e-5 m^3/s into 30 m^3 with 0.005 m^3/s: steady 420 + 2000 ppm, tau = 6000 s
    n = 6001
    c = zone_concentration(1.0, np.full(n, 1e-5), 30.0, np.full(n, 0.005), 420.0, 420.0)
    assert c[6000] == pytest.approx(420.0 + 2000.0 * (1.0 - math.exp(-1.0)), rel=1e-9)


def test_lumped_and_surface_response_time_constants() -> None:
    t = lumped_temperature(1.0, np.full(401, 1500.0), 5.0, 2000.0, 20.0, 20.0)
    assert t[400] == pytest.approx(20.0 + 300.0 * (1.0 - math.exp(-1.0)), rel=1e-9)
    s = surface_response(1.0, np.r_[20.0, np.full(60, 80.0)], 60.0)
    assert s[60] == pytest.approx(80.0 - 60.0 * math.exp(-1.0), rel=1e-9)
    assert surface_response(1.0, [20.0, 20.0], 60.0, temp0=50.0)[0] == 50.0


def test_point_source_flux() -> None:
    # 0.3 * 500 / (4 pi 2^2) = 2.984 kW/m^2, inverse square
    assert float(point_source_flux(500.0, 0.3, 2.0)) == pytest.approx(2.98416, abs=1e-5)
    np.testing.assert_allclose(
        point_source_flux(500.0, 0.3, [1.0, 2.0, 4.0]) * np.array([1.0, 4.0, 16.0]),
        11.93662,
        rtol=1e-6,
    )


def test_magnus_saturation_vapour_pressure() -> None:
    es = saturation_vapour_pressure([0.0, 20.0, 100.0])
    np.testing.assert_allclose(es, [610.94, 2333.4406, 104076.71], rtol=1e-6)
    # against steam tables: 611.2, 2339.2 and 101325 Pa (Magnus is 2.7 % high at the boiling point)
    np.testing.assert_allclose(es, [611.2, 2339.2, 101_325.0], rtol=0.03)
    assert abs(es[1] / 2339.2 - 1.0) < 0.005


def test_humidity_conversions() -> None:
    assert float(h2o_ppm_from_rh(50.0, 20.0)) == pytest.approx(50.0 * 2333.4406 / 101325 * 1e4)
    assert float(relative_humidity(1e6 * 610.94 / 101_325.0, 0.0)) == pytest.approx(100.0)


def test_co2_per_kw() -> None:
    # propane burnt completely: 3 CO2 per C3H8 -> 2.994 kg/kg at 46 MJ/kg
    m = species_mass_rate(1.0, 46_000.0, 2.994)
    assert float(m) == pytest.approx(6.5087e-5, rel=1e-4)
    # 6.5087e-5 / 0.04401 * 8.314 * 293.15 / 101325 = 3.557e-5 m^3/s, about 0.036 L/s per kW
    assert float(gas_volume_rate(m, M_CO2)) == pytest.approx(3.5573e-5, rel=1e-4)
    assert float(species_mass_rate(-3.0, 46_000.0, 2.994)) == 0.0
    # per kelvin of plume excess: y cp / (chi dHc) M_air / M_CO2
    assert jet_species_per_kelvin(46_000.0, 2.994, 0.7) == pytest.approx(61.2059, abs=1e-4)


def test_occupant_co2() -> None:
    assert float(occupant_co2_rate(2, 1.0)) == pytest.approx(8.6e-6)
    np.testing.assert_allclose(occupant_co2_rate([0, 1, 3], 1.2), [0.0, 5.16e-6, 15.48e-6])


def test_occupant_heat_and_moisture_follow_activity() -> None:
    mets = np.array([0.8, 1.0, 1.2, 1.8, 2.5, 4.0])
    sensible, latent = occupant_heat(mets)
    np.testing.assert_allclose(sensible + latent, mets * MET_W)  # the metabolic rate
    # ASHRAE Fundamentals ch. 18 Table 1: office work 130 W = 75 W sensible + 55 W latent
    office = occupant_heat(130.0 / MET_W)
    assert (float(office[0]), float(office[1])) == pytest.approx((75.0, 55.0))
    # activity adds mostly moisture: up to 2.5 met (the catalogue's range) the latent share
    # grows, the sensible heat barely
    assert np.all(np.diff((latent / (sensible + latent))[:-1]) > 0)
    assert float(sensible[4]) < 1.5 * float(sensible[2]) and float(latent[4]) > 3 * float(latent[2])
    # office work: about 77 g/h of water per person (sedentary adults: 50-80 g/h)
    assert float(occupant_h2o_rate(1, 1.2)) * 3.6e6 == pytest.approx(77.1, abs=0.1)
    np.testing.assert_allclose(
        occupant_h2o_rate([0, 1, 3], 1.2), np.array([0.0, 1.0, 3.0]) * occupant_h2o_rate(1, 1.2)
    )
    # people add several molecules of water per CO2 molecule, more than any flame (0.9-2)
    mol_per_m3 = P_ATM / (R_GAS * 293.15)
    for met in (1.0, 1.2, 2.5):
        water = float(occupant_h2o_rate(1, met)) / M_H2O
        co2 = float(occupant_co2_rate(1, met)) * mol_per_m3
        assert 4.5 < water / co2 < 9.0, met


def test_ventilation_flows() -> None:
    assert float(air_change_flow(3.0, 60.0)) == pytest.approx(0.05)
    # CIBSE AM10: 0.6 * 0.5 / 3 * sqrt(9.81 * 1 * 17 / 286.65)
    assert float(window_flow(0.5, 1.0, 22.0, 5.0)) == pytest.approx(0.076275, abs=1e-6)
    assert float(window_flow(0.5, 1.0, 20.0, 20.0)) == pytest.approx(0.025)  # wind floor


@pytest.mark.parametrize(
    ("temp", "exact"), [(25.0, 53.39654), (300.0, 545.61724), (1000.0, 2961.5633)]
)
def test_band_radiance_against_planck_quadrature(temp: float, exact: float) -> None:
    # reference values: scipy quad of Planck's law over 8-14 µm
    assert float(band_radiance_exact(temp)) == pytest.approx(exact, rel=1e-4)
    assert float(band_radiance(temp)) == pytest.approx(exact, rel=1e-4)


def test_band_radiance_exact_matches_quad_for_other_band() -> None:
    h, c, k = 6.62607015e-34, 2.99792458e8, 1.380649e-23
    tk = 500.0 + 273.15

    def planck(lam: float) -> float:
        return 2 * h * c**2 / lam**5 / math.expm1(h * c / (lam * k * tk))

    ref = quad(planck, 3e-6, 5e-6, epsrel=1e-10)[0]
    assert float(band_radiance_exact(500.0, 3e-6, 5e-6)) == pytest.approx(ref, rel=1e-4)


def test_band_radiance_is_strictly_increasing() -> None:
    temps = np.linspace(-60.0, 1600.0, 5000)
    assert np.all(np.diff(band_radiance(temps)) > 0)
    assert np.all(np.diff(band_radiance_exact(temps[::50])) > 0)


def test_apparent_temperature_and_flame_emissivity() -> None:
    assert float(apparent_temperature(200.0, 1.0, 20.0)) == pytest.approx(200.0, abs=1e-6)
    assert float(apparent_temperature(200.0, 0.0, 20.0)) == pytest.approx(20.0, abs=1e-6)
    assert float(apparent_temperature(200.0, 0.3, 20.0)) == pytest.approx(93.6, abs=0.05)
    np.testing.assert_allclose(
        flame_emissivity([0.0, 0.5, 10.0, -1.0], 2.0), [0.0, 1.0 - math.exp(-1.0), 1.0, 0.0]
    )


# --------------------------------------------------------------------------------------------
# scalar, ndarray, Series and NaN inputs
# --------------------------------------------------------------------------------------------

ELEMENTWISE: list[Any] = [
    pytest.param(
        lambda t: hrr_t_squared(t, 0.04689, 10.0),
        [0, 20, 60, 150, 400],
        id="hrr_t_squared",
    ),
    pytest.param(
        lambda t: hrr_curve(t, 0.01, 100.0, 10.0, 5e4, 200.0),
        [0, 60, 300, 600, 900],
        id="hrr_curve",
    ),
    pytest.param(
        lambda t: hrr_smouldering(t, 0.5, 10.0, 600.0),
        [0, 20, 60, 600, 4000],
        id="hrr_smouldering",
    ),
    pytest.param(
        lambda t: smoulder_front_radius(t, 0.05, 5e-5, 10.0, 0.3),
        [0, 20, 60, 600, 40000],
        id="smoulder_front_radius",
    ),
    pytest.param(lambda q: fire_diameter(q, 500.0), [0, 1, 10, 100, 1000], id="fire_diameter"),
    pytest.param(lambda q: flame_height(q, 0.3), [0, 1, 10, 100, 1000], id="flame_height-q"),
    pytest.param(lambda d: flame_height(100.0, d), [0.1, 0.2, 0.5, 1, 2], id="flame_height-d"),
    pytest.param(lambda q: virtual_origin(q, 0.3), [0, 1, 10, 100, 1000], id="virtual_origin"),
    pytest.param(
        lambda q: plume_centreline_excess_temperature(q, 2.5, 0.1),
        [0, 1, 10, 100, 1000],
        id="plume-q",
    ),
    pytest.param(
        lambda z: plume_centreline_excess_temperature(70.0, z, 0.1), [0.5, 1, 2, 3, 5], id="plume-z"
    ),
    pytest.param(puffing_frequency, [0.05, 0.1, 0.3, 1, 3], id="puffing_frequency"),
    pytest.param(
        lambda r: alpert_radial_factor(2.5, r), [0, 0.3, 0.5, 2, 6], id="alpert_radial_factor"
    ),
    pytest.param(
        lambda q: alpert_excess_temperature(q, 2.5, 2.0),
        [0, 1, 10, 100, 1000],
        id="alpert_excess-q",
    ),
    pytest.param(
        lambda r: alpert_excess_temperature(100.0, 2.5, r),
        [0, 0.3, 0.5, 2, 6],
        id="alpert_excess-r",
    ),
    pytest.param(
        lambda q: alpert_velocity(q, 2.5, 2.0), [0, 1, 10, 100, 1000], id="alpert_velocity-q"
    ),
    pytest.param(
        lambda r: alpert_velocity(100.0, 2.5, r), [0, 0.3, 0.5, 2, 6], id="alpert_velocity-r"
    ),
    pytest.param(
        lambda q: transport_delay(q, 2.5, 2.0), [0.01, 1, 10, 100, 1000], id="transport_delay"
    ),
    pytest.param(
        lambda q: species_mass_rate(q, 20_000.0, 1.5), [0, 1, 10, 100, 1000], id="species_mass_rate"
    ),
    pytest.param(
        lambda m: gas_volume_rate(m, M_CO2), [0, 1e-5, 1e-4, 1e-3, 1e-2], id="gas_volume_rate"
    ),
    pytest.param(occupant_co2_rate, [0, 1, 2, 3, 10], id="occupant_co2_rate"),
    pytest.param(occupant_h2o_rate, [0, 1, 2, 3, 10], id="occupant_h2o_rate"),
    pytest.param(lambda m: occupant_heat(m)[1], [0.8, 1, 1.2, 2, 4], id="occupant_heat-latent"),
    pytest.param(
        saturation_vapour_pressure, [-20, 0, 20, 40, 100], id="saturation_vapour_pressure"
    ),
    pytest.param(
        lambda p: relative_humidity(p, 20.0), [0, 1e3, 5e3, 1e4, 2e4], id="relative_humidity-ppm"
    ),
    pytest.param(
        lambda t: relative_humidity(1e4, t), [-10, 0, 10, 20, 40], id="relative_humidity-temp"
    ),
    pytest.param(
        lambda rh: h2o_ppm_from_rh(rh, 20.0), [0, 10, 50, 90, 100], id="h2o_ppm_from_rh-rh"
    ),
    pytest.param(
        lambda t: h2o_ppm_from_rh(50.0, t), [-10, 0, 10, 20, 40], id="h2o_ppm_from_rh-temp"
    ),
    pytest.param(lambda a: air_change_flow(a, 54.0), [0, 0.5, 1, 2, 10], id="air_change_flow"),
    pytest.param(lambda t: window_flow(0.5, 1.0, t, 5.0), [-5, 5, 20, 30, 60], id="window_flow-in"),
    pytest.param(
        lambda t: window_flow(0.5, 1.0, 22.0, t), [-20, 0, 10, 22, 35], id="window_flow-out"
    ),
    pytest.param(
        lambda q: point_source_flux(q, 0.3, 2.0), [0, 1, 10, 100, 1000], id="point_source_flux-q"
    ),
    pytest.param(
        lambda d: point_source_flux(100.0, 0.3, d), [0, 0.5, 1, 2, 5], id="point_source_flux-d"
    ),
    pytest.param(band_radiance_exact, [-40, 0, 25, 300, 1200], id="band_radiance_exact"),
    pytest.param(band_radiance, [-40, 0, 25, 300, 1200], id="band_radiance"),
    pytest.param(brightness_temperature, [20, 40, 60, 500, 3000], id="brightness_temperature"),
    pytest.param(
        lambda t: apparent_temperature(t, 0.9, 20.0), [-40, 0, 25, 300, 1200], id="apparent-temp"
    ),
    pytest.param(
        lambda e: apparent_temperature(300.0, e, 20.0),
        [0, 0.1, 0.5, 0.9, 1],
        id="apparent-emissivity",
    ),
    pytest.param(
        lambda t: apparent_temperature(300.0, 0.5, t),
        [-40, 0, 25, 300, 1200],
        id="apparent-reflected",
    ),
    pytest.param(
        lambda path: flame_emissivity(path, 2.0), [0, 0.1, 0.5, 1, 5], id="flame_emissivity"
    ),
]


def _without_marks(params: list[Any]) -> list[Any]:
    return [pytest.param(*p.values, id=p.id) for p in params]


@pytest.mark.parametrize(("func", "values"), _without_marks(ELEMENTWISE))
def test_elementwise_array_like(func: Callable[[Any], Array], values: list[float]) -> None:
    x = np.asarray(values, dtype=np.float64)
    scalars = []
    for v in x:
        out = func(float(v))
        assert np.ndim(out) == 0, "a scalar gives a 0-d result"
        assert np.isfinite(out)
        scalars.append(float(out))
    assert len(set(scalars)) > 1, "the sample values must exercise the function"
    arr = func(x)
    assert isinstance(arr, np.ndarray) and arr.shape == x.shape
    np.testing.assert_allclose(arr, scalars, rtol=1e-12)
    # a Series gives the same values (as a plain array: the index is not carried over)
    series = func(pd.Series(x, index=np.arange(10, 10 + x.size)))
    assert np.shape(series) == x.shape
    np.testing.assert_array_equal(np.asarray(series), arr)
    np.testing.assert_array_equal(func(list(x)), arr)


@pytest.mark.parametrize(("func", "values"), ELEMENTWISE)
def test_elementwise_nan_propagates(func: Callable[[Any], Array], values: list[float]) -> None:
    x = np.asarray(values, dtype=np.float64)
    x_nan = x.copy()
    x_nan[2] = np.nan
    out = np.asarray(func(x_nan))
    assert out.shape == x.shape
    # the other positions are untouched
    np.testing.assert_array_equal(np.delete(out, 2), np.delete(func(x), 2))
    assert np.isnan(out[2]), "a NaN input must give NaN, not a number"
    assert np.isnan(func(float("nan")))
    assert np.isnan(np.asarray(func(pd.Series(x_nan)))[2])


# (function of one series, values, whether the series sets the length: a scalar there raises)
TIME_SERIES: list[Any] = [
    pytest.param(
        lambda x: layer_temperature(1.0, x, 40.0, 80.0, 0.05, 20.0),
        [0, 5, 10, 20, 10, 0],
        True,
        id="layer_temperature-q",
    ),
    pytest.param(
        lambda x: layer_temperature(1.0, np.full(6, 10.0), 40.0, 80.0, x, 20.0),
        [0.01, 0.02, 0.05, 0.05, 0.1, 0.1],
        False,
        id="layer_temperature-flow",
    ),
    pytest.param(
        lambda x: layer_temperature(1.0, np.full(6, 10.0), 40.0, 80.0, 0.05, x),
        [20, 20, 21, 22, 22, 21],
        False,
        id="layer_temperature-amb",
    ),
    pytest.param(
        lambda x: zone_concentration(1.0, x, 30.0, 0.005, 420.0, 420.0),
        [0, 1e-5, 2e-5, 1e-5, 0, 0],
        True,
        id="zone_concentration-source",
    ),
    pytest.param(
        lambda x: zone_concentration(1.0, np.full(6, 1e-5), 30.0, 0.005, x, 420.0),
        [420, 430, 440, 450, 430, 420],
        False,
        id="zone_concentration-outdoor",
    ),
    pytest.param(
        lambda x: lumped_temperature(1.0, x, 5.0, 2000.0, 20.0, 20.0),
        [0, 500, 1500, 1500, 0, 0],
        True,
        id="lumped_temperature",
    ),
    pytest.param(
        lambda x: surface_response(10.0, x, 60.0),
        [20, 30, 80, 80, 40, 20],
        True,
        id="surface_response",
    ),
]


@pytest.mark.parametrize(("func", "values", "sets_length"), TIME_SERIES)
def test_time_series_array_like_and_nan(
    func: Callable[[Any], Array], values: list[float], sets_length: bool
) -> None:
    x = np.asarray(values, dtype=np.float64)
    arr = func(x)
    assert isinstance(arr, np.ndarray) and arr.shape == x.shape
    assert np.all(np.isfinite(arr))
    series = func(pd.Series(x, index=pd.date_range("2024-01-01", periods=x.size, freq="s")))
    np.testing.assert_array_equal(series, arr)
    np.testing.assert_array_equal(func(list(x)), arr)
    # a NaN sample leaves earlier samples alone and makes the state unknown from then on
    x_nan = x.copy()
    x_nan[3] = np.nan
    out = func(x_nan)
    np.testing.assert_array_equal(out[:3], arr[:3])
    assert np.all(np.isnan(out[3:]))
    if sets_length:
        # a scalar is not a time series: a clear error, not an index error
        with pytest.raises(ValueError, match="must be a time series"):
            func(float(x[1]))
    else:
        # a scalar coefficient is held constant over the series
        np.testing.assert_array_equal(func(float(x[1])), func(np.full(x.shape, x[1])))


def test_delayed_array_like_and_nan() -> None:
    t = np.arange(8.0)
    x = np.array([0.0, 1.0, 4.0, 9.0, 16.0, 25.0, 36.0, 49.0])
    ref = delayed(t, x, 2.0)
    np.testing.assert_array_equal(ref, [0, 0, 0, 1, 4, 9, 16, 25])
    np.testing.assert_array_equal(
        delayed(pd.Series(t), pd.Series(x), pd.Series(np.full(8, 2.0))), ref
    )
    np.testing.assert_array_equal(delayed(list(t), list(x), np.full(8, 2.0)), ref)
    # NaN in the signal arrives once, delay steps later
    x_nan = x.copy()
    x_nan[3] = np.nan
    out = delayed(t, x_nan, 2.0)
    assert np.isnan(out[5])
    np.testing.assert_array_equal(np.delete(out, 5), np.delete(ref, 5))
    # a NaN delay: what was received before that emission's arrival is kept, the rest is unknown
    d_nan = np.full(8, 2.0)
    d_nan[3] = np.nan
    out = delayed(t, x, d_nan)
    np.testing.assert_array_equal(out[:4], ref[:4])
    assert np.all(np.isnan(out[5:]))


# --------------------------------------------------------------------------------------------
# physical invariants
# --------------------------------------------------------------------------------------------


@PROPS
@given(
    alpha=finite_floats(1e-3, 0.2),
    q_peak=finite_floats(1.0, 5000.0),
    t_ignition=finite_floats(0.0, 600.0),
    fuel_energy=finite_floats(100.0, 2e6),
    decay_time=finite_floats(5.0, 3000.0),
)
def test_hrr_curve_nonnegative_and_burns_its_fuel(
    alpha: float, q_peak: float, t_ignition: float, fuel_energy: float, decay_time: float
) -> None:
    duration = math.sqrt(q_peak / alpha) + fuel_energy / q_peak + decay_time
    t = np.linspace(0.0, t_ignition + 1.05 * duration, 400_001)
    q = hrr_curve(t, alpha, q_peak, t_ignition, fuel_energy, decay_time)
    assert np.all(q >= 0.0)
    assert q.max() <= q_peak * (1 + 1e-9)
    assert np.all(q[t <= t_ignition] == 0.0)
    assert q[-1] == 0.0  # the fuel is spent
    energy = float(np.trapezoid(q, t))
    assert energy <= fuel_energy * (1.0 + 2e-3)
    assert energy == pytest.approx(fuel_energy, rel=2e-3)


@PROPS
@given(
    target=series_of(-100.0, 1000.0),
    data=st.data(),
    y0=finite_floats(-100.0, 1000.0),
    dt=finite_floats(1e-3, 100.0),
)
def test_relax_stays_between_start_and_targets(
    target: Array, data: st.DataObject, y0: float, dt: float
) -> None:
    rate = data.draw(hnp.arrays(np.float64, target.shape, elements=finite_floats(0.0, 1e3)))
    y = relax(dt, target, rate, y0)
    assert y[0] == y0
    lo, hi = min(y0, target[1:].min()), max(y0, target[1:].max())
    tol = 1e-9 * (1.0 + abs(lo) + abs(hi))
    assert np.all(y >= lo - tol) and np.all(y <= hi + tol)


@PROPS
@given(
    source=series_of(0.0, 1e-3),
    data=st.data(),
    mix_volume=finite_floats(1.0, 500.0),
    outdoor=finite_floats(300.0, 600.0),
    excess0=finite_floats(0.0, 5000.0),
    dt=finite_floats(0.1, 60.0),
)
def test_zone_concentration_never_below_outdoor(
    source: Array,
    data: st.DataObject,
    mix_volume: float,
    outdoor: float,
    excess0: float,
    dt: float,
) -> None:
    flow = data.draw(hnp.arrays(np.float64, source.shape, elements=finite_floats(0.0, 5.0)))
    c = zone_concentration(dt, source, mix_volume, flow, outdoor, outdoor + excess0)
    assert np.all(c >= outdoor * (1.0 - 1e-12))
    # without a source the excess only decays
    c = zone_concentration(dt, np.zeros_like(source), mix_volume, flow, outdoor, outdoor + excess0)
    assert np.all(np.diff(c) <= 1e-9)


@PROPS
@given(
    n=st.integers(1, 200),
    mix_volume=finite_floats(1.0, 500.0),
    wall_area=finite_floats(1.0, 500.0),
    flow=finite_floats(0.0, 5.0),
    temp_amb=finite_floats(-30.0, 50.0),
    h_wall=finite_floats(1e-3, 0.05),
    dt=finite_floats(0.1, 60.0),
)
def test_layer_temperature_without_heat_is_ambient(
    n: int,
    mix_volume: float,
    wall_area: float,
    flow: float,
    temp_amb: float,
    h_wall: float,
    dt: float,
) -> None:
    t = layer_temperature(dt, np.zeros(n), mix_volume, wall_area, flow, temp_amb, h_wall)
    np.testing.assert_allclose(t, temp_amb, rtol=0, atol=1e-9)
    # and a positive heat release only warms it
    warm = layer_temperature(dt, np.full(n, 5.0), mix_volume, wall_area, flow, temp_amb, h_wall)
    assert np.all(warm >= temp_amb - 1e-9)
    assert np.all(np.diff(warm) >= -1e-9)


@PROPS
@given(
    q=finite_floats(0.1, 5000.0),
    h=finite_floats(1.0, 12.0),
    r=st.lists(finite_floats(0.0, 20.0), min_size=2, max_size=30),
    factor=finite_floats(1.01, 10.0),
)
def test_ceiling_jet_falls_with_radius_and_grows_with_heat(
    q: float, h: float, r: list[float], factor: float
) -> None:
    radii = np.sort(np.asarray(r))
    dt = alpert_excess_temperature(q, h, radii)
    assert np.all(dt > 0.0)
    assert np.all(np.diff(dt) <= 1e-12 * dt[0])
    assert np.all(alpert_excess_temperature(q * factor, h, radii) > dt)
    u = alpert_velocity(q, h, radii)
    assert np.all(np.diff(u) <= 1e-12 * u[0])
    assert np.all(alpert_velocity(q * factor, h, radii) > u)


@PROPS
@given(temp=finite_floats(-50.0, 1500.0))
def test_brightness_temperature_inverts_band_radiance(temp: float) -> None:
    assert float(brightness_temperature(band_radiance(temp))) == pytest.approx(temp, abs=0.05)
    assert float(brightness_temperature(band_radiance_exact(temp))) == pytest.approx(temp, abs=0.05)


@PROPS
@given(
    temp=finite_floats(-50.0, 1500.0),
    emissivity=finite_floats(0.0, 1.0),
    temp_reflected=finite_floats(-50.0, 1500.0),
)
def test_apparent_temperature_between_object_and_reflection(
    temp: float, emissivity: float, temp_reflected: float
) -> None:
    app = float(apparent_temperature(temp, emissivity, temp_reflected))
    assert min(temp, temp_reflected) - 0.05 <= app <= max(temp, temp_reflected) + 0.05
    # more emissive means closer to the object's own temperature
    more = float(apparent_temperature(temp, min(1.0, emissivity + 0.1), temp_reflected))
    assert abs(more - temp) <= abs(app - temp) + 0.05


@PROPS
@given(rh=finite_floats(0.0, 100.0), temp=finite_floats(-40.0, 60.0))
def test_humidity_round_trip(rh: float, temp: float) -> None:
    ppm = float(h2o_ppm_from_rh(rh, temp))
    assert ppm >= 0.0
    assert float(relative_humidity(ppm, temp)) == pytest.approx(rh, rel=1e-12, abs=1e-12)


@PROPS
@given(temps=st.lists(finite_floats(-40.0, 100.0), min_size=2, max_size=20))
def test_saturation_vapour_pressure_increases(temps: list[float]) -> None:
    es = saturation_vapour_pressure(np.sort(temps))
    assert np.all(es > 0.0) and np.all(np.diff(es) >= 0.0)


@PROPS
@given(
    x=series_of(-1e3, 1e3),
    data=st.data(),
)
def test_delayed_within_signal_range_and_identity(x: Array, data: st.DataObject) -> None:
    n = x.size
    steps = data.draw(hnp.arrays(np.float64, n, elements=finite_floats(0.01, 10.0)))
    t = np.concatenate([[0.0], np.cumsum(steps)[:-1]])
    delay = data.draw(hnp.arrays(np.float64, n, elements=finite_floats(0.0, 100.0)))
    y = delayed(t, x, delay)
    assert y.shape == x.shape
    assert np.all(y >= x.min()) and np.all(y <= x.max())
    np.testing.assert_array_equal(delayed(t, x, 0.0), x)


@PROPS
@given(q=finite_floats(-100.0, 1e5), d=finite_floats(0.0, 10.0))
def test_flame_height_nonnegative_and_grows_with_heat(q: float, d: float) -> None:
    length = float(flame_height(q, d))
    assert length >= 0.0
    assert float(flame_height(q * 2.0 + 1.0, d)) >= length


@PROPS
@given(
    area=finite_floats(0.0, 5.0),
    height=finite_floats(0.0, 3.0),
    temp_in=finite_floats(-40.0, 300.0),
    temp_out=finite_floats(-40.0, 50.0),
)
def test_window_flow_nonnegative_and_symmetric(
    area: float, height: float, temp_in: float, temp_out: float
) -> None:
    v = float(window_flow(area, height, temp_in, temp_out))
    assert v >= 0.05 * area
    assert v == float(window_flow(area, height, temp_out, temp_in))
