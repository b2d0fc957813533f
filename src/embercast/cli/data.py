"""Commands on datasets: generate, validate, plot, run (the main job), version."""

from __future__ import annotations

import json
from typing import Annotated

import typer

import embercast
from embercast.cli.common import (
    EXIT_PROBLEMS,
    EngineOption,
    SchedulerOption,
    WorkersOption,
    _classes,
    _engine,
    _fail,
    _ProgressBar,
    _report,
    _settings,
    app,
)
from embercast.errors import InputError


@app.command()
def generate(
    scenarios: Annotated[
        int, typer.Option("--scenarios", "-n", min=1, help="Number of scenarios (>= 1).")
    ],
    out: Annotated[str, typer.Option("--out", "-o", help="Output location: path or s3:// URL.")],
    seed: Annotated[int, typer.Option(min=0, help="Seed of the whole dataset (>= 0).")] = 0,
    frames: Annotated[
        str, typer.Option(help="Stored frames: all, none or sample:F (every F-th reading).")
    ] = "sample:12",
    workers: WorkersOption = None,
    engine: EngineOption = None,
    scheduler: SchedulerOption = None,
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
    from embercast.dataset.schema import FramePolicy
    from embercast.features.inline import InlineFeatureSet
    from embercast.synth.writer import DatasetExistsError, generate_dataset, run_started

    settings = _settings()
    try:
        policy = FramePolicy.parse(frames)
    except InputError as exc:
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
            features=InlineFeatureSet(features) if features else None,
            overwrite=overwrite,
            progress=bar,
        )
    except DatasetExistsError as exc:
        _fail(f"{exc}; pass --overwrite to replace it" if exc.replaceable else str(exc))
    except KeyboardInterrupt:
        bar.close()
        started = run_started(out)
        typer.echo(
            "interrupted: rerun the same command to resume"
            if started
            else "interrupted before anything was written",
            err=True,
        )
        raise typer.Exit(130) from None
    finally:
        bar.close()
    if json_output:
        typer.echo(json.dumps(summary.to_dict(), sort_keys=True))
    else:
        _report(summary)
    for warning in summary.warnings:
        typer.echo(f"warning: {warning}", err=True)


@app.command()
def validate(
    path: Annotated[
        str, typer.Argument(help="Dataset or feature set location: path or s3:// URL.")
    ],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print {ok, kind, problems} as JSON on stdout.")
    ] = False,
) -> None:
    """Check a dataset (manifest and hashes, schemas, physical ranges, invariants, labels) or a
    feature set (manifest and hashes, columns, keys, counts, lineage to its dataset)."""
    from embercast.dataset.validate import validate_dataset
    from embercast.store.lineage import artifact_kind

    _settings()
    kind = artifact_kind(path)
    if kind == "features":
        from embercast.features.validate import validate_feature_set

        problems = validate_feature_set(path)
    else:
        problems = validate_dataset(path)
    if json_output:
        payload = {"ok": not problems, "path": path, "kind": kind,
                   "problems": [p.to_dict() for p in problems]}  # fmt: skip
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
    real_fires: Annotated[
        str | None,
        typer.Option(
            "--real-fires",
            help="Folder of the real fire tests: a replica scenario is drawn beside the "
            "measurements at its probe.",
        ),
    ] = None,
) -> None:
    """Plot one scenario of a dataset: sensor readings, ground truth and labels."""
    _settings()
    from embercast.synth.plot import plot_scenario

    try:
        written = plot_scenario(path, scenario, out, real_fires=real_fires)
    except KeyError as exc:
        _fail(f"unknown scenario: {exc.args[0] if exc.args else scenario}")
    typer.echo(written)


@app.command()
def replicas(
    real_fires: Annotated[
        str,
        typer.Option(
            "--real-fires", help="Folder of the real fire tests (holding faa_cargo_compartments)."
        ),
    ],
    seed: Annotated[int, typer.Option(help="Seed of the replicas' unfixed conditions.")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """The FAA cargo-compartment tests replicated by the generator, beside their measurements:
    CO2 rise at each gas probe and warming at the thermocouple nearest to it, 60, 120 and 180 s
    after ignition (Markdown table, or --json)."""
    _settings()
    from pathlib import Path

    from embercast.synth.replica_check import compare_replicas, comparison_table

    rows = compare_replicas(Path(real_fires), seed=seed)
    if json_output:
        payload = [
            vars(r) | {"co2_factor": r.co2_factor, "warming_factor": r.warming_factor} for r in rows
        ]
        typer.echo(json.dumps(payload).replace("NaN", "null"))
        return
    typer.echo(comparison_table(rows))


@app.command()
def version() -> None:
    """Print the package and generator versions."""
    from embercast.synth.writer import GENERATOR_VERSION

    typer.echo(f"embercast {embercast.__version__} (generator {GENERATOR_VERSION})")


# --------------------------------------------------------------------------- catalog
