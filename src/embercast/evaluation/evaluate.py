"""Evaluate detectors side by side on the evaluation split of a feature set."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from embercast.alarm.decision import AlarmParams, alarm_point
from embercast.alarm.scd41_health import HealthParams
from embercast.alarm.zone import ZoneParams
from embercast.errors import InputError
from embercast.evaluation.feature_data import FeatureData
from embercast.evaluation.metrics import Outcome, outcomes, row_metrics, scenario_metrics
from embercast.evaluation.sensor_supervision import apply_sensor_supervision
from embercast.features.sets import feature_names
from embercast.models.augment import without_camera
from embercast.models.base import FireDetector, is_fitted


@dataclass
class Evaluated:
    """One detector's scores and metrics on the evaluation rows."""

    name: str
    p: np.ndarray
    outcomes: list[Outcome]
    metrics: dict[str, Any] = field(default_factory=dict)
    cases: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """The scenarios to look at (:func:`cases`): missed fires and nuisance scenarios with a
    false alarm, each with its evidence."""
    baseline: bool = False
    """Whether the detector is a baseline (:attr:`FireDetector.baseline`): the goals compare a
    model with the baselines, not with the other models beside it."""


CASE_EVIDENCE: tuple[tuple[str, str], ...] = (
    ("gas_rise_1800", "co2_rise_30min_max_ppm"),
    ("newhot_max_excess", "new_hot_spot_max_k"),
)
"""Feature columns whose largest value over a case's rows tells why it went as it did, and the
name each takes in a case: the largest 30-min CO2 rise [ppm] and the hottest new spot over
its background [K] (columns a feature set lacks are left out)."""


def cases(
    rows: pd.DataFrame, p: np.ndarray, found: list[Outcome], in_view: Mapping[str, bool]
) -> dict[str, list[dict[str, Any]]]:
    """The scenarios an engineer looks at after an evaluation: every fire the alarm decision
    missed (its highest probability and evidence over the rows after ignition, and whether it
    starts in a camera's field of view) and every nuisance scenario with a false alarm (its
    false-alarm onsets, highest probability and evidence over all its rows), sorted by class
    and scenario."""
    present = [(col, key) for col, key in CASE_EVIDENCE if col in rows.columns]
    missed = {o.scenario_id: o for o in found if o.is_fire and o.detect_s is None}
    alarmed = {o.scenario_id: o for o in found if not o.is_fire and o.false_alarms > 0}
    frame = rows[["fire", *(c for c, _ in present)]].assign(
        scenario_id=rows["scenario_id"].astype(str).to_numpy(), p=np.asarray(p, dtype=float)
    )
    ids = frame["scenario_id"]
    keep = (ids.isin(missed.keys()) & (frame["fire"] == 1)) | ids.isin(alarmed.keys())
    grouped = frame[keep.to_numpy()].groupby("scenario_id").max(numeric_only=True)
    peaks = {str(k): {str(c): v for c, v in row.items()} for k, row in grouped.iterrows()}

    def case(o: Outcome) -> dict[str, Any]:
        row = peaks.get(o.scenario_id, {})

        def peak(col: str) -> float | None:
            value = row.get(col)
            return None if value is None or np.isnan(value) else float(value)

        return {
            "scenario_id": o.scenario_id,
            "scenario_class": o.scenario_class,
            "p_max": peak("p"),
            **{key: peak(col) for col, key in present},
        }

    def order(items: dict[str, Outcome]) -> list[Outcome]:
        return sorted(items.values(), key=lambda o: (o.scenario_class, o.scenario_id))

    return {
        "missed_fires": [{**case(o), "in_view": in_view.get(o.scenario_id)} for o in order(missed)],
        "false_alarm_scenarios": [
            {**case(o), "false_alarms": o.false_alarms} for o in order(alarmed)
        ],
    }


def alarm_params(detector: FireDetector, base: AlarmParams | None = None) -> AlarmParams:
    """The shared alarm decision at the detector's operating point (``alarm_``, chosen on
    validation scenarios when it was trained, see :mod:`embercast.evaluation.operating_point`),
    or else at its own decision threshold."""
    chosen = getattr(detector, "alarm_", None)
    if isinstance(chosen, AlarmParams):
        return chosen
    base = base or AlarmParams()
    return alarm_point(float(detector.decision_threshold), base.delay_on_s, base)


SUPERVISED = HealthParams()
"""The default sensor supervision of an evaluation (the live service's)."""

ZONE_POLICIES: dict[str, ZoneParams] = {
    "zone: any device": ZoneParams(),
    "zone: a second device confirms": ZoneParams(confirm_devices=2),
}
"""The zone policies an evaluation reports beside the single-device decision: the live zone
default (any device's alarm), and confirmation by a second device of the room within 120 s
(the first alone alarms once it has held that long)."""

_POLICY_KEYS = (
    "detection_rate", "detection_rate_ci95", "ttd_median_s", "ttd_p90_s",
    "false_alarm_scenario_rate", "false_alarm_scenario_rate_ci95",
    "false_alarms_per_1000_device_hours",
)  # fmt: skip


def fitted(detector: FireDetector, train: pd.DataFrame | None, missing: str) -> FireDetector:
    """``detector`` when it is fitted, else a clone fitted on the rows of ``train`` (their
    scenarios as groups); ValueError(``missing``) when there are none to fit on."""
    if is_fitted(detector):
        return detector
    if train is None or train.empty:
        raise InputError(missing)
    fresh: FireDetector = clone(detector)
    return fresh.fit(train, train["fire"].to_numpy(), groups=train["scenario_id"])


def evaluate(
    data: FeatureData,
    detectors: dict[str, FireDetector],
    *,
    train_groups: tuple[str, ...] = ("train",),
    eval_groups: tuple[str, ...] = ("test", "holdout"),
    params: AlarmParams | None = None,
    health: HealthParams | None = SUPERVISED,
    zones: Mapping[str, ZoneParams] = ZONE_POLICIES,
    camera: bool = True,
) -> list[Evaluated]:
    """Fit what is not fitted on ``train_groups`` and score every detector on ``eval_groups``.

    Each row's SCD41 is supervised with ``health`` (None: not supervised): every detector scores
    the rows without the features of sensors in FAULT, as the live service does
    (:func:`~embercast.evaluation.sensor_supervision.apply_sensor_supervision`), and the
    metrics count each class's scenarios with a sensor FAULT (``sensor_fault_scenarios``).
    Each detector's alarms are also run through the zone policies ``zones``, each scenario's
    room one zone (``zone_policies``: detection, time to detect and false alarms of each).
    Without ``camera`` every device is scored as one without a camera
    (:func:`~embercast.models.augment.without_camera`): the gas-and-environment path alone."""
    train = data.split(train_groups)
    rows = data.split(eval_groups)
    if rows.empty:
        raise InputError(
            f"{data.location!r} has no rows in the split groups {list(eval_groups)}; "
            "generate more scenarios or choose other groups"
        )
    if not camera:
        rows = without_camera(rows, list(feature_names(data.feature_set)))
    supervision: dict[str, Any] = {}
    if health is not None:
        rows, faulted = apply_sensor_supervision(rows, health)
        supervision = {"sensor_fault_scenarios": _fault_counts(rows, faulted, data.scenarios)}
    results = []
    for name, detector in detectors.items():
        missing = f"no training rows in {list(train_groups)} to fit {name}"
        detector = fitted(detector, train, missing)
        p = detector.predict_proba(rows)[:, 1]
        rule = alarm_params(detector, params)
        found = outcomes(rows, p, data.scenarios, rule)
        policies = {}
        for policy, zone in zones.items():
            done = scenario_metrics(outcomes(rows, p, data.scenarios, rule, zone))
            policies[policy] = {k: done[k] for k in _POLICY_KEYS}
        metrics: dict[str, Any] = {
            **row_metrics(rows["fire"].to_numpy(), p),
            **scenario_metrics(found, data.in_view),
            "rows": int(len(rows)),
            "scenarios": len(found),
            "alarm": {**asdict(rule), "rule": rule.describe()},
            "zone_policies": policies,
            **supervision,
        }
        evidence = cases(rows, p, found, data.in_view)
        results.append(Evaluated(name, p, found, metrics, evidence, detector.baseline))
    return results


def _fault_counts(
    rows: pd.DataFrame,
    faulted: np.ndarray,
    scenarios: Mapping[str, tuple[str, bool, float | None]],
) -> dict[str, dict[str, int]]:
    """Per scenario class: its scenarios and those with a sensor FAULT on any row."""
    per = pd.Series(faulted).groupby(rows["scenario_id"].astype(str).to_numpy()).any()
    counts: dict[str, dict[str, int]] = {}
    for sid, any_fault in per.items():
        entry = counts.setdefault(scenarios[str(sid)][0], {"scenarios": 0, "with_fault": 0})
        entry["scenarios"] += 1
        entry["with_fault"] += int(any_fault)
    return dict(sorted(counts.items()))


def best_baseline_ttd(results: list[Evaluated], model: str) -> dict[str, Any]:
    """The best baseline (fastest median time to detect) among those with at most the model's
    false-alarm rate, and the model's speed-up over it (DESIGN 4.4 goal: at least 2x). Other
    models among ``results`` are not rivals."""
    mine = {r.name: r.metrics for r in results}[model]
    fa = mine.get("false_alarm_scenario_rate") or 0.0
    rivals = [
        (r.metrics["ttd_median_s"], r.name)
        for r in results
        if r.baseline
        and r.name != model
        and r.metrics.get("ttd_median_s") is not None
        and (r.metrics.get("false_alarm_scenario_rate") or 0.0) <= fa + 1e-12
    ]
    if not rivals or mine.get("ttd_median_s") is None:
        return {"baseline": None, "speedup": None}
    ttd, name = min(rivals)
    speedup = (ttd / mine["ttd_median_s"]) if mine["ttd_median_s"] > 0 else None
    return {"baseline": name, "baseline_ttd_median_s": ttd, "speedup": speedup}


GOAL_DETECTION_RATE = 1.0
"""Goal: every fire class detected in every scenario (README, "Numbers") [-]."""
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
