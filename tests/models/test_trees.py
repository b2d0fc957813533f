"""The tree detectors' bags: the mean of calibration draws; model files from before bags."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

from embercast.models.trees import GasModel, GBMDetector, RandomForestDetector
from helpers import table


@pytest.mark.parametrize("cls", [GBMDetector, RandomForestDetector])
def test_a_bag_is_the_mean_of_its_calibration_draws(cls: Any) -> None:
    X, y, groups = table(n_scenarios=16)
    small = {"n_estimators": 20}
    bag = cls(**small, bags=3, random_state=4).fit(X, y, groups=groups)
    singles = [cls(**small, bags=1, random_state=4 + k).fit(X, y, groups=groups) for k in range(3)]
    assert len(bag.members_) == 3
    np.testing.assert_allclose(
        bag.predict_proba(X)[:, 1],
        np.mean([d.predict_proba(X)[:, 1] for d in singles], axis=0),
        rtol=0,
        atol=1e-12,
    )
    # the draws differ (their calibration scenarios do), so the bag is not one of them
    assert not np.allclose(singles[0].predict_proba(X), singles[1].predict_proba(X))


def test_a_model_file_saved_before_bags_still_scores() -> None:
    X, y, groups = table()
    det = GBMDetector(n_estimators=20, bags=1).fit(X, y, groups=groups)
    state = dict(det.__getstate__())
    ((model, calibrator),) = state.pop("members_")
    old = {k: v for k, v in state.items() if k != "bags"} | {
        "model_": model,
        "calibrator_": calibrator,
    }
    loaded = pickle.loads(pickle.dumps(old))
    revived = GBMDetector.__new__(GBMDetector)
    revived.__setstate__(loaded)
    assert revived.bags == 1 and revived.get_params()["bags"] == 1
    np.testing.assert_array_equal(revived.predict_proba(X), det.predict_proba(X))


def test_monotone_rises_never_give_a_stronger_rise_a_lower_p() -> None:
    # training data where the largest CO2 rises are a crowd's, not a fire's: unconstrained trees
    # learn that an extreme rise means no fire
    X, y, groups = table(n_scenarios=40, rows=30, seed=3)
    rng = np.random.default_rng(3)
    n = len(y)
    for name in ("gas_val", "gas_vel", "scd_temp_val", "scd_temp_vel", "t_max"):
        X[name] = rng.normal(size=n)
    crowd = (y == 0) & (rng.random(n) < 0.3)
    X["gas_rise_600"] = np.where(
        y == 1, rng.uniform(500, 2000, n), np.where(crowd, rng.uniform(5000, 20000, n), 100.0)
    )
    probe = X.iloc[[0] * 50].copy()
    probe["gas_rise_600"] = np.linspace(0, 20000, 50)
    for monotone in (False, True):
        det = GasModel(n_estimators=40, bags=1, monotone_rises=monotone).fit(X, y, groups=groups)
        p = det.predict_proba(probe)[:, 1]
        steps = np.diff(p)
        if monotone:
            assert np.all(steps >= -1e-12), "a stronger rise lowered p"
            assert p[-1] > 0.5
        else:
            assert steps.min() < -0.2  # the trap the constraint closes


def test_rows_without_a_camera_are_scored_by_the_gas_alone() -> None:
    from embercast.features.sets import SCD41_STEPS
    from embercast.models.augment import sensor_columns

    X, y, groups = table(n_scenarios=16)
    scd41, thermal = sensor_columns(list(X.columns))
    gas = [c for c in scd41 if c not in SCD41_STEPS]
    plain = GBMDetector(n_estimators=20, bags=2, camera_less=False).fit(X, y, groups=groups)
    det = GBMDetector(n_estimators=20, bags=2).fit(X, y, groups=groups)  # camera_less by default
    assert len(det.camera_less_members_) == 2 and not plain.camera_less_members_
    # rows with a camera: the same trees as without the option
    np.testing.assert_array_equal(det.predict_proba(X), plain.predict_proba(X))
    blind = X.copy()
    blind[thermal] = np.nan
    p = det.predict_proba(blind)[:, 1]
    # rows without one: the camera-less bag on the SCD41 features, not the camera trees
    from embercast.models.calibration import calibrated

    expected = np.mean(
        [calibrated(m.predict_proba(blind[gas].to_numpy())[:, 1], c)
         for m, c in det.camera_less_members_],
        axis=0,
    )  # fmt: skip
    np.testing.assert_allclose(p, expected, rtol=0, atol=1e-12)
    assert not np.allclose(p, plain.predict_proba(blind)[:, 1])
    # a gas model has no camera to miss
    assert (
        not GasModel(n_estimators=10, bags=1, camera_less=True)
        .fit(X, y, groups=groups)
        .camera_less_members_
    )


def test_judgements_from_the_scd41_alone_do_not_read_one_reading_changes() -> None:
    from embercast.features.sets import SCD41_STEPS
    from embercast.models.augment import sensor_columns

    X, y, groups = table(n_scenarios=16)
    # one-reading changes that tell the training fires apart: the trap, as with the SCD41's
    # noise on synthetic rises, that makes a camera-less p jump on real fires
    steps = sorted(SCD41_STEPS & set(X.columns))
    assert steps == ["gas_delta", "scd_rh_delta", "scd_temp_delta"]
    for name in steps:
        X[name] = 30.0 * y
    _, thermal = sensor_columns(list(X.columns))
    blind = X.copy()
    blind[thermal] = np.nan
    moved = blind.copy()
    moved[steps] = 30.0 - moved[steps]  # every fire row's change now reads as a nuisance's
    gbm = GBMDetector(n_estimators=20, bags=1).fit(X, y, groups=groups)
    gas = GasModel(n_estimators=20, bags=1).fit(X, y, groups=groups)
    for det in (gbm, gas):
        np.testing.assert_array_equal(det.predict_proba(blind), det.predict_proba(moved))
    assert not set(steps) & set(gas.feature_names_in_)
    # with a camera, the bag's trees read them as before
    seen = X.copy()
    seen[steps] = 30.0 - seen[steps]
    assert not np.allclose(gbm.predict_proba(X), gbm.predict_proba(seen))


def test_a_row_with_no_sensor_left_is_no_evidence_of_fire() -> None:
    from embercast.models.augment import no_sensor_left, sensor_columns
    from embercast.models.ensemble import EnsembleDetector

    X, y, groups = table(n_scenarios=16)
    scd41, thermal = sensor_columns(list(X.columns))
    # as in generated fires: the SCD41 stops when the fire overheats it, so in the training
    # rows a missing SCD41 is nearly always a fire
    late = (y == 1) & (np.arange(len(y)) % 40 >= 35)
    X.loc[late, scd41] = np.nan
    nothing = X.iloc[:5].copy()
    nothing[scd41 + thermal] = np.nan  # a device without a camera whose SCD41 is in FAULT
    assert no_sensor_left(nothing).all()
    some = nothing.copy()
    some["gas_val"] = 3450.0  # one SCD41 feature left: a fire's CO2 in this table
    assert not no_sensor_left(some).any()
    # the random forest (alone, and in the ensemble) scored such rows as fires too: a device
    # without a camera and its SCD41 in FAULT alarmed in 30 of 69 sensor-fault scenarios
    for det in (
        GBMDetector(n_estimators=20, bags=2).fit(X, y, groups=groups),
        GasModel(n_estimators=20, bags=1).fit(X, y, groups=groups),
        RandomForestDetector(n_estimators=20).fit(X, y, groups=groups),
        EnsembleDetector().fit(X, y, groups=groups),
    ):
        np.testing.assert_array_equal(det.predict_proba(nothing)[:, 1], 0.0)
        # with a sensor's feature left the detector judges the row (as a fire, here)
        assert det.predict_proba(some)[:, 1].min() > 0.5


@pytest.mark.parametrize("cls", [GBMDetector, RandomForestDetector])
def test_pooled_calibration_shares_one_calibrator_of_every_members_held_out_scores(
    cls: Any,
) -> None:
    from embercast.models.augment import evidence_columns
    from embercast.models.calibration import fit_isotonic, held_out_rows

    X, y, groups = table(n_scenarios=16)
    small = {"n_estimators": 20, "bags": 3, "random_state": 4}
    own = cls(**small).fit(X, y, groups=groups)
    pooled = cls(**small, calibration="pooled").fit(X, y, groups=groups)
    columns = list(pooled.feature_names_in_)
    bags = [(pooled.members_, own.members_, columns)]
    if cls is GBMDetector:  # and its camera-less bag
        bags.append((pooled.camera_less_members_, own.camera_less_members_,
                     evidence_columns(columns)[0]))  # fmt: skip
    holds = [held_out_rows(y, groups, 0.25, 4 + k) for k in range(3)]
    grid = np.linspace(0.0, 1.0, 201)
    for shared, separate, names in bags:
        assert len({id(c) for _, c in shared}) == 1 and len({id(c) for _, c in separate}) == 3
        # the same trees; the shared calibrator is fitted on their held-out scores together
        values = [X.loc[h, names].to_numpy() for h in holds]
        for (a, _), (b, _), v in zip(shared, separate, values, strict=True):
            np.testing.assert_array_equal(a.predict_proba(v), b.predict_proba(v))
        expected = fit_isotonic(
            np.concatenate(
                [m.predict_proba(v)[:, 1] for (m, _), v in zip(shared, values, strict=True)]
            ),
            np.concatenate([y[h] for h in holds]),
        )
        np.testing.assert_array_equal(shared[0][1].predict(grid), expected.predict(grid))
    with pytest.raises(ValueError, match="calibration"):
        cls(calibration="platt").fit(X, y, groups=groups)
