"""A fold worker: the streams of its share of the devices, folded from the ``readings`` topic.

With ``fold_in_service = false`` the service only ingests and serves, and ``embercast agent
fold`` processes (each a :class:`FoldWorker`) fold the devices: they share the partitions of
``readings`` (:class:`~embercast.bus.partitions.PartitionOwner`), so each device's stream lives
in one worker at a time, fold what their partitions bring into a
:class:`~embercast.service.hub.StreamHub` and publish every prediction as a ``risk`` message,
which the zone agent and the service read as if the service had made it.

Nothing is lost when a worker dies. A reading is acknowledged only once its prediction is
published (after it is folded, which may wait for its frame), frames and edge rows once they are
in the stream. A worker that gains a partition first rebuilds its devices' streams from the
ingest log (the last ``replay_s``; the log must be on a file system the workers share), as the
service does at start-up. When messages of such a partition are still leased to another worker
(it died holding them, or gave the partition up with readings waiting for their frames), the
worker reads it only once those leases ran out (``visibility_s``), so that they come back
first: each is found folded by the replay and its prediction published again, in time order
before any newer one (the risk message's id is the device and time, so the zone agent sees
it once).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections import Counter

from embercast.bus.base import Bus, Delivery
from embercast.bus.partitions import Heartbeat, PartitionOwner, partition_of, partition_topic
from embercast.errors import InputError
from embercast.service.fold_topic import READINGS_TOPIC, message_of
from embercast.service.hub import StreamHub
from embercast.service.ingest_log import IngestLog
from embercast.service.live_model import ModelHolder
from embercast.service.messages import Message
from embercast.service.risk_feed import RiskFeed

logger = logging.getLogger(__name__)

GROUP = "fold"
_EPS = 1e-6


class FoldWorker:
    """Worker ``owner`` of the ``partitions`` of ``readings`` on ``bus``: folds them into
    ``hub`` (scored by ``models``), rebuilding gained devices from ``log``."""

    def __init__(
        self,
        bus: Bus,
        hub: StreamHub,
        models: ModelHolder,
        log: IngestLog,
        owner: str,
        partitions: int,
        *,
        replay_s: float = 7200.0,
        lease_s: float = 10.0,
        visibility_s: float = 20.0,
        batch: int = 512,
        idle_s: float = 0.05,
        model_poll_s: float = 10.0,
    ) -> None:
        self.bus, self.hub, self.models, self.log = bus, hub, models, log
        self.owner, self.partitions, self.replay_s = owner, partitions, replay_s
        self.lease_s, self.visibility_s, self.batch = lease_s, visibility_s, batch
        self.idle_s, self.model_poll_s = idle_s, model_poll_s
        self._zones: dict[str, str | None] = {}
        self.risk = RiskFeed(bus, self._zones.get)
        hub.sink = self.risk.update
        self._pending: list[tuple[Delivery, Message]] = []
        """Readings taken and not yet folded: acknowledged once their prediction is out."""
        self.held: set[int] = set()
        self._resume: dict[int, float] = {}
        """Partitions taken over while their messages were leased to another worker, and when
        to read them (once those leases ran out, so those messages come first)."""
        self.counts: Counter[str] = Counter()
        """Messages ``folded``, ``duplicate`` (of which ``republished``), ``late``,
        ``unreadable``, and devices ``replayed``."""

    # ------------------------------------------------------------------ partitions
    def _mine(self, device_id: str, partitions: set[int]) -> bool:
        return partition_of(device_id, self.partitions) in partitions

    def rebalance(self, now_held: set[int]) -> None:
        """Drop the devices of partitions lost, rebuild those of partitions gained."""
        lost, gained = self.held - now_held, now_held - self.held
        self.held = set(now_held)
        for p in lost:
            self._resume.pop(p, None)
        if lost:
            self.hub.forget(d for d in self.hub.devices() if self._mine(d, lost))
            self._pending = [(d, m) for d, m in self._pending
                             if not self._mine(m.device_id, lost)]  # fmt: skip
            logger.info("%s gave partitions %s up", self.owner, sorted(lost))
        if gained:
            self._replay(gained)
            leased = {s.topic for s in self.bus.stats() if s.group == GROUP and s.leased}
            for p in gained:  # another worker's messages in flight: theirs come back first
                if partition_topic(READINGS_TOPIC, p) in leased:
                    self._resume[p] = time.monotonic() + self.visibility_s

    def _replay(self, gained: set[int]) -> None:
        sink, self.hub.sink = self.hub.sink, None  # history, not news
        devices: set[str] = set()
        try:
            for message in self.log.replay(self.replay_s):
                if self._mine(message.device_id, gained):
                    self.hub.admit(message)
                    self.hub.add([message], force=True)
                    devices.add(message.device_id)
        finally:
            self.hub.sink = sink
        self.counts["replayed"] += len(devices)
        logger.info("%s took partitions %s: %d device streams rebuilt", self.owner,
                    sorted(gained), len(devices))  # fmt: skip

    # ------------------------------------------------------------------ messages
    def handle(self, deliveries: list[Delivery]) -> None:
        """Fold a batch of deliveries (each device's in its order); acknowledge what is done
        with."""
        done: list[Delivery] = []
        fresh: list[Message] = []
        for delivery in deliveries:
            try:
                m = message_of(delivery.message.payload)
            except InputError as exc:  # retried, then a dead letter to inspect
                self.counts["unreadable"] += 1
                self.bus.fail(delivery, str(exc))
                continue
            self._zones.setdefault(m.device_id, delivery.message.payload.get("zone"))
            why = self.hub.admit(m)
            if why is None:
                fresh.append(m)
                self.counts["folded"] += 1
            elif why == "duplicate":
                self.counts["duplicate"] += 1
                if m.kind == "scd41":
                    made = self.hub.prediction_at(m.device_id, m.ts)
                    if made is not None:  # folded before (a replay): published again
                        self.risk.update(m.device_id, made)
                        self.counts["republished"] += 1
            else:
                self.counts["late"] += 1
            if m.kind == "scd41" and why in (None, "duplicate"):
                self._pending.append((delivery, m))
            else:
                done.append(delivery)
        if fresh:
            self.hub.add(fresh)
        self.settle(done)

    def settle(self, done: list[Delivery] | None = None) -> None:
        """Publish the predictions made, then acknowledge ``done`` and every reading folded."""
        folded = []
        waiting = []
        for delivery, m in self._pending:
            if self.hub.folded_until(m.device_id) >= m.ts - _EPS:
                folded.append(delivery)
            else:
                waiting.append((delivery, m))
        self._pending = waiting
        self.risk.flush()
        if done or folded:
            self.bus.ack_many([*(done or []), *folded])

    # ------------------------------------------------------------------ loop
    def _follow_model(self) -> bool:
        """Load the served model, or a newer one; whether there is one to fold with."""
        before = self.models.current
        if self.models.refresh() and before is not None and self.models.current is not None:
            self.hub.use(self.models.current)
        return self.models.current is not None

    def run(self, stop: threading.Event) -> None:
        """Once there is a model to fold with, fold the partitions held until ``stop`` is set;
        then fold what waits, publish and acknowledge it, and give the partitions back."""
        while not self._follow_model():  # no model yet: no partitions taken either
            if stop.wait(min(self.model_poll_s, 1.0)):
                return
        share = PartitionOwner(self.bus, READINGS_TOPIC, GROUP, self.owner, self.partitions,
                               self.lease_s)  # fmt: skip
        follower = threading.Thread(
            target=self.models.follow, args=(stop, self.model_poll_s, self.hub.use),
            name="fold-model", daemon=True,
        )  # fmt: skip
        follower.start()  # asking the registry takes a while: not on the folding thread
        try:
            with Heartbeat(share):
                try:
                    self._loop(share, stop)
                finally:
                    self.hub.flush()
                    self.settle()
        finally:
            share.close()
            follower.join()

    def _loop(self, share: PartitionOwner, stop: threading.Event) -> None:
        rebalanced, idle = float("-inf"), self.idle_s
        while not stop.is_set():
            if time.monotonic() - rebalanced >= self.lease_s / 3:  # the heartbeat renews
                rebalanced = time.monotonic()
                self.rebalance(share.update())
            elif share.get() != self.held:  # a lease the heartbeat could not renew
                self.rebalance(share.get())
            taken: list[Delivery] = []
            for p in sorted(self.held):
                if self._resume.get(p, 0.0) > time.monotonic():
                    continue
                self._resume.pop(p, None)
                taken += self.bus.receive(
                    partition_topic(READINGS_TOPIC, p), GROUP, self.owner,
                    limit=self.batch, visibility_s=self.visibility_s,
                )  # fmt: skip
            if taken:  # every partition's messages at once: one model call, one publish
                self.handle(taken)
            self.hub.tick()
            self.settle()
            if taken:
                idle = self.idle_s
            else:  # nothing came: wait, longer while nothing comes (each look is a write)
                stop.wait(idle)
                idle = min(4 * self.idle_s, 2 * idle)


def run_fold_process(env: dict[str, str], stop: threading.Event, poll_s: float = 0.5) -> None:
    """An ``embercast agent fold`` process with the settings ``env`` (see
    :func:`~embercast.config.settings_env`) until ``stop`` is set (then stopped cleanly); a
    RuntimeError when it ends by itself, so that the coordinator starts another."""
    command = [sys.executable, "-m", "embercast.cli", "agent", "fold"]
    process = subprocess.Popen(command, env={**os.environ, **env}, stdin=subprocess.DEVNULL)
    try:
        while not stop.wait(poll_s):
            if process.poll() is not None:
                raise RuntimeError(f"the fold worker {process.pid} exited ({process.returncode})")
    finally:
        if process.poll() is None:
            process.terminate()  # SIGTERM: it folds what waits, acknowledges, lets go
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
