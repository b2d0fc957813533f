"""The zone agent in a process of its own (``embercast agent zones``), and the service's side.

The agent keeps the zones in its state file (``zones.sqlite`` of its ``service_home``: on the
service's machine) and writes each zone's view there when it changes (``zone_views``). The
service reads the views and the audit log from that file (:class:`RemoteZones`) and sends
operators' actions and verdicts as requests on ``zone_requests``; the agent answers each on
``zone_replies`` with what it did, after writing the zone's new view (:func:`answer_requests`).
The service waits up to ``timeout_s`` for the answer, then refuses the request
(:class:`ZonesUnavailable`). A request is answered at least once: one the agent took but did
not acknowledge before it died comes back to it when it runs again.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Any, Protocol

from embercast.agents.monitoring import hand_over
from embercast.agents.zones import (
    ACTIONS,
    GROUP,
    SCHEMA,
    ZoneAgent,
    ZoneStoreError,
    ZoneView,
    read_audit,
)
from embercast.alarm.zone import ZoneEvent, ZoneState, event_message
from embercast.bus.base import Bus
from embercast.errors import EmbercastError, InputError
from embercast.store.wal import WalFile

logger = logging.getLogger(__name__)

REQUESTS_TOPIC = "zone_requests"
REPLIES_TOPIC = "zone_replies"
REPLIES_GROUP = "service"


class ZonesUnavailable(EmbercastError):
    """No zone agent answered a request in time."""


class Zones(Protocol):
    """What the service asks of the zones, in its process (:class:`ZoneAgent`) or another
    (:class:`RemoteZones`)."""

    def zones(self) -> list[ZoneView]: ...

    def audit(self, zone: str | None = None, limit: int = 200) -> list[dict[str, Any]]: ...

    def act(
        self, zone: str, action: str, who: str, *, seconds: float | None = None
    ) -> tuple[bool, list[ZoneEvent]]: ...

    def feedback(
        self, zone: str, verdict: str, who: str, cause: str | None = None
    ) -> dict[str, Any]: ...

    def close(self) -> None: ...


def answer(zones: ZoneAgent, request: dict[str, Any]) -> dict[str, Any]:
    """Do one request to ``zones``; the reply (``done`` and ``events`` of an action, the
    ``feedback`` message of a verdict, or the ``error`` that refused it)."""
    reply: dict[str, Any] = {"request_id": request["request_id"], "done": None, "events": [],
                             "feedback": None, "error": None}  # fmt: skip
    zone, who = str(request["zone"]), str(request["who"])
    try:
        if request["op"] == "act":
            done, events = zones.act(zone, str(request["action"]), who,
                                     seconds=request.get("seconds"))  # fmt: skip
            reply |= {"done": done, "events": [event_message(e) for e in events]}
        elif request["op"] == "feedback":
            reply["feedback"] = zones.feedback(zone, str(request["verdict"]), who,
                                               request.get("cause"))  # fmt: skip
        else:
            raise InputError(f"unknown zone request {request['op']!r}")
    except InputError as exc:
        reply["error"] = str(exc)
    zones.record_views()  # the service reads the zone's view once it has the reply
    return reply


def answer_requests(zones: ZoneAgent, bus: Bus, consumer: str = "zones-1") -> int:
    """Answer the requests waiting on ``zone_requests``; how many."""
    taken = bus.receive(REQUESTS_TOPIC, GROUP, consumer, limit=64, visibility_s=60.0)
    if taken:
        replies = [answer(zones, d.message.payload) for d in taken]
        bus.publish_many(REPLIES_TOPIC, [(r, str(r["request_id"]), f"reply:{r['request_id']}")
                                         for r in replies])  # fmt: skip
        bus.ack_many(taken)
    return len(taken)


def run_zone_agent(zones: ZoneAgent, bus: Bus, stop: threading.Event, idle_s: float = 0.1) -> None:
    """The zone agent in a process of its own, until ``stop`` is set: predictions, requests and
    silent devices in; zone events out; the views written for the service. When a round found
    nothing, the next waits on the bus for a prediction (Redis hands it over at once, SQLite
    within its poll) up to ``idle_s`` [s], the longest a request or a silent device waits."""
    taken = 0
    while not stop.is_set():
        taken = (zones.step(bus, wait_s=0.0 if taken else idle_s) + answer_requests(zones, bus)
                 + hand_over(zones, bus))  # fmt: skip
        zones.record_views()


def _event(message: dict[str, Any]) -> ZoneEvent:
    return ZoneEvent(
        float(message["t"]), str(message["zone"]), str(message["kind"]),
        ZoneState(message["previous"]), ZoneState(message["state"]), str(message["who"]),
        dict(message["detail"]),
    )  # fmt: skip


class RemoteZones:
    """The zones of a zone agent in a process of its own: views and audit log read from its
    state file ``path``, actions and verdicts sent on ``bus``; :meth:`run` takes the replies."""

    def __init__(self, path: str, bus: Bus, timeout_s: float = 10.0) -> None:
        self.bus = bus
        self.timeout_s = timeout_s
        self._file = WalFile(path, "the zones' state", ZoneStoreError, schema=SCHEMA)
        self._waiting: dict[str, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def zones(self) -> list[ZoneView]:
        """Every zone the agent has written, by name."""
        with self._file.lock:
            rows = self._file.conn.execute("SELECT view FROM zone_views ORDER BY zone").fetchall()
        return [ZoneView(**json.loads(row[0])) for row in rows]

    def audit(self, zone: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """The audit log (of one zone), newest first."""
        with self._file.lock:
            return read_audit(self._file.conn, zone, limit)

    def act(
        self, zone: str, action: str, who: str, *, seconds: float | None = None
    ) -> tuple[bool, list[ZoneEvent]]:
        """:meth:`ZoneAgent.act`, done by the agent."""
        if action not in ACTIONS:
            raise InputError(f"unknown zone action {action!r}; one of {', '.join(ACTIONS)}")
        reply = self._ask({"op": "act", "zone": zone, "action": action, "who": who,
                           "seconds": seconds})  # fmt: skip
        return bool(reply["done"]), [_event(m) for m in reply["events"]]

    def feedback(
        self, zone: str, verdict: str, who: str, cause: str | None = None
    ) -> dict[str, Any]:
        """:meth:`ZoneAgent.feedback`, done by the agent."""
        reply = self._ask({"op": "feedback", "zone": zone, "verdict": verdict, "who": who,
                           "cause": cause})  # fmt: skip
        return dict(reply["feedback"])

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        request_id = uuid.uuid4().hex
        arrived, box = threading.Event(), list[dict[str, Any]]()
        with self._lock:
            self._waiting[request_id] = (arrived, box)
        try:
            self.bus.publish(REQUESTS_TOPIC, {**request, "request_id": request_id},
                             key=str(request["zone"]),
                             message_id=f"request:{request_id}")  # fmt: skip
            if not arrived.wait(self.timeout_s):
                raise ZonesUnavailable(
                    f"no zone agent answered within {self.timeout_s:g} s (is `embercast agent "
                    "zones` running?)"
                )
        finally:
            with self._lock:
                self._waiting.pop(request_id, None)
        reply: dict[str, Any] = box[0]
        if reply["error"]:
            raise InputError(str(reply["error"]))
        return reply

    def step(self) -> int:
        """Take the replies waiting; how many (those of requests no longer waited for are
        dropped)."""
        taken = self.bus.receive(REPLIES_TOPIC, REPLIES_GROUP, "service", limit=256,
                                 visibility_s=60.0)  # fmt: skip
        for delivery in taken:
            reply = delivery.message.payload
            with self._lock:
                waiting = self._waiting.get(str(reply["request_id"]))
            if waiting is not None:
                waiting[1].append(reply)
                waiting[0].set()
        self.bus.ack_many(taken)
        return len(taken)

    def run(self, stop: threading.Event, idle_s: float = 0.05) -> None:
        """:meth:`step` until ``stop`` is set."""
        while not stop.is_set():
            if not self.step():
                stop.wait(idle_s)

    def close(self) -> None:
        with self._file.lock:
            self._file.conn.close()
