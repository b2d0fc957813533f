"""A stacked ensemble: member detectors fitted on most training scenarios, and a logistic
stacker learned on the rest (validation scenarios) from the members' probabilities and whether
the camera is missing, so it leans on the gas model when there is no thermal data. A row with no
sensor's features is no evidence of fire, p 0, as for its members
(:func:`~embercast.models.augment.no_sensor_left`): the stacker's intercept alone would score
it."""

from __future__ import annotations

from numbers import Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import Interval, StrOptions

from embercast.errors import InputError
from embercast.features.sets import FEATURE_SETS, feature_names
from embercast.models.augment import no_sensor_left
from embercast.models.base import FireDetector
from embercast.models.calibration import held_out_rows
from embercast.models.trees import GasModel, GBMDetector, RandomForestDetector

MEMBERS = {"gbm": GBMDetector, "rf": RandomForestDetector, "gas": GasModel}
"""Members the ensemble can hold."""


class EnsembleDetector(FireDetector):
    """Stacking of ``members`` (names in MEMBERS) with a logistic stacker learned on held-out
    scenarios (``stack_fraction`` of the training scenarios); alarms at p >= 0.7."""

    decision_threshold: ClassVar[float] = 0.7
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "feature_set": [StrOptions(set(FEATURE_SETS))],
        "members": [tuple, list],
        "stack_fraction": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        feature_set: str = "extended",
        members: tuple[str, ...] = ("gbm", "rf", "gas"),
        stack_fraction: float = 0.3,
        random_state: int | None = 0,
    ) -> None:
        self.feature_set = feature_set
        self.members = members
        self.stack_fraction = stack_fraction
        self.random_state = random_state

    def _features(self) -> tuple[str, ...]:
        return feature_names(self.feature_set)

    def _inputs(self, X: pd.DataFrame) -> NDArray[np.float64]:
        probs = [m.predict_proba(X)[:, 1] for m in self.members_]
        missing = X["t_mean"].isna().to_numpy(dtype=float) if "t_mean" in X else np.zeros(len(X))
        return np.column_stack([*probs, missing])

    def _fit(self, X: pd.DataFrame, y: NDArray[np.int_], groups: NDArray[Any] | None) -> None:
        unknown = [m for m in self.members if m not in MEMBERS]
        if unknown or not self.members:
            raise InputError(
                f"The 'members' parameter of EnsembleDetector must be names from "
                f"{sorted(MEMBERS)}. Got {list(self.members)!r} instead."
            )
        hold = held_out_rows(y, groups, self.stack_fraction, self.random_state)
        fit_rows = ~hold if hold.any() else np.ones(len(X), bool)
        member_groups = None if groups is None else groups[fit_rows]
        self.members_ = [
            MEMBERS[name](feature_set=self.feature_set, random_state=self.random_state).fit(
                X[fit_rows], y[fit_rows], groups=member_groups
            )
            for name in self.members
        ]
        stack_rows = hold if hold.any() else fit_rows
        self.stacker_ = LogisticRegression(C=1.0, random_state=self.random_state).fit(
            self._inputs(X[stack_rows]), y[stack_rows]
        )

    def _proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        p = np.asarray(self.stacker_.predict_proba(self._inputs(X))[:, 1], dtype=float)
        p[no_sensor_left(X)] = 0.0
        return p
