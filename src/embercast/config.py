"""Typed settings: one TOML file plus ``EMBERCAST_*`` environment variables.

Settings are read through :func:`get_settings`, which caches one instance; tests and the CLI
override values with environment variables (``EMBERCAST_DATA_DIR=...``) or by calling
``get_settings.cache_clear()`` after changing them.

The TOML file is ``embercast.toml`` in the working directory, or the path in
``EMBERCAST_CONFIG``. Environment variables win over the file.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _config_file() -> Path:
    return Path(os.environ.get("EMBERCAST_CONFIG", "embercast.toml"))


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
        default="runs",
        description="Default root for datasets and outputs (local path or fsspec URL).",
    )
    engine: Literal["local", "dask"] = Field(
        default="local", description="Default executor for generation."
    )
    workers: int = Field(default=1, ge=1, le=256, description="Default worker processes.")
    dask_scheduler: str | None = Field(
        default=None, description="Address of a running Dask scheduler (tcp://host:port)."
    )
    scenarios_per_task: int = Field(
        default=8, ge=1, le=10_000, description="Scenarios written per output part."
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="Endpoint of an S3-compatible store (Garage, SeaweedFS, ...)."
    )
    catalog_path: str = Field(
        default="runs/catalog.sqlite",
        description="SQLite file of the catalog of datasets and feature sets (lineage).",
    )
    mlflow_uri: str = Field(
        default="runs/mlflow.db",
        description="MLflow tracking and registry store: a SQLite file path, or a server URI "
        "(http://...) when there is one.",
    )
    compiled_dir: str = Field(
        default="runs/compiled",
        description="Local directory where LightGBM models compiled to native code for batch "
        "scoring are kept and reused (one file per booster and CPU).",
    )
    compile_min_rows: int = Field(
        default=2_000_000,
        ge=0,
        description="Batch inference: a LightGBM model not yet compiled on this machine is "
        "compiled for an input of at least this many rows (compiling takes about 1 s per "
        "thousand leaves and saves a few microseconds per row; BENCHMARKS.md); below it the "
        "input is scored through predict_proba [rows].",
    )
    alarm_false_alarm_budget: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        description="Training: the largest share of nuisance scenarios with a false alarm a "
        "model's alarm threshold and delay may have, met on validation scores by "
        "``alarm_budget_margin_se`` standard errors [-].",
    )
    alarm_budget_margin_se: float = Field(
        default=2.0,
        ge=0.0,
        le=5.0,
        description="Training: how many binomial standard errors (over the validation nuisance "
        "scenarios) below the false-alarm budget a chosen operating point's share must lie "
        "[-]. One left a third of LightGBM's training draws over the budget on held-out "
        "conditions (docs/RESULTS.md); two held it for all three.",
    )
    gate_max_detection_drop: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Promotion gate: largest allowed drop of held-out detection rate [-].",
    )
    gate_max_ttd_increase: float = Field(
        default=0.1,
        ge=0.0,
        description="Promotion gate: largest allowed relative increase of the median time to "
        "detect [-].",
    )
    gate_max_false_alarm_increase: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Promotion gate: largest allowed increase of the nuisance false-alarm "
        "rate [-].",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the cached settings (call ``get_settings.cache_clear()`` to re-read)."""
    return Settings()
