"""One conformance suite for every detector (the scikit-learn contract, ours for the registry)."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from embercast.features.sets import feature_names, scd41_features
from embercast.models.baselines import CO2Threshold, HotspotThreshold, RateOfRiseHeat, ReferenceRF
from embercast.models.ensemble import EnsembleDetector
from embercast.models.sequence import SequenceNet
from embercast.models.trees import GasModel, GBMDetector, RandomForestDetector

DETECTORS: list[Any] = [
    RateOfRiseHeat(),
    CO2Threshold(),
    HotspotThreshold(),
    ReferenceRF(n_estimators=10),
    RandomForestDetector(n_estimators=20),
    GBMDetector(n_estimators=30),
    GasModel(n_estimators=30),
    EnsembleDetector(members=("gbm", "gas")),
    SequenceNet(cell="gru", epochs=15, hidden=16, batch_size=64, learning_rate=0.01),
    SequenceNet(cell="lstm", epochs=15, hidden=16, batch_size=64, learning_rate=0.01),
]


def table(
    n_scenarios: int = 12, rows: int = 40, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A small synthetic feature table with a learnable fire signal and NaN thermal gaps."""
    rng = np.random.default_rng(seed)
    names = feature_names("extended")
    n = n_scenarios * rows
    X = pd.DataFrame(rng.normal(size=(n, len(names))), columns=list(names))
    groups = np.repeat([f"s{i:03d}" for i in range(n_scenarios)], rows)
    fire_scen = np.arange(n_scenarios) % 2 == 0
    y = np.zeros(n, int)
    for i in np.flatnonzero(fire_scen):
        y[i * rows + rows // 2 : (i + 1) * rows] = 1
    X["gas_val"] = 450 + 3000 * y + rng.normal(0, 50, n)
    X["gas_vel"] = 0.1 + 5 * y + rng.normal(0, 0.2, n)
    X["t_max"] = 30 + 200 * y + rng.normal(0, 2, n)
    X["scd_temp_val"] = 22 + 40 * y
    X["scd_temp_vel"] = 0.3 * y
    X.loc[rng.random(n) < 0.1, "t_mean"] = np.nan
    return X, y, groups


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: type(d).__name__)
def test_conformance(detector: Any, tmp_path: Any) -> None:
    X, y, groups = table()
    # unfitted use is a clear NotFittedError (a ValueError)
    with pytest.raises(NotFittedError):
        clone(detector).predict_proba(X)
    # clone is idempotent and fit returns self; fitting leaves the input unchanged
    est = clone(clone(detector))
    before = X.copy()
    assert est.fit(X, y, groups=groups) is est
    pd.testing.assert_frame_equal(X, before)
    p = est.predict_proba(X)
    assert p.shape == (len(X), 2) and np.allclose(p.sum(axis=1), 1.0)
    assert ((p >= 0) & (p <= 1)).all()
    # the fire signal is found
    assert p[y == 1, 1].mean() > p[y == 0, 1].mean() + 0.5
    # seed reproducibility
    again = clone(detector).fit(X, y, groups=groups)
    np.testing.assert_array_equal(again.predict_proba(X), p)
    # feature order has no effect
    shuffled = X[list(reversed(X.columns))]
    np.testing.assert_array_equal(est.predict_proba(shuffled), p)
    # a plain array needs the fitted features, in order; a wrong count is a clear error
    arr = X[list(est.feature_names_in_)].to_numpy()
    np.testing.assert_array_equal(est.predict_proba(arr), p)
    wider = np.hstack([arr, arr[:, :1]])
    n_wide = wider.shape[1]
    with pytest.raises(
        ValueError, match=rf"X has {n_wide} features, but {type(detector).__name__} is expecting"
    ):
        est.predict_proba(wider)
    with pytest.raises(ValueError, match="lacks the features"):
        est.predict_proba(X.drop(columns=[est.feature_names_in_[0]]))
    # save / load round trip gives identical predictions
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(est))
    np.testing.assert_array_equal(pickle.loads(path.read_bytes()).predict_proba(X), p)
    # learned state ends in _, hyperparameters are only what __init__ took
    assert set(est.get_params()) == set(clone(detector).get_params())
    assert type(detector).__doc__
    # training rows of one kind only: a learner says so; a rule that learns from quiet rows fits
    quiet = y == 0
    if detector.learns_from_fires:
        with pytest.raises(ValueError, match="training rows hold no-fire rows only"):
            clone(detector).fit(X[quiet], y[quiet], groups=groups[quiet])
    else:
        rule = clone(detector).fit(X[quiet], y[quiet], groups=groups[quiet])
        assert rule.predict_proba(X).shape == (len(X), 2)


def test_parameter_constraints_are_checked_at_fit_with_one_message() -> None:
    X, y, groups = table()
    with pytest.raises(ValueError, match="The 'n_estimators' parameter of GBMDetector must be"):
        GBMDetector(n_estimators=0).fit(X, y)
    with pytest.raises(ValueError, match="The 'level_ppm' parameter of CO2Threshold must be"):
        CO2Threshold(level_ppm="high").fit(X, y)
    with pytest.raises(ValueError, match="y must hold 0"):
        CO2Threshold().fit(X, y * 2)


def test_auto_thresholds_stay_above_quiet_rows() -> None:
    X, y, _ = table()
    det = CO2Threshold().fit(X, y)
    quiet = X[y == 0]
    assert (quiet.gas_val >= det.level_ppm_).mean() <= 0.01
    assert HotspotThreshold().fit(X, y).max_c_ >= 60.0


def test_row_scorer_gives_the_same_probabilities() -> None:
    from embercast.models.compiled import RowScorer

    X, y, groups = table()
    det = GBMDetector(n_estimators=40).fit(X, y, groups=groups)
    scorer = RowScorer(det)
    arr = X[list(scorer.features)].to_numpy()
    fast = np.array([scorer.score(r) for r in arr[:200]])
    np.testing.assert_allclose(fast, det.predict_proba(X.iloc[:200])[:, 1], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="row has 3 features"):
        scorer.score(arr[0, :3])
    with pytest.raises(ValueError, match="supports LightGBM detectors"):
        RowScorer(RandomForestDetector(n_estimators=5).fit(X, y))


def test_row_scorer_through_compiled_trees_gives_the_same_probabilities(tmp_path: Path) -> None:
    from embercast.models import compiled

    X, y, groups = table()
    X = X.copy()
    X.iloc[::5, 1] = np.nan  # missing readings go down LightGBM's default branches
    det = GBMDetector(n_estimators=30, bags=2).fit(X, y, groups=groups)
    compiled._LOADED.clear()
    scorer = compiled.RowScorer(det, compiled=True, directory=str(tmp_path))
    assert len(list(tmp_path.glob("lightgbm-*.o"))) == 2  # each member's trees, compiled
    arr = X[list(scorer.features)].to_numpy()
    rows = np.array([scorer.score(r) for r in arr[:200]])
    np.testing.assert_allclose(rows, det.predict_proba(X.iloc[:200])[:, 1], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="row has 3 features"):
        scorer.score(arr[0, :3])


def test_compiled_scorer_gives_the_same_probabilities(tmp_path: Path) -> None:
    from embercast.models import compiled

    X, y, groups = table()
    X = X.copy()
    X.iloc[::7, 0] = np.nan  # missing readings go down LightGBM's default branches
    det = GBMDetector(n_estimators=40, bags=2).fit(X, y, groups=groups)
    compiled._LOADED.clear()
    scorer = compiled.CompiledScorer(det, str(tmp_path))
    np.testing.assert_allclose(scorer.score(X), det.predict_proba(X)[:, 1], rtol=0, atol=1e-12)
    kept = sorted(tmp_path.glob("lightgbm-*.o"))
    assert len(kept) == 2 and not list(tmp_path.glob(".compiling-*"))  # one per member, whole
    stamps = [f.stat().st_mtime_ns for f in kept]
    compiled._LOADED.clear()  # a new process: loads the kept files, compiles nothing
    again = pickle.loads(pickle.dumps(scorer))
    np.testing.assert_array_equal(again.score(X), scorer.score(X))
    assert [f.stat().st_mtime_ns for f in kept] == stamps
    with pytest.raises(ValueError, match="lacks the features"):
        scorer.score(X.drop(columns=[X.columns[0]]))
    with pytest.raises(ValueError, match="compiled batch scoring supports LightGBM"):
        compiled.CompiledScorer(RandomForestDetector(n_estimators=5).fit(X, y))


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


def test_a_sensor_dropout_is_not_taken_for_fire() -> None:
    """Training rows where a burnt-out device stopped reporting (SCD41 NaN, fire) must not teach
    the model that a plain SCD41 dropout means fire: the camera still says no fire."""
    X, y, groups = table(n_scenarios=16)
    gas = list(scd41_features("extended"))  # what an SCD41 dropout leaves missing
    lost = (y == 1) & (np.arange(len(y)) % 40 >= 30)  # the last rows of every fire
    X.loc[lost, gas] = np.nan
    quiet = X[y == 0].head(50).copy()
    quiet[gas] = np.nan  # an SCD41 dropout in a quiet room
    detector = RandomForestDetector(n_estimators=30)
    fitted = clone(detector).fit(X, y, groups=groups)
    assert fitted.predict_proba(quiet)[:, 1].mean() < 0.25
    # without the augmentation the shortcut is learned (so the test above can fail)
    shortcut = clone(detector).set_params(dropout_fraction=0.0).fit(X, y, groups=groups)
    assert shortcut.predict_proba(quiet)[:, 1].mean() > 0.5
