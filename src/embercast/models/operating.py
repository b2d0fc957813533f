"""A model's alarm operating point: the alarm threshold and debounce delay of the shared alarm
decision (`agents/alarm_decision.py`), chosen on validation scenarios under a false-alarm budget.

A calibrated probability says how likely a fire is; how sure the system must be, and for how
long, before it sounds the alarm is a product decision: too eager and cooking sets it off, too
cautious and fires burn longer. The operating point is chosen per model on scenarios that are
neither trained on nor used to report results (the ``val`` split): among the grid's candidates
whose share of nuisance scenarios with a false alarm is within the budget, the one that detects
the most fire scenarios, then the one with the shortest median time to detect. The chosen
parameters travel with the model (``alarm_``) and are what evaluation and the live service use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from embercast.agents.alarm_decision import AlarmParams
from embercast.models.evaluate import outcomes, scenario_metrics

THRESHOLDS: tuple[float, ...] = (0.7, 0.8, 0.9, 0.95)
"""Candidate alarm thresholds: the "high" risk level and up (DESIGN 4.5)."""
DELAYS_S: tuple[float, ...] = (10.0, 20.0, 30.0)
"""Candidate debounce delays [s] (two to six SCD41 readings at the 5-s period)."""


@dataclass(frozen=True)
class OperatingPoint:
    """The chosen alarm parameters, whether they meet the budget, and every candidate's
    validation figures (threshold, delay [s], detection rate, median TTD [s], false-alarm
    share)."""

    params: AlarmParams
    within_budget: bool
    candidates: list[dict[str, Any]]


def choose_operating_point(
    rows: pd.DataFrame,
    p: np.ndarray,
    scenarios: Mapping[str, tuple[str, bool, float | None]],
    budget: float,
    base: AlarmParams | None = None,
) -> OperatingPoint:
    """Choose the alarm threshold and delay for scored validation ``rows`` (scenario_id,
    device_id, t_s) with fire probabilities ``p``.

    Candidates with a nuisance false-alarm share <= ``budget`` rank by detection rate, then by
    shorter median time to detect; when none is within the budget, the one with the fewest
    false alarms (then the best detection) is chosen and ``within_budget`` is False.
    ``clear_threshold`` and ``delay_off_s`` come from ``base``.
    """
    if not 0.0 <= budget <= 1.0:
        raise ValueError(f"false-alarm budget must be in [0, 1], got {budget}")
    if rows.empty:
        raise ValueError("no validation rows to choose an alarm operating point on")
    base = base or AlarmParams()
    candidates: list[dict[str, Any]] = []
    for threshold in THRESHOLDS:
        for delay in DELAYS_S:
            params = AlarmParams(
                threshold=threshold,
                clear_threshold=min(base.clear_threshold, threshold),
                delay_on_s=delay,
                delay_off_s=base.delay_off_s,
            )
            m = scenario_metrics(outcomes(rows, p, scenarios, params))
            candidates.append(
                {
                    "threshold": threshold,
                    "delay_on_s": delay,
                    "detection_rate": m["detection_rate"] or 0.0,
                    "ttd_median_s": m["ttd_median_s"],
                    "false_alarm_scenario_rate": m["false_alarm_scenario_rate"] or 0.0,
                    "params": params,
                }
            )

    def speed(c: dict[str, Any]) -> float:
        return float("inf") if c["ttd_median_s"] is None else float(c["ttd_median_s"])

    within = [c for c in candidates if c["false_alarm_scenario_rate"] <= budget + 1e-12]
    if within:
        best = min(within, key=lambda c: (-c["detection_rate"], speed(c)))
    else:
        best = min(
            candidates,
            key=lambda c: (c["false_alarm_scenario_rate"], -c["detection_rate"], speed(c)),
        )
    table = [{k: v for k, v in c.items() if k != "params"} for c in candidates]
    return OperatingPoint(best["params"], bool(within), table)
