"""A bus by its URL: ``redis://host:port/db`` for Redis Streams, anything else a SQLite file."""

from __future__ import annotations

import os

from embercast.bus.base import Bus, RetryPolicy
from embercast.config import Settings

BUS_FILE = "bus.sqlite"
"""The embedded bus's file in the service's home when ``bus_url`` is not set."""


def open_bus(url: str, policy: RetryPolicy | None = None) -> Bus:
    """The bus at ``url``: ``redis://`` or ``rediss://`` for Redis Streams, ``sqlite:///PATH``
    or a plain path for the embedded SQLite queue."""
    if url.startswith(("redis://", "rediss://")):
        from embercast.bus.redis import RedisBus

        return RedisBus(url, policy)
    from embercast.bus.sqlite import SqliteBus

    return SqliteBus(
        url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url, policy
    )


def bus_from_settings(settings: Settings) -> Bus:
    """The bus the settings name (``bus_url``, else ``bus.sqlite`` in ``service_home``), with
    their retry rule."""
    policy = RetryPolicy(max_attempts=settings.bus_max_attempts, backoff_s=settings.bus_backoff_s)
    return open_bus(settings.bus_url or os.path.join(settings.service_home, BUS_FILE), policy)
