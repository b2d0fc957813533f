"""The model steward: what shadow scoring compares, and what is done about it.

While the registry holds a ``challenger`` of the served model's name, the steward has it scored
in the shadow (:class:`~embercast.agents.shadow.Shadow`); once it has done no worse than the
champion over the shadow's device-hours, the steward asks the registry to promote it, which
only its gate can allow (``learning_auto_promote``; otherwise ``embercast models promote`` by
hand). Without a challenger, the champion that a promotion replaced is scored in the shadow
instead; when the new champion does worse than it by the live measure, the steward rolls back
(``learning_auto_rollback``). Each decision is logged and kept in :attr:`ModelSteward.actions`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from embercast.agents.shadow import Shadow
from embercast.lifecycle.registry import Registry, RegistryError

logger = logging.getLogger(__name__)


class ModelSteward:
    """Steward of the registered model ``name``."""

    def __init__(
        self,
        name: str,
        registry: Callable[[], Registry],
        *,
        auto_promote: bool = False,
        auto_rollback: bool = True,
        refresh_s: float = 30.0,
        announce: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.name = name
        self.registry = registry
        self.auto_promote = auto_promote
        self.auto_rollback = auto_rollback
        self.refresh_s = refresh_s
        self.shadow: Shadow | None = None
        self.actions: list[dict[str, Any]] = []
        self.announce = announce
        """Told each action (in a process of its own: published on ``model_events``)."""
        self._other: tuple[float, str | None] = (-1e18, None)

    def other(self) -> str | None:
        """The model shadow scoring compares with the champion (cached ``refresh_s``)."""
        at, ref = self._other
        if time.monotonic() - at < self.refresh_s:
            return ref
        ref = self._look_up()
        self._other = (time.monotonic(), ref)
        return ref

    def _look_up(self) -> str | None:
        try:
            registry = self.registry()
            for row in registry.versions(self.name):
                if "challenger" in row["aliases"]:
                    return f"{self.name}/{row['version']}"
            previous = registry.previous_champion(self.name)
        except RegistryError:
            return None
        return None if previous is None else f"{self.name}/{previous}"

    def check(self) -> dict[str, Any] | None:
        """Act on the shadow's comparison when it has seen enough; the action taken, if any."""
        if self.shadow is None:
            return None
        comparison = self.shadow.comparison()
        if comparison is None or comparison.other != self.other():
            return None
        registry = self.registry()
        _, version = registry.resolve(comparison.other)
        rows = registry.versions(self.name)
        challenger = next((r["version"] for r in rows if "challenger" in r["aliases"]), None)
        if version == challenger:
            worse, reasons = self.shadow.worse("other")
            if worse is False and self.auto_promote:
                decision = registry.promote(comparison.other)
                return self._did("promote", comparison.other, decision.passed,
                                 reasons + decision.reasons)  # fmt: skip
            return None
        worse, reasons = self.shadow.worse("served")
        if worse and self.auto_rollback:
            back = registry.rollback(self.name)
            return self._did("rollback", f"{self.name}/{back}", True, reasons)
        return None

    def _did(self, action: str, ref: str, done: bool, reasons: list[str]) -> dict[str, Any]:
        record = {"action": action, "model": ref, "done": done, "reasons": reasons,
                  "t": time.time()}  # fmt: skip
        self.actions.append(record)
        if self.announce is not None:
            self.announce(record)
        self._other = (-1e18, None)  # the registry changed: look again
        logger.warning("model steward: %s %s (%s): %s", action, ref,
                       "done" if done else "refused", "; ".join(reasons))  # fmt: skip
        return record

    def run(self, stop: threading.Event, period_s: float = 60.0) -> None:
        """:meth:`check` every ``period_s`` until ``stop`` is set."""
        while not stop.wait(period_s):
            self.check()
