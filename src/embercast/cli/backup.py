"""Back up and restore the service's state: ``backup --out URL``, ``restore URL [--force]``."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from embercast.cli.common import _settings, app

if TYPE_CHECKING:
    from embercast.service.backup import BackupSummary


def _report(verb: str, summary: BackupSummary, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(asdict(summary)))
        return
    parts = ", ".join(f"{part} {count}" for part, count in summary.files.items())
    total = sum(summary.files.values())
    typer.echo(f"{verb} {summary.url}: {total} files ({parts}), {summary.bytes:,} bytes")
    for what, where in summary.targets.items():
        typer.echo(f"  {what} -> {where}")


@app.command()
def backup(
    out: Annotated[
        str,
        typer.Option("--out", "-o", help="A new or empty folder: local path or URL (s3://...)."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print what was copied as JSON.")] = False,
) -> None:
    """Back up the service's state (its SQLite state, the ingest log), the lineage catalog and
    the MLflow store with its artifacts, while the service runs; the manifest (every file's
    SHA-256) is written last, so a backup cut short is never taken for a complete one."""
    from embercast.service.backup import backup as make_backup

    _report("backed up to", make_backup(_settings(), out), as_json)


@app.command()
def restore(
    url: Annotated[str, typer.Argument(help="The backup's folder: local path or URL.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the state found at the settings' places.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what was restored as JSON.")
    ] = False,
) -> None:
    """Restore a backup to the places the settings name (service_home, catalog_path,
    mlflow_uri), after checking every file against its manifest; the MLflow store's artifact
    locations are pointed at the restored artifacts. Stop the service first."""
    from embercast.service.restore import restore as restore_backup

    _report("restored from", restore_backup(url, _settings(), force=force), as_json)
