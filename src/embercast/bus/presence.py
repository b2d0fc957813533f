"""Presence of a process on the bus: a lease it renews while it runs (:class:`Presence`), which
lapses ``lease_s`` after the process dies and is given up when it stops.

Each ``embercast agent NAME`` process is present as ``agent.NAME.OWNER``; a service that leaves
an agent to processes of their own lists who runs it (:func:`present`) and raises trouble when
nobody does.
"""

from __future__ import annotations

import os
import socket

from embercast.bus.base import Bus
from embercast.bus.partitions import Heartbeat

PREFIX = "agent."
"""The leases of agents' processes: ``agent.NAME.OWNER``."""


def worker_name(prefix: str = "fold") -> str:
    """A worker name unique on the bus: ``prefix``, host and process id."""
    host = "".join(c if c.isalnum() or c in "-_." else "-" for c in socket.gethostname())[:40]
    return f"{prefix}-{host}-{os.getpid()}"


def present(bus: Bus, agent: str) -> list[str]:
    """The processes of ``agent`` present on ``bus`` now (their owners' names)."""
    return sorted(bus.holders(f"{PREFIX}{agent}.").values())


class Presence:
    """Process ``owner`` of ``agent`` present on ``bus`` while the context lasts (the lease is
    renewed every third of ``lease_s`` [s] on a :class:`~embercast.bus.partitions.Heartbeat`)."""

    def __init__(self, bus: Bus, agent: str, owner: str, lease_s: float = 10.0) -> None:
        self.bus = bus
        self.name = f"{PREFIX}{agent}.{owner}"
        self.owner = owner
        self.lease_s = lease_s
        self._beat = Heartbeat(self)

    def renew(self) -> bool:
        """Take or renew the lease; whether it is held."""
        return self.bus.hold(self.name, self.owner, self.lease_s)

    def __enter__(self) -> Presence:
        self.renew()
        self._beat.__enter__()
        return self

    def __exit__(self, *_: object) -> None:
        self._beat.__exit__()
        self.bus.release(self.name, self.owner)
