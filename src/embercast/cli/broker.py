"""``embercast broker``: a Mosquitto configuration for embercast (listener, ACL, persistence) and
the passwords of the service and of each device."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from embercast.cli.common import _fail, app
from embercast.errors import EmbercastError

broker_app = typer.Typer(
    help="A Mosquitto broker for embercast: its configuration and passwords.",
    no_args_is_help=True,
)
app.add_typer(broker_app, name="broker")


@broker_app.command("config")
def broker_config(
    folder: Annotated[Path, typer.Argument(help="Folder of mosquitto.conf, acl and passwd.")],
    port: Annotated[int, typer.Option(help="TCP port of the listener.")] = 1883,
    host: Annotated[str, typer.Option(help="Address of the listener.")] = "127.0.0.1",
    tls_cert: Annotated[
        Path | None, typer.Option(help="Certificate (PEM) for a TLS listener.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="Its private key (PEM).")] = None,
    user: Annotated[
        str | None, typer.Option(help="Account Mosquitto runs as when started as root.")
    ] = None,
) -> None:
    """Write mosquitto.conf and the ACL (a device publishes only under its own topics); prints
    the configuration's path (mosquitto -c PATH runs it)."""
    from embercast.service.broker import write_broker_config

    if (tls_cert is None) != (tls_key is None):
        _fail("--tls-cert and --tls-key go together")
    tls = None if tls_cert is None or tls_key is None else (str(tls_cert), str(tls_key))
    typer.echo(str(write_broker_config(folder, port=port, host=host, tls=tls, user=user)))


@broker_app.command("password")
def broker_password(
    folder: Annotated[Path, typer.Argument(help="The broker's folder (broker config).")],
    user: Annotated[str, typer.Argument(help="A device id, or embercast-service.")],
) -> None:
    """Add USER to the broker's passwd file (or give it a new password) and print the password
    once; a running Mosquitto re-reads the file on SIGHUP."""
    from embercast.service.broker import set_password

    if not (folder / "mosquitto.conf").is_file():
        _fail(f"{folder} holds no mosquitto.conf: run embercast broker config {folder} first")
    try:
        typer.echo(set_password(folder, user))
    except EmbercastError as exc:
        _fail(str(exc))
