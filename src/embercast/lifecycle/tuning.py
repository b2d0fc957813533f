"""Hyperparameter search with Optuna: a journal file (no server), a seeded sampler, and studies
that resume where they stopped (the same study name and journal continue).

The objective is measured on the ``val`` scenarios (never the test or holdout ones): the
detection rate minus the nuisance false-alarm rate, minus the median time to detect in units of
10 minutes, so a candidate that finds more fires sooner with fewer false alarms ranks higher.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from embercast.errors import InputError
from embercast.evaluation.evaluate import evaluate
from embercast.evaluation.feature_data import FeatureData
from embercast.models.factory import make_detector

SEARCH_SPACES: dict[str, dict[str, tuple[str, float, float]]] = {
    "gbm": {"n_estimators": ("int", 100, 600), "learning_rate": ("log", 0.01, 0.2),
            "num_leaves": ("int", 8, 96)},
    "gas": {"n_estimators": ("int", 100, 600), "learning_rate": ("log", 0.01, 0.2),
            "num_leaves": ("int", 8, 96)},
    "rf": {"n_estimators": ("int", 50, 400), "min_samples_leaf": ("int", 1, 30)},
}  # fmt: skip
"""Searched hyperparameters per model: (kind, low, high); kind int, float or log."""


def score(metrics: dict[str, Any]) -> float:
    """The objective of a candidate's validation metrics (higher is better)."""
    ttd = metrics.get("ttd_median_s")
    ttd_term = (ttd / 600.0) if ttd is not None else 1.0
    return float(
        (metrics.get("detection_rate") or 0.0)
        - (metrics.get("false_alarm_scenario_rate") or 0.0)
        - ttd_term
    )


def tune(
    data: FeatureData, model: str, trials: int, journal: str, *, seed: int = 0
) -> dict[str, Any]:
    """Run ``trials`` more trials of the study ``{model}-{data hash}`` in ``journal``; return the
    best parameters and value (over every trial of the study, also earlier ones)."""
    if model not in SEARCH_SPACES:
        raise InputError(f"no search space for {model!r}; choose one of {sorted(SEARCH_SPACES)}")
    train, val = data.split(("train",)), data.split(("val",))
    if train.empty or val.empty:
        raise InputError(f"{data.location} needs train and val scenarios to tune on")
    optuna.logging.set_verbosity(logging.WARNING)
    Path(journal).parent.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(journal))
    name = f"{model}-{data.content_hash[:12]}"
    done = 0
    try:
        done = len(optuna.load_study(study_name=name, storage=storage).trials)
    except KeyError:
        pass
    study = optuna.create_study(
        study_name=name, storage=storage, direction="maximize", load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed + done),
    )  # fmt: skip
    space = SEARCH_SPACES[model]

    def objective(trial: optuna.Trial) -> float:
        params: dict[str, Any] = {}
        for key, (kind, lo, hi) in space.items():
            if kind == "int":
                params[key] = trial.suggest_int(key, int(lo), int(hi))
            else:
                params[key] = trial.suggest_float(key, lo, hi, log=kind == "log")
        detector = make_detector(model).set_params(feature_set=data.feature_set, **params)
        detector.fit(train, train["fire"].to_numpy(), groups=train["scenario_id"].to_numpy())
        result = evaluate(data, {model: detector}, eval_groups=("val",))[0]
        return score(result.metrics)

    study.optimize(objective, n_trials=trials)
    return {"study": name, "trials": len(study.trials), "best_value": study.best_value,
            "best_params": study.best_params}  # fmt: skip
