"""The ``embercast`` command line: one Typer app.

Commands: ``generate`` (a labelled dataset), ``validate`` (check one), ``plot`` (one scenario),
``features`` (a feature set of a dataset), ``catalog`` (datasets, feature sets, lineage),
``sql`` (DuckDB over the registered data), ``run`` (the main job) and ``version``. Bad input (a
wrong option, an invalid value, an unknown class, an unreachable scheduler, an unwritable output)
ends with one ``error: ...`` line on stderr and exit code 2.
``validate`` exits with 1 when it finds problems.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from typer.core import TyperGroup
from typer.exceptions import Abort, TyperException

import embercast
from embercast.config import Settings, get_settings
from embercast.engine.executor import ENGINES, SchedulerUnreachableError
from embercast.store.catalog import KINDS, Artifact, Catalog, CatalogError, open_catalog
from embercast.store.fs import OutputLocationError
from embercast.synth.schema import FramePolicy
from embercast.synth.validate import validate_dataset
from embercast.synth.writer import (
    GENERATOR_VERSION,
    DatasetExistsError,
    GenerateSummary,
    generate_dataset,
)

__all__ = ["EXIT_PROBLEMS", "EXIT_USAGE", "app"]

EXIT_PROBLEMS = 1
"""Exit code of ``validate`` when the dataset has problems."""
EXIT_USAGE = 2
"""Exit code for bad input: wrong arguments, invalid values, unusable locations or schedulers."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _OneLineErrors(TyperGroup):
    """Report usage errors as one ``error: ...`` line on stderr (exit 2), not a usage block."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(
                args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
            )
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except TyperException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # the message is the help text
                typer.echo(exc.format_message(), err=True)
            else:
                ctx = getattr(exc, "ctx", None)
                hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
                typer.echo(f"error: {_one_line(exc.format_message())}{hint}", err=True)
            sys.exit(EXIT_USAGE if exc.exit_code == EXIT_USAGE else exc.exit_code or 1)
        except Abort:
            typer.echo("aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    name="embercast",
    help="Fire prediction from a thermal camera, a CO2 sensor and physics-based synthetic data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _fail(message: str) -> NoReturn:
    """Print one ``error:`` line on stderr and exit with :data:`EXIT_USAGE`."""
    typer.echo(f"error: {_one_line(message)}", err=True)
    raise typer.Exit(EXIT_USAGE)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        _fail(f"invalid setting {where!r} (embercast.toml or EMBERCAST_*): {first['msg']}")


def _classes(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        _fail(f"invalid --classes {text!r}: expected comma-separated class names")
    return names


def _engine(
    engine: str | None, scheduler: str | None, settings: Settings
) -> tuple[str, str | None]:
    if engine is None:
        engine = "dask" if scheduler is not None else settings.engine
    engine = engine.strip().lower()
    if engine not in ENGINES:
        _fail(f"invalid --engine {engine!r}: expected one of {', '.join(ENGINES)}")
    if engine == "dask":
        return engine, scheduler if scheduler is not None else settings.dask_scheduler
    if scheduler is not None:
        _fail(f"--scheduler {scheduler} needs --engine dask")
    return engine, None


class _ProgressBar:
    """A Rich progress bar on stderr that appears when the first task starts.

    Errors found before any work (bad input, unusable location or scheduler) therefore print
    nothing but their one error line.
    """

    def __init__(self, verb: str = "generating", unit: str = "scenarios") -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._verb, self._unit = verb, unit

    def __call__(self, done: int, total: int) -> None:
        if self._progress is None:
            self._progress = Progress(
                TextColumn(self._verb),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(self._unit),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._progress.start()
            self._task = self._progress.add_task("generate", total=total)
        assert self._task is not None
        self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        """Stop the bar (idempotent)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _report(summary: GenerateSummary) -> None:
    if summary.status == "complete":
        typer.echo(f"{summary.out} already holds this dataset; nothing to do")
    else:
        resumed = (
            f" (resumed: {summary.tasks_skipped} parts were done)"
            if summary.status == "resumed"
            else ""
        )
        typer.echo(
            f"generated {summary.scenarios:,} scenarios, {summary.rows:,} readings, "
            f"{summary.frames:,} frames stored ({summary.frames_rendered:,} rendered) "
            f"in {summary.seconds:.1f} s{resumed}"
        )
    typer.echo(f"dataset: {summary.out}")
    typer.echo(f"content_hash: {summary.content_hash}")
    if summary.features:
        typer.echo(f"features: {summary.features}")


@app.command()
def generate(
    scenarios: Annotated[
        int, typer.Option("--scenarios", "-n", min=1, help="Number of scenarios (>= 1).")
    ],
    out: Annotated[str, typer.Option("--out", "-o", help="Output location: path or s3:// URL.")],
    seed: Annotated[int, typer.Option(help="Seed of the whole dataset.")] = 0,
    frames: Annotated[
        str, typer.Option(help="Stored frames: all, none or sample:F (every F-th reading).")
    ] = "sample:12",
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes [settings: workers].")
    ] = None,
    engine: Annotated[str | None, typer.Option(help="local or dask [settings: engine].")] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Dask scheduler address tcp://host:port [settings: dask_scheduler]."),
    ] = None,
    scenarios_per_task: Annotated[
        int | None,
        typer.Option(min=1, help="Scenarios per task and part file [settings]."),
    ] = None,
    classes: Annotated[
        str | None, typer.Option(help="Comma-separated scenario classes (default: all).")
    ] = None,
    holdout: Annotated[
        str | None,
        typer.Option(
            help="Conditions held out as split group 'holdout', "
            "e.g. 'room_size=large;fuel=heptane'."
        ),
    ] = None,
    features: Annotated[
        str | None,
        typer.Option(
            help="Compute this feature set while generating (standard18 or extended) into "
            "OUT/features; frames need not be stored."
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a different dataset at --out.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON summary object on stdout.")
    ] = False,
) -> None:
    """Generate a labelled multi-sensor dataset from the scenario catalogue."""
    settings = _settings()
    try:
        policy = FramePolicy.parse(frames)
    except ValueError as exc:
        _fail(f"{exc} (--frames)")
    chosen_engine, address = _engine(engine, scheduler, settings)
    bar = _ProgressBar()
    try:
        summary = generate_dataset(
            out,
            scenarios=scenarios,
            seed=seed,
            frames=policy,
            engine=chosen_engine,
            workers=workers if workers is not None else settings.workers,
            scheduler=address,
            scenarios_per_task=(
                scenarios_per_task
                if scenarios_per_task is not None
                else settings.scenarios_per_task
            ),
            classes=_classes(classes),
            holdout=holdout,
            features=features,
            overwrite=overwrite,
            progress=bar,
        )
    except DatasetExistsError as exc:
        _fail(f"{exc}; pass --overwrite to replace it" if exc.replaceable else str(exc))
    except (ValueError, OutputLocationError, SchedulerUnreachableError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        bar.close()
        typer.echo("interrupted: rerun the same command to resume", err=True)
        raise typer.Exit(130) from None
    finally:
        bar.close()
    if json_output:
        typer.echo(json.dumps(summary.to_dict(), sort_keys=True))
    else:
        _report(summary)


@app.command("features")
def features_command(
    dataset: Annotated[str, typer.Argument(help="Dataset location: path or s3:// URL.")],
    out: Annotated[str, typer.Option("--out", "-o", help="Feature-set location to write.")],
    feature_set: Annotated[
        str, typer.Option("--set", help="Feature set: standard18 or extended.")
    ] = "standard18",
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes [settings: workers].")
    ] = None,
    engine: Annotated[str | None, typer.Option(help="local or dask [settings: engine].")] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Dask scheduler address tcp://host:port [settings: dask_scheduler]."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a different feature set at --out.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON summary object on stdout.")
    ] = False,
) -> None:
    """Compute a feature set of a dataset (the offline table of the streaming extractors)."""
    settings = _settings()
    chosen_engine, address = _engine(engine, scheduler, settings)
    from embercast.features.build import build_features

    bar = _ProgressBar("features", "parts")
    try:
        summary = build_features(
            dataset,
            out,
            feature_set=feature_set,
            engine=chosen_engine,
            workers=workers if workers is not None else settings.workers,
            scheduler=address,
            overwrite=overwrite,
            progress=bar,
        )
    except (ValueError, OutputLocationError, SchedulerUnreachableError, FileNotFoundError) as exc:
        _fail(str(exc))
    finally:
        bar.close()
    for warning in summary.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if json_output:
        typer.echo(json.dumps(summary.to_dict(), sort_keys=True))
        return
    done = "already complete" if summary.status == "complete" else f"in {summary.seconds:.1f} s"
    typer.echo(
        f"{summary.feature_set}: {summary.rows:,} rows x {summary.columns} columns {done}; "
        f"{summary.thermal_missing:,} rows without thermal data"
    )
    if summary.rejected:
        typer.echo(f"rejected inputs: {summary.rejected}")
    typer.echo(f"features: {summary.out}")
    typer.echo(f"content_hash: {summary.content_hash}")


def _groups(text: str) -> tuple[str, ...]:
    from embercast.models.data import SPLITS

    groups = tuple(g.strip() for g in text.split(",") if g.strip())
    bad = [g for g in groups if g not in SPLITS]
    if bad or not groups:
        _fail(f"invalid split groups {text!r}: choose from {', '.join(SPLITS)}")
    return groups


@app.command()
def train(
    data: Annotated[str, typer.Argument(help="Feature set location (embercast features).")],
    model: Annotated[str, typer.Option("--model", help="Model: rf or gbm.")] = "gbm",
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
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Train a detector on the training split (by scenario), measure it on the held-out
    scenarios, log the run to MLflow and optionally register it."""
    _settings()
    from embercast.models.training import train as run_training
    from embercast.models.zoo import MODELS

    if model not in MODELS:
        _fail(f"invalid --model {model!r}: choose one of {', '.join(MODELS)}")
    try:
        summary = run_training(
            data, model, train_groups=_groups(split), register=register, out=out,
            hpo_trials=hpo, journal=journal, feature_set=feature_set,
        )  # fmt: skip
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    if json_output:
        typer.echo(json.dumps(summary, sort_keys=True, default=float))
        return
    typer.echo(
        f"trained {model} on {summary['rows']:,} rows in {summary['seconds']:.1f} s "
        f"(run {summary['run_id']})"
    )
    if register:
        typer.echo(f"registered {register}/{summary['version']}")
    held = summary["held_out"]
    typer.echo(
        f"held out: detection rate {held.get('detection_rate')}, median time to detect "
        f"{held.get('ttd_median_s')} s, nuisance false-alarm rate "
        f"{held.get('false_alarm_scenario_rate')}"
    )


@app.command()
def evaluate(
    model: Annotated[str, typer.Option("--model", help="A saved model file or a baseline name.")],
    data: Annotated[str, typer.Option("--data", help="Feature set location.")],
    out: Annotated[str, typer.Option("--out", "-o", help="Report folder.")],
    split: Annotated[
        str, typer.Option(help="Split groups to evaluate on (comma-separated).")
    ] = "test,holdout",
    json_output: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Evaluate a detector beside the baselines: scenario detection, time to detect, false
    alarms (through the live alarm decision) and row-level ROC-AUC, PR-AUC, Brier."""
    _settings()
    from embercast.models.data import load_features
    from embercast.models.evaluation import best_baseline_ttd
    from embercast.models.evaluation import evaluate as run_evaluation
    from embercast.models.files import load_model
    from embercast.models.registry import Registry, is_ref
    from embercast.models.report import write_report
    from embercast.models.zoo import BASELINES, make_detector

    groups = _groups(split)
    try:
        if model in BASELINES:
            detector = make_detector(model)
        elif is_ref(model):
            detector = Registry().load(model)
        else:
            detector = load_model(model)
        features = load_features(data)
        name = model if model in BASELINES or is_ref(model) else Path(model).stem
        detectors = {name: detector}
        for base in BASELINES:
            if base != name:
                detectors[base] = make_detector(base)
        results = run_evaluation(features, detectors, eval_groups=groups)
        rows = features.split(groups)
        context = {"data": data, "feature_set": features.feature_set,
                   "evaluated on": ", ".join(groups), "rows": len(rows),
                   "model": model}  # fmt: skip
        write_report(results, rows["fire"].to_numpy(), out, f"Evaluation of {name}", context)
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    metrics = {**results[0].metrics, "versus": best_baseline_ttd(results, name)}
    if json_output:
        typer.echo(json.dumps(metrics, sort_keys=True, default=float))
    else:
        m = results[0].metrics
        typer.echo(
            f"{name}: detection rate {m['detection_rate']}, median time to detect "
            f"{m['ttd_median_s']} s, nuisance scenarios with a false alarm "
            f"{m['false_alarm_scenario_rate']}"
        )
        typer.echo(f"report: {Path(out) / 'report.md'}")


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
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Batch inference: p_fire and the risk level of every row."""
    settings = _settings()
    chosen_engine, address = _engine(engine, scheduler, settings)
    from embercast.models.files import load_model
    from embercast.models.predict import predict as run_predict
    from embercast.models.registry import Registry, is_ref

    try:
        detector = Registry().load(model) if is_ref(model) else load_model(model)
        summary = run_predict(
            detector, input_location, out, engine=chosen_engine, workers=workers, scheduler=address
        )
    except (ValueError, OSError, SchedulerUnreachableError) as exc:
        _fail(str(exc))
    if json_output:
        typer.echo(json.dumps(summary, sort_keys=True))
    else:
        typer.echo(
            f"scored {summary['rows']:,} rows in {summary['seconds']:.1f} s "
            f"({summary['rows_per_s']:,.0f} rows/s) -> {out}"
        )


@app.command()
def validate(
    path: Annotated[str, typer.Argument(help="Dataset location: path or s3:// URL.")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print {ok, problems} as JSON on stdout.")
    ] = False,
) -> None:
    """Check a dataset: manifest and hashes, schemas, physical ranges, invariants and labels."""
    _settings()
    problems = validate_dataset(path)
    if json_output:
        payload = {"ok": not problems, "path": path, "problems": [p.to_dict() for p in problems]}
        typer.echo(json.dumps(payload, sort_keys=True))
    else:
        for problem in problems:
            typer.echo(str(problem))
        verdict = f"{len(problems)} problem(s)" if problems else "ok"
        typer.echo(f"{path}: {verdict}")
    if problems:
        raise typer.Exit(EXIT_PROBLEMS)


@app.command()
def plot(
    path: Annotated[str, typer.Argument(help="Dataset location: path or s3:// URL.")],
    scenario: Annotated[str, typer.Option("--scenario", help="Scenario id, e.g. s000042.")],
    out: Annotated[str, typer.Option("--out", "-o", help="Image file to write (.png).")],
) -> None:
    """Plot one scenario of a dataset: sensor readings, ground truth and labels."""
    _settings()
    from embercast.synth.plot import plot_scenario

    try:
        written = plot_scenario(path, scenario, out)
    except KeyError as exc:
        _fail(f"unknown scenario: {exc.args[0] if exc.args else scenario}")
    except (ValueError, FileNotFoundError, OutputLocationError) as exc:
        _fail(str(exc))
    typer.echo(written)


@app.command()
def run(
    out: Annotated[str, typer.Option("--out", "-o", help="Output folder.")] = "runs/quickstart",
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 2,
) -> None:
    """The main job: generate a small dataset, validate it, plot a fire and a nuisance."""
    _settings()
    from embercast.synth.quickstart import run_quickstart

    try:
        result = run_quickstart(out, workers=workers, log=lambda msg: typer.echo(msg, err=True))
    except (ValueError, OutputLocationError, DatasetExistsError) as exc:
        _fail(str(exc))
    s = result.summary
    typer.echo(
        f"dataset:   {result.dataset} ({s.scenarios} scenarios, {s.rows:,} rows, "
        f"{s.frames:,} frames, {s.status} in {s.seconds:.1f} s)"
    )
    typer.echo(f"validated: {'ok' if result.problems == 0 else f'{result.problems} problem(s)'}")
    for cls, path in result.plots.items():
        typer.echo(f"plot:      {path} ({cls})")
    if result.problems:
        raise typer.Exit(EXIT_PROBLEMS)


@app.command()
def version() -> None:
    """Print the package and generator versions."""
    typer.echo(f"embercast {embercast.__version__} (generator {GENERATOR_VERSION})")


# --------------------------------------------------------------------------- catalog

pipeline_app = typer.Typer(
    help="generate -> validate -> features -> train -> evaluate -> register, cached and resumable."
)
app.add_typer(pipeline_app, name="pipeline")


@pipeline_app.callback(invoke_without_command=True)
def pipeline_run(
    ctx: typer.Context,
    config: Annotated[str | None, typer.Option("--config", help="TOML file ([pipeline]).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the final state.")] = False,
) -> None:
    """Run the pipeline (steps already done with the same inputs are skipped)."""
    if ctx.invoked_subcommand is not None:
        return
    _settings()
    from embercast.models.pipeline import build_workflow, load_config

    try:
        workflow = build_workflow(load_config(config))
        state = workflow.run(lambda step, event: typer.echo(f"{step}: {event}", err=True))
    except (ValueError, OSError, SchedulerUnreachableError) as exc:
        _fail(str(exc))
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
    from embercast.models.pipeline import build_workflow, load_config

    try:
        state = build_workflow(load_config(config)).state()
    except ValueError as exc:
        _fail(str(exc))
    if json_output:
        typer.echo(json.dumps(state, sort_keys=True, default=str))
    else:
        _pipeline_table(state)


def _pipeline_table(state: dict[str, Any]) -> None:
    from embercast.models.pipeline import STEPS

    steps = state.get("steps", {})
    if not steps:
        typer.echo("the pipeline has not run yet")
    for name in (s for s in STEPS if s in steps):
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
    from embercast.models.registry import Registry

    try:
        return Registry()
    except ValueError as exc:
        _fail(str(exc))


@models_app.command("list")
def models_list(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every registered version with its aliases and held-out metrics."""
    try:
        rows = _registry().versions()
    except ValueError as exc:
        _fail(str(exc))
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
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The versions of one model, with gate decisions."""
    try:
        rows = _registry().versions(name)
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(json.dumps(rows, indent=None if json_output else 2, sort_keys=True))


@models_app.command("promote")
def models_promote(
    ref: Annotated[str, typer.Argument(help="NAME@challenger or NAME/VERSION.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Make a version champion if it passes the gate (not worse on held-out detection rate,
    time to detect and false alarms); the decision and its reasons are recorded."""
    try:
        decision = _registry().promote(ref)
    except ValueError as exc:
        _fail(str(exc))
    if json_output:
        typer.echo(json.dumps({"ref": ref, "passed": decision.passed, "reasons": decision.reasons}))
    else:
        verdict = "promoted to champion" if decision.passed else "refused by the gate"
        typer.echo(f"{ref}: {verdict}: {'; '.join(decision.reasons)}")
    if not decision.passed:
        raise typer.Exit(EXIT_PROBLEMS)


@models_app.command("rollback")
def models_rollback(name: Annotated[str, typer.Argument(help="Registered model name.")]) -> None:
    """Give the champion alias back to the previous champion."""
    try:
        version = _registry().rollback(name)
    except ValueError as exc:
        _fail(str(exc))
    typer.echo(f"{name}@champion is version {version} again")


catalog_app = typer.Typer(
    help="Datasets and feature sets registered in the catalog, with their lineage.",
    no_args_is_help=True,
)
app.add_typer(catalog_app, name="catalog")

_TABLE_ROWS = 1000
"""Rows shown by ``embercast sql`` as a table (``--json`` and ``--csv`` print all)."""


def _open_catalog() -> Catalog:
    settings = _settings()
    try:
        return open_catalog(settings.catalog_path)
    except CatalogError as exc:
        _fail(str(exc))


def _counts_text(artifact: Artifact) -> str:
    counts = artifact.counts
    shown = [f"{counts[key]:,} {key}" for key in ("scenarios", "rows") if key in counts]
    return ", ".join(shown)


def _brief(artifact: Artifact) -> dict[str, str]:
    return {
        "id": artifact.id,
        "kind": artifact.kind,
        "producer": artifact.producer,
        "location": artifact.location,
    }


@catalog_app.command("list")
def catalog_list(
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only this kind: dataset or features.")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of artifacts on stdout.")
    ] = False,
) -> None:
    """List the registered datasets and feature sets."""
    if kind is not None and kind not in KINDS:
        _fail(f"invalid --kind {kind!r}: expected one of {', '.join(KINDS)}")
    with _open_catalog() as catalog:
        try:
            artifacts = catalog.list(kind)
        except CatalogError as exc:
            _fail(str(exc))
        path = catalog.path
    if json_output:
        typer.echo(json.dumps([a.to_dict() for a in artifacts], sort_keys=True))
        return
    if not artifacts:
        typer.echo(f"nothing registered in {path}")
        return
    table = Table("id", "kind", "producer", "size", "location", "registered_at")
    table.columns[0].no_wrap = True
    for a in artifacts:
        extra = f" (+{len(a.locations) - 1} more)" if len(a.locations) > 1 else ""
        table.add_row(
            a.id, a.kind, a.producer, _counts_text(a), a.location + extra, a.registered_at
        )
    Console().print(table)


@catalog_app.command("show")
def catalog_show(
    ref: Annotated[str, typer.Argument(help="An id, a unique id prefix or a location.")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
) -> None:
    """Show one artifact: arguments, counts, locations, parents and children."""
    with _open_catalog() as catalog:
        try:
            artifact = catalog.get(ref)
            parents = catalog.parents(artifact.id)
            children = catalog.children(artifact.id)
        except CatalogError as exc:
            _fail(str(exc))
    if json_output:
        payload = {
            **artifact.to_dict(),
            "parents": [_brief(p) for p in parents],
            "children": [_brief(c) for c in children],
        }
        typer.echo(json.dumps(payload, sort_keys=True))
        return
    for key in ("id", "kind", "producer", "content_hash", "registered_at"):
        typer.echo(f"{key + ':':<15}{getattr(artifact, key)}")
    sections: list[tuple[str, list[str]]] = [
        ("locations", list(artifact.locations)),
        ("arguments", [f"{k}: {json.dumps(v)}" for k, v in sorted(artifact.arguments.items())]),
        ("counts", [f"{k}: {json.dumps(v)}" for k, v in sorted(artifact.counts.items())]),
        ("parents", [f"{p.id}  {p.producer}  {p.location}" for p in parents]),
        ("children", [f"{c.id}  {c.producer}  {c.location}" for c in children]),
    ]
    for title, lines in sections:
        typer.echo(f"{title}:")
        for line in lines or ["(none)"]:
            typer.echo(f"  {line}")


@catalog_app.command("add")
def catalog_add(
    location: Annotated[str, typer.Argument(help="Dataset or feature set: path or s3:// URL.")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the artifact as JSON on stdout.")
    ] = False,
) -> None:
    """Register a complete dataset or feature set (again, or from a new location)."""
    with _open_catalog() as catalog:
        try:
            artifact = catalog.register(location)
        except CatalogError as exc:
            _fail(str(exc))
    if json_output:
        typer.echo(json.dumps(artifact.to_dict(), sort_keys=True))
    else:
        typer.echo(f"registered {artifact.kind} {artifact.id} ({artifact.producer})")


# --------------------------------------------------------------------------- sql


def _plain_value(value: object) -> object:
    """A query value as JSON: NaN and infinities become null, decimals floats, times text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _plain_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_value(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _cell(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@app.command("sql")
def sql_query(
    query: Annotated[
        str, typer.Argument(help="One SQL statement over the views scenarios, readings, features.")
    ],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of row objects.")
    ] = False,
    csv_output: Annotated[bool, typer.Option("--csv", help="Print CSV with a header.")] = False,
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", help="Only this dataset (id, id prefix or location)."),
    ] = None,
    features: Annotated[
        str | None,
        typer.Option("--features", help="Only this feature set and its dataset."),
    ] = None,
) -> None:
    """Query the registered datasets and feature sets with SQL (DuckDB)."""
    if json_output and csv_output:
        _fail("choose one of --json and --csv")
    from embercast.store.query import QueryError, run_query

    with _open_catalog() as catalog:
        try:
            result = run_query(query, catalog, dataset=dataset, features=features)
        except (QueryError, CatalogError) as exc:
            _fail(str(exc))
    for message in result.skipped:
        typer.echo(f"warning: skipped {message}", err=True)
    if json_output:
        typer.echo(json.dumps([_plain_value(row) for row in result.rows()]))
        return
    rows = result.values()
    if csv_output:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
        typer.echo(buffer.getvalue(), nl=False)
        return
    table = Table(*result.columns)
    for row in rows[:_TABLE_ROWS]:
        table.add_row(*(_cell(v) for v in row))
    Console().print(table)
    if len(rows) > _TABLE_ROWS:
        typer.echo(
            f"showing {_TABLE_ROWS:,} of {len(rows):,} rows (--json or --csv print all)",
            err=True,
        )
