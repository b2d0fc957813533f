"""Evaluate detectors side by side on the evaluation split of a feature set."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from embercast.agents.alarm_decision import AlarmParams
from embercast.models.base import FireDetector
from embercast.models.data import FeatureData
from embercast.models.evaluate import Outcome, outcomes, row_metrics, scenario_metrics


@dataclass
class Evaluated:
    """One detector's scores and metrics on the evaluation rows."""

    name: str
    p: np.ndarray
    outcomes: list[Outcome]
    metrics: dict[str, Any] = field(default_factory=dict)


def alarm_params(detector: FireDetector, base: AlarmParams | None = None) -> AlarmParams:
    """The shared alarm decision at the detector's operating point (``alarm_``, chosen on
    validation scenarios when it was trained, see :mod:`embercast.models.operating`), or else at
    its own decision threshold."""
    chosen = getattr(detector, "alarm_", None)
    if isinstance(chosen, AlarmParams):
        return chosen
    base = base or AlarmParams()
    threshold = float(detector.decision_threshold)
    return AlarmParams(
        threshold=threshold,
        clear_threshold=min(base.clear_threshold, threshold),
        delay_on_s=base.delay_on_s,
        delay_off_s=base.delay_off_s,
    )


def is_fitted(detector: FireDetector) -> bool:
    try:
        check_is_fitted(detector, "feature_names_in_")
    except ValueError:
        return False
    return True


def evaluate(
    data: FeatureData,
    detectors: dict[str, FireDetector],
    *,
    train_groups: tuple[str, ...] = ("train",),
    eval_groups: tuple[str, ...] = ("test", "holdout"),
    params: AlarmParams | None = None,
) -> list[Evaluated]:
    """Fit what is not fitted on ``train_groups`` and score every detector on ``eval_groups``."""
    train = data.split(train_groups)
    rows = data.split(eval_groups)
    if rows.empty:
        raise ValueError(
            f"{data.location!r} has no rows in the split groups {list(eval_groups)}; "
            "generate more scenarios or choose other groups"
        )
    results = []
    for name, detector in detectors.items():
        if not is_fitted(detector):
            if train.empty:
                raise ValueError(f"no training rows in {list(train_groups)} to fit {name}")
            detector = clone(detector).fit(
                train, train["fire"].to_numpy(), groups=train["scenario_id"]
            )
        p = detector.predict_proba(rows)[:, 1]
        rule = alarm_params(detector, params)
        found = outcomes(rows, p, data.scenarios, rule)
        metrics: dict[str, Any] = {
            **row_metrics(rows["fire"].to_numpy(), p),
            **scenario_metrics(found, data.in_view),
            "rows": int(len(rows)),
            "scenarios": len(found),
            "alarm": {**asdict(rule), "rule": rule.describe()},
        }
        results.append(Evaluated(name, p, found, metrics))
    return results


def best_baseline_ttd(results: list[Evaluated], model: str) -> dict[str, Any]:
    """The best baseline (fastest median time to detect) among those with at most the model's
    false-alarm rate, and the model's speed-up over it (DESIGN 4.4 goal: at least 2x)."""
    by = {r.name: r.metrics for r in results}
    mine = by[model]
    fa = mine.get("false_alarm_scenario_rate") or 0.0
    rivals = [
        (m["ttd_median_s"], name)
        for name, m in by.items()
        if name != model
        and m.get("ttd_median_s") is not None
        and (m.get("false_alarm_scenario_rate") or 0.0) <= fa + 1e-12
    ]
    if not rivals or mine.get("ttd_median_s") is None:
        return {"baseline": None, "speedup": None}
    ttd, name = min(rivals)
    speedup = (ttd / mine["ttd_median_s"]) if mine["ttd_median_s"] > 0 else None
    return {"baseline": name, "baseline_ttd_median_s": ttd, "speedup": speedup}


GOAL_DETECTION_RATE = 1.0
"""Goal: every fire class detected in every scenario (README, goals) [-]."""
GOAL_SPEEDUP = 2.0
"""Goal: median time to detect at least this many times shorter than the best baseline with at
most the model's false-alarm share [-]."""
GOAL_FALSE_ALARM_SHARE = 0.02
"""Goal: at most this share of nuisance scenarios with a false alarm [-]."""


def _least_detected(classes: dict[str, Any]) -> dict[str, Any]:
    """The every-fire-class goal over per-class detection figures: the least detected class."""
    worst = min(classes, key=lambda c: classes[c]["detection_rate"], default=None)
    m = {} if worst is None else classes[worst]
    rate = m.get("detection_rate")
    return {
        "goal": GOAL_DETECTION_RATE,
        "least_detected_class": worst,
        "detection_rate": rate,
        "detected": None if rate is None else round(rate * m["scenarios"]),
        "scenarios": m.get("scenarios"),
        "detection_rate_ci95": m.get("detection_rate_ci95"),
        "reached": rate is not None and rate >= GOAL_DETECTION_RATE,
    }


def goals(results: list[Evaluated], model: str) -> dict[str, Any]:
    """The detection goals for ``model`` on the evaluated scenarios, each with its figure and
    whether it is reached: every fire class detected (the least detected class; and, when the
    data knows camera coverage, the same among the fires that start in a camera's field of
    view, ``in_view``, which tells a model's misses from fires no camera faces), the median
    time to detect against the best baseline with at most the same false-alarm share (overall,
    and per fire class against that baseline), and the share of nuisance scenarios with a
    false alarm."""
    mine = {r.name: r.metrics for r in results}[model]
    classes: dict[str, Any] = mine["fire_classes"]
    every = _least_detected(classes)
    viewed = {c: m["in_view"] for c, m in classes.items() if m.get("in_view", {}).get("scenarios")}
    versus = best_baseline_ttd(results, model)
    per_class: dict[str, Any] = {}
    if versus["baseline"] is not None:
        theirs = {r.name: r.metrics for r in results}[versus["baseline"]]["fire_classes"]
        for c, m in classes.items():
            other = theirs.get(c, {})
            ours, base = m["ttd_median_s"], other.get("ttd_median_s")
            per_class[c] = {
                "ttd_median_s": ours,
                "baseline_ttd_median_s": base,
                "baseline_detection_rate": other.get("detection_rate"),
                "speedup": base / ours if ours and base is not None else None,
            }
    speedup = versus["speedup"]
    nuisance = sum(m["scenarios"] for m in mine["nuisance_classes"].values())
    share = mine["false_alarm_scenario_rate"]
    return {
        "every_fire_class_detected": {
            **every,
            "in_view": _least_detected(viewed) if viewed else None,
        },
        "speedup": {
            **versus,
            "goal": GOAL_SPEEDUP,
            "reached": speedup is not None and speedup >= GOAL_SPEEDUP,
            "fire_classes": per_class,
        },
        "false_alarms": {
            "goal": GOAL_FALSE_ALARM_SHARE,
            "share": share,
            "share_ci95": mine.get("false_alarm_scenario_rate_ci95"),
            "nuisance_scenarios": nuisance,
            "reached": share is not None and nuisance > 0 and share <= GOAL_FALSE_ALARM_SHARE,
        },
    }


def rows_frame(data: FeatureData, groups: tuple[str, ...]) -> pd.DataFrame:
    """Evaluation rows (convenience for reports)."""
    return data.split(groups)
