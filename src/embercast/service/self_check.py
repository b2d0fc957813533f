"""The service supervises itself as a fire panel does: each condition that keeps it from doing
its job is a trouble signal, raised when it begins and cleared when it ends.

Conditions (checked every ``period_s``): ``broker_disconnected`` (a broker is configured and the
service is not connected to it), ``model_not_loaded``, ``ingest_lagging`` (more than
``lag_messages`` stored messages waiting to be folded), ``disk_nearly_full`` (less than
``min_free_fraction`` of the service home's disk free), ``agent_down:NAME`` (an agent's loop is
not running; for an agent left to processes of their own, no ``embercast agent NAME`` process
present on the bus), and, when fold workers fold the devices, ``fold_workers_down`` (none is
running) and ``ingest_lagging`` counting the messages waiting for them too. Each change is a
zone event of the zone ``system`` (kind ``system_trouble`` or ``system_trouble_cleared``, the
condition and what was seen in its detail) published on the ``alarms`` topic, so the response
agent notifies it like any trouble; ``/metrics`` shows each condition (``embercast_trouble``)
and ``/readyz`` lists those that hold. The misuse conditions of
:mod:`embercast.service.misuse` (``security:...``) are checked the same way and published as
``security_event`` / ``security_event_cleared``.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from embercast.agents.coordinator import Coordinator
from embercast.bus.base import Bus
from embercast.service.misuse import SECURITY

logger = logging.getLogger(__name__)

SYSTEM_ZONE = "system"
"""The zone of the service's own troubles."""


def _kind(condition: str) -> str:
    """The event kind of a condition beginning: a security event or the service's trouble."""
    return "security_event" if condition.startswith(SECURITY) else "system_trouble"


class SelfCheck:
    """Watches the conditions of one service (see the module docstring)."""

    def __init__(
        self,
        bus: Bus,
        *,
        connected: Callable[[], bool] | None,
        model_loaded: Callable[[], bool],
        waiting: Callable[[], int],
        home: str,
        agents: Coordinator | None = None,
        misuse: Callable[[], dict[str, str]] | None = None,
        fold: Callable[[], tuple[Sequence[str], int]] | None = None,
        apart: Callable[[], dict[str, list[str]]] | None = None,
        set_gauge: Callable[[str, bool], None] = lambda _c, _v: None,
        set_agent: Callable[[str, bool, int], None] = lambda _n, _r, _k: None,
        lag_messages: int = 10_000,
        min_free_fraction: float = 0.05,
        disk_usage: Callable[[str], Any] = shutil.disk_usage,
    ) -> None:
        self.bus = bus
        self.connected = connected
        self.model_loaded = model_loaded
        self.waiting = waiting
        self.home = home
        self.agents = agents
        self.misuse = misuse
        self.fold = fold
        """With fold workers: (workers running, messages waiting for them)."""
        self.apart = apart
        """Agents left to processes of their own -> those processes present."""
        self.set_gauge = set_gauge
        self.set_agent = set_agent
        self.lag_messages = lag_messages
        self.min_free_fraction = min_free_fraction
        self.disk_usage = disk_usage
        self.active: dict[str, str] = {}
        """Conditions that hold now -> what was seen."""
        self._lock = threading.Lock()

    def conditions(self) -> dict[str, str]:
        """The conditions that hold now, each with what was seen."""
        found: dict[str, str] = {}
        if self.connected is not None and not self.connected():
            found["broker_disconnected"] = "not connected to the MQTT broker"
        if not self.model_loaded():
            found["model_not_loaded"] = "no model is served"
        waiting = self.waiting()
        if self.fold is not None:
            workers, queued = self.fold()
            waiting += queued
            if not workers:
                found["fold_workers_down"] = "no `embercast agent fold` worker is running"
        if waiting > self.lag_messages:
            found["ingest_lagging"] = f"{waiting} stored messages wait to be folded"
        try:
            usage = self.disk_usage(self.home)
            free = usage.free / usage.total if usage.total else 1.0
            if free < self.min_free_fraction:
                found["disk_nearly_full"] = f"{100 * free:.1f} % of the disk of {self.home} free"
        except OSError as exc:
            found["disk_nearly_full"] = f"the disk of {self.home} cannot be read: {exc}"
        if self.agents is not None:
            for health in self.agents.health():
                running = health.running or health.name == "self-check"  # it runs this check
                self.set_agent(health.name, running, health.restarts)
                if not running:
                    found[f"agent_down:{health.name}"] = health.last_error or "not running"
        for name, processes in ({} if self.apart is None else self.apart()).items():
            self.set_agent(name, bool(processes), 0)
            if not processes:
                found[f"agent_down:{name}"] = f"no `embercast agent {name}` process is running"
        if self.misuse is not None:
            found.update(self.misuse())
        return found

    def check(self, now: float | None = None) -> list[dict[str, Any]]:
        """Compare the conditions with the last check; publish and return an event per change."""
        at = time.time() if now is None else now
        with self._lock:
            found = self.conditions()
            events = []
            for name, seen in found.items():
                if name not in self.active:
                    events.append(self._event(at, _kind(name), name, seen))
            for name in [n for n in self.active if n not in found]:
                events.append(self._event(at, _kind(name) + "_cleared", name, self.active[name]))
            self.active = found
            for name in {*found, *(e["detail"]["condition"] for e in events)}:
                if not name.startswith(SECURITY):  # addresses make no metric labels
                    self.set_gauge(name, name in found)
        if events:
            self.bus.publish_many("alarms", [(e, SYSTEM_ZONE, e["event_id"]) for e in events])
            for e in events:
                logger.warning("%s: %s (%s)", e["kind"], e["detail"]["condition"],
                               e["detail"]["seen"])  # fmt: skip
        return events

    @staticmethod
    def _event(at: float, kind: str, condition: str, seen: str) -> dict[str, Any]:
        state = {"system_trouble": "fault", "security_event": "supervisory"}.get(kind, "normal")
        return {
            "event_id": f"{SYSTEM_ZONE}:{kind}:{condition}:{round(at * 1000)}",
            "zone": SYSTEM_ZONE, "kind": kind, "t": at, "previous": "normal", "state": state,
            "who": "system", "detail": {"condition": condition, "seen": seen},
        }  # fmt: skip

    def run(self, stop: threading.Event, period_s: float = 5.0) -> None:
        """:meth:`check` every ``period_s`` until ``stop`` is set."""
        while not stop.is_set():
            try:
                self.check()
            except Exception:  # the bus briefly away: the next check publishes the change
                logger.exception("self-check failed")
            stop.wait(period_s)
