"""The learning agent: operators' verdicts into labelled episodes that ``train`` reads.

It reads the ``feedback`` topic (its own group). For each verdict (a false alarm with its cause,
or a confirmed fire) and each device of the alarm, it asks ``history`` for what the device sent
from ``before_s`` before the alarm to ``after_s`` after it (no later than the verdict), folds it
into labelled feature rows (:func:`~embercast.features.episodes.episode_rows`, the served
model's feature set) and adds them to the episodes folder
(:mod:`embercast.dataset.episodes`). A verdict is handled once per device whatever the
retries (the episode's key is the feedback id and the device); a window that holds nothing
usable is logged and skipped, a storage error retried by the bus.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from embercast.bus.base import Bus
from embercast.dataset.episodes import episode_key, has_episode, write_episode
from embercast.errors import InputError
from embercast.features.episodes import episode_rows

logger = logging.getLogger(__name__)

FEEDBACK_TOPIC = "feedback"
GROUP = "learning"

History = Callable[[str, float, float], tuple[pa.Table, pa.Table]]
"""(device, from [s], to [s]) -> the device's readings and frames in that window, device time,
in the ingest log's columns."""


class LearningAgent:
    """Turns the verdicts on ``feedback`` into episodes under ``episodes``."""

    def __init__(
        self,
        episodes: str,
        history: History,
        feature_set: Callable[[], str | None],
        *,
        before_s: float = 900.0,
        after_s: float = 300.0,
    ) -> None:
        self.episodes = episodes
        self.history = history
        self.feature_set = feature_set
        self.before_s = before_s
        self.after_s = after_s
        self.written = 0
        self.skipped = 0

    def handle(self, feedback: dict[str, Any]) -> list[str]:
        """Add the episodes of one verdict; the keys of those it wrote (none when they exist
        already). InputError when the message is not a verdict; RuntimeError when no model
        serves (the feature set is not known)."""
        try:
            feedback_id, verdict = str(feedback["feedback_id"]), str(feedback["verdict"])
            alarm_t, t = float(feedback["alarm_t"]), float(feedback["t"])
            devices = [str(d) for d in feedback["devices"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a verdict: {exc!r}") from exc
        feature_set = self.feature_set()
        if feature_set is None:
            raise RuntimeError("no model serves: the episodes' feature set is not known")
        written = []
        for device in devices:
            key = episode_key(feedback_id, device)
            if has_episode(self.episodes, key):
                continue
            start, end = alarm_t - self.before_s, max(alarm_t, min(alarm_t + self.after_s, t))
            readings, frames = self.history(device, start, end)
            try:
                rows = episode_rows(
                    readings, frames, key, feature_set=feature_set, verdict=verdict,
                    cause=feedback.get("cause"), alarm_t=alarm_t,
                )  # fmt: skip
            except InputError as exc:
                self.skipped += 1
                logger.warning("no episode from %s of %s: %s", device, feedback_id, exc)
                continue
            facts = {
                "feedback_id": feedback_id, "alarm_id": feedback.get("alarm_id"),
                "zone": feedback.get("zone"), "device_id": device, "verdict": verdict,
                "cause": feedback.get("cause"), "who": feedback.get("who"), "alarm_t": alarm_t,
                "t": t, "window": [start, end],
            }  # fmt: skip
            write_episode(self.episodes, key, feature_set, facts, rows)
            self.written += 1
            written.append(key)
            logger.info("episode %s: %s of %s, %d rows", key, verdict, device, rows.num_rows)
        return written

    def step(self, bus: Bus, consumer: str = "learning-1") -> int:
        """Handle the verdicts waiting on the bus; how many taken."""
        taken = bus.receive(FEEDBACK_TOPIC, GROUP, consumer, limit=16, visibility_s=300.0)
        for delivery in taken:
            try:
                self.handle(delivery.message.payload)
            except Exception as exc:  # noqa: BLE001 - retried by the bus, then a dead letter
                logger.warning("verdict %s not handled yet: %s", delivery.message.message_id, exc)
                bus.fail(delivery, str(exc))
            else:
                bus.ack(delivery)
        return len(taken)

    def run(self, bus: Bus, stop: threading.Event, idle_s: float = 0.5) -> None:
        """:meth:`step` until ``stop`` is set."""
        while not stop.is_set():
            if not self.step(bus):
                stop.wait(idle_s)
