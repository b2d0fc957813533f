"""Partitions: a keyed topic split so that each key (a device) is handled by one worker at a time.

A message with key ``k`` goes to the topic ``{topic}.p{n}`` with ``n = crc32(k) mod partitions``
(:func:`publish_keyed`), so one device's messages stay in one partition, in order. The workers
of a group share the partitions through the bus's leases: each worker heartbeats a membership
lease, takes free partitions up to its fair share (``ceil(partitions / live workers)``) and gives
back those above it, renewing what it keeps (:class:`PartitionOwner`). A worker that dies stops
renewing: once its leases run out (``lease_s``) the others take its partitions, and the messages
it had received but not acknowledged come back to them after their visibility timeout. A worker
gives a partition back only between batches, after acknowledging what it handled, so a device's
messages are never handled by two workers at once while leases are renewed in time (a worker
must not spend longer than ``lease_s`` on one batch, or must renew on a :class:`Heartbeat`
thread meanwhile).
"""

from __future__ import annotations

import logging
import math
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any, Protocol

from embercast.bus.base import Bus, Delivery, check_name
from embercast.errors import InputError

logger = logging.getLogger(__name__)


def partition_of(key: str, partitions: int) -> int:
    """The partition of ``key`` among ``partitions`` (CRC-32 of its UTF-8 bytes, modulo)."""
    return zlib.crc32(key.encode()) % partitions


def partition_topic(topic: str, partition: int) -> str:
    """The topic that holds partition ``partition`` of ``topic``."""
    return f"{topic}.p{partition}"


def publish_keyed(
    bus: Bus, topic: str, payload: dict[str, Any], key: str, partitions: int,
    message_id: str | None = None,
) -> str:  # fmt: skip
    """Publish ``payload`` with ``key`` to its partition of ``topic``; its message id."""
    topic_of = partition_topic(topic, partition_of(key, partitions))
    return bus.publish(topic_of, payload, key=key, message_id=message_id)


def members_prefix(topic: str, group: str) -> str:
    """The prefix of the membership leases of ``group``'s workers on ``topic``: their names
    follow it (``bus.holders(members_prefix(...))`` lists the live workers)."""
    return f"member.{topic}.{group}."


class PartitionOwner:
    """Worker ``owner``'s share of the ``partitions`` of ``topic`` for ``group``: call
    :meth:`update` between batches; :meth:`get` says which partitions it holds."""

    def __init__(
        self, bus: Bus, topic: str, group: str, owner: str, partitions: int, lease_s: float = 10.0
    ) -> None:
        check_name("topic", topic)
        check_name("group", group)
        check_name("worker", owner)
        if partitions < 1 or lease_s <= 0:
            raise InputError("partitions must be at least 1 and lease_s positive")
        self.bus, self.owner, self.partitions, self.lease_s = bus, owner, partitions, lease_s
        self._members = members_prefix(topic, group)
        self._leases = f"partition.{topic}.{group}."
        self._held: set[int] = set()
        self._lock = threading.RLock()

    def _name(self, partition: int) -> str:
        return f"{self._leases}{partition}"

    def renew(self) -> set[int]:
        """Renew membership and the leases held (from a heartbeat thread, while a long batch
        runs: see :class:`Heartbeat`); the partitions still held."""
        with self._lock:
            self.bus.hold(self._members + self.owner, self.owner, self.lease_s)
            for p in sorted(self._held):
                if not self.bus.hold(self._name(p), self.owner, self.lease_s):
                    logger.warning("%s lost partition %d (its lease ran out)", self.owner, p)
                    self._held.discard(p)
            return set(self._held)

    def update(self) -> set[int]:
        """Renew membership and leases, take free partitions up to the fair share, give back
        those above it; the partitions held now."""
        with self._lock:
            return self._update()

    def _update(self) -> set[int]:
        self.renew()
        members = max(1, len(self.bus.holders(self._members)))
        share = math.ceil(self.partitions / members)
        for p in sorted(self._held, reverse=True)[: max(0, len(self._held) - share)]:
            self.bus.release(self._name(p), self.owner)
            self._held.discard(p)
        if len(self._held) < share:
            taken = self.bus.holders(self._leases)
            for p in range(self.partitions):
                if len(self._held) >= share:
                    break
                if self._name(p) not in taken and self.bus.hold(
                    self._name(p), self.owner, self.lease_s
                ):
                    self._held.add(p)
        return set(self._held)

    def get(self) -> set[int]:
        """The partitions held since the last :meth:`update` (or :meth:`renew`)."""
        with self._lock:
            return set(self._held)

    def close(self) -> None:
        """Give every partition and the membership back (a clean stop: others take over at
        once instead of after ``lease_s``)."""
        with self._lock:
            for p in sorted(self._held):
                self.bus.release(self._name(p), self.owner)
            self._held.clear()
            self.bus.release(self._members + self.owner, self.owner)


class Renewable(Protocol):
    """Leases of ``owner`` that :meth:`renew` keeps for ``lease_s`` more seconds."""

    owner: str
    lease_s: float

    def renew(self) -> object: ...


class Heartbeat:
    """Renews ``share``'s leases (a worker's membership and partitions, or a process's
    presence) every third of its ``lease_s`` on a thread of its own, so that a batch (or
    rebuilding the streams of partitions taken over) may take longer than a lease; a process
    that dies stops renewing with it. Use as a context manager."""

    def __init__(self, share: Renewable) -> None:
        self.share = share
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="partition-heartbeat",
                                        daemon=True)  # fmt: skip

    def _run(self) -> None:
        while not self._stop.wait(self.share.lease_s / 3):
            try:
                self.share.renew()
            except Exception:  # the bus is away: the next beat tries again
                logger.exception("%s could not renew its leases", self.share.owner)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run_partitioned(
    bus: Bus,
    topic: str,
    group: str,
    owner: str,
    partitions: int,
    handle: Callable[[Delivery], None],
    stop: threading.Event,
    *,
    lease_s: float = 10.0,
    visibility_s: float = 30.0,
    batch: int = 64,
    idle_s: float = 0.05,
) -> None:
    """Handle the messages of ``owner``'s partitions of ``topic`` until ``stop`` is set: each
    delivery acknowledged once ``handle`` returns, failed (retried, then dead-lettered) when it
    raises."""
    share = PartitionOwner(bus, topic, group, owner, partitions, lease_s)
    try:
        while not stop.is_set():
            busy = False
            for p in sorted(share.update()):
                for delivery in bus.receive(
                    partition_topic(topic, p), group, owner, limit=batch, visibility_s=visibility_s
                ):
                    busy = True
                    try:
                        handle(delivery)
                    except Exception as exc:  # the message is retried, the worker goes on
                        logger.exception("%s: handling %s failed", owner,
                                         delivery.message.message_id)  # fmt: skip
                        bus.fail(delivery, f"{type(exc).__name__}: {exc}")
                    else:
                        bus.ack(delivery)
            if not busy:
                time.sleep(idle_s)
    finally:
        share.close()
