"""``embercast learn``: the episodes of operators' verdicts, and a challenger retrained on them."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from embercast.cli.common import _settings, app
from embercast.cli.models import _pipeline_table

learn_app = typer.Typer(help="Operators' verdicts as training data: episodes, retraining.")
app.add_typer(learn_app, name="learn")


def _episodes_location(given: str | None) -> str:
    from embercast.service.home import episodes_location

    return given or episodes_location(_settings())


@learn_app.command("episodes")
def learn_episodes(
    location: Annotated[
        str | None, typer.Argument(help="Episodes folder (default: learning_episodes).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """Every episode: the alarm, device, verdict and cause, who gave it, and its rows."""
    from embercast.dataset.episodes import read_episodes

    found = read_episodes(_episodes_location(location))
    facts = sorted(found.facts.values(), key=lambda f: (f.get("t", 0), f.get("device_id", "")))
    if json_output:
        typer.echo(json.dumps(facts, sort_keys=True))
        return
    for f in facts:
        typer.echo(f"{f['alarm_id']} {f['device_id']}: {f['verdict']}"
                   f"{' (' + str(f['cause']) + ')' if f.get('cause') else ''} by {f['who']}, "
                   f"{f['rows']} rows")  # fmt: skip


@learn_app.command("retrain")
def learn_retrain(
    episodes: Annotated[
        str | None, typer.Option("--episodes", help="Episodes folder (default: learning_episodes).")
    ] = None,
    base: Annotated[
        list[str] | None,
        typer.Option("--base", help="Feature sets to start from (default: the champion's)."),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Registered model name.")] = "fire",
    model: Annotated[
        str | None, typer.Option("--model", help="Kind of model (default: the champion's).")
    ] = None,
    scenarios: Annotated[
        int, typer.Option("--scenarios", min=1, help="Scenarios of the supplementary dataset.")
    ] = 48,
    alarm_on: Annotated[
        str, typer.Option("--alarm-on", help="conditions or val (see train).")
    ] = "conditions",
    out: Annotated[str, typer.Option("--out", help="The workflow's folder.")] = "runs/retrain",
    json_output: Annotated[bool, typer.Option("--json", help="Print the final state.")] = False,
) -> None:
    """Generate more of what fooled the champion, train a challenger on it with the episodes,
    and gate it against the champion (cached and resumable; promotion is `models promote`)."""
    from embercast.lifecycle.retrain import STEPS, build_retrain, champion_training

    settings = _settings()
    if base and model:
        start, kind = list(base), model
    else:
        recorded, recorded_model = champion_training(name)
        start, kind = list(base or recorded), model or recorded_model
    workflow = build_retrain(
        base=start, episodes=_episodes_location(episodes), out=out, name=name, model=kind,
        scenarios=scenarios, workers=settings.workers, alarm_on=alarm_on,
    )  # fmt: skip
    state = workflow.run(lambda step, event: typer.echo(f"{step}: {event}", err=True))
    if json_output:
        typer.echo(json.dumps(state, sort_keys=True, default=str))
    else:
        _pipeline_table(state, STEPS)
