"""The alarm operating point chosen on scores of models that did not see a scenario's room."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray

from embercast.evaluation.condition_folds import condition_folds, condition_out_scores
from embercast.evaluation.feature_data import FeatureData
from embercast.models.base import FireDetector
from helpers import CONDITION_ROWS, condition_data

ROWS = CONDITION_ROWS  # rows per scenario, 5 s apart


def test_folds_leave_out_each_bucket_that_holds_fires_and_nuisance() -> None:
    data = condition_data()
    folds = condition_folds(data, ("train",))
    # ambient: "hot" holds no fire, and leaving it out leaves one bucket: no fold
    assert [f.label for f in folds] == [
        "room_size=large",
        "room_size=medium",
        "ventilation=low",
        "ventilation=medium",
    ]
    large = next(f for f in folds if f.label == "room_size=large")
    assert large.scenarios == {f"s{i:03d}" for i in (0, 1, 2, 3, 8, 9, 10, 11)}  # not s014
    assert not [f for f in folds if f.label == "room_size=medium"][0].scenarios & large.scenarios
    # a condition with one bucket in the pool gives no fold; nor does a table without conditions
    assert condition_folds(data, ("train",), ("ambient",)) == []
    plain = FeatureData(data.rows, data.scenarios, "extended", "memory", "0")
    assert condition_folds(plain, ("train",)) == []


class Recorder(FireDetector):
    """Records the scenarios each fit saw; scores by the CO2 level."""

    fits: ClassVar[list[set[str]]] = []
    features = ("gas_val",)

    def __init__(self, scale: float = 4000.0) -> None:
        self.scale = scale

    def _fit(self, X: pd.DataFrame, y: NDArray[np.int_], groups: NDArray[Any] | None) -> None:
        assert groups is not None
        Recorder.fits.append({str(g) for g in groups})

    def _proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        return np.asarray(X["gas_val"].to_numpy() / self.scale, dtype=float)


def test_each_fold_is_scored_by_a_model_that_never_saw_it() -> None:
    data = condition_data()
    folds = condition_folds(data, ("train",))
    Recorder.fits.clear()
    scores = condition_out_scores(data, Recorder(), ("train",), folds)
    pool = {f"s{i:03d}" for i in range(14)}
    assert len(Recorder.fits) == len(folds)
    for fold, seen in zip(folds, Recorder.fits, strict=True):
        assert not seen & fold.scenarios and seen | fold.scenarios == pool
    # every pooled scenario once per condition that has folds, under the fold's label
    assert len(scores.rows) == len(scores.p) == 2 * len(pool) * ROWS
    assert set(scores.rows["scenario_id"]) == set(scores.scenarios)
    assert scores.scenarios["room_size=large|s000"] == data.scenarios["s000"]
    assert scores.folds == [f.label for f in folds] and scores.fires == scores.nuisances == 7
    with pytest.raises(ValueError, match="no condition folds"):
        condition_out_scores(data, Recorder(), ("train",), [])
