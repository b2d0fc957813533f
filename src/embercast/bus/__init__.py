"""The durable message bus between the live system's parts: one interface (:class:`Bus`), an
embedded SQLite backend (the default) and Redis Streams; :func:`open_bus` picks one by URL."""

from embercast.bus.base import (
    TOPICS,
    Bus,
    BusError,
    DeadLetter,
    Delivery,
    GroupStats,
    Message,
    RetryPolicy,
)
from embercast.bus.open import bus_from_settings, open_bus

__all__ = [
    "TOPICS",
    "Bus",
    "BusError",
    "DeadLetter",
    "Delivery",
    "GroupStats",
    "Message",
    "RetryPolicy",
    "bus_from_settings",
    "open_bus",
]
