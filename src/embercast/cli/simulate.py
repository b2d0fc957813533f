"""``simulate``: devices in rooms replaying recorded streams to a running service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from embercast.cli.common import _fail, _settings, app
from embercast.config import Settings
from embercast.errors import InputError

if TYPE_CHECKING:
    from embercast.service.simulator import Summary
    from embercast.service.transports import Transport

CACHE_CLASSES = ("flaming_fire", "cooking_gas_stove", "occupancy", "hot_machinery")
"""Scenarios of the dataset generated (once, into a cache folder) when no ``--from`` is given."""
CACHE_SEED = 0


def _cached_dataset(settings: Settings) -> Path:
    """A small generated dataset with every frame stored, made on first use."""
    from embercast.synth.writer import generate_dataset

    base = settings.data_dir if "://" not in settings.data_dir else "runs"
    out = Path(base) / "cache" / f"simulate-seed{CACHE_SEED}"
    if not (out / "manifest.json").is_file():
        typer.echo(f"generating {len(CACHE_CLASSES)} scenarios into {out} (once)", err=True)
    generate_dataset(str(out), scenarios=len(CACHE_CLASSES), seed=CACHE_SEED, frames="all",
                     workers=1, classes=list(CACHE_CLASSES))  # fmt: skip
    return out


def _passwords(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        found = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        _fail(f"--mqtt-passwords {path}: not JSON ({exc})")
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        _fail(f"--mqtt-passwords {path}: expected a JSON object of device id -> password")
    return found


def _transport(
    http: str | None, key: str | None, mqtt: str | None, passwords: dict[str, str]
) -> Transport:
    from embercast.service.transports import HttpTransport, MqttTransport

    if http is not None:
        return HttpTransport(http, key or "")
    assert mqtt is not None
    return MqttTransport(mqtt, passwords)


def _print(summary: Summary) -> None:
    table = Table("device", "zone", "faults", "sent", "acked", "dup", "rejected", "failed",
                  "dropped", title="embercast simulate")  # fmt: skip
    total = {**summary.total, "device_id": "total", "zone": "", "faults": []}
    for r in [*summary.devices, total]:
        rejected = ", ".join(f"{k} {v}" for k, v in r["rejected"].items())
        table.add_row(r["device_id"], r["zone"], ",".join(r["faults"]), str(r["sent"]),
                      str(r["acknowledged"]), str(r["duplicates"]), rejected or "0",
                      str(r["failed"]), str(r["dropped"]))  # fmt: skip
    Console(width=max(Console().width, 120)).print(table)
    stopped = ", interrupted" if summary.interrupted else ""
    typer.echo(f"{summary.total['sent']} messages in {summary.wall_s:.1f} s "
               f"({summary.rate_per_s:.1f}/s) at speed {summary.speed:g}, at most "
               f"{summary.total['lag_s']:.1f} s behind{stopped}")  # fmt: skip


@app.command()
def simulate(
    devices: Annotated[int, typer.Option("--devices", min=1, max=1000, help="Devices.")],
    http: Annotated[
        str | None, typer.Option(help="Service URL, e.g. http://127.0.0.1:8000.")
    ] = None,
    mqtt: Annotated[str | None, typer.Option(help="Broker URL, e.g. mqtt://host:1883.")] = None,
    speed: Annotated[
        float, typer.Option(min=1e-3, help="Seconds of data sent per wall second.")
    ] = 1.0,
    duration: Annotated[
        float | None, typer.Option(min=0.0, help="Stop after this much simulated time [s].")
    ] = None,
    source: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="A dataset, or the real fire tests (camera-less); default: "
            "a small generated dataset (cached).",
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            envvar="EMBERCAST_API_KEY",
            help="API key of --http (operate; admin also registers the devices).",
        ),
    ] = None,
    faults: Annotated[
        str | None,
        typer.Option(
            help="Comma list: dropout, late, duplicate, stuck_co2, no_camera; "
            "name=value sets the fault's value."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the faults.")] = 0,
    prefix: Annotated[str, typer.Option(help="Device ids are PREFIX-1, PREFIX-2, ...")] = "sim",
    mqtt_passwords: Annotated[
        Path | None,
        typer.Option(help="JSON object: device id -> its broker password (--mqtt)."),
    ] = None,
    edge: Annotated[
        str | None,
        typer.Option(
            help="Devices compute this feature set's thermal features themselves and send "
            "them instead of frames (the served model's set, e.g. extended)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Replay recorded streams as live devices (sim-1, sim-2, ...) to a running service over
    HTTP or through its MQTT broker, in real time or faster (--speed), with faults; then
    summarise what became of each message."""
    from embercast.service import simulator
    from embercast.service.transports import HttpTransport, MqttTransport

    if (http is None) == (mqtt is None):
        _fail("give exactly one of --http URL or --mqtt URL")
    if http is not None and not key:
        _fail("an API key is needed: --key or EMBERCAST_API_KEY (embercast keys create)")
    found = simulator.parse_faults(faults)
    passwords = _passwords(mqtt_passwords)
    settings = _settings()
    where = source if source is not None else _cached_dataset(settings)
    recordings = simulator.load_recordings(where, devices, seed)
    try:
        sims = simulator.make_devices(recordings, devices, found, seed, prefix, edge=edge)
    except InputError as exc:
        _fail(str(exc))
    plans = [simulator.plan(d, duration, seed) for d in sims]
    transport = _transport(http, key, mqtt, passwords)
    try:
        if isinstance(transport, HttpTransport):
            outcomes = [transport.register(d.device_id, d.zone, d.name) for d in sims]
            if "assumed" in outcomes:
                typer.echo("the key may not register devices: they are taken to exist", err=True)
        elif isinstance(transport, MqttTransport):
            for d in sims:  # every device logs in before any sends
                transport.connect(d.device_id)
            typer.echo("over MQTT the devices are taken to be registered (an admin key over "
                       "--http with --duration 0 registers them)", err=True)  # fmt: skip
        summary = simulator.run(plans, transport, speed)
    finally:
        transport.close()
    if as_json:
        typer.echo(json.dumps(summary.as_dict()))
    else:
        _print(summary)
    late = sum(summary.total["rejected"].get(r, 0) for r in ("reading_order", "frame_order"))
    if late > summary.total["sent"] / 2:
        typer.echo("most messages were older than what the service holds for these devices (a "
                   "faster run before?): use another --prefix, or wait", err=True)  # fmt: skip
