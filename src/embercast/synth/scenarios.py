"""The scenario catalogue: classes, their parameter distributions, sampling and the split policy.

Each class draws its parameters from documented distributions (:data:`COMMON_PARAMETERS` for
every scenario, then the class's own) with a per-scenario seed derived from the dataset seed and
the scenario's index, so a scenario is the same whichever worker runs it. ``embercast catalogue``
prints this table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embercast.errors import InputError
from embercast.synth.distributions import (
    Bernoulli,
    Choice,
    Distribution,
    Fixed,
    IntUniform,
    LogUniform,
    Uniform,
    Value,
)
from embercast.synth.replicas import B707, DC10, FAA_FUEL, FAA_IGNITION_S

COMMON_PARAMETERS: dict[str, Distribution] = {
    "room_length": Uniform(3.0, 14.0),  # [m]
    "room_width": Uniform(2.5, 10.0),  # [m]
    "room_height": Uniform(2.4, 4.5),  # [m]
    "ach": LogUniform(0.3, 6.0),  # background air changes [1/h]
    "room_temp": Uniform(14.0, 30.0),  # [°C]
    "outdoor_temp": Uniform(-10.0, 35.0),  # [°C]
    "room_rh": Uniform(25.0, 65.0),  # [%]
    "outdoor_rh": Uniform(30.0, 90.0),  # [%]
    "outdoor_co2": Uniform(400.0, 450.0),  # [ppm]
    "initial_co2_excess": Uniform(0.0, 500.0),  # indoor CO2 above outdoor at start [ppm]
    "camera_pitch": Uniform(20.0, 45.0),  # downward tilt [deg]
    "camera_yaw_offset": Uniform(-10.0, 10.0),  # from the room diagonal [deg]
    "mix_fraction": Uniform(0.25, 0.8),  # share of volume the sensor zone mixes into [-]
    "layer_depth_frac": Uniform(0.2, 0.5),  # hot-layer depth / room height [-]
    "second_device": Bernoulli(0.15),  # a second device in the opposite corner
    "scd41_low_power": Bernoulli(0.15),  # 30-s low-power mode instead of 5-s periodic
    "asc": Bernoulli(0.1),  # SCD41 automatic self-calibration switched on
    "scd41_uptime_h": Uniform(0.0, 500.0),  # device powered this long at the start [h]
    "ceiling": Choice(("gypsum_board", "concrete", "timber"), (0.5, 0.35, 0.15)),
    "people": IntUniform(0, 2),  # occupants present in the background
    "hvac": Bernoulli(0.5),  # mechanical ventilation cycling on and off
    "furniture": IntUniform(1, 5),  # static boxes at room temperature, clear of the source
}
"""Parameters drawn for every scenario, with their units in the comments."""
DRAWN_LAST = ("scd41_uptime_h", "ceiling")
"""Common parameters added in generator v9: drawn after the class's own parameters, so every
parameter drawn before keeps its value for the same seed and index."""

GROWTH = Choice(("slow", "medium", "fast", "ultra_fast"), (0.2, 0.35, 0.3, 0.15))


@dataclass(frozen=True, kw_only=True)
class ScenarioClass:
    """One class of the catalogue: whether it is a fire, what it is, its own parameters, its
    relative weight when classes are mixed and its duration distribution [s]."""

    is_fire: bool
    description: str
    parameters: dict[str, Distribution]
    weight: float
    duration: Distribution


SCENARIO_CLASSES: dict[str, ScenarioClass] = {
    "flaming_fire": ScenarioClass(
        is_fire=True,
        weight=0.16,
        duration=Uniform(900.0, 1800.0),
        description="Flaming fire of a solid or liquid fuel growing as t-squared to a peak.",
        parameters={
            "fuel": Choice(
                ("wood", "polyurethane_foam", "paper_cardboard", "plastics", "textiles", "heptane")
            ),
            "growth": GROWTH,
            "q_peak": LogUniform(30.0, 3000.0),  # [kW]
            "steady_s": Uniform(60.0, 900.0),  # time at peak [s]
            "decay_s": Uniform(120.0, 600.0),  # [s]
            "ignition_frac": Uniform(0.1, 0.4),  # ignition time / duration [-]
            "fire_x_frac": Uniform(0.15, 0.95),
            "fire_y_frac": Uniform(0.15, 0.95),
            "fire_z": Uniform(0.0, 0.8),  # fuel surface height [m]
            "door_open": Bernoulli(0.5),  # a 0.9 x 2.0 m door limits the peak by ventilation
        },
    ),
    "smouldering": ScenarioClass(
        is_fire=True,
        weight=0.08,
        duration=Uniform(3600.0, 7200.0),
        description=(
            "Smouldering upholstery or cellulosic fuel; may turn into flaming. Recorded for 1-2 h:"
            " its front takes an hour or more to cross the item, and a drawn transition happens"
            " on record."
        ),
        parameters={
            "q_smoulder": LogUniform(0.05, 1.5),  # at onset, before the front spreads [kW]
            "spread_mm_min": LogUniform(0.3, 3.0),  # smoulder front, around 1 mm/min [mm/min]
            "ramp_s": Uniform(300.0, 1500.0),  # [s]
            "glow_temp": Uniform(300.0, 600.0),  # smouldering front [°C]
            "transition": Bernoulli(0.35),
            "transition_after_s": Uniform(600.0, 2400.0),  # [s after onset]
            "flaming_fuel": Choice(("polyurethane_foam", "textiles", "wood")),
            "growth": GROWTH,
            "q_peak": LogUniform(30.0, 1000.0),
            "ignition_frac": Uniform(0.05, 0.3),
            "fire_x_frac": Uniform(0.15, 0.95),
            "fire_y_frac": Uniform(0.15, 0.95),
            "fire_z": Uniform(0.0, 0.6),
        },
    ),
    "electrical_overheat": ScenarioClass(
        is_fire=True,
        weight=0.07,
        duration=Uniform(1500.0, 3000.0),
        description="A failing connection heats up, pyrolyses its insulation, then flames.",
        parameters={
            "power_max": LogUniform(10.0, 150.0),  # fault heating [W]
            "ramp_s": Uniform(300.0, 1800.0),  # time to full fault power [s]
            "conductance": Uniform(0.1, 0.5),  # [W/K]
            "heat_capacity": Uniform(50.0, 300.0),  # [J/K]
            "pyrolysis_c": Uniform(200.0, 260.0),  # onset of pyrolysis = ignition [°C]
            "flaming_c": Uniform(330.0, 450.0),  # piloted ignition of the insulation [°C]
            "growth": GROWTH,
            "q_peak": LogUniform(20.0, 500.0),
            "fault_start_frac": Uniform(0.05, 0.25),
            "fire_x_frac": Uniform(0.15, 0.95),
            "fire_y_frac": Uniform(0.15, 0.95),
            "fire_z": Uniform(0.0, 1.5),
        },
    ),
    "cooking_oil_fire": ScenarioClass(
        is_fire=True,
        weight=0.07,
        duration=Uniform(1200.0, 2400.0),
        description="A pan of oil left on the hob heats to autoignition and flames.",
        parameters={
            "burner_kw": Uniform(1.5, 3.5),
            "burner_type": Choice(("gas", "electric")),
            "oil_mass": Uniform(0.2, 1.0),  # [kg]
            "pan_radius": Uniform(0.10, 0.16),  # [m]
            "autoignition_c": Uniform(340.0, 390.0),  # [°C]
            "loss_conductance": Uniform(3.0, 8.0),  # [W/K]
            "hob_x_frac": Uniform(0.2, 0.9),
            "hob_y_frac": Uniform(0.6, 0.95),
            "cook_leaves_s": Uniform(60.0, 300.0),  # the cook walks away [s]
        },
    ),
    "cooking_gas_stove": ScenarioClass(
        is_fire=False,
        weight=0.08,
        duration=Uniform(900.0, 2400.0),
        description="Cooking on gas burners: flames, hot pans, burner CO2 and steam.",
        parameters={
            "burners": IntUniform(1, 3),
            "burner_kw": Uniform(1.0, 3.0),
            "pan_temp": Uniform(90.0, 250.0),  # [°C]
            "steam_g_s": Uniform(0.0, 0.5),  # [g/s]
            "hood": Bernoulli(0.5),
            "hood_ach": Uniform(5.0, 15.0),
            "hob_x_frac": Uniform(0.2, 0.9),
            "hob_y_frac": Uniform(0.6, 0.95),
            "start_frac": Uniform(0.05, 0.3),
            "cook_frac": Uniform(0.4, 0.8),
        },
    ),
    "cooking_electric": ScenarioClass(
        is_fire=False,
        weight=0.07,
        duration=Uniform(900.0, 2400.0),
        description="Cooking on an electric or ceramic hob and an oven: hot plates, no burner CO2.",
        parameters={
            "plates": IntUniform(1, 3),
            "plate_temp": Uniform(150.0, 450.0),  # [°C]
            "oven": Bernoulli(0.4),
            "oven_door_temp": Uniform(40.0, 80.0),  # [°C]
            "steam_g_s": Uniform(0.0, 0.5),
            "hob_x_frac": Uniform(0.2, 0.9),
            "hob_y_frac": Uniform(0.6, 0.95),
            "start_frac": Uniform(0.05, 0.3),
            "cook_frac": Uniform(0.4, 0.8),
        },
    ),
    "toaster": ScenarioClass(
        is_fire=False,
        weight=0.05,
        duration=Uniform(600.0, 1500.0),
        description="A toaster used one to three times, sometimes burning the toast.",
        parameters={
            "toaster_temp": Uniform(150.0, 280.0),
            "toast_s": Uniform(120.0, 300.0),
            "cycles": IntUniform(1, 3),
            "burnt": Bernoulli(0.25),
            "x_frac": Uniform(0.2, 0.9),
            "y_frac": Uniform(0.6, 0.95),
        },
    ),
    "space_heater": ScenarioClass(
        is_fire=False,
        weight=0.06,
        duration=Uniform(1200.0, 3000.0),
        description="A fan, radiant-bar or oil-filled heater cycling on its thermostat.",
        parameters={
            "heater_type": Choice(("fan", "radiant", "oil")),
            "power_kw": Uniform(0.8, 2.5),
            "cycle_s": Uniform(300.0, 1200.0),
            "x_frac": Uniform(0.2, 0.9),
            "y_frac": Uniform(0.2, 0.9),
        },
    ),
    "sunlight": ScenarioClass(
        is_fire=False,
        weight=0.05,
        duration=Uniform(1200.0, 3600.0),
        description="A sun patch moving across the floor, with passing clouds.",
        parameters={
            "sun_excess": Uniform(4.0, 25.0),  # [K]
            "patch_half": Uniform(0.3, 1.2),  # [m]
            "speed": Uniform(0.05, 0.3),  # [m/min]
            "clouds": Bernoulli(0.4),
        },
    ),
    "occupancy": ScenarioClass(
        is_fire=False,
        weight=0.07,
        duration=Uniform(1200.0, 3600.0),
        description="People arriving, staying and leaving: from a few to a crowd.",
        parameters={
            "crowd": IntUniform(2, 30),
            "met": Uniform(1.0, 2.5),
            "arrive_frac": Uniform(0.05, 0.4),
            "stay_frac": Uniform(0.3, 0.7),
        },
    ),
    "candles_smoking": ScenarioClass(
        is_fire=False,
        weight=0.05,
        duration=Uniform(900.0, 2400.0),
        description="Candles burning and people smoking.",
        parameters={
            "candles": IntUniform(0, 6),
            "smokers": IntUniform(0, 3),
            "x_frac": Uniform(0.2, 0.8),
            "y_frac": Uniform(0.2, 0.8),
        },
    ),
    "hot_machinery": ScenarioClass(
        is_fire=False,
        weight=0.05,
        duration=Uniform(1200.0, 3000.0),
        description="Static hot machines (motors, compressors, servers), some cycling.",
        parameters={
            "machines": IntUniform(1, 4),
            "machine_temp": Uniform(45.0, 120.0),  # [°C]
            "cycling": Bernoulli(0.5),
            "cycle_s": Uniform(300.0, 1200.0),
        },
    ),
    "hvac_window": ScenarioClass(
        is_fire=False,
        weight=0.05,
        duration=Uniform(1200.0, 3000.0),
        description="A window opened to the outside and HVAC switching supply air.",
        parameters={
            "window_open_frac": Uniform(0.1, 0.5),
            "window_area": Uniform(0.3, 1.5),  # [m^2]
            "supply_offset": Uniform(-8.0, 12.0),  # HVAC supply air - room [K]
            "hvac_ach": Uniform(2.0, 8.0),
        },
    ),
    "steam": ScenarioClass(
        is_fire=False,
        weight=0.04,
        duration=Uniform(900.0, 2400.0),
        description="Steam from a kettle, shower or dishwasher: humidity and a warm plume.",
        parameters={
            "source": Choice(("kettle", "shower", "dishwasher")),
            "steam_g_s": Uniform(0.2, 3.0),
            "steam_s": Uniform(120.0, 900.0),
            "plume_temp": Uniform(35.0, 70.0),
            "x_frac": Uniform(0.2, 0.9),
            "y_frac": Uniform(0.2, 0.9),
        },
    ),
    "sensor_fault": ScenarioClass(
        is_fire=False,
        weight=0.04,
        duration=Uniform(1200.0, 3000.0),
        description=(
            "One device's sensor fault on an ordinary background: dropouts, stuck, drift, "
            "FFC storms."
        ),
        parameters={
            "fault": Choice(
                ("scd41_dropout", "scd41_stuck", "scd41_drift", "camera_dropout", "ffc_storm")
            ),
            "fault_start_frac": Uniform(0.05, 0.5),
            "fault_len_frac": Uniform(0.1, 0.5),
            "drift_rate": Uniform(0.05, 0.5),  # [ppm/s]
        },
    ),
    "normal_day": ScenarioClass(
        is_fire=False,
        weight=0.01,
        duration=Uniform(3600.0, 10800.0),
        description="An ordinary stretch of a day: people come and go, HVAC cycles, some sun.",
        parameters={
            "peak_people": IntUniform(0, 8),
            "sun": Bernoulli(0.3),
            "sun_excess": Uniform(4.0, 15.0),
        },
    ),
    **{
        name: ScenarioClass(
            is_fire=True,
            weight=0.0,
            duration=Fixed(FAA_IGNITION_S + 360.0),
            description=(
                f"Replica of FAA cargo-compartment test {cases} ({comp.name}): the tests' "
                "compartment, ventilation, resin fire and probes; drawn only when named."
            ),
            parameters={
                "faa_test": Choice(cases),
                "fuel": Choice((FAA_FUEL,)),
                "ignition_s": Fixed(FAA_IGNITION_S),
                "room_length": Fixed(comp.length),
                "room_width": Fixed(comp.width),
                "room_height": Fixed(comp.height),
                "mix_fraction": Fixed(round(comp.volume / comp.box_volume, 6)),
                "ach": Fixed(round(comp.ach, 6)),
                "people": Fixed(0),
                "hvac": Fixed(False),
                "furniture": Fixed(0),
                "second_device": Fixed(False),
                "initial_co2_excess": Fixed(0.0),
                "asc": Fixed(False),
                "scd41_low_power": Fixed(False),
            },
        )
        for name, comp, cases in (
            ("faa_b707_replica", B707, ("1", "2", "3")),
            ("faa_dc10_replica", DC10, ("4",)),
        )
    },
}
"""The scenario catalogue; keys are the values of the ``scenario_class`` column. A class of
weight 0 (the replicas) is drawn only when named (``--classes``); a class's parameter of the
name of a common one replaces it."""

CONDITIONS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "room_size": lambda p: (
        "small"
        if (v := p["room_length"] * p["room_width"] * p["room_height"]) < 40
        else "medium"
        if v < 150
        else "large"
    ),
    "ventilation": lambda p: "low" if p["ach"] < 1.0 else "medium" if p["ach"] < 3.0 else "high",
    "ambient": lambda p: (
        "cold" if p["room_temp"] < 18 else "normal" if p["room_temp"] < 26 else "hot"
    ),
    "fuel": lambda p: str(p.get("fuel", p.get("flaming_fuel", "none"))),
}
"""Condition buckets a split can hold out, computed from a scenario's parameters."""


def _fuel_buckets() -> tuple[str, ...]:
    names = {"none"}  # classes without a fuel parameter (electrical, cooking oil, nuisances)
    for entry in SCENARIO_CLASSES.values():
        for key in ("fuel", "flaming_fuel"):
            dist = entry.parameters.get(key)
            if isinstance(dist, Choice):
                names.update(dist.options)
    return tuple(sorted(names))


CONDITION_BUCKETS: dict[str, tuple[str, ...]] = {
    "room_size": ("small", "medium", "large"),
    "ventilation": ("low", "medium", "high"),
    "ambient": ("cold", "normal", "hot"),
    "fuel": _fuel_buckets(),
}
"""Every bucket each of :data:`CONDITIONS` can give: what ``--holdout`` may name."""


@dataclass(frozen=True, kw_only=True)
class SplitPolicy:
    """How scenarios are assigned to ``train``/``val``/``test``/``holdout``.

    A scenario whose conditions match any of ``holdout`` (condition -> buckets, e.g.
    ``{"room_size": ("large",), "fuel": ("heptane",)}``) goes to ``holdout``; the others are
    assigned by a hash of their seed with the given fractions. Splits are by scenario, never by row.
    """

    holdout: dict[str, tuple[str, ...]] = field(default_factory=dict)
    val_fraction: float = 0.15
    test_fraction: float = 0.15

    @classmethod
    def parse(cls, text: str | None) -> SplitPolicy:
        """Parse ``room_size=large;fuel=heptane,plastics`` (empty or None: no holdout)."""
        holdout: dict[str, tuple[str, ...]] = {}
        for part in filter(None, (text or "").split(";")):
            key, _, values = part.partition("=")
            key = key.strip()
            if key not in CONDITIONS or not values.strip():
                raise InputError(
                    f"invalid holdout {part!r}: expected CONDITION=BUCKET[,BUCKET] with CONDITION "
                    f"one of {sorted(CONDITIONS)}"
                )
            buckets = tuple(v.strip() for v in values.split(","))
            unknown = [v for v in buckets if v not in CONDITION_BUCKETS[key]]
            if unknown:
                named = ", ".join(map(repr, unknown))
                raise InputError(
                    f"invalid holdout {part!r}: {key} has no bucket {named}; "
                    f"known: {', '.join(CONDITION_BUCKETS[key])}"
                )
            holdout[key] = buckets
        return cls(holdout=holdout)

    def assign(self, conditions: Mapping[str, str], seed: int) -> str:
        """Split group of a scenario with these conditions and seed."""
        for key, buckets in self.holdout.items():
            if conditions.get(key) in buckets:
                return "holdout"
        u = int(hashlib.sha256(str(seed).encode()).hexdigest()[:8], 16) / 2**32
        if u < self.val_fraction:
            return "val"
        if u < self.val_fraction + self.test_fraction:
            return "test"
        return "train"


@dataclass(frozen=True, kw_only=True)
class ScenarioSpec:
    """One scenario to run: its id, class, seed and every sampled parameter (primitives only)."""

    scenario_id: str
    scenario_class: str
    seed: int
    params: dict[str, Value]
    split_group: str = "train"

    @property
    def is_fire(self) -> bool:
        return SCENARIO_CLASSES[self.scenario_class].is_fire

    def to_row(self) -> dict[str, object]:
        """One scenarios.parquet row; ``ignition_s`` is filled in by the runner."""
        row: dict[str, object] = {
            "scenario_id": self.scenario_id,
            "scenario_class": self.scenario_class,
            "is_fire": self.is_fire,
            "ignition_s": None,
            "duration_s": float(self.params["duration_s"]),
            "seed": self.seed,
            "split_group": self.split_group,
        }
        for key, fn in CONDITIONS.items():
            row[f"cond_{key}"] = fn(self.params)
        row.update({k: v for k, v in self.params.items() if k != "duration_s"})
        return row


def get_class(name: str) -> ScenarioClass:
    """Return the catalogue entry ``name``; raise ValueError naming SCENARIO_CLASSES if unknown."""
    try:
        return SCENARIO_CLASSES[name]
    except KeyError:
        raise InputError(
            f"unknown scenario class {name!r} in SCENARIO_CLASSES; "
            f"valid: {', '.join(SCENARIO_CLASSES)}"
        ) from None


def scenario_seed(seed: int, index: int) -> int:
    """Seed of scenario ``index`` of a dataset with seed ``seed`` (independent of workers)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint32)[0])


def sample_spec(
    index: int, seed: int, class_name: str, policy: SplitPolicy | None = None
) -> ScenarioSpec:
    """Draw the parameters of scenario ``index`` of class ``class_name``."""
    cls = get_class(class_name)
    s = scenario_seed(seed, index)
    rng = np.random.default_rng(s)
    params: dict[str, Value] = {"duration_s": round(float(cls.duration.sample(rng)))}
    for name, dist in COMMON_PARAMETERS.items():
        if name not in DRAWN_LAST:
            params[name] = dist.sample(rng)
    for name, dist in cls.parameters.items():
        params[name] = dist.sample(rng)
    for name in DRAWN_LAST:
        params[name] = COMMON_PARAMETERS[name].sample(rng)
    params = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in params.items()}
    conditions = {key: fn(params) for key, fn in CONDITIONS.items()}
    group = (policy or SplitPolicy()).assign(conditions, s)
    return ScenarioSpec(
        scenario_id=f"s{index:06d}",
        scenario_class=class_name,
        seed=s,
        params=params,
        split_group=group,
    )


def sample_scenarios(
    n: int, seed: int, *, classes: Sequence[str] | None = None, policy: SplitPolicy | None = None
) -> list[ScenarioSpec]:
    """Draw ``n`` scenarios; classes are mixed by their weights (or restricted to ``classes``).

    The first scenarios visit every class once (in a seeded order), then classes follow a
    deterministic weighted round-robin, so any dataset of at least as many scenarios as classes
    holds every class; a scenario's parameters come from :func:`sample_spec`.
    """
    if n < 1:
        raise InputError(f"invalid number of scenarios: must be >= 1, got {n}")
    names = list(classes) if classes else [c for c, k in SCENARIO_CLASSES.items() if k.weight > 0]
    for name in names:
        get_class(name)
    weights = np.array([SCENARIO_CLASSES[c].weight for c in names])
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(names), 1 / len(names))
    credit = np.zeros(len(names))
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2**31 - 1]))
    order = rng.permutation(len(names))
    specs = []
    for i in range(n):
        credit += weights
        pick = int(order[i]) if i < len(names) else int(order[np.argmax(credit[order])])
        credit[pick] -= 1.0
        specs.append(sample_spec(i, seed, names[pick], policy))
    return specs


PARAMETER_UNITS: dict[str, str] = {
    "duration_s": "s", "room_length": "m", "room_width": "m", "room_height": "m", "ach": "1/h",
    "room_temp": "°C", "outdoor_temp": "°C", "room_rh": "%", "outdoor_rh": "%",
    "outdoor_co2": "ppm",
    "initial_co2_excess": "ppm", "camera_pitch": "deg", "camera_yaw_offset": "deg", "q_peak": "kW",
    "steady_s": "s", "decay_s": "s", "fire_z": "m", "q_smoulder": "kW", "ramp_s": "s",
    "spread_mm_min": "mm/min",
    "glow_temp": "°C", "transition_after_s": "s", "power_max": "W", "conductance": "W/K",
    "heat_capacity": "J/K", "pyrolysis_c": "°C", "flaming_c": "°C", "burner_kw": "kW",
    "oil_mass": "kg", "pan_radius": "m", "autoignition_c": "°C", "loss_conductance": "W/K",
    "cook_leaves_s": "s", "pan_temp": "°C", "steam_g_s": "g/s", "hood_ach": "1/h",
    "plate_temp": "°C", "oven_door_temp": "°C", "toaster_temp": "°C", "toast_s": "s",
    "power_kw": "kW", "cycle_s": "s", "sun_excess": "K", "patch_half": "m", "speed": "m/min",
    "met": "met", "machine_temp": "°C", "window_area": "m^2", "supply_offset": "K",
    "hvac_ach": "1/h", "steam_s": "s", "plume_temp": "°C", "drift_rate": "ppm/s",
    "scd41_uptime_h": "h", "ignition_s": "s",
}  # fmt: skip
"""Unit of each dimensional parameter; ``*_frac`` parameters are shares of the room's length or
width, or of the scenario's duration [-]; the others are counts, choices or flags."""


def describe_catalogue() -> list[dict[str, str]]:
    """Rows (class, fire, parameter, unit, distribution) documenting every distribution."""

    def row(cls: str, fire: str, key: str, dist: Distribution) -> dict[str, str]:
        unit = PARAMETER_UNITS.get(key, "-" if key.endswith("_frac") else "")
        return {
            "class": cls,
            "fire": fire,
            "parameter": key,
            "unit": unit,
            "distribution": dist.describe(),
        }

    rows = [row("(all)", "", k, d) for k, d in COMMON_PARAMETERS.items()]
    for name, cls in SCENARIO_CLASSES.items():
        fire = str(cls.is_fire)
        rows.append(row(name, fire, "duration_s", cls.duration))
        rows.extend(row(name, fire, k, d) for k, d in cls.parameters.items())
    return rows
