"""Tree-ensemble detectors with calibrated probabilities: random forest and gradient boosting
(LightGBM, CPU). Both handle missing (NaN) thermal features natively."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.ensemble import RandomForestClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.utils._param_validation import Interval, StrOptions

from embercast.features.sets import FEATURE_SETS, RISE_FEATURES, camera_less_features, feature_names
from embercast.models.augment import evidence_columns, no_sensor_left, sensor_dropout
from embercast.models.base import FireDetector
from embercast.models.calibration import calibrated, fit_isotonic, held_out_rows


def _held_out_scores(model: Any, values: NDArray[Any]) -> NDArray[np.float64]:
    """A fitted base model's raw fire scores of held-out rows (none without rows)."""
    if not len(values):
        return np.empty(0)
    return np.asarray(model.predict_proba(values)[:, 1], dtype=float)


class _Calibrated(FireDetector):
    """Fit the base model on most scenarios (plus sensor-dropout copies of ``dropout_fraction``
    of its rows, see :mod:`embercast.models.augment`) and an isotonic calibrator on the rest;
    alarms at the "high" risk level (p >= 0.7). A row with neither camera nor SCD41 features is
    no evidence of fire: p 0 (:meth:`no_evidence`).

    With ``bags`` > 1 it does so ``bags`` times, member k with seed ``random_state + k`` (its
    own calibration scenarios, dropout copies and model seed), and the probability is the mean
    of the members' calibrated probabilities: which few hundred scenarios a single model is
    calibrated on moves its false alarms on unseen conditions, and the mean of a few draws is
    steadier (docs/MODELS.md). With ``calibration="pooled"`` the members share one calibrator,
    fitted on every member's held-out scores together (:meth:`_calibrators`)."""

    decision_threshold: ClassVar[float] = 0.7

    calibration_fraction: float
    dropout_fraction: float
    random_state: int | None
    feature_set: str
    bags: int
    calibration: str

    def _features(self) -> tuple[str, ...]:
        return feature_names(self.feature_set)

    def _base(self, seed: int | None) -> Any:
        raise NotImplementedError

    def _fit(self, X: pd.DataFrame, y: NDArray[np.int_], groups: NDArray[Any] | None) -> None:
        fitted = []
        for k in range(self.bags):
            seed = None if self.random_state is None else self.random_state + k
            hold = held_out_rows(y, groups, self.calibration_fraction, seed)
            Xa, ya = sensor_dropout(X[~hold], y[~hold], self.dropout_fraction, seed)
            model = self._base(seed).fit(Xa.to_numpy(), ya)
            fitted.append((model, _held_out_scores(model, X[hold].to_numpy()), y[hold]))
        self.members_: list[tuple[Any, IsotonicRegression | None]] = self._calibrators(fitted)

    def _calibrators(
        self, fitted: list[tuple[Any, NDArray[np.float64], NDArray[np.int_]]]
    ) -> list[tuple[Any, IsotonicRegression | None]]:
        """Each fitted member (model, raw scores of its held-out rows, their labels) with its
        calibrator: fitted on its own held-out rows (``calibration="member"``), or one fitted on
        every member's held-out rows together and shared (``"pooled"``: about ``bags`` times as
        many calibration rows, from more scenarios, so fewer steps learned from one or two of
        them); none for a member without held-out rows (``"member"``) or when no member has any.
        """
        if self.calibration == "pooled":
            scores = [s for _, s, _ in fitted if len(s)]
            labels = [t for _, s, t in fitted if len(s)]
            shared = (
                fit_isotonic(np.concatenate(scores), np.concatenate(labels)) if scores else None
            )
            return [(model, shared) for model, _, _ in fitted]
        return [(model, fit_isotonic(s, t) if len(s) else None) for model, s, t in fitted]

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Read model files saved before ``bags``: their one model and calibrator become the
        only member; and those saved before ``calibration``: each member has its own."""
        if "model_" in state and "members_" not in state:
            state["members_"] = [(state.pop("model_"), state.pop("calibrator_", None))]
        state.setdefault("bags", 1)
        state.setdefault("calibration", "member")
        super().__setstate__(state)

    def no_evidence(self, X: pd.DataFrame) -> NDArray[np.bool_]:
        """Rows with no sensor's features (:func:`~embercast.models.augment.no_sensor_left`):
        trees that saw the SCD41 stop only when a fire overheated it scored a device without a
        camera whose SCD41 is in FAULT at 0.99 (docs/MODELS.md)."""
        return no_sensor_left(X)

    def _proba(self, X: pd.DataFrame) -> NDArray[np.float64]:
        p = self._judge(X)
        p[self.no_evidence(X)] = 0.0
        return p

    def _judge(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """The members' mean calibrated probability of each row."""
        values = X.to_numpy()
        p = [
            calibrated(np.asarray(model.predict_proba(values)[:, 1], dtype=float), calibrator)
            for model, calibrator in self.members_
        ]
        return np.asarray(np.mean(p, axis=0), dtype=float)


_COMMON: dict[str, list[Any]] = {
    "feature_set": [StrOptions(set(FEATURE_SETS))],
    "calibration_fraction": [Interval(Real, 0, 1, closed="neither")],
    "dropout_fraction": [Interval(Real, 0, 1, closed="both")],
    "random_state": ["random_state"],
    "bags": [Interval(Integral, 1, None, closed="left")],
    "calibration": [StrOptions({"member", "pooled"})],
}


class RandomForestDetector(_Calibrated):
    """Random forest on a feature set, with isotonic calibration on held-out scenarios."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_COMMON,
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        feature_set: str = "extended",
        n_estimators: int = 200,
        min_samples_leaf: int = 5,
        calibration_fraction: float = 0.25,
        dropout_fraction: float = 0.25,
        random_state: int | None = 0,
        bags: int = 1,
        calibration: str = "member",
    ) -> None:
        self.feature_set = feature_set
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.calibration_fraction = calibration_fraction
        self.dropout_fraction = dropout_fraction
        self.random_state = random_state
        self.bags = bags
        self.calibration = calibration

    def _base(self, seed: int | None) -> Any:
        return RandomForestClassifier(
            n_estimators=self.n_estimators,
            min_samples_leaf=self.min_samples_leaf,
            random_state=seed,
            n_jobs=1,
        )


class GBMDetector(_Calibrated):
    """Gradient-boosted trees (LightGBM, CPU), with isotonic calibration on held-out scenarios:
    by default a bag of three 100-tree models (learning rate 0.15), which costs what one
    300-tree model at 0.05 costs to score (docs/MODELS.md, "Detectors"). With
    ``monotone_rises`` the trees may only raise p as the SCD41's rises grow
    (:data:`~embercast.features.sets.RISE_FEATURES`). With ``camera_less`` it also fits a bag
    on the SCD41 features alone (its own calibration) and scores with it the rows whose camera
    features are all missing: a device without a camera, or with it down, is judged by a model
    that learned from the gas alone, not by trees that mostly saw a camera. Like the gas model,
    that bag leaves out the SCD41's one-reading changes
    (:data:`~embercast.features.sets.SCD41_STEPS`): with them its p jumped from reading to
    reading on real fires and rarely held the alarm's debounce (docs/MODELS.md)."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_COMMON,
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, 1, closed="right")],
        "num_leaves": [Interval(Integral, 2, None, closed="left")],
        "monotone_rises": ["boolean"],
        "camera_less": ["boolean"],
    }

    def __init__(
        self,
        feature_set: str = "extended",
        n_estimators: int = 100,
        learning_rate: float = 0.15,
        num_leaves: int = 31,
        calibration_fraction: float = 0.25,
        dropout_fraction: float = 0.25,
        random_state: int | None = 0,
        bags: int = 3,
        monotone_rises: bool = False,
        camera_less: bool = True,
        calibration: str = "member",
    ) -> None:
        self.feature_set = feature_set
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.monotone_rises = monotone_rises
        self.camera_less = camera_less
        self.calibration_fraction = calibration_fraction
        self.dropout_fraction = dropout_fraction
        self.random_state = random_state
        self.bags = bags
        self.calibration = calibration

    def _base(self, seed: int | None, columns: tuple[str, ...] | None = None) -> Any:
        constraints = (
            [1 if name in RISE_FEATURES else 0 for name in columns or self._features()]
            if self.monotone_rises
            else None
        )
        return lgb.LGBMClassifier(
            monotone_constraints=constraints,
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            random_state=seed,
            n_jobs=1,
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        )

    def _fit(self, X: pd.DataFrame, y: NDArray[np.int_], groups: NDArray[Any] | None) -> None:
        super()._fit(X, y, groups)
        self.camera_less_members_: list[tuple[Any, IsotonicRegression | None]] = []
        gas, thermal = evidence_columns(list(X.columns))
        if not (self.camera_less and gas and thermal):
            return
        fitted = []
        for k in range(self.bags):
            seed = None if self.random_state is None else self.random_state + k
            hold = held_out_rows(y, groups, self.calibration_fraction, seed)
            model = self._base(seed, tuple(gas)).fit(X.loc[~hold, gas].to_numpy(), y[~hold])
            fitted.append((model, _held_out_scores(model, X.loc[hold, gas].to_numpy()), y[hold]))
        self.camera_less_members_ = self._calibrators(fitted)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Read model files saved before the camera-less members: they have none."""
        state.setdefault("camera_less", False)
        state.setdefault("camera_less_members_", [])
        super().__setstate__(state)

    def camera_missing(self, X: pd.DataFrame) -> NDArray[np.bool_]:
        """Rows whose camera features are all missing (no camera, or it is down)."""
        _, thermal = evidence_columns(list(X.columns))
        return np.asarray(X[thermal].isna().all(axis=1).to_numpy(), dtype=bool)

    def _judge(self, X: pd.DataFrame) -> NDArray[np.float64]:
        """The members' mean calibrated probability, or the camera-less members' for the rows
        whose camera features are all missing."""
        p = super()._judge(X)
        if getattr(self, "camera_less_members_", None):
            missing = self.camera_missing(X)
            if missing.any():
                gas, _ = evidence_columns(list(X.columns))
                values = X.loc[missing, gas].to_numpy()
                p[missing] = np.mean(
                    [
                        calibrated(np.asarray(m.predict_proba(values)[:, 1], dtype=float), c)
                        for m, c in self.camera_less_members_
                    ],
                    axis=0,
                )
        return p


class GasModel(GBMDetector):
    """The gas-and-environment model: LightGBM on the SCD41 features but its one-reading
    changes (:func:`~embercast.features.sets.camera_less_features`), for devices without a
    camera or with the camera down (standard18 tables give it CO2 and its 60-s slope)."""

    def _features(self) -> tuple[str, ...]:
        return camera_less_features(self.feature_set)
