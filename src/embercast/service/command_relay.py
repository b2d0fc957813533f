"""Commands to devices over MQTT (DESIGN 4.6): each published with QoS 1 on
``embercast/v1/devices/{device_id}/commands`` and marked ``delivered`` once the broker has
acknowledged it (PUBACK): the broker then holds it for the device's persistent session.

A command is published when it is created if the service is connected; otherwise it stays
pending, and at each connection (start, broker restart) every pending command not already on
its way is published. Pending means not expired: a command past its deadline is never sent.
paho resends what was in flight when a connection dropped, so nothing is lost while the
process lives; a command published but not yet acknowledged when the service stopped is still
pending and is sent again at the next start, so a device may see a command twice (QoS 1 is at
least once) and should act once per ``command_id``.

The PUBACKs are noticed by one thread of the relay's own (:meth:`start`), which records the
deliveries; paho's callbacks only wake it, so no lock is held across a call into paho.
"""

from __future__ import annotations

import logging
import threading
import time

import paho.mqtt.client as mqtt

from embercast.service.commands import Command
from embercast.service.device_records import Conflict, NotFound
from embercast.service.device_topics import command_message, commands_topic
from embercast.service.devices import DeviceStore

logger = logging.getLogger(__name__)


class CommandRelay:
    """Publishes ``devices``' commands through ``client`` while ``connected`` is set; looks
    for PUBACKs every ``poll_s`` [s] while some are awaited (and whenever :meth:`wake` is
    called)."""

    def __init__(
        self,
        devices: DeviceStore,
        client: mqtt.Client,
        connected: threading.Event,
        poll_s: float = 0.05,
    ) -> None:
        self.devices = devices
        self.client = client
        self.connected = connected
        self.poll_s = poll_s
        self._lock = threading.Lock()
        self._awaited: dict[str, tuple[mqtt.MQTTMessageInfo | None, float]] = {}
        """command id -> (its publication, None while being published; its deadline [Unix s])"""
        self._resume = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start noticing deliveries (and publishing pending commands once connected)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="command-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread; commands not yet acknowledged by the broker stay pending."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def wake(self) -> None:
        """Look for acknowledged publications now (paho's ``on_publish``)."""
        self._wake.set()

    def resume(self) -> None:
        """Publish every pending command not on its way (at each connection), on the thread."""
        with self._lock:
            self._resume = True
        self._wake.set()

    def offer(self, command: Command) -> bool:
        """Publish a new command if connected; whether it went out (else it waits, pending,
        for the next connection)."""
        return self.connected.is_set() and self._publish(command)

    def awaited(self) -> set[str]:
        """The ids of the commands published and not yet acknowledged by the broker."""
        with self._lock:
            return set(self._awaited)

    def _publish(self, command: Command) -> bool:
        with self._lock:
            if command.command_id in self._awaited:
                return True
            self._awaited[command.command_id] = (None, command.deadline_s)
        topic = commands_topic(command.device_id)
        info: mqtt.MQTTMessageInfo | None = None
        try:
            info = self.client.publish(topic, command_message(command), qos=1)
            why = mqtt.error_string(info.rc)
        except (ValueError, RuntimeError) as exc:
            why = str(exc)
        with self._lock:
            if info is None or info.rc != mqtt.MQTT_ERR_SUCCESS:
                self._awaited.pop(command.command_id, None)
                logger.warning("command %s not published (%s): pending", command.command_id, why)
                return False
            self._awaited[command.command_id] = (info, command.deadline_s)
        self._wake.set()
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_s if self._awaited else 1.0)
            self._wake.clear()
            try:
                with self._lock:
                    resume, self._resume = self._resume and self.connected.is_set(), False
                if resume:
                    self._republish()
                self._settle()
            except Exception:  # the relay must outlive a failing state file
                logger.exception("the command relay failed a round; trying again")

    def _republish(self) -> None:
        sent = 0
        for device in self.devices.list():
            for command in self.devices.pending(device.device_id):
                sent += self._publish(command)
        if sent:
            logger.info("published %d pending command(s)", sent)

    def _settle(self) -> None:
        now = time.time()
        with self._lock:
            awaited = [(cid, info, deadline) for cid, (info, deadline) in self._awaited.items()]
        for command_id, info, deadline in awaited:
            if info is not None and info.is_published():
                try:
                    self.devices.mark_delivered(command_id, now=time.time())
                except (Conflict, NotFound) as exc:  # answered, expired or revoked meanwhile
                    logger.info("command %s reached the broker but stays as it is: %s",
                                command_id, exc)  # fmt: skip
            elif deadline >= now:
                continue
            with self._lock:
                self._awaited.pop(command_id, None)
