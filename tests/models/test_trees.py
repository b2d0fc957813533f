"""The tree detectors' bags: the mean of calibration draws; model files from before bags."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest

from embercast.models.trees import GBMDetector, RandomForestDetector
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
