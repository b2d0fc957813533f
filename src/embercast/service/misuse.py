"""Misuse of the service's inputs: security events, never fire.

Two conditions, each over the last ``window_s`` [s]:

- ``security:auth_failures:<client>``: at least ``auth_failures`` requests from one client
  address with no API key, an unknown or revoked key or an ended session (someone guessing
  keys, or a device left with a revoked one);
- ``security:message_burst:<device>``: more than ``burst_messages`` payloads submitted for one
  device (over MQTT or HTTP, stored or not). A device sends a reading and two frames per reading
  period (0.6 payloads per second at 5 s), so the default of 600 a minute is more than 16 times
  that: a device in a loop, or someone publishing as it.

:class:`~embercast.service.self_check.SelfCheck` turns each into a ``security_event`` of the zone
``system`` when it begins and ``security_event_cleared`` when it ends, notified like trouble.
A broker's own refusals (a device's wrong password, or a publish outside its topics that the ACL
denies) never reach the service: Mosquitto logs them (``log_type notice`` and ``debug``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from embercast.errors import InputError

SECURITY = "security:"
"""Prefix of the names of misuse conditions."""


class MisuseWatch:
    """Counts authentication failures by client address and payloads by device over a sliding
    window; :meth:`conditions` names those past their limits."""

    def __init__(
        self,
        *,
        window_s: float = 60.0,
        auth_failures: int = 20,
        burst_messages: int = 600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window_s <= 0 or auth_failures < 1 or burst_messages < 1:
            raise InputError("window_s must be > 0, auth_failures and burst_messages >= 1")
        self.window_s = window_s
        self.auth_failures = auth_failures
        self.burst_messages = burst_messages
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._messages: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def auth_failed(self, client: str | None) -> None:
        """A request from ``client`` (its address; None: unknown) failed authentication."""
        self._add(self._failures, client or "unknown", self.auth_failures)

    def message(self, device_id: str) -> None:
        """A payload was submitted for ``device_id``."""
        self._add(self._messages, device_id, self.burst_messages + 1)

    def _add(self, table: dict[str, deque[float]], key: str, keep: int) -> None:
        now = self.clock()
        with self._lock:
            times = table.get(key)
            if times is None:
                times = table[key] = deque(maxlen=keep)  # enough to judge; memory stays small
            times.append(now)

    def conditions(self) -> dict[str, str]:
        """The misuse conditions that hold now, each with what was seen; the counts of keys
        with nothing in the window are dropped."""
        start = self.clock() - self.window_s
        found: dict[str, str] = {}
        with self._lock:
            for table, what, limit in (
                (self._failures, "auth_failures", self.auth_failures),
                (self._messages, "message_burst", self.burst_messages + 1),
            ):
                for key in list(table):
                    times = table[key]
                    while times and times[0] < start:
                        times.popleft()
                    if not times:
                        del table[key]
                    elif len(times) >= limit:
                        found[f"{SECURITY}{what}:{key}"] = _seen(what, len(times), self.window_s)
        return found


def _seen(what: str, n: int, window_s: float) -> str:
    if what == "auth_failures":
        return f"{n} failed authentications in {window_s:g} s"
    return f"more than {n - 1} messages in {window_s:g} s"
