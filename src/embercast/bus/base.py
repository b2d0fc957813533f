"""The bus's contract: topics, messages, deliveries, the retry rule and the :class:`Bus` interface
that both backends (:mod:`embercast.bus.sqlite`, :mod:`embercast.bus.redis`) implement.

A message is published once per ``message_id`` (a second publish of the same id on the same
topic is ignored), and read by consumer *groups*: every group sees every message of a topic, and
within a group each message goes to one consumer at a time under a lease (the visibility
timeout). A consumer acknowledges a message it has handled (:meth:`Bus.ack`) or reports a
failure (:meth:`Bus.fail`): the message comes back after a backoff, and after
``RetryPolicy.max_attempts`` deliveries it becomes a dead letter of that group, kept with its last
error until it is replayed (:meth:`Bus.replay`). A consumer that dies holding a lease loses it
when the visibility timeout runs out, and the message goes to another consumer; handlers are
therefore written to be idempotent by ``message_id`` (the bus delivers at least once).
"""

from __future__ import annotations

import re
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from embercast import jsonio
from embercast.errors import EmbercastError, InputError

TOPICS: tuple[str, ...] = (
    "readings",
    "risk",
    "alarms",
    "notifications",
    "feedback",
    "model_events",
    "device_events",
    "zone_requests",
    "zone_replies",
)
"""The topics of the live system (DESIGN 4.5-4.7; a scored reading's features travel in its
``risk`` message); others may be used, with the same rules."""

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class BusError(EmbercastError, OSError):
    """The bus's store cannot be reached or written."""


def check_name(what: str, name: str) -> str:
    """``name`` when it is a usable topic, group or consumer name; InputError naming it else."""
    if not _NAME.match(name):
        raise InputError(
            f"{what} {name!r} is not a usable name: 1-64 letters, digits, '_', '.' or '-'"
        )
    return name


@dataclass(frozen=True)
class RetryPolicy:
    """How a failed message is retried: after ``backoff_s * 2 ** (attempt - 1)`` seconds (at
    most ``backoff_max_s``), and dead-lettered once it has been delivered ``max_attempts``
    times."""

    max_attempts: int = 5
    backoff_s: float = 1.0
    backoff_max_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InputError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if self.backoff_s < 0 or self.backoff_max_s < 0:
            raise InputError("backoff_s and backoff_max_s must not be negative")

    def delay_s(self, attempt: int) -> float:
        """Seconds before delivery ``attempt + 1`` of a message whose delivery ``attempt``
        (1, 2, ...) failed [s]."""
        return float(min(self.backoff_max_s, self.backoff_s * 2.0 ** max(0, attempt - 1)))


@dataclass(frozen=True)
class Message:
    """A published message: its topic, id (unique in the topic), partition key (a device's id,
    a zone's name, or empty), JSON payload and publication time [s since the epoch]."""

    topic: str
    message_id: str
    key: str
    payload: dict[str, Any]
    published_s: float


@dataclass(frozen=True)
class Delivery:
    """One delivery of ``message`` to ``consumer`` of ``group``: its attempt number (1 for the
    first) and the backend's receipt (what :meth:`Bus.ack` and :meth:`Bus.fail` name)."""

    message: Message
    group: str
    consumer: str
    attempt: int
    receipt: str


@dataclass(frozen=True)
class DeadLetter:
    """A message a group gave up on: the message, its attempts and its last error."""

    message: Message
    group: str
    attempts: int
    error: str
    dead_s: float


@dataclass(frozen=True)
class GroupStats:
    """One group's view of a topic: messages published, waiting (not yet delivered, or due for
    another attempt), leased (with a consumer now), handled (acknowledged) and dead."""

    topic: str
    group: str
    published: int
    waiting: int
    leased: int
    handled: int
    dead: int


def encode(payload: dict[str, Any]) -> str:
    """A payload as compact JSON; InputError when it is not JSON-serialisable."""
    try:
        return jsonio.dumps(payload, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InputError(f"a bus payload must be JSON (finite numbers): {exc}") from None


def new_id() -> str:
    """A fresh message id."""
    return uuid.uuid4().hex


class Bus(ABC):
    """A durable message bus (see the module docstring)."""

    policy: RetryPolicy

    @abstractmethod
    def publish(
        self, topic: str, payload: dict[str, Any], *, key: str = "", message_id: str | None = None
    ) -> str:
        """Publish ``payload`` on ``topic``; its message id (given or new). Publishing an id the
        topic has already seen changes nothing."""

    def publish_many(
        self, topic: str, items: Sequence[tuple[dict[str, Any], str, str | None]]
    ) -> int:
        """Publish ``(payload, key, message_id)`` items on ``topic`` at once (backends do it in
        one round trip); how many."""
        for payload, key, message_id in items:
            self.publish(topic, payload, key=key, message_id=message_id)
        return len(items)

    @abstractmethod
    def receive(
        self,
        topic: str,
        group: str,
        consumer: str,
        *,
        limit: int = 64,
        visibility_s: float = 30.0,
        wait_s: float = 0.0,
    ) -> list[Delivery]:
        """Up to ``limit`` messages of ``topic`` due for ``group``, leased to ``consumer`` for
        ``visibility_s`` seconds, oldest first; waits up to ``wait_s`` seconds for one when none
        is due. Messages past their last attempt become dead letters here."""

    @abstractmethod
    def ack(self, delivery: Delivery) -> bool:
        """The delivery was handled: the group is done with its message. False (and nothing
        changes) when the delivery's lease ran out and the message is another consumer's now."""

    def ack_many(self, deliveries: Sequence[Delivery]) -> int:
        """Acknowledge many deliveries (backends do it in one round trip); how many counted."""
        return sum(self.ack(d) for d in deliveries)

    @abstractmethod
    def fail(self, delivery: Delivery, error: str) -> bool:
        """Handling the delivery failed with ``error``: the message comes back after the
        policy's backoff, or becomes a dead letter after its last attempt. False as for
        :meth:`ack`."""

    @abstractmethod
    def stats(self) -> list[GroupStats]:
        """Every topic's groups, by topic and group."""

    def waiting(self, group: str) -> int:
        """Messages waiting for ``group`` over every topic it reads, as :meth:`stats` counts
        them (a backend may count them without counting everything else)."""
        return sum(s.waiting for s in self.stats() if s.group == group)

    @abstractmethod
    def dead_letters(
        self, topic: str | None = None, group: str | None = None, limit: int = 100
    ) -> list[DeadLetter]:
        """Dead letters (of a topic, of a group), oldest first."""

    @abstractmethod
    def replay(self, topic: str, group: str, message_ids: list[str] | None = None) -> int:
        """Give ``group``'s dead letters of ``topic`` (those of ``message_ids``, or all) their
        attempts again; how many."""

    @abstractmethod
    def read(self, topic: str, since_s: float) -> Iterator[Message]:
        """The messages of ``topic`` published since ``since_s`` [s since the epoch] and still
        kept, oldest first, read page by page outside any group (nothing changes)."""

    @abstractmethod
    def prune(self, older_than_s: float) -> int:
        """Forget the messages published more than ``older_than_s`` seconds ago that every
        group of their topic is done with (handled; dead letters keep their copy and stay
        replayable); how many. :meth:`stats` goes on counting them as published and handled."""

    def run_pruning(
        self, older_than_s: float, stop: threading.Event, period_s: float = 3600.0
    ) -> None:
        """:meth:`prune` every ``period_s`` seconds, first at once, until ``stop`` is set."""
        while not stop.is_set():
            self.prune(older_than_s)
            stop.wait(period_s)

    @abstractmethod
    def hold(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take the lease ``name`` for ``owner`` for ``ttl_s`` seconds, or renew it when
        ``owner`` holds it; False (and nothing changes) while another owner holds it."""

    @abstractmethod
    def release(self, name: str, owner: str) -> None:
        """Give up the lease ``name`` if ``owner`` holds it."""

    @abstractmethod
    def holders(self, prefix: str) -> dict[str, str]:
        """The leases held now whose names start with ``prefix``: name -> owner."""

    @abstractmethod
    def close(self) -> None:
        """Release the backend's connections."""

    def __enter__(self) -> Bus:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
