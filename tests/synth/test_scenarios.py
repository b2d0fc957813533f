"""The scenario catalogue: sampling, validation, split policy, documentation."""

from __future__ import annotations

import collections
import importlib.util
from pathlib import Path

import pytest

from embercast.synth.distributions import Uniform
from embercast.synth.scenarios import (
    COMMON_PARAMETERS,
    SCENARIO_CLASSES,
    SplitPolicy,
    sample_scenarios,
    sample_spec,
)

ROOT = Path(__file__).resolve().parents[2]


def test_same_seed_same_specs_and_workers_do_not_matter() -> None:
    a = sample_scenarios(40, 5)
    b = sample_scenarios(40, 5)
    assert a == b
    # a scenario's spec depends only on the dataset seed and its index
    assert sample_scenarios(10, 5) == a[:10]
    assert sample_scenarios(40, 6) != a


def test_every_class_appears_in_a_small_dataset_with_its_parameters() -> None:
    specs = sample_scenarios(len(SCENARIO_CLASSES) * 2, 0)
    counts = collections.Counter(s.scenario_class for s in specs)
    # every class with a weight; the replicas (weight 0) only when named
    assert set(counts) == {c for c, k in SCENARIO_CLASSES.items() if k.weight > 0}
    specs += sample_scenarios(2, 0, classes=["faa_b707_replica", "faa_dc10_replica"])
    for s in specs:
        cls = SCENARIO_CLASSES[s.scenario_class]
        assert set(s.params) == {"duration_s", *COMMON_PARAMETERS, *cls.parameters}


def test_restricting_classes_and_bad_input() -> None:
    specs = sample_scenarios(10, 1, classes=["toaster", "steam"])
    assert {s.scenario_class for s in specs} == {"toaster", "steam"}
    with pytest.raises(ValueError, match="unknown scenario class 'dragon'"):
        sample_scenarios(3, 1, classes=["dragon"])
    with pytest.raises(ValueError, match="must be >= 1"):
        sample_scenarios(0, 1)


def test_parameters_stay_within_their_distributions() -> None:
    for s in sample_scenarios(200, 3):
        cls = SCENARIO_CLASSES[s.scenario_class]
        for key, dist in {**COMMON_PARAMETERS, **cls.parameters}.items():
            value = s.params[key]
            lo, hi = getattr(dist, "lo", None), getattr(dist, "hi", None)
            if lo is not None and hi is not None:
                assert lo <= value <= hi, (key, value)
            options = getattr(dist, "options", None)
            if options is not None:
                assert value in options


def test_a_smoulder_is_recorded_long_enough_to_grow_and_to_turn_to_flaming() -> None:
    """Every smouldering recording runs at least 40 min past the onset, so a drawn transition to
    flaming (up to 40 min after it, the builder's 60 s margin beside) always happens on record."""
    cls = SCENARIO_CLASSES["smouldering"]
    transition = cls.parameters["transition_after_s"]
    assert isinstance(transition, Uniform)
    latest_transition = transition.hi
    specs = sample_scenarios(300, 4, classes=["smouldering"])
    after_onset = [
        float(s.params["duration_s"]) * (1.0 - float(s.params["ignition_frac"])) for s in specs
    ]
    assert min(after_onset) >= 2400.0
    assert min(after_onset) >= latest_transition + 60.0


def test_holdout_policy_sends_matching_conditions_to_holdout() -> None:
    policy = SplitPolicy.parse("room_size=large;fuel=heptane,plastics")
    specs = sample_scenarios(300, 2, policy=policy)
    groups = collections.Counter(s.split_group for s in specs)
    assert set(groups) == {"train", "val", "test", "holdout"}
    for s in specs:
        row = s.to_row()
        held = row["cond_room_size"] == "large" or row["cond_fuel"] in ("heptane", "plastics")
        assert (s.split_group == "holdout") == held
    assert 0.55 < groups["train"] / (len(specs) - groups["holdout"]) < 0.85
    with pytest.raises(ValueError, match="invalid holdout 'colour=red'"):
        SplitPolicy.parse("colour=red")


def test_split_of_a_scenario_does_not_depend_on_the_others() -> None:
    assert sample_spec(7, 9, "toaster").split_group == sample_spec(7, 9, "toaster").split_group


def test_catalogue_doc_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location(
        "write_doc", ROOT / "scripts" / "write_scenarios_doc.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = (ROOT / "docs" / "SCENARIOS.md").read_text()
    assert doc == module.render(), "run: python scripts/write_scenarios_doc.py"
