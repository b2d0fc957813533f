"""``embercast config show``: the settings in effect, by section, and where each comes from."""

from __future__ import annotations

import json
import os
import textwrap
from typing import Annotated, Any

import typer

from embercast.cli.common import _settings, app
from embercast.config import SECTIONS, Settings, config_file, field_section

config_app = typer.Typer(help="The settings in effect (embercast.toml and EMBERCAST_*).")
app.add_typer(config_app, name="config")


def _source(name: str, from_file: set[str]) -> str:
    if os.environ.get(f"EMBERCAST_{name.upper()}"):
        return f"EMBERCAST_{name.upper()}"
    if name in from_file:
        return str(config_file())
    return "default"


@config_app.command("show")
def config_show(
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object: section -> name -> value.")
    ] = False,
) -> None:
    """Print every setting with its value, its source (default, the TOML file or an
    EMBERCAST_* variable) and what it does, grouped by section."""
    settings = _settings()
    from_file = settings.file_keys()
    grouped: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    for name in Settings.model_fields:
        grouped[field_section(name)][name] = getattr(settings, name)
    if json_output:
        typer.echo(json.dumps({s: v for s, v in grouped.items() if v}, sort_keys=False))
        return
    path = config_file()
    typer.echo(f"config file: {path if path is not None else '(none)'}")
    for section, values in grouped.items():
        if not values:
            continue
        typer.echo(f"\n[{section}]  {SECTIONS[section]}")
        for name, value in values.items():
            typer.echo(f"  {name} = {value!r}  ({_source(name, from_file)})")
            about = Settings.model_fields[name].description or ""
            for line in textwrap.wrap(about, width=92):
                typer.echo(f"      # {line}")
