"""One conformance suite for every detector (the scikit-learn contract, ours for the registry)."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from embercast.models.baselines import CO2Threshold, HotspotThreshold, RateOfRiseHeat, ReferenceRF
from embercast.models.ensemble import EnsembleDetector
from embercast.models.sequence import SequenceNet
from embercast.models.trees import GasModel, GBMDetector, RandomForestDetector
from helpers import table

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
