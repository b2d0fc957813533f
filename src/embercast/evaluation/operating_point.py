"""A model's alarm operating point: the alarm threshold and debounce delay of the shared alarm
decision (`alarm/decision.py`), and its slow-confirmation path, chosen on validation
scores under a false-alarm budget.

A calibrated probability says how likely a fire is; how sure the system must be, and for how
long, before it sounds the alarm is a product decision: too eager and cooking sets it off, too
cautious and fires burn longer. The operating point is chosen per model on scenarios not used
to report results, scored by models not trained on them: by default every scenario of
``train`` and ``val`` scored by a clone that did not see its room conditions
(:mod:`embercast.evaluation.condition_folds`), or else the ``val`` split scored by the model. Among
the grid's candidates whose share of nuisance scenarios with a false alarm is within the
budget, the fastest (shortest median time to detect) of those whose detection rate is within
one binomial standard error of the best, ``sqrt(D (1 - D) / n)`` over the ``n`` validation
fires. One or two more fires found among a hundred are within the split's noise, while a
median time to detect is taken over every found fire, so a fire's difference in detection does
not buy a slower alarm for every fire. The budget is a promise about rooms not yet seen, so a
candidate is within it when its share is at least ``k`` binomial standard errors below it,
``budget - k sqrt(budget (1 - budget) / m)`` over the ``m`` validation nuisance scenarios
(``k``: settings' ``alarm_budget_margin_se``, 2 by default). A share right at the budget is
over it on unseen rooms about half the time, and a model's false alarms also move from one
training draw to the next; the margin covers both (docs/MODELS.md, "Alarm operating point").
When asked
(``slow``), the slow path (mean p over minutes) is then chosen with the fast path fixed (most
detected, then soonest), among the candidates whose false-alarm share stays within
``slow_budget``, and kept only when it detects more or sooner. Training gives it the whole
budget on condition-out scores (thousands of nuisance scenarios in rooms their models did not
see show what it costs) and none on ``val`` (a hundred nuisance scenarios in familiar rooms do
not show it). The chosen parameters travel with the model (``alarm_``); evaluation
runs them, and the live alarm decision is to run the same.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from embercast.alarm.decision import AlarmParams, alarm_point
from embercast.config import get_settings
from embercast.errors import InputError
from embercast.evaluation.metrics import outcomes, scenario_metrics
from embercast.models.augment import THERMAL_FLAG

THRESHOLDS: tuple[float, ...] = (0.7, 0.8, 0.9, 0.95)
"""Candidate alarm thresholds: the "high" risk level and up (DESIGN 4.5)."""
DELAYS_S: tuple[float, ...] = (10.0, 20.0, 30.0)
"""Candidate debounce delays [s] (two to six SCD41 readings at the 5-s period)."""
SLOW_THRESHOLDS: tuple[float, ...] = (0.4, 0.5, 0.6, 0.7, 0.8)
"""Candidate thresholds of the slow path's mean probability [-]: from the upper half of the
"low" risk level up (DESIGN 4.5); a mean held over minutes, not a moment's level."""
SLOW_WINDOWS_S: tuple[float, ...] = (300.0, 600.0, 900.0)
"""Candidate windows of the slow path's mean [s] (5 to 15 min: a smoulder's early minutes)."""
CO2_GATES: tuple[float, ...] = (0.5, 0.3, 0.2, 0.1)
"""Candidate gates of the CO2 path [-]: the p at or above which a CO2 detector's evidence may
raise the alarm (the model vetoes below it)."""


@dataclass(frozen=True)
class OperatingPoint:
    """The chosen alarm parameters, whether they meet the budget, every candidate's
    validation figures (threshold, delay [s], slow threshold and window [s], detection rate,
    median TTD [s], false-alarm share) and the share a candidate had to stay at or under (the
    budget less its margin) [-]."""

    params: AlarmParams
    within_budget: bool
    candidates: list[dict[str, Any]]
    limit: float


def choose_operating_point(
    rows: pd.DataFrame,
    p: np.ndarray,
    scenarios: Mapping[str, tuple[str, bool, float | None]],
    budget: float,
    base: AlarmParams | None = None,
    slow: bool = False,
    fires: int | None = None,
    slow_budget: float | None = None,
    nuisances: int | None = None,
    margin_se: float | None = None,
    co2: tuple[float, float] | None = None,
    p_without_camera: np.ndarray | None = None,
) -> OperatingPoint:
    """Choose the alarm threshold and delay for scored validation ``rows`` (scenario_id,
    device_id, t_s) with fire probabilities ``p``.

    Among the candidates whose nuisance false-alarm share is within ``budget`` by ``margin_se``
    standard errors (:func:`budget_margin`; None: settings' ``alarm_budget_margin_se``; a share
    of 0 always is), those detecting within
    one standard error of the best rate (:func:`detection_tolerance`) count as equal, and the
    shortest median time to detect wins (then more detected, then fewer false alarms). When none
    is within the budget, the one with the fewest false alarms (then the best detection) is
    chosen and ``within_budget`` is False. With ``slow`` and within the budget, the slow path is
    then chosen with the fast path fixed, among the slow candidates whose false-alarm share is
    at most ``slow_budget`` (None: the fast path's own, so the slow path adds no false alarm),
    by detection rate then speed; it is left off unless it detects more or sooner.
    ``clear_threshold`` and ``delay_off_s`` come from ``base``. ``fires`` is the number of
    distinct fires behind the rows for that tolerance and ``nuisances`` that of distinct
    nuisance scenarios for the budget's margin (default: those in ``rows``; give them when a
    scenario is scored in several folds).

    With ``co2`` (a CO2 detector's level [ppm] and 60-s rate [ppm/s]), the CO2 path is then
    chosen with the point fixed, on ``rows`` and, given ``p_without_camera`` (the same rows
    scored as devices without a camera), on those too: the path acts on rows without a camera
    only (:func:`~embercast.evaluation.metrics.co2_path_input`). Among the gates of
    :data:`CO2_GATES` whose false-alarm share stays, on each, within the budget less its margin
    or the point's own share (only the latter when the point is not within the budget), that
    detect no fewer and no later and more or sooner on one, the soonest without a camera (then
    the highest gate) is kept.
    """
    if not 0.0 <= budget <= 1.0:
        raise InputError(f"false-alarm budget must be in [0, 1], got {budget}")
    if slow_budget is not None and not 0.0 <= slow_budget <= budget:
        raise InputError(
            f"the slow path's false-alarm budget must be in [0, budget={budget}], got {slow_budget}"
        )
    if rows.empty:
        raise InputError("no validation rows to choose an alarm operating point on")
    base = base or AlarmParams()
    k = get_settings().alarm_budget_margin_se if margin_se is None else margin_se
    if k < 0:
        raise InputError(f"the budget's margin must be >= 0 standard errors, got {k}")

    def candidate(
        params: AlarmParams, on: pd.DataFrame | None = None, p_on: np.ndarray | None = None
    ) -> dict[str, Any]:
        on, p_on = (rows, p) if on is None or p_on is None else (on, p_on)
        m = scenario_metrics(outcomes(on, p_on, scenarios, params))
        return {
            "threshold": params.threshold,
            "delay_on_s": params.delay_on_s,
            "slow_threshold": params.slow_threshold,
            "slow_window_s": params.slow_window_s if params.slow_threshold is not None else None,
            "co2_gate": params.co2_gate,
            "detection_rate": m["detection_rate"] or 0.0,
            "ttd_median_s": m["ttd_median_s"],
            "false_alarm_scenario_rate": m["false_alarm_scenario_rate"] or 0.0,
            "params": params,
        }

    def speed(c: dict[str, Any]) -> float:
        return float("inf") if c["ttd_median_s"] is None else float(c["ttd_median_s"])

    fast = [
        candidate(alarm_point(threshold, delay, base))
        for threshold in THRESHOLDS
        for delay in DELAYS_S
    ]
    ids = [str(sid) for sid in rows["scenario_id"].unique()]
    if fires is None:
        fires = sum(1 for sid in ids if scenarios[sid][1])
    if nuisances is None:
        nuisances = sum(1 for sid in ids if not scenarios[sid][1])
    limit = max(0.0, budget - budget_margin(budget, nuisances, k))  # no false alarm: within
    within = [c for c in fast if c["false_alarm_scenario_rate"] <= limit + 1e-12]
    table = list(fast)
    if not within:
        chosen = min(
            fast, key=lambda c: (c["false_alarm_scenario_rate"], -c["detection_rate"], speed(c))
        )
    else:
        top = max(c["detection_rate"] for c in within)
        tied = [c for c in within if c["detection_rate"] >= top - detection_tolerance(top, fires)]
        chosen = min(
            tied, key=lambda c: (speed(c), -c["detection_rate"], c["false_alarm_scenario_rate"])
        )
    if slow and within:
        slow_paths = [
            candidate(replace(chosen["params"], slow_threshold=level, slow_window_s=window))
            for level in SLOW_THRESHOLDS
            for window in SLOW_WINDOWS_S
        ]
        allowed = (
            chosen["false_alarm_scenario_rate"]
            if slow_budget is None
            else max(0.0, slow_budget - budget_margin(slow_budget, nuisances, k))
        )
        quiet = [c for c in slow_paths if c["false_alarm_scenario_rate"] <= allowed + 1e-12]
        chosen = min([chosen, *quiet], key=lambda c: (-c["detection_rate"], speed(c)))
        table += slow_paths
    if co2 is not None:
        frames = [(rows, p)]
        if p_without_camera is not None:
            frames.append((rows.assign(**{THERMAL_FLAG: 0.0}), p_without_camera))
        point = chosen["params"]
        options = [
            replace(point, co2_gate=gate, co2_level_ppm=co2[0], co2_rate_ppm_s=co2[1])
            for gate in CO2_GATES
        ]
        # the point's own figures: those it was chosen by, and without a camera
        refs = [chosen, *(candidate(point, fr, fp) for fr, fp in frames[1:])]
        table += [{**ref, "without_camera": k == 1} for k, ref in enumerate(refs)]
        kept: list[tuple[float, float, AlarmParams]] = []
        for params in options:
            fits, gains = True, False
            for k, ((frame_rows, frame_p), ref) in enumerate(zip(frames, refs, strict=True)):
                c = candidate(params, frame_rows, frame_p)
                table.append({**c, "without_camera": k == 1})
                fa = ref["false_alarm_scenario_rate"]
                allowed = max(limit, fa) if within else fa
                fits &= c["false_alarm_scenario_rate"] <= allowed + 1e-12
                fits &= c["detection_rate"] >= ref["detection_rate"] and speed(c) <= speed(ref)
                gains |= c["detection_rate"] > ref["detection_rate"] or speed(c) < speed(ref)
            if fits and gains:  # c: the last frame's, without a camera when given
                kept.append((speed(c), -float(params.co2_gate or 0.0), params))
        if kept:
            chosen = {"params": min(kept, key=lambda k: (k[0], k[1]))[2]}
    return OperatingPoint(chosen["params"], bool(within), _table(table), limit)


def detection_tolerance(rate: float, fires: int) -> float:
    """One binomial standard error of a detection ``rate`` measured over ``fires`` scenarios,
    ``sqrt(rate (1 - rate) / fires)`` [-]; 0 without fires (nothing is within noise of 100 %)."""
    return _standard_error(rate, fires) + (1e-12 if fires > 0 else 0.0)


def budget_margin(budget: float, nuisances: int, standard_errors: float = 1.0) -> float:
    """How far below a false-alarm ``budget`` a share measured over ``nuisances`` scenarios must
    lie to meet it on unseen ones: ``standard_errors`` binomial standard errors at the budget,
    ``standard_errors * sqrt(budget (1 - budget) / nuisances)`` [-] (a one-sided test at about
    84 % for one, 98 % for two); 0 without nuisance scenarios (nothing to measure a share on) or
    for a budget of 0 or 1."""
    return standard_errors * _standard_error(budget, nuisances)


def _standard_error(rate: float, n: int) -> float:
    """``sqrt(rate (1 - rate) / n)`` [-]; 0 for ``n <= 0``."""
    return math.sqrt(rate * (1.0 - rate) / n) if n > 0 else 0.0


def _table(candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in c.items() if k != "params"} for c in candidates]
