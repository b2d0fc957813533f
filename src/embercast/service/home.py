"""The service's home (``service_home``): the names of the files the service keeps there, so
that what reads or copies them (the agents' processes, backup, ``embercast learn``) does not
import the service itself."""

from __future__ import annotations

import os

from embercast.config import Settings

INGEST_DIR = "ingest"
"""Folder of the ingest log in the service's home."""
ZONES_FILE = "zones.sqlite"
"""The zones' states and audit log, in the service's home."""
OUTBOX_FILE = "outbox.sqlite"
"""The notifications' outbox, in the service's home."""
SHADOW_FILE = "shadow.json"
"""Shadow scoring's tallies, in the service's home."""
EPISODES_DIR = "episodes"
"""The labelled episodes of operators' verdicts, in the service's home (``learning_episodes``)."""


def episodes_location(settings: Settings) -> str:
    """Where the learning agent writes episodes: ``learning_episodes``, else ``episodes`` in the
    service's home."""
    return settings.learning_episodes or os.path.join(settings.service_home, EPISODES_DIR)
