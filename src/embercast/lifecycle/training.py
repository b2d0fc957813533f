"""Train a detector on a feature set, measure it on held-out scenarios, log and register it."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sklearn.utils._param_validation import InvalidParameterError

from embercast.config import get_settings
from embercast.dataset.episodes import is_episode_class
from embercast.errors import InputError
from embercast.evaluation.condition_folds import condition_folds, condition_out_scores
from embercast.evaluation.evaluate import evaluate
from embercast.evaluation.feature_data import FeatureData, load_features
from embercast.evaluation.operating_point import choose_operating_point
from embercast.evaluation.report import write_report
from embercast.evaluation.sensor_supervision import apply_sensor_supervision
from embercast.lifecycle.registry import Registry
from embercast.models.augment import without_camera
from embercast.models.base import FireDetector
from embercast.models.baselines import CO2Threshold
from embercast.models.factory import make_detector
from embercast.models.persistence import save_model

logger = logging.getLogger(__name__)

LOGGED_METRICS = (
    "roc_auc", "pr_auc", "brier", "detection_rate", "ttd_median_s", "ttd_p90_s",
    "false_alarm_scenario_rate", "false_alarms_per_1000_device_hours",
)  # fmt: skip


ALARM_CHOICES = ("conditions", "val")
"""How the alarm operating point is chosen: on scores of models that did not see a scenario's
room conditions (:mod:`embercast.evaluation.condition_folds`), or on ``val`` scored by the model."""


def check_alarm_choice(on: str) -> None:
    """ValueError naming ALARM_CHOICES unless ``on`` is one of them."""
    if on not in ALARM_CHOICES:
        raise InputError(f"invalid alarm choice {on!r}: choose one of {', '.join(ALARM_CHOICES)}")


def check_params(model: str, params: dict[str, Any]) -> None:
    """InputError naming the parameter and what ``model`` accepts unless ``params`` are
    parameters of ``model`` with valid values (the estimator's own constraints). The feature set
    is not one of them: it follows the training table (``train --set``)."""
    if "feature_set" in params:
        raise InputError("the feature set is not set by --param: choose it with --set")
    detector = make_detector(model)
    known = detector.get_params()
    unknown = [name for name in params if name not in known]
    if unknown:
        raise InputError(
            f"{model} has no parameter {unknown[0]!r}: set one of "
            f"{', '.join(sorted(k for k in known if k != 'feature_set'))}"
        )
    try:
        detector.set_params(**params)._validate_params()
    except InvalidParameterError as err:
        raise InputError(f"{model}: {err}") from None


def fit_detector(
    features: FeatureData,
    model: str,
    groups: tuple[str, ...],
    params: dict[str, Any] | None = None,
    feature_set: str | None = None,
) -> tuple[FireDetector, int, float]:
    """A fresh ``model`` fitted on the rows of ``groups``: (detector, rows, seconds)."""
    rows = features.split(groups)
    if rows.empty:
        raise InputError(f"{features.location} has no rows in the split groups {list(groups)}")
    detector = make_detector(model)
    if "feature_set" in detector.get_params():
        detector.set_params(feature_set=feature_set or features.feature_set)
    if params:
        detector.set_params(**params)
    started = time.perf_counter()
    detector.fit(rows, rows["fire"].to_numpy(), groups=rows["scenario_id"].to_numpy())
    return detector, len(rows), time.perf_counter() - started


def train(
    data: str | Sequence[str],
    model: str,
    *,
    train_groups: tuple[str, ...] = ("train",),
    eval_groups: tuple[str, ...] = ("test", "holdout"),
    register: str | None = None,
    out: str | None = None,
    registry: Registry | None = None,
    hpo_trials: int = 0,
    journal: str = "runs/optuna.journal",
    feature_set: str | None = None,
    alarm_groups: tuple[str, ...] = ("val",),
    alarm_budget: float | None = None,
    slow_path: bool | None = None,
    alarm_on: str = "conditions",
    params: dict[str, Any] | None = None,
    co2_path: bool = False,
) -> dict[str, Any]:
    """Fit on ``data`` (one feature set, or several read as one), with the estimator
    parameters ``params`` (over any that ``hpo_trials`` tuned), choose the alarm operating
    point under ``alarm_budget`` (the settings' ``alarm_false_alarm_budget`` when None) on
    ``train_groups`` and ``alarm_groups`` with room conditions left out (``alarm_on=
    "conditions"``) or on ``alarm_groups`` (``"val"``; skipped when they have no rows), with a
    slow-confirmation path when ``slow_path`` (None: with ``"conditions"``) and it helps there,
    and with ``co2_path`` a CO2 path when it helps there (:func:`choose_alarm`); measure
    on ``eval_groups``, log the run to MLflow (and register it as a new version of
    ``register``), and optionally save the model file ``out``. Returns a summary."""
    check_alarm_choice(alarm_on)  # before any fit
    check_params(model, params or {})
    features = load_features(data)
    tuned: dict[str, Any] = {}
    if hpo_trials > 0:
        from embercast.lifecycle.tuning import tune

        tuned = tune(features, model, hpo_trials, journal)
    if feature_set not in (None, features.feature_set) and not (
        feature_set == "standard18" and features.feature_set == "extended"
    ):
        raise InputError(
            f"feature set {feature_set!r} is not in the table's {features.feature_set!r} features"
        )
    detector, n_rows, seconds = fit_detector(
        features, model, train_groups, {**tuned.get("best_params", {}), **(params or {})},
        feature_set,
    )  # fmt: skip
    logger.info("fitted %s on %d rows of %s in %.1f s", model, n_rows, features.location, seconds)
    operating = choose_alarm(
        features, detector, alarm_groups, alarm_budget, slow_path, alarm_on,
        pool=tuple(dict.fromkeys((*train_groups, *alarm_groups))),
        co2=co2_rule(features.split(train_groups)) if co2_path else None,
    )  # fmt: skip
    logger.info("alarm operating point of %s: %s", model, getattr(detector, "alarm_", None))
    result = evaluate(features, {model: detector}, eval_groups=eval_groups)[0]
    metrics = {k: result.metrics[k] for k in LOGGED_METRICS if result.metrics.get(k) is not None}
    in_view = (result.metrics.get("in_view") or {}).get("detection_rate")
    if in_view is not None:  # fires that start in a camera's field of view
        metrics["detection_rate_in_view"] = in_view
    registry = registry or Registry()
    with tempfile.TemporaryDirectory() as tmp:
        held = features.split(eval_groups)
        context = {"data": features.location, "evaluated on": ", ".join(eval_groups)}
        write_report([result], held["fire"].to_numpy(), tmp, f"{model} on held-out scenarios",
                     context)  # fmt: skip
        run_id, version = registry.log_training(
            detector,
            params={
                "model": model,
                **detector.get_params(),
                "train_groups": ",".join(train_groups),
                **{
                    f"alarm_{k}": v
                    for k, v in (operating or {}).items()
                    if k not in ("candidates", "folds")
                },
            },
            metrics={**metrics, "train_rows": n_rows, "train_seconds": seconds},
            tags={
                "feature_set": features.feature_set,
                "features_location": features.location,
                "features_content_hash": features.content_hash,
                "eval_groups": ",".join(eval_groups),
                "episodes": str(
                    sum(is_episode_class(c) for c, _, _ in features.scenarios.values())
                ),
            },  # fmt: skip
            artifacts=[f"{tmp}/metrics.json", f"{tmp}/curves.png", f"{tmp}/scenarios.png"],
            register=register,
        )
    if out is not None:
        save_model(detector, out, {"model": model, "data": features.location, "run_id": run_id,
                                   "data_content_hash": features.content_hash})  # fmt: skip
    return {"model": model, "rows": n_rows, "seconds": seconds, "run_id": run_id,
            "registered": register, "version": version, "out": out,
            "feature_set": features.feature_set, "held_out": metrics,
            "hpo": tuned or None, "alarm": operating}  # fmt: skip


def co2_rule(train: pd.DataFrame) -> tuple[float, float]:
    """The CO2 path's level [ppm] and 60-s rate [ppm/s]: those of the CO2 threshold detector
    fitted on the non-fire ``train`` rows (:class:`~embercast.models.baselines.CO2Threshold`,
    the baseline it is compared with); InputError without rows."""
    if train.empty:
        raise InputError("no training rows to fit the CO2 path's level and rate on")
    rule = CO2Threshold().fit(train, train["fire"].to_numpy(), groups=train["scenario_id"])
    return float(rule.level_ppm_), float(rule.rate_ppm_s_)


def choose_alarm(
    features: FeatureData,
    detector: FireDetector,
    groups: tuple[str, ...],
    budget: float | None,
    slow_path: bool | None = None,
    on: str = "conditions",
    pool: tuple[str, ...] = ("train", "val"),
    co2: tuple[float, float] | None = None,
) -> dict[str, Any] | None:
    """Set ``detector.alarm_`` to the operating point chosen under ``budget`` (see
    :mod:`embercast.evaluation.operating_point`): with ``on="conditions"`` on the scenarios of
    ``pool``, each scored by a clone of ``detector`` fitted without its room-condition bucket
    (one fit per bucket); with ``on="val"``, or when the pool has no such folds (one bucket of every
    condition), on the rows of ``groups`` scored by ``detector``. The slow-confirmation path
    (``slow_path``; None: on condition-out scores only) may spend the false-alarm budget on
    condition-out scores and add no false alarm on ``val``; with ``co2`` (:func:`co2_rule`) a
    CO2 path too, when it detects more or sooner (:func:`~embercast.evaluation.operating_point.
    choose_operating_point`). A summary, or None when those groups have no rows."""
    check_alarm_choice(on)
    budget = get_settings().alarm_false_alarm_budget if budget is None else budget
    started = time.perf_counter()
    folds = condition_folds(features, pool) if on == "conditions" else []
    if folds:
        scores = condition_out_scores(
            features, detector, pool, folds, without_camera=co2 is not None
        )
        point = choose_operating_point(
            scores.rows, scores.p, scores.scenarios, budget, fires=scores.fires,
            slow=slow_path is not False, slow_budget=budget, nuisances=scores.nuisances, co2=co2,
            p_without_camera=scores.p_without_camera,
        )  # fmt: skip
        chosen_on = f"room conditions left out of {','.join(pool)}"
    else:
        rows, _ = apply_sensor_supervision(features.split(groups))
        if rows.empty:
            return None
        blind = without_camera(rows, list(rows.columns)) if co2 is not None else None
        point = choose_operating_point(
            rows, detector.predict_proba(rows)[:, 1], features.scenarios, budget,
            slow=bool(slow_path), co2=co2,
            p_without_camera=None if blind is None else detector.predict_proba(blind)[:, 1],
        )  # fmt: skip
        chosen_on = ",".join(groups)
    detector.alarm_ = point.params
    return {
        "threshold": point.params.threshold,
        "delay_on_s": point.params.delay_on_s,
        "slow_threshold": point.params.slow_threshold,
        "slow_window_s": point.params.slow_window_s,
        **point.params.co2_path(),
        "rule": point.params.describe(),
        "budget": budget,
        "budget_limit": point.limit,
        "within_budget": point.within_budget,
        "chosen_on": chosen_on,
        "folds": [f.label for f in folds],
        "seconds": time.perf_counter() - started,
        "candidates": point.candidates,
    }
