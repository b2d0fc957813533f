"""The live service: ``serve`` runs it, ``keys`` manages its API keys."""

from __future__ import annotations

import datetime
import json
import os
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from embercast.cli.common import _fail, _settings, app
from embercast.errors import InputError

if TYPE_CHECKING:
    from embercast.service.keys import KeyStore

keys_app = typer.Typer(
    help="API keys of the service: create (shown once), list, revoke.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
store_app = typer.Typer(help="The service's stored readings and frames.", no_args_is_help=True)
app.add_typer(store_app, name="store")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address (settings service_host).")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (settings service_port).")] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Model reference (settings model_ref).")
    ] = None,
) -> None:
    """Run the service: REST API under /v1 (OpenAPI at /docs), /healthz, /readyz, /metrics."""
    import uvicorn

    from embercast.service.app import create_app

    settings = _settings()
    changes = {"service_host": host, "service_port": port, "model_ref": model}
    settings = settings.model_copy(update={k: v for k, v in changes.items() if v is not None})
    tls = (settings.service_tls_cert, settings.service_tls_key)
    if (tls[0] is None) != (tls[1] is None):
        _fail("TLS needs both service_tls_cert and service_tls_key")
    uvicorn.run(
        create_app(settings), host=settings.service_host, port=settings.service_port,
        ssl_certfile=tls[0], ssl_keyfile=tls[1], log_level="info",
        access_log=settings.service_access_log,
    )  # fmt: skip


@app.command()
def run(
    out: Annotated[str, typer.Option("--out", "-o", help="Output folder.")] = "runs/quickstart",
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 2,
    port: Annotated[
        int | None, typer.Option(help="Service port (settings service_port; 0: any free).")
    ] = None,
    speed: Annotated[
        float, typer.Option(min=0.1, max=1000.0, help="Simulated seconds per wall second.")
    ] = 10.0,
    for_s: Annotated[
        float | None, typer.Option("--for", min=0.0, help="Stop after this many seconds.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
    dataset: Annotated[
        str | None,
        typer.Option(
            help="A dataset generated before, with its features (generate --features SET), "
            "to train the model on instead of the quickstart's."
        ),
    ] = None,
) -> None:
    """The main job: the whole system on this machine. A small dataset (validated, a fire and a
    nuisance plotted), a model trained on it and registered as champion (both reused by later
    runs), the service with its dashboard, and devices in four rooms (one catches fire, one
    burns toast) streaming to it; until Ctrl-C or --for seconds."""
    from embercast.service.system import SystemRun, run_system

    settings = _settings()

    def ready(run: SystemRun) -> None:
        q = run.quickstart
        typer.echo(f"dataset:   {q.dataset} ({q.summary.scenarios} scenarios, "
                   f"{q.summary.rows:,} rows, validated ok)")  # fmt: skip
        for cls, path in q.plots.items():
            typer.echo(f"plot:      {path} ({cls})")
        typer.echo(f"model:     {run.model_ref} (version {run.model_version}"
                   f"{', reused' if run.model_reused else ''})")  # fmt: skip
        typer.echo(f"dashboard: {run.url}/")
        typer.echo(f"API key:   {run.key}")
        rooms = ", ".join(f"{d} ({z})" for d, z in run.devices.items())
        typer.echo(f"devices:   {rooms}, at {speed:g}x real time; Ctrl-C stops")

    result = run_system(
        out, port=settings.service_port if port is None else port, speed=speed, for_s=for_s,
        workers=workers, dataset=dataset, log=lambda msg: typer.echo(msg, err=True), ready=ready,
    )  # fmt: skip
    if as_json:
        typer.echo(json.dumps({"url": result.url, "model": result.model_ref,
                               "version": result.model_version, "reused": result.model_reused,
                               "devices": result.devices, "simulation": result.simulation,
                               "alarms": result.alarms}, default=str))  # fmt: skip
        return
    sent = result.simulation.get("sent", 0)
    typer.echo(f"sent:      {sent:,} messages; alarms: {len(result.alarms)}")
    for alarm in result.alarms:
        typer.echo(f"alarm:     {alarm['zone']} ({alarm['device_id']}) {alarm['state']}, "
                   f"peak p {alarm['peak_p']:.2f}")  # fmt: skip


def _store() -> KeyStore:
    from embercast.service.db import DB_FILE, ServiceDB
    from embercast.service.keys import KeyStore

    return KeyStore(ServiceDB(os.path.join(_settings().service_home, DB_FILE)))


def _when(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key.")],
    scope: Annotated[str, typer.Option(help="read, operate (alarm actions) or admin.")] = "read",
    quota_per_day: Annotated[
        int | None, typer.Option(help="At most this many requests per UTC day (429 beyond).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a key; it is printed once and stored only as its hash."""
    try:
        record, key = _store().create(name, scope, quota_per_day)
    except InputError as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps({"key_id": record.key_id, "name": record.name,
                               "scope": record.scope, "quota_per_day": record.quota_per_day,
                               "key": key}))  # fmt: skip
    else:
        typer.echo(key)
        typer.echo(f"key {record.key_id} ({record.scope}) for {record.name}: keep it, it is not "
                   "shown again", err=True)  # fmt: skip


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every key: id, name, scope, daily quota and today's use, created, revoked (never the
    key)."""
    store = _store()
    keys = store.list()
    if as_json:
        rows = [{"key_id": k.key_id, "name": k.name, "scope": k.scope, "created_s": k.created_s,
                 "revoked_s": k.revoked_s, "quota_per_day": k.quota_per_day,
                 "used_today": store.used_today(k.key_id)} for k in keys]  # fmt: skip
        typer.echo(json.dumps(rows))
        return
    table = Table("id", "name", "scope", "quota/day", "used today", "created", "revoked")
    for k in keys:
        quota = "" if k.quota_per_day is None else f"{k.quota_per_day:,}"
        table.add_row(k.key_id, k.name, k.scope, quota, f"{store.used_today(k.key_id):,}",
                      _when(k.created_s), _when(k.revoked_s))  # fmt: skip
    Console().print(table)


@keys_app.command("quota")
def keys_quota(
    key_id: Annotated[str, typer.Argument(help="The key's id (keys list).")],
    per_day: Annotated[str, typer.Argument(help="Requests per UTC day, or 'none'.")],
) -> None:
    """Set a key's daily quota (a running service applies it from the key's next request)."""
    if per_day.lower() != "none" and not per_day.lstrip("-").isdigit():
        _fail(f"a quota is a number of requests per day or 'none', not {per_day!r}")
    quota = None if per_day.lower() == "none" else int(per_day)
    try:
        record = _store().set_quota(key_id, quota)
    except InputError as exc:
        _fail(str(exc))
    shown = "no quota" if record.quota_per_day is None else f"{record.quota_per_day:,} a day"
    typer.echo(f"key {record.key_id} ({record.name}): {shown}")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (keys list).")]) -> None:
    """Revoke a key: it answers 401 from the next request on."""
    try:
        record = _store().revoke(key_id)
    except InputError as exc:
        _fail(str(exc))
    typer.echo(f"revoked key {record.key_id} ({record.name})")


@store_app.command("prune")
def store_prune(
    older_than_days: Annotated[
        float | None,
        typer.Option(min=0.0, help="Keep this many days (settings service_retention_days)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Delete the days of stored readings and frames older than the retention (whole days,
    by the day they were received, UTC)."""
    from embercast.service.home import INGEST_DIR
    from embercast.service.ingest_log import IngestLog

    settings = _settings()
    days = settings.service_retention_days if older_than_days is None else older_than_days
    log = IngestLog(os.path.join(settings.service_home, INGEST_DIR))
    try:
        gone = log.prune(days * 86_400.0)
    finally:
        log.close()
    if as_json:
        typer.echo(json.dumps({"deleted": gone, "kept_days": days}))
    else:
        for folder in gone:
            typer.echo(f"deleted {folder}")
        typer.echo(f"{len(gone)} day folder(s) deleted; the last {days:g} days are kept")
