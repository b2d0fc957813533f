"""Zones on MQTT (DESIGN 4.7): each zone's state (retained), its alarm events with stable ids,
and Home Assistant's discovery, so zones appear there without setup.

The publisher reads the zone events on the bus (``alarms``, its own group) and, through the
service's broker connection, publishes for each zone:

- ``embercast/v1/zones/{zone}/state`` (retained): the state, whether it sounds, is latched,
  acknowledged, the devices in alarm, the time;
- ``embercast/v1/zones/{zone}/events``: an alarm's ``new`` (raised), ``update`` (escalated,
  acknowledged, silenced, sounding again, reminder) and ``end`` (reset), each with the alarm's
  id (the id of the event that raised it, carried by every zone event as ``alarm_id``), the
  devices and the thermal snapshot of the first device (``/v1/live/{device}/thermal.png``,
  read scope);
- ``homeassistant/binary_sensor/embercast_{zone}/config`` (retained, once per zone): a smoke
  sensor on the state topic, available while the service is (``embercast/v1/service/status``).

A bus message is acknowledged only once the broker took what it caused (QoS 1); while the
broker is away the messages wait on the bus.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from embercast.agents.zone_requests import Zones
from embercast.bus.base import Bus
from embercast.service.mqtt import STATUS_TOPIC

logger = logging.getLogger(__name__)

GROUP = "mqtt"
"""The publisher's consumer group on the ``alarms`` topic."""
UPDATES = ("escalated", "acknowledged", "silenced", "resounded", "reminder", "pas_expired")
"""Zone event kinds published as an alarm's ``update``."""


def state_topic(zone: str) -> str:
    return f"embercast/v1/zones/{zone}/state"


def events_topic(zone: str) -> str:
    return f"embercast/v1/zones/{zone}/events"


def discovery_topic(zone: str) -> str:
    return f"homeassistant/binary_sensor/embercast_{_slug(zone)}/config"


def _slug(zone: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", zone)


def discovery(zone: str) -> dict[str, Any]:
    """Home Assistant's MQTT discovery document of a zone: a smoke sensor, on while the zone is
    in alarm, with the zone's state as attributes."""
    return {
        "name": f"Fire {zone}",
        "unique_id": f"embercast_{_slug(zone)}_fire",
        "object_id": f"embercast_{_slug(zone)}_fire",
        "device_class": "smoke",
        "state_topic": state_topic(zone),
        "value_template": "{{ 'ON' if value_json.state == 'alarm' else 'OFF' }}",
        "json_attributes_topic": state_topic(zone),
        "availability_topic": STATUS_TOPIC,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": {
            "identifiers": [f"embercast_{_slug(zone)}"],
            "name": f"embercast {zone}",
            "manufacturer": "embercast",
            "model": "zone",
        },  # fmt: skip
    }


Publish = Callable[[str, str, bool], bool]
"""(topic, payload, retain) -> whether the broker took it (QoS 1)."""


class ZonePublisher:
    """Publishes the zones of ``zones`` through ``publish``."""

    def __init__(self, zones: Zones, publish: Publish) -> None:
        self.zones = zones
        self.publish = publish
        self._announced: set[str] = set()

    def handle(self, event: dict[str, Any]) -> bool:
        """Publish what a zone event changes; whether the broker took all of it."""
        zone, kind = str(event["zone"]), str(event["kind"])
        ok = True
        if zone not in self._announced:
            ok = self.publish(discovery_topic(zone), json.dumps(discovery(zone)), True)
            if ok:
                self._announced.add(zone)
        view = next((v for v in self.zones.zones() if v.zone == zone), None)
        if view is not None:
            state = {**asdict(view), "t": event["t"]}
            ok = self.publish(state_topic(zone), json.dumps(state), True) and ok
        kinds = {"alarm": "new", "reset": "end", **dict.fromkeys(UPDATES, "update")}
        if kind in kinds:
            alarm_id = event.get("alarm_id")
            devices = list(view.alarm_devices) if view is not None else []
            devices = devices or list(event.get("detail", {}).get("devices", []))
            message = {
                "id": alarm_id, "type": kinds[kind], "kind": kind, "zone": zone,
                "t": event["t"], "who": event.get("who"), "devices": devices,
                "snapshot": f"/v1/live/{devices[0]}/thermal.png" if devices else None,
            }  # fmt: skip
            ok = self.publish(events_topic(zone), json.dumps(message), False) and ok
        return ok

    def step(self, bus: Bus, consumer: str = "mqtt-1") -> int:
        """Publish the zone events waiting on the bus; each acknowledged once the broker took
        what it caused (failed otherwise, so it comes back)."""
        taken = bus.receive("alarms", GROUP, consumer, limit=256, visibility_s=60.0)
        for delivery in taken:
            try:
                published = self.handle(delivery.message.payload)
            except Exception as exc:
                logger.exception("zone event %s not published", delivery.message.message_id)
                bus.fail(delivery, f"{type(exc).__name__}: {exc}")
                continue
            if published:
                bus.ack(delivery)
            else:
                bus.fail(delivery, "the broker did not take it")
        return len(taken)

    def run(self, bus: Bus, stop: threading.Event, idle_s: float = 0.1) -> None:
        """:meth:`step` until ``stop`` is set."""
        while not stop.is_set():
            if not self.step(bus):
                stop.wait(idle_s)
