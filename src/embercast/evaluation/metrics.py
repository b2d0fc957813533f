"""Honest evaluation: scenario-level detection and false alarms through the live alarm decision,
plus row-level ROC-AUC, PR-AUC and Brier score (DESIGN 4.4).

Rows are scored per device in time order; each device's probabilities go through
:class:`~embercast.alarm.decision.AlarmDecision`. A fire scenario is detected when any of
its devices is in alarm at or after ignition; its time to detect is that first time minus the
ignition time. An alarm raised before ignition, or in a non-fire scenario, is a false alarm.

With a zone policy (:class:`~embercast.alarm.zone.ZoneParams`), a scenario's room is one zone:
all its devices' readings go, in time order, through the live
:class:`~embercast.alarm.zone.ZoneMachine`, and the scenario is detected when the zone is in
``ALARM``. Its latched alarm is reset as soon as no device's decision holds it (an operator who
investigates and resets), so a false alarm before ignition does not pass for a detection.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from embercast.alarm.decision import AlarmDecision, AlarmParams
from embercast.alarm.heat import HeatWatch
from embercast.alarm.zone import ZoneMachine, ZoneParams, ZoneState
from embercast.errors import InputError
from embercast.models.augment import THERMAL_FLAG

HEAT_COLUMN = "scd_temp_val"
"""Feature column holding a device's SCD41 temperature [°C] (extended feature set)."""
CO2_COLUMNS = ("gas_val", "gas_vel")
"""Feature columns of a device's CO2 [ppm] and its 60-s rate of rise [ppm/s]: the CO2 path of
the alarm decision reads them."""
CO2_PATH_COLUMNS = (*CO2_COLUMNS, THERMAL_FLAG)
"""Every column :func:`co2_inputs` reads."""


def _column(rows: pd.DataFrame, name: str) -> np.ndarray:
    return rows[name].to_numpy(float) if name in rows else np.full(len(rows), np.nan)


def co2_path_input(co2_ppm: float, rate_ppm_s: float, thermal_ok: float) -> tuple[float, float]:
    """What the alarm decision's CO2 path reads from a row: its CO2 [ppm] and 60-s rate
    [ppm/s], or NaN for both where the row has its camera (``thermal_ok`` 1): a device that sees
    the room decides on p alone, one without a camera keeps a CO2 detector's criterion.

    >>> co2_path_input(900.0, 3.0, 0.0), co2_path_input(900.0, 3.0, 1.0)
    ((900.0, 3.0), (nan, nan))
    """
    if thermal_ok == 1.0:
        return math.nan, math.nan
    return co2_ppm, rate_ppm_s


def co2_inputs(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """:func:`co2_path_input` of every row (NaN where a column is missing; a row without
    ``thermal_ok`` has no camera)."""
    level, rate = _column(rows, CO2_COLUMNS[0]), _column(rows, CO2_COLUMNS[1])
    seen = _column(rows, THERMAL_FLAG) == 1.0
    return np.where(seen, np.nan, level), np.where(seen, np.nan, rate)


@dataclass(frozen=True)
class Outcome:
    """What the alarm decision did in one scenario."""

    scenario_id: str
    scenario_class: str
    is_fire: bool
    ignition_s: float | None
    detect_s: float | None
    """First time [s] at or after ignition with an active alarm (fire scenarios)."""
    false_alarms: int
    """Alarm onsets during non-fire time (all of a nuisance scenario, or before ignition)."""
    nonfire_device_hours: float

    @property
    def ttd_s(self) -> float | None:
        """Time to detect [s] (None when not detected or not a fire)."""
        if self.detect_s is None or self.ignition_s is None:
            return None
        return self.detect_s - self.ignition_s


def outcomes(
    rows: pd.DataFrame,
    p: np.ndarray,
    scenarios: Mapping[str, tuple[str, bool, float | None]],
    params: AlarmParams | None = None,
    zone: ZoneParams | None = None,
) -> list[Outcome]:
    """Run the alarm decision over scored rows.

    ``rows`` has scenario_id, device_id, t_s, and when the feature set has it the device's SCD41
    temperature (``scd_temp_val``), whose heat evidence the decision takes too
    (:mod:`embercast.alarm.heat`); ``p`` the fire probability of each row; ``scenarios`` maps
    scenario_id -> (scenario_class, is_fire, ignition_s). With ``zone``, each scenario's
    devices form one zone of that policy (see the module docstring).
    """
    co2, co2_rate = co2_inputs(rows)
    frame = rows[["scenario_id", "device_id", "t_s"]].assign(
        p=np.asarray(p, dtype=float),
        temperature=_column(rows, HEAT_COLUMN),
        co2=co2,
        co2_rate=co2_rate,
    )
    if zone is not None:
        return [
            _zone_outcome(str(sid), group, scenarios[str(sid)], params or AlarmParams(), zone)
            for sid, group in frame.groupby("scenario_id", sort=True)
        ]
    result: list[Outcome] = []
    for sid, group in frame.groupby("scenario_id", sort=True):
        cls, is_fire, ign = scenarios[str(sid)]
        detect: float | None = None
        false_alarms = 0
        hours = 0.0
        for _, dev in group.groupby("device_id", sort=True):
            dev = dev.sort_values("t_s")
            t = dev["t_s"].to_numpy()
            period = float(np.median(np.diff(t))) if len(t) > 1 else 5.0
            fire_time = t >= ign if (is_fire and ign is not None) else np.zeros(len(t), bool)
            hours += float((~fire_time).sum()) * period / 3600.0
            decision = AlarmDecision(params)
            watch = HeatWatch()
            # Python floats and bools (tolist), not numpy scalars: the loop runs per reading
            columns = [dev[c].to_numpy(float).tolist() for c in ("p", "temperature", "co2",
                                                                "co2_rate")]  # fmt: skip
            times = t.astype(float).tolist()
            for ti, pi, ci, gi, ri, burning in zip(times, *columns, fire_time.tolist(),
                                                   strict=True):  # fmt: skip
                heat = watch.update(ti, ci)
                active = decision.update(ti, pi, heat, gi, ri)
                if decision.onset and not burning:
                    false_alarms += 1
                if active and burning and (detect is None or ti < detect):
                    detect = ti
        result.append(Outcome(str(sid), cls, is_fire, ign, detect, false_alarms, hours))
    return result


def _zone_outcome(
    sid: str,
    group: pd.DataFrame,
    scenario: tuple[str, bool, float | None],
    params: AlarmParams,
    policy: ZoneParams,
) -> Outcome:
    """One scenario's devices as one zone of ``policy``: what its alarms did."""
    cls, is_fire, ign = scenario
    ordered = group.sort_values(["t_s", "device_id"], kind="stable")
    machine = ZoneMachine(sid, params, policy)
    watches: dict[str, HeatWatch] = {}
    detect: float | None = None
    false_alarms = 0
    hours = 0.0
    for _, dev in group.groupby("device_id", sort=True):
        times = np.sort(dev["t_s"].to_numpy(float))
        period = float(np.median(np.diff(times))) if len(times) > 1 else 5.0
        nonfire = int((times < ign).sum()) if (is_fire and ign is not None) else len(times)
        hours += nonfire * period / 3600.0
    devices = [str(d) for d in ordered["device_id"].to_numpy()]
    names = ("t_s", "p", "temperature", "co2", "co2_rate")
    columns = [ordered[c].to_numpy(float).tolist() for c in names]  # Python floats, as above
    for device, now, pi, ci, gi, ri in zip(devices, *columns, strict=True):
        watch = watches.get(device)
        if watch is None:
            watch = watches[device] = HeatWatch()
        heat = watch.update(now, ci)
        machine.update(device, now, pi, heat, gi, ri)
        burning = is_fire and ign is not None and now >= ign
        for event in machine.drain():
            if event.kind == "alarm" and not burning:
                false_alarms += 1
        if machine.get() is ZoneState.ALARM and burning and detect is None:
            detect = now
        if machine.latched and not any(d.decision.active for d in machine.devices.values()):
            machine.reset(now, "evaluation")
            machine.drain()
    return Outcome(sid, cls, is_fire, ign, detect, false_alarms, hours)


def _quantile(values: list[float], q: float) -> float | None:
    return float(np.quantile(values, q)) if values else None


def wilson_interval(k: int, n: int, z: float = 1.959964) -> tuple[float, float] | None:
    """Wilson score interval of a share of ``k`` in ``n`` scenarios (95 % for the default z):
    how far a detection rate or false-alarm share measured on a few dozen or hundred scenarios
    may lie from the rate the generator's conditions would give on many more. None when n is 0.

    .. [1] E. B. Wilson, "Probable inference, the law of succession, and statistical
       inference", J. Am. Stat. Assoc. 22 (1927) 209-212.
    """
    if n <= 0:
        return None
    if not 0 <= k <= n:
        raise InputError(f"a share needs 0 <= k <= n, got k={k}, n={n}")
    share = k / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    low = 0.0 if k == 0 else max(0.0, centre - half)  # exact ends: no 1e-17 from rounding
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def _detected(items: list[Outcome]) -> dict[str, Any]:
    """Scenarios, detected, detection rate and its 95 % Wilson interval of some fires."""
    k = sum(1 for o in items if o.detect_s is not None)
    return {
        "scenarios": len(items),
        "detected": k,
        "detection_rate": k / len(items) if items else None,
        "detection_rate_ci95": wilson_interval(k, len(items)),
    }


def scenario_metrics(
    found: list[Outcome], in_view: Mapping[str, bool] | None = None
) -> dict[str, Any]:
    """Per fire class: detection rate with its 95 % Wilson interval, median and p90 time to
    detect [s]; per non-fire class: share of scenarios with any false alarm (and its interval);
    false alarms per 1,000 device-hours of non-fire time (nuisance, normal and pre-ignition).

    With ``in_view`` (scenario_id -> whether the fire starts in a camera's field of view, see
    :mod:`embercast.synth.camera_coverage`), each fire class, and all fires, also get the detection
    of the fires ``in_view`` and ``out_of_view`` (fires it does not list are in neither)."""
    by_class: dict[str, list[Outcome]] = {}
    for o in found:
        by_class.setdefault(o.scenario_class, []).append(o)
    fire: dict[str, dict[str, Any]] = {}
    nuisance: dict[str, dict[str, Any]] = {}
    for cls, items in sorted(by_class.items()):
        if items[0].is_fire:
            ttd = [o.ttd_s for o in items if o.ttd_s is not None]
            fire[cls] = {
                "scenarios": len(items),
                "detection_rate": len(ttd) / len(items),
                "detection_rate_ci95": wilson_interval(len(ttd), len(items)),
                "ttd_median_s": _quantile(ttd, 0.5),
                "ttd_p90_s": _quantile(ttd, 0.9),
            }
            if in_view:
                fire[cls].update(_coverage(items, in_view))
        else:
            alarmed = sum(1 for o in items if o.false_alarms > 0)
            nuisance[cls] = {
                "scenarios": len(items),
                "false_alarm_scenario_rate": alarmed / len(items),
                "false_alarm_scenario_rate_ci95": wilson_interval(alarmed, len(items)),
            }
    hours = sum(o.nonfire_device_hours for o in found)
    onsets = sum(o.false_alarms for o in found)
    fires = [o for o in found if o.is_fire]
    nuisances = [o for o in found if not o.is_fire]
    all_ttd = [o.ttd_s for o in fires if o.ttd_s is not None]
    alarmed_all = sum(1 for o in nuisances if o.false_alarms > 0)
    return {
        "fire_classes": fire,
        "nuisance_classes": nuisance,
        **(_coverage(fires, in_view) if in_view else {}),
        "detection_rate": (len(all_ttd) / len(fires)) if fires else None,
        "detection_rate_ci95": wilson_interval(len(all_ttd), len(fires)),
        "ttd_median_s": _quantile(all_ttd, 0.5),
        "ttd_p90_s": _quantile(all_ttd, 0.9),
        "false_alarm_scenario_rate": alarmed_all / len(nuisances) if nuisances else None,
        "false_alarm_scenario_rate_ci95": wilson_interval(alarmed_all, len(nuisances)),
        "false_alarms_per_1000_device_hours": 1000.0 * onsets / hours if hours > 0 else None,
    }


def _coverage(items: list[Outcome], in_view: Mapping[str, bool]) -> dict[str, Any]:
    """Detection of the fires among ``items`` in and out of a camera's field of view."""
    return {
        "in_view": _detected([o for o in items if in_view.get(o.scenario_id) is True]),
        "out_of_view": _detected([o for o in items if in_view.get(o.scenario_id) is False]),
    }


def row_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float | None]:
    """ROC-AUC, PR-AUC (average precision) and Brier score over rows with a probability."""
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    ok = ~np.isnan(p)
    y, p = y[ok], p[ok]
    if y.size == 0 or y.min() == y.max():
        return {"roc_auc": None, "pr_auc": None, "brier": None}
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, np.clip(p, 0.0, 1.0))),
    }


def nan_to_none(value: object) -> object:
    """JSON-friendly: NaN floats become None."""
    return None if isinstance(value, float) and math.isnan(value) else value
