"""The alarm operating point chosen on scores of models that did not see a scenario's room."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray

from embercast.evaluation.condition_folds import condition_folds, condition_out_scores
from embercast.evaluation.feature_data import FeatureData
from embercast.evaluation.operating_point import THRESHOLDS, choose_operating_point
from embercast.lifecycle.training import choose_alarm
from embercast.models.base import FireDetector
from embercast.models.trees import GBMDetector
from test_models_contract import table

ROWS = 40  # rows per scenario, 5 s apart


def features(n: int = 16) -> FeatureData:
    """``n`` scenarios (even ones fires, igniting half-way): rooms large / medium in fours,
    ventilation medium / low in pairs, every room normal ambient; the only ``hot`` scenario
    is a nuisance one."""
    X, y, groups = table(n_scenarios=n, rows=ROWS)
    rows = X.assign(
        scenario_id=groups,
        device_id=[f"{g}-d0" for g in groups],
        t_s=np.tile(np.arange(ROWS) * 5.0, n),
        fire=y,
        split_group=np.where(np.isin(groups, ["s014", "s015"]), "test", "train"),
    )
    sids = [f"s{i:03d}" for i in range(n)]
    facts: dict[str, tuple[str, bool, float | None]] = {
        s: ("flaming_fire", True, ROWS // 2 * 5.0) if i % 2 == 0 else ("toaster", False, None)
        for i, s in enumerate(sids)
    }
    conditions = {
        s: {
            "room_size": "medium" if i // 4 % 2 else "large",
            "ventilation": "low" if i // 2 % 2 else "medium",
            "ambient": "hot" if s == "s001" else "normal",
        }
        for i, s in enumerate(sids)
    }
    return FeatureData(rows, facts, "extended", "memory", "0", conditions=conditions)


def test_folds_leave_out_each_bucket_that_holds_fires_and_nuisance() -> None:
    data = features()
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
    data = features()
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


def test_the_alarm_is_chosen_on_condition_folds_by_default() -> None:
    data = features()
    model = GBMDetector(n_estimators=20, bags=1)
    detector = GBMDetector(n_estimators=20, bags=1).fit(
        data.split(("train",)),
        data.split(("train",))["fire"],
        groups=data.split(("train",))["scenario_id"],
    )
    summary = choose_alarm(data, detector, ("val",), 0.02, pool=("train",))
    assert summary is not None
    assert summary["chosen_on"] == "room conditions left out of train"
    assert summary["budget_limit"] == 0.0  # 2 % is not told from 0 over 7 nuisance scenarios
    assert summary["folds"] == [f.label for f in condition_folds(data, ("train",))]
    scores = condition_out_scores(data, model, ("train",), condition_folds(data, ("train",)))
    expected = choose_operating_point(
        scores.rows, scores.p, scores.scenarios, 0.02, fires=7, nuisances=7
    )
    assert detector.alarm_ == expected.params and detector.alarm_.threshold in THRESHOLDS
    # on "val" (here: no val rows) nothing is chosen; an unknown choice is named
    assert choose_alarm(data, detector, ("val",), 0.02, on="val") is None
    with pytest.raises(ValueError, match="invalid alarm choice 'rows'"):
        choose_alarm(data, detector, ("val",), 0.02, on="rows")
