"""``embercast bus``: the message bus's counts, its dead letters, their replay, and pruning."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

from embercast.cli.common import _settings, app

bus_app = typer.Typer(help="The message bus (bus_url): counts, dead letters, replay, pruning.")
app.add_typer(bus_app, name="bus")


@bus_app.command("stats")
def bus_stats(
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """Every topic's groups: messages published, waiting, leased, handled and dead."""
    from embercast.bus import bus_from_settings

    with bus_from_settings(_settings()) as bus:
        stats = bus.stats()
    if json_output:
        typer.echo(json.dumps([asdict(s) for s in stats]))
        return
    if not stats:
        typer.echo("no topic has been read by any group yet")
    for s in stats:
        typer.echo(f"{s.topic} / {s.group}: published {s.published}, waiting {s.waiting}, "
                   f"leased {s.leased}, handled {s.handled}, dead {s.dead}")  # fmt: skip


@bus_app.command("dead-letters")
def bus_dead_letters(
    topic: Annotated[str | None, typer.Option("--topic", help="Of this topic only.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="Of this group only.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """Messages a group gave up on, oldest first, with their attempts and last error."""
    from embercast.bus import bus_from_settings

    with bus_from_settings(_settings()) as bus:
        dead = bus.dead_letters(topic, group, limit)
    if json_output:
        typer.echo(json.dumps([asdict(d) for d in dead]))
        return
    if not dead:
        typer.echo("no dead letters")
    for d in dead:
        m = d.message
        typer.echo(f"{m.topic} / {d.group} {m.message_id} (key {m.key or '-'}): "
                   f"{d.attempts} attempts, {d.error}")  # fmt: skip


@bus_app.command("replay")
def bus_replay(
    topic: Annotated[str, typer.Argument(help="The topic of the dead letters.")],
    group: Annotated[str, typer.Argument(help="The group that gave up on them.")],
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="Only this message id (repeatable).")
    ] = None,
) -> None:
    """Give a group's dead letters of a topic (all, or those of --id) their attempts again."""
    from embercast.bus import bus_from_settings

    with bus_from_settings(_settings()) as bus:
        count = bus.replay(topic, group, ids or None)
    typer.echo(f"replayed {count} dead letters of {topic} / {group}")


@bus_app.command("prune")
def bus_prune(
    older_than_days: Annotated[
        float | None,
        typer.Option(min=0.0, help="Keep this many days (settings bus_retention_days)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Forget the messages older than the retention that every group is done with (the
    service does it hourly); dead letters stay, and the counts of `bus stats` keep them."""
    from embercast.bus import bus_from_settings

    settings = _settings()
    days = settings.bus_retention_days if older_than_days is None else older_than_days
    with bus_from_settings(settings) as bus:
        gone = bus.prune(days * 86_400.0)
    if as_json:
        typer.echo(json.dumps({"pruned": gone, "kept_days": days}))
    else:
        typer.echo(f"{gone} messages pruned; the last {days:g} days are kept")
