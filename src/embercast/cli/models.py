"""Commands on models: train, evaluate, predict, the registry (models ...) and the
pipeline."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from embercast.alarm.decision import AlarmParams, alarm_point
from embercast.cli.common import (
    EXIT_PROBLEMS,
    _engine,
    _fail,
    _groups,
    _settings,
    app,
)


@app.command()
def train(
    data: Annotated[
        list[str],
        typer.Argument(
            help="Feature set location (embercast features); several are trained on together "
            "(datasets of different seeds and the same held-out conditions)."
        ),
    ],
    model: Annotated[
        str, typer.Option("--model", help="Model: rf, gbm, gas, ensemble, gru or lstm.")
    ] = "gbm",
    register: Annotated[
        str | None, typer.Option(help="Register the model as a new version of this name.")
    ] = None,
    out: Annotated[str | None, typer.Option("--out", "-o", help="Also save a model file.")] = None,
    split: Annotated[str, typer.Option(help="Split groups to train on.")] = "train",
    hpo: Annotated[
        int, typer.Option(min=0, help="Optuna trials before training (tuned on val scenarios).")
    ] = 0,
    feature_set: Annotated[
        str | None,
        typer.Option("--set", help="Use only this feature set's columns (standard18 of extended)."),
    ] = None,
    journal: Annotated[
        str, typer.Option(help="Optuna journal file (the study resumes from it).")
    ] = "runs/optuna.journal",
    alarm_budget: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="False-alarm budget (share of nuisance scenarios) for choosing the alarm "
            "threshold and delay, met by settings alarm_budget_margin_se standard errors "
            "(default: settings alarm_false_alarm_budget).",
        ),
    ] = None,
    alarm_on: Annotated[
        str,
        typer.Option(
            "--alarm-on",
            help="Choose the alarm threshold and delay on 'conditions' (every train and val "
            "scenario scored by a model fitted without its room size, ventilation or ambient "
            "bucket: one extra fit per bucket) or on 'val' (the val scenarios scored by the "
            "model: quicker, but blind to unseen rooms).",
        ),
    ] = "conditions",
    slow_path: Annotated[
        bool | None,
        typer.Option(
            "--slow-path/--no-slow-path",
            help="Consider a slow-confirmation path (a 5-15 min mean of p) for the alarm, kept "
            "where it detects more: within the false-alarm budget on condition-out scores, "
            "adding no false alarm on val. Default: on with --alarm-on conditions, off on val.",
            show_default=False,
        ),
    ] = None,
    co2_path: Annotated[
        bool,
        typer.Option(
            "--co2-path",
            help="Consider a CO2 path for the alarm: the CO2 threshold detector's level or "
            "60-s rate (fitted on the train scenarios) raises it while p is at or above a gate "
            "(0.1-0.5), kept where it detects more or sooner within the false-alarm budget.",
        ),
    ] = False,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="An estimator parameter, NAME=VALUE (a JSON value, or else text: bags=5, "
            "calibration=pooled, monotone_rises=true); repeat it for several.",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Train a detector on the training split (by scenario), choose its alarm threshold and
    delay on scenarios scored by models that did not see their room conditions (or on val),
    measure it on the held-out scenarios, log the run to MLflow and
    optionally register it."""
    _settings()
    from embercast.lifecycle.training import train as run_training
    from embercast.models.factory import MODELS

    if model not in MODELS:
        _fail(f"invalid --model {model!r}: choose one of {', '.join(MODELS)}")
    summary = run_training(
        data, model, train_groups=_groups(split), register=register, out=out,
        hpo_trials=hpo, journal=journal, feature_set=feature_set, alarm_budget=alarm_budget,
        slow_path=slow_path, alarm_on=alarm_on, params=_params(param or []), co2_path=co2_path,
    )  # fmt: skip
    if json_output:
        typer.echo(json.dumps(summary, sort_keys=True, default=float))
        return
    typer.echo(
        f"trained {model} on {summary['rows']:,} rows in {summary['seconds']:.1f} s "
        f"(run {summary['run_id']})"
    )
    if register:
        typer.echo(f"registered {register}/{summary['version']}")
    alarm = summary["alarm"]
    if alarm:
        typer.echo(
            f"alarm at {alarm['rule']} (chosen on {alarm['chosen_on']}, false-alarm budget "
            f"{alarm['budget']}: at most {alarm['budget_limit']:.4f} there"
            f"{'' if alarm['within_budget'] else ', NOT met'})"
        )
    held = summary["held_out"]
    typer.echo(
        f"held out: detection rate {held.get('detection_rate')}, median time to detect "
        f"{held.get('ttd_median_s')} s, nuisance false-alarm rate "
        f"{held.get('false_alarm_scenario_rate')}"
    )


def _params(items: list[str]) -> dict[str, Any]:
    """``--param NAME=VALUE`` options as estimator parameters: each value read as JSON, or else
    kept as text.

    >>> _params(["bags=5", "calibration=pooled", "monotone_rises=true"])
    {'bags': 5, 'calibration': 'pooled', 'monotone_rises': True}
    """
    params: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            _fail(f"invalid --param {item!r}: give NAME=VALUE")
        try:
            params[name.strip()] = json.loads(text)
        except json.JSONDecodeError:
            params[name.strip()] = text
    return params


@app.command()
def evaluate(
    model: Annotated[
        list[str],
        typer.Option(
            "--model",
            help="A registry reference (NAME@ALIAS, NAME/VERSION), a saved model file or a "
            "baseline name; repeat it to set models side by side (the goals are the first's).",
        ),
    ],
    data: Annotated[
        list[str],
        typer.Option("--data", help="Feature set location; repeat it to evaluate on several."),
    ],
    out: Annotated[str, typer.Option("--out", "-o", help="Report folder.")],
    split: Annotated[
        str, typer.Option(help="Split groups to evaluate on (comma-separated).")
    ] = "test,holdout",
    json_output: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    sensor_health: Annotated[
        bool,
        typer.Option(
            help="Supervise the SCD41s as the live service does: a frozen or invalid sensor "
            "goes to FAULT and is scored as absent.",
        ),
    ] = True,
    camera: Annotated[
        bool,
        typer.Option(
            help="--no-camera: score every device as one without a camera (its camera's "
            "features missing), the gas-and-environment path alone.",
        ),
    ] = True,
) -> None:
    """Evaluate detectors side by side with the baselines: scenario detection, time to detect,
    false alarms (through the live alarm decision) and row-level ROC-AUC, PR-AUC, Brier, with
    the sensors supervised. The goals and the scenarios to look at are stated for the first
    ``--model``."""
    _settings()
    from embercast.evaluation.evaluate import SUPERVISED, best_baseline_ttd
    from embercast.evaluation.evaluate import evaluate as run_evaluation
    from embercast.evaluation.feature_data import load_features
    from embercast.evaluation.report import write_report
    from embercast.lifecycle.detectors import load_detectors
    from embercast.models.factory import BASELINES, make_detector

    groups = _groups(split)
    detectors = load_detectors(model)
    name = next(iter(detectors))
    for base in BASELINES:
        detectors.setdefault(base, make_detector(base))
    features = load_features(data)
    results = run_evaluation(
        features, detectors, eval_groups=groups, health=SUPERVISED if sensor_health else None,
        camera=camera,
    )  # fmt: skip
    rows = features.split(groups)
    faults = results[0].metrics.get("sensor_fault_scenarios")
    faulted = None if faults is None else sum(c["with_fault"] for c in faults.values())
    supervision = "off" if faulted is None else f"on ({faulted} scenarios with a sensor FAULT)"
    context = {"data": features.location, "feature_set": features.feature_set,
               "evaluated on": ", ".join(groups), "rows": len(rows),
               "sensor supervision": supervision, "model": ", ".join(model),
               "cameras": "on" if camera else "off: every device scored without one"}  # fmt: skip
    doc = write_report(
        results, rows["fire"].to_numpy(), out, f"Evaluation of {name}", context, model=name
    )
    metrics = {
        **results[0].metrics,
        "versus": best_baseline_ttd(results, name),
        "goals": doc["goals"],
        "compared": {r.name: r.metrics for r in results[1:] if not r.baseline},
    }
    if json_output:
        typer.echo(json.dumps(metrics, sort_keys=True, default=float))
    else:
        m = results[0].metrics
        typer.echo(
            f"{name}: detection rate {m['detection_rate']}, median time to detect "
            f"{m['ttd_median_s']} s, nuisance scenarios with a false alarm "
            f"{m['false_alarm_scenario_rate']}"
        )
        typer.echo(_goal_summary(doc["goals"]))
        typer.echo(f"report: {Path(out) / 'report.md'}")


@app.command("sim2real")
def sim2real(
    model: Annotated[
        list[str],
        typer.Option(
            "--model",
            help="A registry reference, a saved model file or a baseline name; repeat it to "
            "set detectors side by side.",
        ),
    ],
    real_fires: Annotated[
        str,
        typer.Option(
            "--real-fires", help="Folder of the real fire tests (holding faa_cargo_compartments)."
        ),
    ],
    fit: Annotated[
        list[str] | None,
        typer.Option(
            "--fit",
            help="Synthetic feature set whose train scenarios fit the baselines (repeat it for "
            "several); with it the rate-of-rise and CO2 baselines are set beside the models.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the SCD41 errors and noise.")] = 0,
    water_per_co2: Annotated[
        float,
        typer.Option(
            "--water-per-co2",
            min=0.0,
            help="Water added with the measured CO2 rise [mol/mol]; the tests measured none "
            "(0, the default); the resin burnt in them gives 1.",
        ),
    ] = 0.0,
    alarm: Annotated[
        str | None,
        typer.Option(
            "--alarm",
            metavar="THRESHOLD:DELAY_S",
            help="Run the models (not the baselines) at this alarm point instead of their own: "
            "p >= THRESHOLD for DELAY_S seconds, e.g. 0.7:10.",
        ),
    ] = None,
    co2_gate: Annotated[
        float | None,
        typer.Option(
            "--co2-gate",
            min=0.0,
            max=1.0,
            help="Run the models (not the baselines) with a CO2 path at this gate: the CO2 "
            "threshold detector's level or rate, fitted on --fit's train scenarios, raises the "
            "alarm while p is at or above it (train --co2-path).",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Sim-to-real: detectors trained on synthetic data, fed the FAA cargo-compartment fire
    tests through the SCD41 sensor model without a camera: which fires each alarms on, how
    soon after ignition, and any alarm in the quiet room before."""
    _settings()
    rule = None if alarm is None else _alarm_point(alarm)
    from embercast.evaluation.feature_data import load_features
    from embercast.evaluation.sim_to_real import sim_to_real
    from embercast.lifecycle.detectors import load_detectors
    from embercast.models.factory import make_detector

    detectors = load_detectors(model)
    if fit:
        for base in ("rate_of_rise", "co2_threshold"):
            detectors.setdefault(base, make_detector(base))
    fit_on = load_features(fit) if fit else None
    co2 = None
    if co2_gate is not None:
        from embercast.lifecycle.training import co2_rule

        if fit_on is None:
            _fail("--co2-gate needs --fit: the CO2 path's level and rate are fitted on its train")
        co2 = (co2_gate, *co2_rule(fit_on.split(("train",))))
    sets = {str(d.get_params().get("feature_set", "extended")) for d in detectors.values()}
    result = sim_to_real(
        detectors, real_fires, "standard18" if sets == {"standard18"} else "extended",
        seed=seed, fit_on=fit_on, water_per_co2=water_per_co2, alarm=rule, co2=co2,
    )  # fmt: skip
    if json_output:
        typer.echo(json.dumps(result))  # detectors in the order given, the baselines last
        return
    for name, m in result["detectors"].items():
        ttd = "-" if m["ttd_median_s"] is None else f"{m['ttd_median_s']:.0f} s"
        typer.echo(
            f"{name}: {m['detected']} of {m['streams']} fires alarmed on, median {ttd} after "
            f"ignition; {m['false_alarms_before_ignition']} alarms before ignition, p there "
            f"median {m['quiet_p_median']:.2f}, up to {m['quiet_p_max']:.2f} ({m['alarm_rule']})"
        )
    for probe, facts in result["streams"].items():
        seen = ", ".join(
            f"{n} {format(d['ttd_s'], '.0f') + ' s' if d['detected'] else '-'} "
            f"(p up to {d['max_p']:.2f})"
            for n, d in facts["detectors"].items()
        )
        typer.echo(
            f"  {probe}: CO2 +{facts['co2_rise_ppm']:.0f} ppm, +{facts['warming_k']:.1f} K; {seen}"
        )


def _alarm_point(text: str) -> AlarmParams:
    """``THRESHOLD:DELAY_S`` as the alarm decision's parameters (clearing as by default, or
    below the threshold when it is lower); a usage error naming ``--alarm`` otherwise."""
    number = r"\s*(\d+(?:\.\d*)?|\.\d+)\s*"
    point = re.fullmatch(f"{number}:{number}", text)
    if point is None:
        _fail(f"invalid --alarm {text!r}: expected THRESHOLD:DELAY_S, e.g. 0.7:10")
    return alarm_point(float(point[1]), float(point[2]))


def _goal_summary(goals: dict[str, Any]) -> str:
    """The goals in three lines for the terminal (the report has the whole table)."""
    every, speed, fa = goals["every_fire_class_detected"], goals["speedup"], goals["false_alarms"]

    def verdict(reached: bool) -> str:
        return "reached" if reached else "not reached"

    def num(value: float | None) -> str:
        return "-" if value is None else f"{value:.3g}"

    rival = (
        "no baseline with at most the same false-alarm share"
        if speed["speedup"] is None
        else f"{speed['speedup']:.2f}x against {speed['baseline']}"
    )
    return "\n".join(
        [
            f"goals: every fire class detected: {verdict(every['reached'])} (least detected: "
            f"{every['least_detected_class']}, {num(every['detection_rate'])})",
            f"       {speed['goal']:g}x earlier than the best baseline: "
            f"{verdict(speed['reached'])} ({rival})",
            f"       false alarms in <= {100 * fa['goal']:g} % of nuisance scenarios: "
            f"{verdict(fa['reached'])} ({num(fa['share'])})",
        ]
    )


@app.command()
def predict(
    model: Annotated[
        str, typer.Option("--model", help="NAME@ALIAS, NAME/VERSION or a model file.")
    ],
    input_location: Annotated[
        str,
        typer.Option("--input", help="Feature set, dataset (features computed) or Parquet file."),
    ],
    out: Annotated[str, typer.Option("--out", "-o", help="Parquet file of the scores.")],
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    engine: Annotated[str | None, typer.Option(help="local or dask.")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address.")] = None,
    compiled: Annotated[
        bool | None,
        typer.Option(
            help="Score LightGBM models through their trees compiled to native code (the same "
            "probabilities, faster; compiled once per model and machine), or not. Without "
            "either: compiled when compiled here before or the input has at least "
            "compile_min_rows rows (settings)."
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Batch inference: p_fire and the risk level of every row."""
    settings = _settings()
    chosen_engine, address = _engine(engine, scheduler, settings)
    from embercast.lifecycle.detectors import load_detector
    from embercast.lifecycle.predict import predict as run_predict

    detector = load_detector(model)
    summary = run_predict(
        detector, input_location, out, engine=chosen_engine, workers=workers,
        scheduler=address, compiled=compiled,
    )  # fmt: skip
    if json_output:
        typer.echo(json.dumps(summary, sort_keys=True))
    else:
        typer.echo(
            f"scored {summary['rows']:,} rows in {summary['seconds']:.1f} s "
            f"({summary['rows_per_s']:,.0f} rows/s) -> {out}"
        )


pipeline_app = typer.Typer(
    help="generate -> validate -> features -> train -> evaluate -> register, cached and resumable."
)
app.add_typer(pipeline_app, name="pipeline")


@pipeline_app.callback(invoke_without_command=True)
def pipeline_run(
    ctx: typer.Context,
    config: Annotated[str | None, typer.Option("--config", help="TOML file ([pipeline]).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the final state.")] = False,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help="Stop after this step (generate, validate, features, train, evaluate); "
            "later steps done before are marked stale.",
        ),
    ] = None,
) -> None:
    """Run the pipeline (steps already done with the same inputs are skipped)."""
    if ctx.invoked_subcommand is not None:
        return
    _settings()
    from embercast.lifecycle.pipeline import build_workflow, load_config

    workflow = build_workflow(load_config(config))
    state = workflow.run(lambda step, event: typer.echo(f"{step}: {event}", err=True), until=until)
    if json_output:
        typer.echo(json.dumps(state, sort_keys=True, default=str))
    else:
        _pipeline_table(state)


@pipeline_app.command("status")
def pipeline_status(
    config: Annotated[str | None, typer.Option("--config", help="TOML file ([pipeline]).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the state as JSON.")] = False,
) -> None:
    """Progress and lineage of the pipeline: each step's status, attempts, time and outputs."""
    _settings()
    from embercast.lifecycle.pipeline import build_workflow, load_config

    state = build_workflow(load_config(config)).state()
    if json_output:
        typer.echo(json.dumps(state, sort_keys=True, default=str))
    else:
        _pipeline_table(state)


def _pipeline_table(state: dict[str, Any], names: tuple[str, ...] | None = None) -> None:
    """One line per step of a workflow's state (the pipeline's steps when ``names`` is None)."""
    from embercast.lifecycle.pipeline import STEPS

    steps = state.get("steps", {})
    if not steps:
        typer.echo("the workflow has not run yet")
    for name in (s for s in names or STEPS if s in steps):
        rec = steps[name]
        outputs = rec.get("outputs") or {}
        shown = ", ".join(f"{k}={v}" for k, v in outputs.items() if not isinstance(v, dict))
        cached = " (cached)" if rec.get("cached") else ""
        typer.echo(
            f"{name}: {rec.get('status')}{cached}, attempts {rec.get('attempts')}, "
            f"{rec.get('seconds', '-')} s; {shown or rec.get('last_error', '')}"
        )


models_app = typer.Typer(help="The model registry (MLflow): versions, aliases, promotion.")
app.add_typer(models_app, name="models")


def _registry() -> Any:
    from embercast.lifecycle.registry import Registry

    return Registry()


@models_app.command("list")
def models_list(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every registered version with its aliases and held-out metrics."""
    rows = _registry().versions()
    if json_output:
        typer.echo(json.dumps(rows, sort_keys=True))
        return
    for r in rows:
        m = r["metrics"]
        typer.echo(
            f"{r['name']}/{r['version']} {','.join(r['aliases']) or '-'} "
            f"detection={m.get('detection_rate')} ttd_median_s={m.get('ttd_median_s')} "
            f"false_alarms={m.get('false_alarm_scenario_rate')}"
        )


@models_app.command("show")
def models_show(
    name: Annotated[
        str, typer.Argument(help="Registered model name, or NAME@ALIAS / NAME/VERSION.")
    ],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The versions of one model (or the one version a reference names), with aliases,
    held-out metrics and gate decisions."""
    from embercast.lifecycle.registry import is_ref

    shown: list[dict[str, Any]] | dict[str, Any]
    registry = _registry()
    if is_ref(name):
        model, version = registry.resolve(name)
        (shown,) = [r for r in registry.versions(model) if r["version"] == version]
    else:
        shown = registry.versions(name)
    typer.echo(json.dumps(shown, indent=None if json_output else 2, sort_keys=True))


@models_app.command("promote")
def models_promote(
    ref: Annotated[str, typer.Argument(help="NAME@challenger or NAME/VERSION.")],
    data: Annotated[
        list[str] | None,
        typer.Option(
            "--data",
            help="Feature set whose test and holdout scenarios both versions are measured on "
            "(repeat it for several); without it, the data the version was measured on.",
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Make a version champion if it passes the gate (not worse than the champion on the same
    held-out scenarios: detection rate, time to detect and false alarms); the decision, its
    reasons and the scenarios compared on are recorded."""
    from embercast.evaluation.feature_data import load_features

    registry = _registry()
    decision = registry.promote(ref, load_features(data) if data else None)
    if json_output:
        typer.echo(json.dumps({"ref": ref, "passed": decision.passed, "reasons": decision.reasons,
                               "compared_on": decision.compared_on}))  # fmt: skip
    else:
        verdict = "promoted to champion" if decision.passed else "refused by the gate"
        typer.echo(f"{ref}: {verdict}: {'; '.join(decision.reasons)}")
        if decision.compared_on:
            typer.echo(f"compared on: {decision.compared_on}")
    if not decision.passed:
        raise typer.Exit(EXIT_PROBLEMS)


@models_app.command("rollback")
def models_rollback(name: Annotated[str, typer.Argument(help="Registered model name.")]) -> None:
    """Give the champion alias back to the previous champion."""
    version = _registry().rollback(name)
    typer.echo(f"{name}@champion is version {version} again")
