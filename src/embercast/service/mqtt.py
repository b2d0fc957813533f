"""MQTT ingest: the service's client of the broker (DESIGN 4.6-4.7).

The service subscribes with QoS 1 to ``embercast/v1/devices/+/scd41`` and ``.../thermal`` in a
persistent session (clean session off, a fixed client id), so the broker keeps what arrives
while the service is down. paho-mqtt acknowledges a QoS 1 message on receipt unless told
otherwise; here ``manual_ack`` is on and the PUBACK is sent only when
:meth:`~embercast.service.ingest.Ingest.submit` has stored the message (or dead-lettered it, or
found it a duplicate). A message the service received but had not stored when it died is sent
again by the broker. The service announces itself on ``embercast/v1/service/status``
(``online``, retained; ``offline`` as its last will and at a clean stop).

Given the device store, it also takes devices' ``.../state`` and ``.../commands/ack``
(:mod:`embercast.service.device_topics`: applied to the store, then acknowledged, whatever
became of them) and sends their commands (:mod:`embercast.service.command_relay`).
"""

from __future__ import annotations

import logging
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import CollectorRegistry

from embercast.errors import InputError
from embercast.service.command_relay import CommandRelay
from embercast.service.device_topics import SUBSCRIPTIONS as DEVICE_SUBSCRIPTIONS
from embercast.service.device_topics import DeviceTopics, device_topic
from embercast.service.devices import DeviceStore
from embercast.service.ingest import Ingest
from embercast.service.messages import TOPIC_PREFIX, Rejected, parse_topic

logger = logging.getLogger(__name__)

STATUS_TOPIC = "embercast/v1/service/status"
SUBSCRIPTIONS = (f"{TOPIC_PREFIX}+/scd41", f"{TOPIC_PREFIX}+/thermal")


@dataclass(frozen=True)
class BrokerAddress:
    """Where a broker is and how to log in: host, port, TLS, user and password."""

    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """``mqtt://user:password@host:port`` (1883) or ``mqtts://...`` (8883); InputError
        naming the URL otherwise.

        >>> BrokerAddress.parse("mqtt://svc:pw@127.0.0.1:1884")
        BrokerAddress(host='127.0.0.1', port=1884, tls=False, username='svc', password='pw')
        """
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise InputError(f"MQTT URL {url!r} is not mqtt://[user:password@]host[:port]")
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise InputError(f"MQTT URL {url!r} has an invalid port") from None
        user = urllib.parse.unquote(parts.username) if parts.username else None
        password = urllib.parse.unquote(parts.password) if parts.password else None
        return cls(parts.hostname, port, tls, user, password)


def make_client(
    address: BrokerAddress, client_id: str, *, persistent: bool, tls_ca: str | None = None,
    manual_ack: bool = False,
) -> mqtt.Client:  # fmt: skip
    """A paho client (MQTT 3.1.1) for ``address``: a persistent session when ``persistent``."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not persistent,
        protocol=mqtt.MQTTv311, manual_ack=manual_ack,
    )  # fmt: skip
    if address.username is not None:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set(ca_certs=tls_ca, cert_reqs=ssl.CERT_REQUIRED)
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    return client


class MqttIngest:
    """The service's subscription: messages to ``ingest``, acknowledged once stored; with
    ``devices``, also the devices' twins and commands (outcomes counted on ``registry``)."""

    def __init__(
        self,
        ingest: Ingest,
        url: str,
        client_id: str = "embercast-service",
        *,
        tls_ca: str | None = None,
        keepalive_s: int = 30,
        on_change: Callable[[bool], None] | None = None,
        devices: DeviceStore | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.ingest = ingest
        self.address = BrokerAddress.parse(url)
        self.keepalive_s = keepalive_s
        self.connected = threading.Event()
        self._on_change = on_change
        self.client = make_client(
            self.address, client_id, persistent=True, tls_ca=tls_ca, manual_ack=True
        )
        self.client.will_set(STATUS_TOPIC, "offline", qos=1, retain=True)
        self.client.on_connect = self._connected
        self.client.on_disconnect = self._disconnected
        self.client.on_message = self._message
        self.subscriptions: tuple[str, ...] = SUBSCRIPTIONS
        self.device_topics: DeviceTopics | None = None
        self.commands: CommandRelay | None = None
        """Sends commands; :meth:`CommandRelay.offer` one when it is created."""
        if devices is not None:
            self.subscriptions += DEVICE_SUBSCRIPTIONS
            self.device_topics = DeviceTopics(devices, registry)
            self.commands = CommandRelay(devices, self.client, self.connected)
            self.client.on_publish = self._published

    def start(self) -> None:
        """Connect (retrying in the background when the broker is not up yet)."""
        if self.commands is not None:
            self.commands.start()
        self.client.connect_async(self.address.host, self.address.port, self.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        """Say ``offline`` and disconnect (unacknowledged messages stay with the broker)."""
        if self.commands is not None:
            self.commands.stop()
        if self.connected.is_set():
            info = self.client.publish(STATUS_TOPIC, "offline", qos=1, retain=True)
            info.wait_for_publish(timeout=5)
        self.client.disconnect()
        self.client.loop_stop()

    def publish_confirmed(self, topic: str, payload: str, retain: bool) -> bool:
        """Publish with QoS 1; whether the broker acknowledged it within 10 s (False at once
        while disconnected)."""
        if not self.connected.is_set():
            return False
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        try:
            info.wait_for_publish(timeout=10)
        except (RuntimeError, ValueError):  # the connection dropped or the queue is full
            return False
        return info.is_published()

    def _connected(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            logger.error("the broker refused the service: %s", reason)
            return
        client.subscribe([(topic, 1) for topic in self.subscriptions])
        client.publish(STATUS_TOPIC, "online", qos=1, retain=True)
        self.connected.set()
        if self.commands is not None:
            self.commands.resume()
        logger.info("connected to the broker at %s:%d", self.address.host, self.address.port)
        if self._on_change is not None:
            self._on_change(True)

    def _disconnected(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self.connected.clear()
        logger.warning("disconnected from the broker: %s", reason)
        if self._on_change is not None:
            self._on_change(False)

    def _published(self, *_: Any) -> None:
        if self.commands is not None:  # a PUBACK: a command may have reached the broker
            self.commands.wake()

    def _message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        found = device_topic(msg.topic) if self.device_topics is not None else None
        if found is not None and self.device_topics is not None:
            try:
                self.device_topics.handle(*found, bytes(msg.payload), retained=bool(msg.retain))
            except Exception:  # not handled (e.g. the state file): no PUBACK, sent again
                logger.exception("message on %s not handled", msg.topic)
                return
            client.ack(msg.mid, msg.qos)
            return
        try:
            device_id, kind = parse_topic(msg.topic)
        except Rejected as exc:
            self.ingest.dead_letter("mqtt", "?", "?", exc.reason, str(exc), bytes(msg.payload))
            client.ack(msg.mid, msg.qos)
            return
        result = self.ingest.submit("mqtt", device_id, kind, bytes(msg.payload))

        def stored(future: Future[None]) -> None:
            if future.exception() is None:  # stored, duplicate or dead-lettered: done with it
                client.ack(msg.mid, msg.qos)
            else:  # not stored: no PUBACK, so the broker sends it again
                logger.error("message on %s not stored: %s", msg.topic, future.exception())

        result.stored.add_done_callback(stored)
