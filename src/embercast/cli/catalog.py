"""The catalog (datasets, feature sets, lineage) and SQL over them."""

from __future__ import annotations

import csv
import io
import json
import math
from decimal import Decimal
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from embercast.cli.common import (
    _fail,
    _settings,
    app,
)
from embercast.store.lineage import KINDS, Artifact, Catalog, CatalogError, open_catalog

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
    """Register a complete dataset or feature set (again, or from a new location), once its
    files match its manifest."""
    from embercast.store.integrity import open_artifact

    open_artifact(location)
    with _open_catalog() as catalog:
        try:
            artifact = catalog.register(location)
        except CatalogError as exc:
            _fail(str(exc))
    if json_output:
        typer.echo(json.dumps(artifact.to_dict(), sort_keys=True))
    else:
        typer.echo(f"registered {artifact.kind} {artifact.id} ({artifact.producer})")


@catalog_app.command("remove")
def catalog_remove(
    ref: Annotated[
        str,
        typer.Argument(
            help="A registered location (only that copy is forgotten) or an id, id prefix or "
            "content hash (the artifact and all its locations)."
        ),
    ],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print what was removed as JSON on stdout.")
    ] = False,
) -> None:
    """Unregister a copy or an artifact; its files are left as they are."""
    with _open_catalog() as catalog:
        artifact, removed = catalog.remove(ref)
        remaining = [loc for loc in artifact.locations if loc not in removed]
    if json_output:
        payload = {"id": artifact.id, "kind": artifact.kind, "removed": removed,
                   "remaining": remaining}  # fmt: skip
        typer.echo(json.dumps(payload, sort_keys=True))
        return
    if remaining:
        typer.echo(f"removed location {removed[0]} of {artifact.kind} {artifact.id}")
    else:
        typer.echo(f"removed {artifact.kind} {artifact.id} ({len(removed)} location(s))")


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
    from embercast.store.sql import QueryError, run_query

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
