"""The evaluation report: Markdown with plots, every detector beside the baselines."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

from embercast.evaluation.evaluate import Evaluated, goals  # noqa: E402


def _fmt(value: Any, unit: str = "", digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}{unit}"
    return f"{value}{unit}"


def _plots(results: list[Evaluated], y: np.ndarray, out: Path) -> list[str]:
    names = []
    fig, (ax_roc, ax_pr, ax_cal) = plt.subplots(1, 3, figsize=(16, 5))
    for r in results:
        ok = ~np.isnan(r.p)
        if len(np.unique(y[ok])) < 2:
            continue
        fpr, tpr, _ = roc_curve(y[ok], r.p[ok])
        ax_roc.plot(fpr, tpr, label=r.name)
        prec, rec, _ = precision_recall_curve(y[ok], r.p[ok])
        ax_pr.plot(rec, prec, label=r.name)
        frac, mean = calibration_curve(y[ok], np.clip(r.p[ok], 0, 1), n_bins=10, strategy="uniform")
        ax_cal.plot(mean, frac, "o-", label=r.name)
    ax_roc.set(xlabel="false positive rate (rows)", ylabel="true positive rate", title="ROC")
    ax_pr.set(xlabel="recall (rows)", ylabel="precision", title="precision-recall")
    ax_cal.plot([0, 1], [0, 1], "k:", lw=1)
    ax_cal.set(xlabel="predicted probability", ylabel="observed fire share", title="calibration")
    for ax in (ax_roc, ax_pr, ax_cal):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # no curve when the rows hold one class only
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=80)
    plt.close(fig)
    names.append("curves.png")

    fire_classes = sorted({o.scenario_class for r in results for o in r.outcomes if o.is_fire})
    nuisance = sorted({o.scenario_class for r in results for o in r.outcomes if not o.is_fire})
    fig, (ax_t, ax_f) = plt.subplots(1, 2, figsize=(16, 5))
    width = 0.8 / max(len(results), 1)
    for k, r in enumerate(results):
        data = [
            [o.ttd_s / 60.0 for o in r.outcomes if o.scenario_class == c and o.ttd_s is not None]
            for c in fire_classes
        ]
        pos = np.arange(len(fire_classes)) + k * width
        color = f"C{k}"
        if fire_classes:
            ax_t.boxplot([d or [np.nan] for d in data], positions=pos, widths=width * 0.9,
                         manage_ticks=False, patch_artist=True,
                         boxprops={"facecolor": color, "alpha": 0.6},
                         medianprops={"color": "black"})  # fmt: skip
        ax_t.plot([], [], color=color, lw=6, alpha=0.6, label=r.name)
        rates = [
            np.mean([o.false_alarms > 0 for o in r.outcomes if o.scenario_class == c])
            for c in nuisance
        ]
        if nuisance:
            ax_f.bar(np.arange(len(nuisance)) + k * width, rates, width, label=r.name, color=color)
    ax_t.set_xticks(np.arange(len(fire_classes)) + 0.4 - width / 2, fire_classes, rotation=20)
    ax_t.set(ylabel="time to detect [min]", title="time to detect per fire class")
    ax_f.set_xticks(np.arange(len(nuisance)) + 0.4 - width / 2, nuisance, rotation=45, ha="right")
    ax_f.set(
        ylabel="share of scenarios with a false alarm", title="false alarms per nuisance class"
    )
    for ax in (ax_t, ax_f):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "scenarios.png", dpi=80)
    plt.close(fig)
    names.append("scenarios.png")
    return names


def _ci(interval: Any) -> str:
    """``; 95 % interval lo-hi`` for a (lo, hi) pair, nothing without one."""
    if not interval:
        return ""
    return f"; 95 % interval {_fmt(interval[0])}-{_fmt(interval[1])}"


def _bracket(interval: Any) -> str:
    """`` [lo-hi]`` for a (lo, hi) pair, two significant digits; nothing without one."""
    if not interval:
        return ""
    return f" [{_fmt(interval[0], digits=2)}-{_fmt(interval[1], digits=2)}]"


def _share(m: dict[str, Any] | None) -> str:
    """``0.95 (319 of 336)``: a detection rate with its count; ``-`` without fires."""
    if not m or not m["scenarios"]:
        return "-"
    return f"{_fmt(m['detection_rate'])} ({m['detected']} of {m['scenarios']})"


def _yes(reached: bool) -> str:
    return "**reached**" if reached else "**not reached**"


def _least(every: dict[str, Any]) -> str:
    """The least detected class of an every-fire-class goal, its rate, count and interval."""
    if every["least_detected_class"] is None:
        return "-"
    return (
        f"least detected: {every['least_detected_class']}, {_fmt(every['detection_rate'])}"
        f" ({every['detected']} of {every['scenarios']}{_ci(every['detection_rate_ci95'])})"
    )


def _goal_lines(g: dict[str, Any], model: str) -> list[str]:
    """The goals section: one row per goal, then the speed-up per fire class."""
    every, speed, fa = g["every_fire_class_detected"], g["speedup"], g["false_alarms"]
    seen = every.get("in_view")
    rival = (
        "no baseline with at most the same false-alarm share"
        if speed["baseline"] is None
        else f"{speed['baseline']} {_fmt(speed['baseline_ttd_median_s'], ' s')}, "
        f"{_fmt(speed['speedup'], 'x')}"
    )
    alarmed = round((fa["share"] or 0.0) * fa["nuisance_scenarios"])
    lines = [
        "",
        f"## Goals for {model} on these scenarios",
        "",
        "| goal | result | figure |",
        "|---|---|---|",
        f"| every fire class detected ({_fmt(100 * every['goal'], ' %')}) | "
        f"{_yes(every['reached'])} | {_least(every)} |",
        *(
            []
            if seen is None
            else [
                "| the same, over the fires that start in sight of a camera | "
                f"{_yes(seen['reached'])} | {_least(seen)} |"
            ]
        ),
        f"| median time to detect at least {_fmt(speed['goal'], 'x')} earlier than the best "
        f"baseline with at most the same false-alarm share | {_yes(speed['reached'])} | {rival} |",
        f"| nuisance scenarios with a false alarm <= {_fmt(100 * fa['goal'], ' %')} | "
        f"{_yes(fa['reached'])} | {_fmt(fa['share'])} "
        f"({alarmed} of {fa['nuisance_scenarios']}{_ci(fa['share_ci95'])}) |",
    ]
    if speed["fire_classes"]:
        lines += [
            "",
            f"Per fire class against {speed['baseline']} (its medians are over the fires it "
            "detects):",
            "",
            f"| fire class | {model} TTD median | {speed['baseline']} TTD median "
            "(detection rate) | speed-up |",
            "|---|---:|---:|---:|",
        ]
        for c, m in sorted(speed["fire_classes"].items()):
            lines.append(
                f"| {c} | {_fmt(m['ttd_median_s'], ' s')} | "
                f"{_fmt(m['baseline_ttd_median_s'], ' s')} ({_fmt(m['baseline_detection_rate'])})"
                f" | {_fmt(m['speedup'], 'x')} |"
            )
    return lines


def _class_table(
    results: list[Evaluated],
    key: str,
    title: str,
    first: str,
    cell: Callable[[dict[str, Any]], str],
) -> list[str]:
    """A section with one row per class of ``metrics[key]`` (its scenario count beside the
    name) and one column per detector, ``cell`` formatting a detector's figures for a class."""
    classes = sorted({c for r in results for c in r.metrics[key]})
    lines = [
        "",
        f"## {title}",
        "",
        f"| {first} (scenarios) | " + " | ".join(r.name for r in results) + " |",
    ]
    lines += ["|---|" + "---:|" * len(results)]
    for c in classes:
        found = [r.metrics[key].get(c) for r in results]
        count = next(m["scenarios"] for m in found if m is not None)
        cells = ["-" if m is None else cell(m) for m in found]
        lines.append(f"| {c} ({count}) | " + " | ".join(cells) + " |")
    return lines


CASES_SHOWN = 40
"""Rows of each case table in report.md; metrics.json lists every case."""

_CASE_COLUMNS = (
    ("scenario_id", "scenario", ""),
    ("scenario_class", "class", ""),
    ("in_view", "in a camera's sight", ""),
    ("false_alarms", "false alarms", ""),
    ("p_max", "highest p", ""),
    ("co2_rise_30min_max_ppm", "largest 30-min CO2 rise", " ppm"),
    ("new_hot_spot_max_k", "hottest new spot", " K"),
)


def _case_table(items: list[dict[str, Any]], title: str) -> list[str]:
    """One case per row, the columns the cases have; at most :data:`CASES_SHOWN` rows."""
    lines = ["", f"### {title} ({len(items)})", ""]
    if not items:
        return [*lines, "None."]
    cols = [c for c in _CASE_COLUMNS if c[0] in items[0]]
    lines += ["| " + " | ".join(head for _, head, _ in cols) + " |"]
    lines += ["|---|---|" + "---:|" * (len(cols) - 2)]
    for item in items[:CASES_SHOWN]:
        cells = [
            ("yes" if item[key] else "no") if isinstance(item[key], bool) else _fmt(item[key], unit)
            for key, _, unit in cols
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if len(items) > CASES_SHOWN:
        lines += ["", f"... and {len(items) - CASES_SHOWN} more (metrics.json lists them all)."]
    return lines


def _case_lines(cases: dict[str, list[dict[str, Any]]], model: str) -> list[str]:
    """The model's missed fires and nuisance scenarios with a false alarm, with the evidence
    over their rows (after ignition for a fire)."""
    return [
        "",
        f"## Scenarios to look at for {model}",
        *_case_table(cases.get("missed_fires", []), "Missed fires (evidence after ignition)"),
        *_case_table(
            cases.get("false_alarm_scenarios", []), "Nuisance scenarios with a false alarm"
        ),
    ]


def _policy_lines(results: list[Evaluated]) -> list[str]:
    """The single-device decision beside the zone policies, per detector."""
    if not any(r.metrics.get("zone_policies") for r in results):
        return []
    lines = [
        "",
        "## Zone policies",
        "",
        "Each scenario's room as one zone of the live zone state machine (alarm/zone.py), beside "
        "each device deciding alone.",
        "",
        "| policy | detector | detection rate | TTD median | TTD p90 | nuisance scenarios with a "
        "false alarm | false alarms / 1000 device-h |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rows = {"single device": r.metrics, **r.metrics.get("zone_policies", {})}
        for policy, m in rows.items():
            lines.append(
                f"| {policy} | {r.name} | {_fmt(m['detection_rate'])} | "
                f"{_fmt(m['ttd_median_s'], ' s')} | {_fmt(m['ttd_p90_s'], ' s')} | "
                f"{_fmt(m['false_alarm_scenario_rate'])} | "
                f"{_fmt(m['false_alarms_per_1000_device_hours'])} |"
            )
    return lines


def write_report(
    results: list[Evaluated],
    y: np.ndarray,
    out: str,
    title: str,
    context: dict[str, Any],
    model: str | None = None,
) -> dict[str, Any]:
    """Write report.md, metrics.json and plots into ``out``; return the metrics document.

    With ``model`` (one of ``results``, beside the baselines) the report and the document also
    state the detection goals for it (:func:`~embercast.evaluation.evaluate.goals`)."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    plots = _plots(results, y, folder)
    doc: dict[str, Any] = {"context": context, "detectors": {r.name: r.metrics for r in results}}
    if model is not None:
        doc["goals"] = goals(results, model)
        doc["cases"] = {r.name: r.cases for r in results}[model]
    (folder / "metrics.json").write_text(json.dumps(doc, indent=2, sort_keys=True, default=float))
    lines = [f"# {title}", ""]
    lines += [f"- {k}: {v}" for k, v in context.items()]
    lines += [
        "",
        "## Summary",
        "",
        "| detector | alarm rule | ROC-AUC | PR-AUC | Brier | detection rate | TTD median | "
        "TTD p90 | nuisance scenarios with a false alarm | false alarms / 1000 device-h |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        m = r.metrics
        rule = m["alarm"]["rule"] if "alarm" in m else "-"
        lines.append(
            f"| {r.name} | {rule} | {_fmt(m['roc_auc'])} | {_fmt(m['pr_auc'])} | "
            f"{_fmt(m['brier'])} | {_fmt(m['detection_rate'])} | "
            f"{_fmt(m['ttd_median_s'], ' s')} | {_fmt(m['ttd_p90_s'], ' s')} | "
            f"{_fmt(m['false_alarm_scenario_rate'])} | "
            f"{_fmt(m['false_alarms_per_1000_device_hours'])} |"
        )
    if model is not None:
        lines += _goal_lines(doc["goals"], model)
    lines += _policy_lines(results)
    lines += _class_table(
        results,
        "fire_classes",
        "Fire classes (detection rate [95 % interval], median / p90 time to detect)",
        "fire class",
        lambda m: (
            f"{_fmt(m['detection_rate'])}{_bracket(m.get('detection_rate_ci95'))}, "
            f"{_fmt(m['ttd_median_s'], ' s')} / {_fmt(m['ttd_p90_s'], ' s')}"
        ),
    )
    if any("in_view" in m for r in results for m in r.metrics["fire_classes"].values()):
        lines += _class_table(
            results,
            "fire_classes",
            "Fire classes by camera coverage (detected of the fires that start in sight of a "
            "camera: in its field of view, no furniture in the way / out of every camera's sight)",
            "fire class",
            lambda m: f"{_share(m.get('in_view'))} / {_share(m.get('out_of_view'))}",
        )
    lines += _class_table(
        results,
        "nuisance_classes",
        "Nuisance classes (share of scenarios with a false alarm [95 % interval])",
        "class",
        lambda m: (
            f"{_fmt(m['false_alarm_scenario_rate'])}"
            f"{_bracket(m.get('false_alarm_scenario_rate_ci95'))}"
        ),
    )
    if model is not None:
        lines += _case_lines(doc["cases"], model)
    lines += ["", *(f"![{p}]({p})" for p in plots), ""]
    (folder / "report.md").write_text("\n".join(lines))
    return doc
