"""Evaluation: the cases to look at, the goals, and train -> evaluate -> report end to end on the
real generator, beside the baselines."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from embercast.alarm.decision import AlarmParams
from embercast.cli import app
from embercast.evaluation.evaluate import Evaluated, alarm_params, cases, goals
from embercast.evaluation.metrics import outcomes
from embercast.evaluation.operating_point import DELAYS_S, THRESHOLDS
from embercast.models.persistence import load_model
from helpers import scored

runner = CliRunner()


def test_cases_list_missed_fires_and_false_alarms_with_their_evidence() -> None:
    frame, facts = scored()
    late = frame[frame.scenario_id == "f1"].assign(scenario_id="f2", device_id="f2-d0", p=0.3)
    frame = pd.concat([frame, late], ignore_index=True)
    facts = {**facts, "f2": ("smouldering", True, 100.0)}
    fire = [
        int(facts[s][1] and t >= 100.0) for s, t in zip(frame.scenario_id, frame.t_s, strict=True)
    ]
    # evidence: f2's CO2 rises to 150 ppm after ignition (400 before, which must not count)
    rise = np.where(frame.scenario_id == "f2", np.where(frame.t_s < 100, 400.0, 150.0), 20.0)
    frame = frame.assign(fire=fire, gas_rise_1800=rise)
    found = outcomes(frame, frame.p.to_numpy(), facts, AlarmParams(delay_on_s=10.0))
    got = cases(frame, frame.p.to_numpy(), found, {"f1": True, "f2": False})
    assert got["missed_fires"] == [
        {
            "scenario_id": "f2",
            "scenario_class": "smouldering",
            "p_max": 0.3,
            "co2_rise_30min_max_ppm": 150.0,
            "in_view": False,
        }
    ]  # no hot-spot column in these rows: no hot-spot evidence
    assert got["false_alarm_scenarios"] == [
        {
            "scenario_id": "n2",
            "scenario_class": "toaster",
            "p_max": 0.95,
            "co2_rise_30min_max_ppm": 20.0,
            "false_alarms": 1,
        }
    ]  # n1's one-row spike was debounced


def test_train_then_evaluate_beside_the_baselines(features: Path, tmp_path: Path) -> None:
    model = tmp_path / "gbm.pkl"
    result = runner.invoke(
        app, ["train", str(features), "--model", "gbm", "--out", str(model), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows"] > 0 and (tmp_path / "gbm.pkl.json").exists()
    held = summary["held_out"]
    assert held["detection_rate"] <= 1.0 and 0.0 <= held["detection_rate_in_view"] <= 1.0
    # the alarm operating point was chosen on the val scenarios and travels with the model
    alarm = summary["alarm"]
    assert alarm["chosen_on"] == "val" and alarm["budget"] == 0.02
    assert alarm["threshold"] in THRESHOLDS and alarm["delay_on_s"] in DELAYS_S
    assert alarm["slow_threshold"] is None  # on val the slow path is opt-in
    assert len(alarm["candidates"]) == len(THRESHOLDS) * len(DELAYS_S)
    assert alarm_params(load_model(str(model))) == AlarmParams(
        threshold=alarm["threshold"],
        delay_on_s=alarm["delay_on_s"],
        slow_threshold=alarm["slow_threshold"],
        slow_window_s=alarm["slow_window_s"],
    )
    report = tmp_path / "report"
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--model",
            str(model),
            "--data",
            str(features),
            "--out",
            str(report),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout)
    for key in (
        "roc_auc",
        "pr_auc",
        "brier",
        "detection_rate",
        "false_alarms_per_1000_device_hours",
    ):
        assert key in m
    assert all({"ttd_median_s", "ttd_p90_s"} <= set(v) for v in m["fire_classes"].values())
    assert all("false_alarm_scenario_rate" in v for v in m["nuisance_classes"].values())
    doc = json.loads((report / "metrics.json").read_text())
    # 24 scenarios (about 8 to train on): the model ranks rows better than the reference
    # design's random forest and the single-signal baselines
    assert m["roc_auc"] > 0.7
    for baseline in ("rate_of_rise", "hotspot", "reference_rf"):
        assert m["roc_auc"] > doc["detectors"][baseline]["roc_auc"], baseline
    assert set(doc["detectors"]) == {
        "gbm",
        "rate_of_rise",
        "co2_threshold",
        "hotspot",
        "reference_rf",
    }
    lines = (report / "report.md").read_text().splitlines()
    assert sum(line.startswith("| reference_rf |") for line in lines) == 1  # one summary row
    # the alarm rule behind each detector's figures: the model's chosen one, 0.5 for baselines
    rule = load_model(str(model)).alarm_.describe()
    assert m["alarm"]["rule"] == rule == alarm["rule"]
    assert any(line.startswith(f"| gbm | {rule} |") for line in lines)
    assert doc["detectors"]["co2_threshold"]["alarm"]["threshold"] == 0.5
    assert (report / "curves.png").stat().st_size > 10_000 and (report / "scenarios.png").exists()
    # the zone policies beside the single-device decision: a zone of any device decides as
    # its devices do; a second device confirming never alarms more
    zones = m["zone_policies"]
    assert set(zones) == {"zone: any device", "zone: a second device confirms"}
    any_device = zones["zone: any device"]
    for key in ("detection_rate", "ttd_median_s", "false_alarm_scenario_rate"):
        assert any_device[key] == m[key], key
    confirmed = zones["zone: a second device confirms"]
    assert confirmed["false_alarm_scenario_rate"] <= m["false_alarm_scenario_rate"]
    assert "## Zone policies" in lines
    assert any(line.startswith("| zone: a second device confirms | gbm | ") for line in lines)
    # the goals, computed from the same figures, in the JSON, metrics.json and the report
    assert m["goals"] == doc["goals"]
    least = m["goals"]["every_fire_class_detected"]
    rates = {c: v["detection_rate"] for c, v in m["fire_classes"].items()}
    assert least["detection_rate"] == min(rates.values())
    assert least["reached"] == (min(rates.values()) == 1.0)
    assert m["goals"]["false_alarms"]["share"] == m["false_alarm_scenario_rate"]
    assert m["goals"]["speedup"]["baseline"] == m["versus"]["baseline"]
    assert "## Goals for gbm on these scenarios" in lines
    assert any(line.startswith("| every fire class detected (100 %) | **") for line in lines)
    lo, hi = m["detection_rate_ci95"]
    assert lo <= m["detection_rate"] <= hi
    # fires split by camera coverage, as the generator recorded it (furniture counted)
    fires = sum(v["scenarios"] for v in m["fire_classes"].values())
    assert m["in_view"]["scenarios"] + m["out_of_view"]["scenarios"] == fires
    assert m["in_view"]["scenarios"] > 0
    assert all(
        v["in_view"]["scenarios"] + v["out_of_view"]["scenarios"] == v["scenarios"]
        for v in m["fire_classes"].values()
    )
    assert (
        least["in_view"]["scenarios"]
        == m["fire_classes"][least["in_view"]["least_detected_class"]]["in_view"]["scenarios"]
    )
    assert any(
        line.startswith("| the same, over the fires that start in sight of a camera | **")
        for line in lines
    )
    assert any(line.startswith("## Fire classes by camera coverage") for line in lines)
    assert any("95 % interval" in line for line in lines if line.startswith("| nuisance"))
    # per class: the scenario count beside the name, the detection rate or false-alarm share
    # with its interval in brackets
    fire_row = re.compile(r"^\| [a-z_]+ \(\d+\) \| [0-9.]+ \[[0-9.e-]+-[0-9.e-]+\], ")
    start = lines.index(
        "## Fire classes (detection rate [95 % interval], median / p90 time to detect)"
    )
    classes = lines[start + 4 : start + 4 + len(m["fire_classes"])]
    assert classes and all(fire_row.match(line) for line in classes), classes
    share_row = re.compile(r"^\| [a-z_]+ \(\d+\) \| [0-9.e-]+ \[[0-9.e-]+-[0-9.e-]+\] \|")
    assert sum(bool(share_row.match(line)) for line in lines) == len(m["nuisance_classes"])
    # the scenarios to look at: every missed fire and every nuisance scenario that alarmed
    nuisances = sum(v["scenarios"] for v in m["nuisance_classes"].values())
    assert len(doc["cases"]["missed_fires"]) == fires - round(m["detection_rate"] * fires)
    assert len(doc["cases"]["false_alarm_scenarios"]) == round(
        m["false_alarm_scenario_rate"] * nuisances
    )
    assert all(
        {"p_max", "co2_rise_30min_max_ppm", "new_hot_spot_max_k", "in_view"} <= set(c)
        for c in doc["cases"]["missed_fires"]
    )
    assert "## Scenarios to look at for gbm" in lines
    title = f"### Missed fires (evidence after ignition) ({len(doc['cases']['missed_fires'])})"
    assert title in lines
    # models side by side: two copies of the model (same stem: named by their paths) and a
    # baseline named again, which is evaluated once; the goals and cases are the first's
    twin = tmp_path / "twin"
    twin.mkdir()
    for suffix in ("", ".json"):
        shutil.copy(f"{model}{suffix}", twin / f"gbm.pkl{suffix}")
        shutil.copy(f"{model}{suffix}", twin / f"co2_threshold.pkl{suffix}")
    side = tmp_path / "side"
    refs = ["--model", str(model), "--model", str(twin / "gbm.pkl"), "--model", "hotspot"]
    refs += ["--model", str(twin / "co2_threshold.pkl")]  # a file named as a baseline
    result = runner.invoke(
        app, ["evaluate", *refs, "--data", str(features), "--out", str(side), "--json"]
    )
    assert result.exit_code == 0, result.output
    both = json.loads(result.stdout)
    doc = json.loads((side / "metrics.json").read_text())
    copies = [str(twin / "gbm.pkl"), str(twin / "co2_threshold.pkl")]
    names = [str(model), *copies, "hotspot", "rate_of_rise", "co2_threshold"]
    assert set(doc["detectors"]) == {*names, "reference_rf"}
    assert sorted(both["compared"]) == sorted(copies)
    assert all(both["compared"][c] == doc["detectors"][str(model)] for c in copies)
    assert doc["detectors"]["co2_threshold"]["alarm"]["threshold"] == 0.5  # the baseline
    assert both["detection_rate"] == m["detection_rate"] and both["goals"] == m["goals"]
    assert doc["cases"] == json.loads((report / "metrics.json").read_text())["cases"]
    lines = (side / "report.md").read_text().splitlines()
    assert f"## Goals for {model} on these scenarios" in lines
    summary = lines[lines.index("## Summary") + 4 :][:7]
    assert [line.split(" | ")[0][2:] for line in summary] == [
        str(model),
        str(twin / "gbm.pkl"),
        "hotspot",
        str(twin / "co2_threshold.pkl"),
        "rate_of_rise",
        "co2_threshold",
        "reference_rf",
    ]
    assert summary[1].startswith(f"| {twin / 'gbm.pkl'} | {rule} |")
    twice = runner.invoke(
        app, ["evaluate", *refs, "--model", "hotspot", "--data", str(features), "--out", str(side)]
    )
    assert twice.exit_code == 2 and "--model 'hotspot' is given twice" in twice.output


def test_goals_are_judged_from_the_figures() -> None:
    def ev(name: str, fa: float, ttd: float, classes: dict[str, tuple[float, float]]) -> Evaluated:
        metrics = {
            "ttd_median_s": ttd,
            "false_alarm_scenario_rate": fa,
            "fire_classes": {
                c: {"scenarios": 20, "detection_rate": rate, "ttd_median_s": t}
                for c, (rate, t) in classes.items()
            },
            "nuisance_classes": {"toaster": {"scenarios": 50}, "steam": {"scenarios": 50}},
        }
        return Evaluated(name, np.zeros(0), [], metrics, baseline=name != "m")

    model = ev("m", 0.01, 40.0, {"flaming_fire": (1.0, 20.0), "smouldering": (0.9, 600.0)})
    quiet = ev("rate_of_rise", 0.0, 150.0, {"flaming_fire": (0.8, 100.0)})
    fast = ev("hotspot", 0.03, 30.0, {"flaming_fire": (1.0, 15.0)})  # too many false alarms
    g = goals([model, quiet, fast], "m")
    every = g["every_fire_class_detected"]
    assert (every["least_detected_class"], every["detected"], every["reached"]) == (
        "smouldering",
        18,
        False,
    )
    # the hotspot is faster but alarms more: the comparison is the quiet baseline, 3.75x
    assert g["speedup"]["baseline"] == "rate_of_rise" and g["speedup"]["reached"]
    assert g["speedup"]["speedup"] == pytest.approx(150.0 / 40.0)
    per = g["speedup"]["fire_classes"]
    assert per["flaming_fire"]["speedup"] == pytest.approx(5.0)
    assert per["smouldering"]["speedup"] is None  # the baseline finds none
    assert g["false_alarms"] == {
        "goal": 0.02,
        "share": 0.01,
        "share_ci95": None,
        "nuisance_scenarios": 100,
        "reached": True,
    }
    # the same goal over the fires in a camera's view, when the figures know coverage
    assert every["in_view"] is None
    viewed = {"scenarios": 15, "detected": 15, "detection_rate": 1.0}
    model.metrics["fire_classes"]["smouldering"]["in_view"] = viewed
    model.metrics["fire_classes"]["flaming_fire"]["in_view"] = {**viewed, "detection_rate": 0.9}
    seen = goals([model, quiet, fast], "m")["every_fire_class_detected"]["in_view"]
    assert seen["least_detected_class"] == "flaming_fire" and seen["detected"] == 14
    assert not seen["reached"]
    model.metrics["fire_classes"]["flaming_fire"]["in_view"] = viewed
    seen = goals([model, quiet, fast], "m")["every_fire_class_detected"]["in_view"]
    assert seen["reached"] and seen["detection_rate"] == 1.0
    assert not goals([model, quiet, fast], "m")["every_fire_class_detected"]["reached"]
    # another model beside it, faster and quieter, is no baseline: the goal stays the same
    other = ev("m", 0.0, 10.0, {"flaming_fire": (1.0, 5.0)})
    other.name = "other"
    assert goals([model, other, quiet, fast], "m")["speedup"] == g["speedup"]
    slow = ev("m", 0.05, 100.0, {"flaming_fire": (1.0, 100.0)})
    g = goals([slow, quiet, fast], "m")
    assert g["every_fire_class_detected"]["reached"] and not g["false_alarms"]["reached"]
    # alarming in 5 % of nuisance scenarios, it is compared with the hotspot, which is faster
    assert g["speedup"]["baseline"] == "hotspot" and not g["speedup"]["reached"]


def test_evaluate_a_baseline_and_bad_references(features: Path, tmp_path: Path) -> None:
    ok = runner.invoke(
        app,
        [
            "evaluate",
            "--model",
            "co2_threshold",
            "--data",
            str(features),
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert ok.exit_code == 0, ok.output
    # the goals in words, judged for the evaluated detector against the other baselines
    assert "goals: every fire class detected: " in ok.output
    assert "2x earlier than the best baseline: " in ok.output
    doc = json.loads((tmp_path / "r" / "metrics.json").read_text())
    fa = doc["goals"]["false_alarms"]
    verdict = "reached" if fa["reached"] else "not reached"
    assert (
        f"false alarms in <= 2 % of nuisance scenarios: {verdict} ({fa['share']:.3g})" in ok.output
    )
    # the SCD41s are supervised unless asked not to; the report says which
    faults = doc["detectors"]["co2_threshold"]["sensor_fault_scenarios"]
    n = sum(c["with_fault"] for c in faults.values())
    report = (tmp_path / "r" / "report.md").read_text()
    assert f"- sensor supervision: on ({n} scenarios with a sensor FAULT)" in report
    off = runner.invoke(
        app,
        ["evaluate", "--model", "co2_threshold", "--data", str(features), "--out",
         str(tmp_path / "r0"), "--no-sensor-health"],
    )  # fmt: skip
    assert off.exit_code == 0, off.output
    assert "- sensor supervision: off" in (tmp_path / "r0" / "report.md").read_text()
    doc0 = json.loads((tmp_path / "r0" / "metrics.json").read_text())
    assert "sensor_fault_scenarios" not in doc0["detectors"]["co2_threshold"]
    # without cameras the hot-spot threshold sees nothing (only the heat path is left to it)
    assert doc["detectors"]["hotspot"]["roc_auc"] > 0.5
    blind = runner.invoke(
        app,
        ["evaluate", "--model", "co2_threshold", "--data", str(features), "--out",
         str(tmp_path / "r1"), "--no-camera"],
    )  # fmt: skip
    assert blind.exit_code == 0, blind.output
    doc1 = json.loads((tmp_path / "r1" / "metrics.json").read_text())
    assert doc1["detectors"]["hotspot"]["roc_auc"] == 0.5
    assert doc1["detectors"]["co2_threshold"] == doc["detectors"]["co2_threshold"]  # gas alone
    assert (
        "- cameras: off: every device scored without one"
        in (tmp_path / "r1" / "report.md").read_text()
    )
    bad = runner.invoke(
        app, ["evaluate", "--model", "nope", "--data", str(features), "--out", str(tmp_path / "r")]
    )
    assert bad.exit_code == 2 and "no saved model at 'nope'" in bad.output
    bad = runner.invoke(
        app, ["train", str(tmp_path), "--model", "rf", "--out", str(tmp_path / "m.pkl")]
    )
    assert bad.exit_code == 2 and "not a complete feature set" in bad.output
    bad = runner.invoke(app, ["train", str(features), "--model", "svm"])
    assert bad.exit_code == 2 and "invalid --model 'svm'" in bad.output
    (tmp_path / "x.pkl").write_bytes(b"garbage")
    garbage = hashlib.sha256(b"garbage").hexdigest()  # recorded: the file is what was saved
    (tmp_path / "x.pkl.json").write_text(
        f'{{"format": "embercast-model/1", "sha256": "{garbage}"}}'
    )
    bad = runner.invoke(
        app,
        [
            "evaluate",
            "--model",
            str(tmp_path / "x.pkl"),
            "--data",
            str(features),
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert bad.exit_code == 2 and "cannot be loaded" in bad.output
