"""Scores of scenarios by models that did not see their room conditions: the ground for choosing
an alarm operating point that holds on conditions outside the training data.

A detector's false alarms rise where rooms differ from those it learned, so a point chosen on
``val``, whose scenarios share the training conditions, is chosen where the model is at home.
Here each bucket of each room condition (e.g. ``room_size=large``) is left out in turn: a clone
of the detector is fitted on the other scenarios of the pool and scores the left-out ones, so
every scenario is scored once per condition by a model that never saw a room like it in that
respect. Pooled over the folds, these scores estimate the false-alarm share on unseen rooms;
the estimate can fall below the share later seen on held-out conditions, which is why the
operating point must meet its budget by a margin of standard errors
(:mod:`embercast.evaluation.operating_point`; measurements in docs/RESULTS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone

from embercast.errors import InputError
from embercast.evaluation.feature_data import FeatureData
from embercast.evaluation.metrics import CO2_PATH_COLUMNS
from embercast.evaluation.sensor_supervision import apply_sensor_supervision
from embercast.models.augment import without_camera as camera_less
from embercast.models.base import FireDetector

ROOM_CONDITIONS: tuple[str, ...] = ("room_size", "ventilation", "ambient")
"""Conditions every scenario has (the fuel is a fire's alone, so leaving a fuel out moves no
false alarm): the ones folds leave out."""


@dataclass(frozen=True)
class Fold:
    """One left-out bucket: its label (``room_size=large``) and the pool's scenarios in it."""

    label: str
    scenarios: frozenset[str]


@dataclass(frozen=True)
class FoldScores:
    """Rows of every fold (scenario IDs prefixed ``LABEL|``, one scenario per fold it is in),
    their probabilities, the scenario facts under the prefixed IDs, the folds' labels and the
    numbers of distinct fire and nuisance scenarios behind them."""

    rows: pd.DataFrame
    p: np.ndarray
    scenarios: dict[str, tuple[str, bool, float | None]]
    folds: list[str]
    fires: int
    nuisances: int
    p_without_camera: np.ndarray | None = None
    """With ``without_camera``: the same rows scored as a device without a camera would give
    them (:func:`~embercast.models.augment.without_camera`; ``thermal_ok`` 0)."""


def condition_folds(
    features: FeatureData,
    groups: tuple[str, ...],
    conditions: Sequence[str] = ROOM_CONDITIONS,
) -> list[Fold]:
    """Folds over the scenarios of ``groups``: one per bucket of each of ``conditions`` with
    at least two buckets there, kept when both the scenarios in it and those out of it hold a
    fire and a nuisance scenario (so it can be trained on and shows false alarms)."""
    pool = [str(s) for s in features.split(groups)["scenario_id"].unique()]
    folds = []
    for name in conditions:
        buckets = sorted({features.conditions.get(s, {}).get(name, "") for s in pool} - {""})
        if len(buckets) < 2:
            continue
        for bucket in buckets:
            inside = frozenset(
                s for s in pool if features.conditions.get(s, {}).get(name) == bucket
            )
            kinds_in = {features.scenarios[s][1] for s in inside}
            kinds_out = {features.scenarios[s][1] for s in pool if s not in inside}
            if kinds_in == kinds_out == {True, False}:
                folds.append(Fold(f"{name}={bucket}", inside))
    return folds


def condition_out_scores(
    features: FeatureData,
    detector: FireDetector,
    groups: tuple[str, ...],
    folds: list[Fold],
    without_camera: bool = False,
) -> FoldScores:
    """Fit a clone of ``detector`` (its hyperparameters, unfitted) on the scenarios of
    ``groups`` out of each fold and score those in it; the folds' rows pooled. With
    ``without_camera`` each fold's model also scores its rows as devices without a camera."""
    if not folds:
        raise InputError(f"no condition folds over the split groups {list(groups)}")
    pool = features.split(groups)
    watched, _ = apply_sensor_supervision(
        pool
    )  # each scenario's supervision once, not once per fold
    ids = pool["scenario_id"].astype(str)
    co2 = [c for c in CO2_PATH_COLUMNS if c in watched]  # what the alarm's CO2 path reads
    rows, ps, facts = [], [], {}
    blind: list[np.ndarray] = []
    fires: set[str] = set()
    nuisances: set[str] = set()
    for fold in folds:
        inside = ids.isin(fold.scenarios).to_numpy()
        train = pool[~inside]
        model = clone(detector).fit(
            train, train["fire"].to_numpy(), groups=train["scenario_id"].to_numpy()
        )
        scored = watched[inside]
        ps.append(model.predict_proba(scored)[:, 1])
        if without_camera:
            blind.append(model.predict_proba(camera_less(scored, list(scored.columns)))[:, 1])
        rows.append(
            scored[["scenario_id", "device_id", "t_s", *co2]].assign(
                scenario_id=f"{fold.label}|" + scored["scenario_id"].astype(str)
            )
        )
        facts.update({f"{fold.label}|{s}": features.scenarios[s] for s in fold.scenarios})
        fires.update(s for s in fold.scenarios if features.scenarios[s][1])
        nuisances.update(s for s in fold.scenarios if not features.scenarios[s][1])
    return FoldScores(
        rows=pd.concat(rows, ignore_index=True),
        p=np.concatenate(ps),
        scenarios=facts,
        folds=[f.label for f in folds],
        fires=len(fires),
        nuisances=len(nuisances),
        p_without_camera=np.concatenate(blind) if without_camera else None,
    )
