"""The sensor-dropout augmentation: a dropped SCD41 is not taken for fire."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from embercast.features.sets import scd41_features
from embercast.models.trees import RandomForestDetector
from helpers import table


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
