"""Typed settings: one TOML file plus ``EMBERCAST_*`` environment variables.

Settings are read through :func:`get_settings`, which caches one instance; tests and the CLI
override values with environment variables (``EMBERCAST_DATA_DIR=...``) or by calling
``get_settings.cache_clear()`` after changing them.

The TOML file is ``embercast.toml`` in the working directory, or the path in
``EMBERCAST_CONFIG``. Environment variables win over the file. Settings are flat names (the
same in the file and after ``EMBERCAST_``), grouped by concern into the sections of
:data:`SECTIONS`; a section's settings share its prefix where they are its own (``alarm_*``,
``gate_*``; later ``service_*``, ``mqtt_*``, ...). ``embercast config show`` prints them.
"""

from __future__ import annotations

import difflib
import json
import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic.config import JsonDict
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from embercast.errors import InputError

SECTIONS: dict[str, str] = {
    "storage": "where data, the lineage catalog and compiled models live",
    "engine": "where tasks run: this machine or a Dask cluster",
    "generation": "how datasets are written",
    "alarm": "training: how a model's alarm operating point is chosen",
    "registry": "the model registry and its promotion gate",
    "inference": "batch scoring",
    "service": "the live service: address, its state, the model it serves, request limits",
    "mqtt": "the MQTT broker the service takes device messages from (none: HTTP only)",
    "bus": "the durable message bus between the live system's parts (SQLite or Redis Streams)",
    "notify": "who is told of zone events, and how",
    "zones": "the zones' fire-panel parameters (confirmation, positive alarm sequence, schedules)",
    "learning": "operators' verdicts as training data, drift, challengers",
    "monitoring": "devices' data quality: the trouble it raises",
}
"""Sections of the settings, in the order ``embercast config show`` lists them; each field
names its section (``json_schema_extra={"section": ...}``)."""


def config_file() -> Path | None:
    """The TOML file settings are read from: ``EMBERCAST_CONFIG`` (which must exist; empty
    means no file) or ``./embercast.toml`` when there is one; None for none."""
    named = os.environ.get("EMBERCAST_CONFIG")
    if named is not None:
        return Path(named) if named.strip() else None
    default = Path("embercast.toml")
    return default if default.is_file() else None


def _check_file(path: Path) -> None:
    """InputError naming ``path`` when it is missing, not TOML or sets an unknown setting."""
    if not path.is_file():
        raise InputError(
            f"EMBERCAST_CONFIG names {path}, which is not a file (unset it, or set it empty, "
            "to read no settings file)"
        )
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    known = Settings.model_fields
    for key, value in data.items():
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            what = "a table" if isinstance(value, dict) else "a setting"
            raise InputError(
                f"{path}: unknown setting {key!r}{hint}; {what} embercast does not know "
                "(embercast config show lists every setting)"
            )


def _in(section: str) -> JsonDict:
    return {"section": section}


class Settings(BaseSettings):
    """Project-wide settings.

    Attributes are documented with their unit where they have one.
    """

    model_config = SettingsConfigDict(
        env_prefix="EMBERCAST_",
        env_ignore_empty=True,
        extra="ignore",
    )

    data_dir: str = Field(
        json_schema_extra=_in("storage"),
        default="runs",
        description="Default root for datasets and outputs (local path or fsspec URL).",
    )
    engine: Literal["local", "dask"] = Field(
        json_schema_extra=_in("engine"),
        default="local",
        description="Default executor for generation.",
    )
    workers: int = Field(
        json_schema_extra=_in("engine"),
        default=1,
        ge=1,
        le=256,
        description="Default worker processes.",
    )
    dask_scheduler: str | None = Field(
        json_schema_extra=_in("engine"),
        default=None,
        description="Address of a running Dask scheduler (tcp://host:port).",
    )
    scenarios_per_task: int = Field(
        json_schema_extra=_in("generation"),
        default=8,
        ge=1,
        le=10_000,
        description="Scenarios written per output part.",
    )
    s3_endpoint_url: str | None = Field(
        json_schema_extra=_in("storage"),
        default=None,
        description="Endpoint of an S3-compatible store (Garage, SeaweedFS, ...).",
    )
    catalog_path: str = Field(
        json_schema_extra=_in("storage"),
        default="runs/catalog.sqlite",
        description="SQLite file of the catalog of datasets and feature sets (lineage).",
    )
    mlflow_uri: str = Field(
        json_schema_extra=_in("registry"),
        default="runs/mlflow.db",
        description="MLflow tracking and registry store: a SQLite file path, or a server URI "
        "(http://...) when there is one.",
    )
    compiled_dir: str = Field(
        json_schema_extra=_in("inference"),
        default="runs/compiled",
        description="Local directory where LightGBM models compiled to native code for batch "
        "scoring are kept and reused (one file per booster and CPU).",
    )
    compile_min_rows: int = Field(
        json_schema_extra=_in("inference"),
        default=2_000_000,
        ge=0,
        description="Batch inference: a LightGBM model not yet compiled on this machine is "
        "compiled for an input of at least this many rows (compiling costs seconds once and "
        "saves microseconds per row; BENCHMARKS.md); below it the input is scored through "
        "predict_proba [rows].",
    )
    alarm_false_alarm_budget: float = Field(
        json_schema_extra=_in("alarm"),
        default=0.02,
        ge=0.0,
        le=1.0,
        description="Training: the largest share of nuisance scenarios with a false alarm a "
        "model's alarm threshold and delay may have, met on validation scores by "
        "``alarm_budget_margin_se`` standard errors [-].",
    )
    alarm_budget_margin_se: float = Field(
        json_schema_extra=_in("alarm"),
        default=2.0,
        ge=0.0,
        le=5.0,
        description="Training: how many binomial standard errors (over the validation nuisance "
        "scenarios) below the false-alarm budget a chosen operating point's share must lie "
        "[-] (docs/MODELS.md, 'Alarm operating point').",
    )
    gate_max_detection_drop: float = Field(
        json_schema_extra=_in("registry"),
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Promotion gate: largest allowed drop of held-out detection rate [-].",
    )
    gate_max_ttd_increase: float = Field(
        json_schema_extra=_in("registry"),
        default=0.1,
        ge=0.0,
        description="Promotion gate: largest allowed relative increase of the median time to "
        "detect [-].",
    )
    gate_max_false_alarm_increase: float = Field(
        json_schema_extra=_in("registry"),
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Promotion gate: largest allowed increase of the nuisance false-alarm "
        "rate [-].",
    )

    service_home: str = Field(
        json_schema_extra=_in("service"),
        default="runs/service",
        description="Local directory of the live service's state: API keys, devices and "
        "alarms (SQLite) and the readings and frames it stores.",
    )
    service_host: str = Field(
        json_schema_extra=_in("service"),
        default="127.0.0.1",
        description="Address the service listens on.",
    )
    service_port: int = Field(
        json_schema_extra=_in("service"),
        default=8000,
        ge=0,
        le=65535,
        description="TCP port the service listens on (0: any free port).",
    )
    model_ref: str = Field(
        json_schema_extra=_in("service"),
        default="fire@champion",
        description="The model the service scores with: a registry reference (followed when "
        "its alias moves) or a model file.",
    )
    service_model_poll_s: float = Field(
        json_schema_extra=_in("service"),
        default=10.0,
        gt=0.0,
        description="How often the service asks the registry where ``model_ref`` points [s].",
    )
    service_max_body_bytes: int = Field(
        json_schema_extra=_in("service"),
        default=4_194_304,
        ge=1024,
        description="Largest request body the service reads; larger ones get 413 [bytes].",
    )
    service_rate_per_s: float = Field(
        json_schema_extra=_in("service"),
        default=5000.0,
        gt=0.0,
        description="Requests each API key may make per second, sustained (a token bucket "
        "holding one second's worth); more get 429 [1/s].",
    )
    service_flush_s: float = Field(
        json_schema_extra=_in("service"),
        default=0.05,
        gt=0.0,
        le=5.0,
        description="Ingest: the longest a message waits to be written, with the others that "
        "arrived meanwhile, before it is acknowledged [s].",
    )
    service_gc_full_s: float = Field(
        json_schema_extra=_in("service"),
        default=3600.0,
        ge=0.0,
        description="A full garbage collection every this long, and none started by CPython "
        "itself (its pauses grow with the devices' streams held); 0: CPython's own schedule "
        "[s].",
    )
    service_fold_threads: int = Field(
        json_schema_extra=_in("service"),
        default=2,
        ge=1,
        le=32,
        description="Ingest: threads that fold devices' frames into their streams side by side "
        "(the optical flow runs outside Python's lock; edge rows and readings alone are folded "
        "on one).",
    )
    service_fold_in_service: bool = Field(
        json_schema_extra=_in("service"),
        default=True,
        description="Whether embercast serve folds every device's stream itself; false when "
        "`embercast agent fold` workers fold them from the bus's `readings` topic (the service "
        "then only ingests and serves; the workers read its ingest log, so they share its "
        "file system).",
    )
    service_fold_workers: int = Field(
        json_schema_extra=_in("service"),
        default=0,
        ge=0,
        le=64,
        description="With service_fold_in_service = false: `embercast agent fold` processes "
        "embercast serve starts and restarts itself (0: none; run them elsewhere).",
    )
    service_reading_wait_s: float = Field(
        json_schema_extra=_in("service"),
        default=2.0,
        ge=0.0,
        le=60.0,
        description="Ingest: how long a reading waits for the frames at or before its time "
        "(and for readings that arrive out of order) before it is scored without them [s].",
    )
    service_replay_s: float = Field(
        json_schema_extra=_in("service"),
        default=7200.0,
        ge=0.0,
        description="At start-up, each device's stream is rebuilt from its stored readings and "
        "frames of this long before its last one [s] (the longest feature window is 1,800 s); "
        "only the parts written within twice this of the newest are read, and a device silent "
        "for longer than this starts anew.",
    )
    service_retention_days: float = Field(
        json_schema_extra=_in("service"),
        default=30.0,
        gt=0.0,
        description="Stored readings and frames older than this (whole UTC days by arrival) "
        "are deleted by the service every 10 minutes, or by ``embercast store prune`` [days].",
    )
    service_tls_cert: str | None = Field(
        json_schema_extra=_in("service"),
        default=None,
        description="PEM certificate file: when set (with ``service_tls_key``) the service "
        "speaks HTTPS only.",
    )
    service_tls_key: str | None = Field(
        json_schema_extra=_in("service"),
        default=None,
        description="PEM private key file of ``service_tls_cert``.",
    )
    service_access_log: bool = Field(
        json_schema_extra=_in("service"),
        default=False,
        description="Log every HTTP request (uvicorn's access log); off, requests are counted "
        "in /metrics and errors still logged.",
    )

    mqtt_url: str | None = Field(
        json_schema_extra=_in("mqtt"),
        default=None,
        description="Broker the service subscribes to: mqtt://user:password@host:port (mqtts:// "
        "for TLS); none: devices post over HTTP only.",
    )
    mqtt_client_id: str = Field(
        json_schema_extra=_in("mqtt"),
        default="embercast-service",
        description="The service's MQTT client id: its persistent session on the broker keeps "
        "the messages that arrive while the service is down.",
    )
    mqtt_tls_ca: str | None = Field(
        json_schema_extra=_in("mqtt"),
        default=None,
        description="CA certificate file to check the broker's certificate with (mqtts://).",
    )
    mqtt_keepalive_s: int = Field(
        json_schema_extra=_in("mqtt"),
        default=30,
        ge=5,
        le=3600,
        description="MQTT keepalive: how soon a lost connection is noticed [s].",
    )

    bus_url: str | None = Field(
        json_schema_extra=_in("bus"),
        default=None,
        description="The bus: redis://host:port/db for Redis Streams, or a SQLite file; none "
        "means bus.sqlite in service_home.",
    )
    bus_max_attempts: int = Field(
        json_schema_extra=_in("bus"),
        default=5,
        ge=1,
        le=1000,
        description="Deliveries of a message before it becomes a dead letter.",
    )
    bus_partitions: int = Field(
        json_schema_extra=_in("bus"),
        default=8,
        ge=1,
        le=1024,
        description="Partitions of the `readings` topic, split by device among the fold "
        "workers (the most workers that can share the devices).",
    )
    bus_partition_lease_s: float = Field(
        json_schema_extra=_in("bus"),
        default=10.0,
        gt=0.0,
        le=600.0,
        description="A fold worker renews its partitions this often at least: a stopped "
        "worker's partitions go to the others after it, the messages it had not acknowledged "
        "after twice it [s].",
    )
    bus_retention_days: float = Field(
        json_schema_extra=_in("bus"),
        default=2.0,
        gt=0.0,
        le=3650.0,
        description="Messages every group is done with are forgotten this long after they were "
        "published (the service prunes hourly; `embercast bus prune`); dead letters stay [days].",
    )
    bus_backoff_s: float = Field(
        json_schema_extra=_in("bus"),
        default=1.0,
        ge=0.0,
        le=3600.0,
        description="Wait before the second delivery of a failed message, doubled for each "
        "later one (at most 300 s) [s].",
    )

    notify_recipients: str | None = Field(
        json_schema_extra=_in("notify"),
        default=None,
        description="TOML file of the recipients of zone events (Apprise URLs, zones, kinds, "
        "escalation); none: nobody is notified.",
    )

    notify_in_service: bool = Field(
        json_schema_extra=_in("notify"),
        default=True,
        description="Whether embercast serve sends the notifications itself; false when "
        "`embercast agent response` runs elsewhere on the same bus.",
    )
    zones_in_service: bool = Field(
        json_schema_extra=_in("zones"),
        default=True,
        description="The service runs the zones' state machines itself; false when `embercast "
        "agent zones` runs them on the service's machine (the service reads their state file "
        "and sends operators' actions on the bus).",
    )
    zones_config: str | None = Field(
        json_schema_extra=_in("zones"),
        default=None,
        description="TOML file of the zones' parameters: a default, each zone's own, and "
        "parameter sets by local time; none: the defaults for every zone.",
    )

    learning_episodes: str | None = Field(
        json_schema_extra=_in("learning"),
        default=None,
        description="Folder of the labelled episodes made from operators' verdicts (train "
        "reads it beside synthetic data); none means episodes in service_home.",
    )
    learning_before_s: float = Field(
        json_schema_extra=_in("learning"),
        default=900.0,
        ge=0.0,
        le=86400.0,
        description="How much of a device's data before an alarm its episode keeps [s].",
    )
    learning_after_s: float = Field(
        json_schema_extra=_in("learning"),
        default=300.0,
        ge=0.0,
        le=86400.0,
        description="How much after the alarm an episode keeps, no later than the verdict [s].",
    )

    learning_shadow_hours: float = Field(
        json_schema_extra=_in("learning"),
        default=24.0,
        gt=0.0,
        description="Device-hours of live traffic a challenger is scored on in the shadow "
        "before it may be promoted, or a new champion rolled back [h].",
    )
    learning_shadow_save_s: float = Field(
        json_schema_extra=_in("learning"),
        default=10.0,
        gt=0.0,
        le=3600.0,
        description="How often the shadow's tallies are saved [s]; `embercast agent shadow` "
        "also publishes its comparison and lets the steward act on it as often.",
    )
    learning_auto_promote: bool = Field(
        json_schema_extra=_in("learning"),
        default=False,
        description="Promote a challenger that did no worse in the shadow (the registry's gate "
        "still decides); false: promotion by hand (embercast models promote).",
    )
    learning_auto_rollback: bool = Field(
        json_schema_extra=_in("learning"),
        default=True,
        description="Roll back a new champion that does worse in the shadow than the one it "
        "replaced.",
    )
    learning_in_service: bool = Field(
        json_schema_extra=_in("learning"),
        default=True,
        description="The service turns operators' verdicts into episodes itself; false when "
        "`embercast agent learning` does.",
    )
    learning_drift_in_service: bool = Field(
        json_schema_extra=_in("learning"),
        default=True,
        description="The service watches drift itself; false when `embercast agent drift` runs "
        "(the service then takes the drifts it publishes as its own).",
    )
    learning_shadow_in_service: bool = Field(
        json_schema_extra=_in("learning"),
        default=True,
        description="The service scores the other model in the shadow and promotes or rolls "
        "back itself; false when `embercast agent shadow` does (the service then shows what it "
        "publishes).",
    )

    monitoring_in_service: bool = Field(
        json_schema_extra=_in("monitoring"),
        default=True,
        description="The service watches for silent devices itself; false when `embercast agent "
        "monitoring` does (the service's zones then take the silences it publishes).",
    )
    monitoring_silent_s: float = Field(
        json_schema_extra=_in("monitoring"),
        default=60.0,
        gt=0.0,
        description="A device that has sent nothing for this long, or for 6 of its reading "
        "periods if longer, is silent: trouble in its zone [s].",
    )
    monitoring_dead_pixels: int = Field(
        json_schema_extra=_in("monitoring"),
        default=16,
        ge=1,
        description="Pixels repeating their value over 10 frames that make a camera's "
        "dead-pixel trouble [pixels].",
    )
    monitoring_ffc_window_s: float = Field(
        json_schema_extra=_in("monitoring"),
        default=600.0,
        gt=0.0,
        description="Window in which more flat-field corrections than a healthy Lepton makes "
        "(one per 150 s at most) are an FFC storm [s].",
    )
    monitoring_auth_failures: int = Field(
        json_schema_extra=_in("monitoring"),
        default=20,
        ge=1,
        description="Failed authentications from one client address in a minute that make a "
        "security event.",
    )
    monitoring_burst_messages: int = Field(
        json_schema_extra=_in("monitoring"),
        default=600,
        ge=1,
        description="Payloads for one device in a minute beyond which it is a security event "
        "(a device sends about 36).",
    )
    monitoring_clock_skew_s: float | None = Field(
        json_schema_extra=_in("monitoring"),
        default=None,
        gt=0.0,
        description="Largest gap between a device's clock and the service's before it is "
        "trouble [s]; none: off (replays and simulators send time that runs apart).",
    )

    def file_keys(self) -> set[str]:
        """Names of the settings the TOML file sets (whether or not a variable overrides them)."""
        path = config_file()
        if path is None or not path.is_file():
            return set()
        with path.open("rb") as handle:
            return set(tomllib.load(handle)) & set(type(self).model_fields)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = config_file()
        if path is None:
            return (init_settings, env_settings)
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, path))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the cached settings (call ``get_settings.cache_clear()`` to re-read); InputError
    naming the file when it is missing, not valid TOML or sets an unknown setting."""
    path = config_file()
    if path is not None:
        _check_file(path)
    return Settings()


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as the environment variables that give them to a child process (every
    setting set, lists and tables as JSON, and no TOML file: ``EMBERCAST_CONFIG`` empty)."""
    env = {"EMBERCAST_CONFIG": ""}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (list, dict, tuple)):
            text = json.dumps(value)
        else:
            text = str(value)
        env[f"EMBERCAST_{name.upper()}"] = text
    return env


def field_section(name: str) -> str:
    """The section of setting ``name`` (a key of :data:`SECTIONS`).

    >>> field_section("alarm_false_alarm_budget")
    'alarm'
    """
    extra = Settings.model_fields[name].json_schema_extra
    section = extra.get("section") if isinstance(extra, dict) else None
    if not isinstance(section, str) or section not in SECTIONS:
        raise KeyError(f"setting {name!r} names no section of SECTIONS")
    return section
