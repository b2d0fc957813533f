"""The features command."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from embercast.cli.common import (
    EngineOption,
    SchedulerOption,
    WorkersOption,
    _engine,
    _ProgressBar,
    _settings,
    app,
)


@app.command("features")
def features_command(
    dataset: Annotated[str, typer.Argument(help="Dataset location: path or s3:// URL.")],
    out: Annotated[str, typer.Option("--out", "-o", help="Feature-set location to write.")],
    feature_set: Annotated[
        str, typer.Option("--set", help="Feature set: standard18 or extended.")
    ] = "standard18",
    workers: WorkersOption = None,
    engine: EngineOption = None,
    scheduler: SchedulerOption = None,
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
