"""``embercast agent NAME``: an agent in a process of its own, on the bus the settings name."""

from __future__ import annotations

import os
import signal
import threading
from typing import Annotated, Literal

import typer

from embercast.cli.common import _fail, _settings, app


@app.command()
def agent(
    name: Annotated[
        Literal["response"],
        typer.Argument(help="response: zone events to notifications (notify_recipients)."),
    ],
    for_s: Annotated[
        float | None, typer.Option("--for", min=0.0, help="Stop after this many seconds.")
    ] = None,
) -> None:
    """Run one agent until Ctrl-C or SIGTERM (or --for seconds). Set notify_in_service = false
    for the service so that only this process sends the notifications."""
    from embercast.agents.response import ResponseAgent
    from embercast.bus import bus_from_settings
    from embercast.notify.outbox import Outbox
    from embercast.notify.recipients import load_recipients
    from embercast.service.state import OUTBOX_FILE

    settings = _settings()
    if not settings.notify_recipients:
        _fail("the response agent needs notify_recipients (a TOML file of recipients)")
    recipients = load_recipients(settings.notify_recipients)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if for_s is not None:
        timer = threading.Timer(for_s, stop.set)
        timer.daemon = True
        timer.start()
    with bus_from_settings(settings) as bus:
        outbox = Outbox(os.path.join(settings.service_home, OUTBOX_FILE))
        try:
            typer.echo(f"agent {name}: {len(recipients)} recipients; Ctrl-C stops it", err=True)
            ResponseAgent(outbox, recipients).run(bus, stop)
        finally:
            outbox.close()
