"""``embercast agent NAME``: an agent in a process of its own, on the bus the settings name."""

from __future__ import annotations

import os
import signal
import threading
from functools import partial
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from embercast.bus import Bus
from embercast.cli.common import _fail, _settings, app
from embercast.config import Settings

if TYPE_CHECKING:
    from embercast.service.live_model import ModelHolder


@app.command()
def agent(
    name: Annotated[
        Literal["response", "fold", "drift", "learning", "shadow", "monitoring", "zones"],
        typer.Argument(
            help="response: zone events to notifications (notify_recipients); fold: a share of "
            "the devices' streams from the bus's readings topic (service_fold_in_service = "
            "false), predictions to the risk topic; drift: ADWIN on the served model's inputs "
            "and probability from the risk topic, drifts to model_events "
            "(learning_drift_in_service = false); learning: operators' verdicts from the "
            "feedback topic to labelled episodes (learning_in_service = false); shadow: the "
            "challenger (or the replaced champion) scored on the risk topic, promotion and "
            "roll-back, comparison and actions to model_events (learning_shadow_in_service = "
            "false); monitoring: silent devices from the risk topic to device_events "
            "(monitoring_in_service = false); zones: the zones' state machines over the risk "
            "topic, operators' requests from zone_requests, events to alarms "
            "(zones_in_service = false; on the service's machine: it shares zones.sqlite)."
        ),
    ],
    for_s: Annotated[
        float | None, typer.Option("--for", min=0.0, help="Stop after this many seconds.")
    ] = None,
) -> None:
    """Run one agent until Ctrl-C or SIGTERM (or --for seconds). Set notify_in_service = false
    for the service when response agents send the notifications, service_fold_in_service =
    false when fold agents fold the devices (start as many as there are cores to spare),
    learning_drift_in_service = false when a drift agent watches drift, learning_in_service =
    false when a learning agent writes the episodes (on the service's machine: it reads the
    ingest log), learning_shadow_in_service = false when a shadow agent scores the other model
    (its tallies in shadow.json of its service_home), monitoring_in_service = false when a
    monitoring agent watches for silent devices, zones_in_service = false when a zones agent
    runs the zones (one at a time)."""
    from embercast.bus import bus_from_settings
    from embercast.bus.presence import Presence, worker_name

    settings = _settings()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if for_s is not None:
        timer = threading.Timer(for_s, stop.set)
        timer.daemon = True
        timer.start()
    with bus_from_settings(settings) as bus:
        if name == "fold":  # present on the bus through its partitions' membership
            _fold(settings, bus, stop)
            return
        run = {"response": _response, "drift": _drift, "learning": _learning,
               "shadow": _shadow, "monitoring": _monitoring, "zones": _zones}[name]  # fmt: skip
        with Presence(bus, name, worker_name(name)):  # the service sees it running
            run(settings, bus, stop)


def _response(settings: Settings, bus: Bus, stop: threading.Event) -> None:
    from embercast.agents.response import ResponseAgent
    from embercast.notify.outbox import Outbox
    from embercast.notify.recipients import load_recipients
    from embercast.service.home import OUTBOX_FILE

    if not settings.notify_recipients:
        _fail("the response agent needs notify_recipients (a TOML file of recipients)")
    recipients = load_recipients(settings.notify_recipients)
    outbox = Outbox(os.path.join(settings.service_home, OUTBOX_FILE))
    try:
        typer.echo(f"agent response: {len(recipients)} recipients; Ctrl-C stops it", err=True)
        ResponseAgent(outbox, recipients).run(bus, stop)
    finally:
        outbox.close()


def _fold(settings: Settings, bus: Bus, stop: threading.Event) -> None:
    from embercast.bus.presence import worker_name
    from embercast.service.fold_worker import FoldWorker
    from embercast.service.heap import full_collections_every
    from embercast.service.home import INGEST_DIR
    from embercast.service.ingest_log import IngestLog
    from embercast.service.live_model import ModelHolder
    from embercast.service.state import stream_hub

    if not settings.model_ref:
        _fail("the fold agent needs model_ref (the model the service serves)")
    models = ModelHolder(settings.model_ref)
    log = IngestLog(os.path.join(settings.service_home, INGEST_DIR))
    owner = worker_name()
    worker = FoldWorker(
        bus, stream_hub(settings, models), models, log, owner, settings.bus_partitions,
        replay_s=settings.service_replay_s, model_poll_s=settings.service_model_poll_s,
        lease_s=settings.bus_partition_lease_s, visibility_s=2 * settings.bus_partition_lease_s,
    )  # fmt: skip
    try:
        typer.echo(f"agent fold {owner}: {settings.bus_partitions} partitions; Ctrl-C stops it",
                   err=True)  # fmt: skip
        with full_collections_every(settings.service_gc_full_s):  # it holds device streams
            worker.run(stop)
    finally:
        log.close()
        typer.echo(f"agent fold {owner}: {dict(worker.counts)}", err=True)


def _followed_model(settings: Settings, stop: threading.Event, who: str) -> ModelHolder:
    """The served model (``model_ref``), followed as the service follows its alias."""
    from embercast.service.live_model import ModelHolder

    if not settings.model_ref:
        _fail(f"the {who} agent needs model_ref (the model the service serves)")
    models = ModelHolder(settings.model_ref)
    models.refresh()
    threading.Thread(
        target=models.follow, args=(stop, settings.service_model_poll_s), name=f"{who}-model",
        daemon=True,
    ).start()  # fmt: skip
    return models


def _drift(settings: Settings, bus: Bus, stop: threading.Event) -> None:
    from embercast.agents.drift import DriftWatch

    models = _followed_model(settings, stop, "drift")  # its inputs' names
    watch = DriftWatch(lambda: None if models.current is None else models.current.features)
    typer.echo("agent drift: Ctrl-C stops it", err=True)
    watch.run(bus, stop)
    typer.echo(f"agent drift: {len(watch.found)} drifts", err=True)


def _learning(settings: Settings, bus: Bus, stop: threading.Event) -> None:
    from embercast.agents.learning import LearningAgent
    from embercast.service.home import INGEST_DIR, episodes_location
    from embercast.service.ingest_log import IngestLog

    models = _followed_model(settings, stop, "learning")  # its feature set
    log = IngestLog(os.path.join(settings.service_home, INGEST_DIR))
    agent = LearningAgent(
        episodes_location(settings), log.window,
        lambda: None if models.current is None else models.current.feature_set,
        before_s=settings.learning_before_s, after_s=settings.learning_after_s,
    )  # fmt: skip
    try:
        typer.echo("agent learning: Ctrl-C stops it", err=True)
        agent.run(bus, stop)
    finally:
        log.close()
        typer.echo(f"agent learning: {agent.written} episodes written", err=True)


def _shadow(settings: Settings, bus: Bus, stop: threading.Event) -> None:
    from embercast.agents.model_events import announcer
    from embercast.service.state import model_steward

    models = _followed_model(settings, stop, "shadow")  # the served model, scored beside
    steward = model_steward(settings, lambda: models.current, partial(announcer, bus))
    if steward is None or steward.shadow is None:
        _fail("the shadow agent needs model_ref to name a registered model (NAME@ALIAS)")
    # checked as often as the tallies are saved: this process has nothing else to do
    period_s = settings.learning_shadow_save_s
    checks = threading.Thread(
        target=steward.run, args=(stop, period_s), name="steward", daemon=True
    )
    checks.start()
    typer.echo(f"agent shadow: {steward.name}; Ctrl-C stops it", err=True)
    steward.shadow.run(bus, stop, save_s=period_s, announce=announcer(bus, "shadow"))
    checks.join(timeout=10)
    typer.echo(f"agent shadow: {len(steward.actions)} steward actions", err=True)


def _monitoring(settings: Settings, bus: Bus, stop: threading.Event) -> None:
    from embercast.agents.monitoring import DeviceWatch, publisher

    watch = DeviceWatch(publisher(bus), silent_min_s=settings.monitoring_silent_s)
    typer.echo("agent monitoring: Ctrl-C stops it", err=True)
    watch.run(bus, stop)
    silent = sum(seen.silent for seen in watch.devices.values())
    typer.echo(f"agent monitoring: {len(watch.devices)} devices, {silent} silent", err=True)


def _zones(settings: Settings, bus: Bus, stop: threading.Event) -> None:
    from embercast.agents.zone_requests import run_zone_agent
    from embercast.agents.zones import ZoneAgent
    from embercast.service.home import ZONES_FILE
    from embercast.service.state import zone_params_of

    models = _followed_model(settings, stop, "zones")  # its operating point
    zones = ZoneAgent(
        os.path.join(settings.service_home, ZONES_FILE),
        lambda: None if models.current is None else models.current.params,
        bus, zone_params_of(settings),
    )  # fmt: skip
    try:
        typer.echo("agent zones: Ctrl-C stops it", err=True)
        run_zone_agent(zones, bus, stop)
    finally:
        typer.echo(f"agent zones: {len(zones.zones())} zones", err=True)
        zones.close()
