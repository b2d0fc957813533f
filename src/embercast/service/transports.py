"""How simulated devices reach the service: one small interface, :class:`Transport`
(``send(device_id, kind, payload) -> bool``), over HTTP and over MQTT.

:class:`HttpTransport` posts each payload to ``{url}/v1/ingest/{device_id}/{kind}`` with an API
key (``X-API-Key``). A connection error or a busy service (503; also 429, 502 and 504) is tried
again with a growing pause; a rejected message (422) never is: it is counted with the reason
the service gave. A key the service refuses (401, 403) or a URL that is not the service (404)
stops the run with :class:`ServiceRefused`. Every outcome goes to the transport's
:class:`Tally`, so a message sent is counted exactly once: acknowledged (202, of which
``duplicates`` were already stored), rejected, or failed (never answered).

:class:`MqttTransport` publishes to the broker the service subscribes to, each device logged in
as itself (the broker's access list confines it to its own topics). Like a real device it
keeps a persistent session, reports its state (retained) before its first message, and
answers every command it receives on its ``commands`` topic.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx

from embercast import __version__
from embercast.errors import EmbercastError
from embercast.sensors.datasheets import SCD41Spec

logger = logging.getLogger(__name__)

SIM_REPORTED: dict[str, Any] = {
    "firmware": f"embercast-sim {__version__}",
    "interval_s": SCD41Spec().period_s,
    "simulated": True,
}
"""What a simulated device reports as its state over MQTT (``interval_s``: between readings [s])."""
RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""Answers that mean "busy, try again"; 422 (rejected) is never tried again."""
Outcome = Literal["acknowledged", "duplicate", "rejected", "failed"]


class ServiceRefused(EmbercastError):
    """The service refuses the simulator itself (key, scope, URL) or cannot be reached: sending
    more would not help."""


@dataclass
class Counts:
    """What became of one device's messages: ``sent`` = ``acknowledged`` + rejected + ``failed``;
    ``duplicates`` are acknowledged messages the service had already stored."""

    sent: int = 0
    acknowledged: int = 0
    duplicates: int = 0
    failed: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


class Tally:
    """Outcomes of sent messages per device; safe to share between the devices' threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, Counts] = {}

    def record(self, device_id: str, outcome: Outcome, reason: str | None = None) -> None:
        """Count one message of ``device_id`` (``reason``: why it was rejected)."""
        with self._lock:
            c = self._counts.setdefault(device_id, Counts())
            c.sent += 1
            if outcome in ("acknowledged", "duplicate"):
                c.acknowledged += 1
                c.duplicates += outcome == "duplicate"
            elif outcome == "rejected":
                c.rejected[reason or "unknown"] += 1
            else:
                c.failed += 1

    def counts(self, device_id: str) -> Counts:
        """A copy of the counts of ``device_id`` (zeros before its first message)."""
        with self._lock:
            c = self._counts.get(device_id, Counts())
            return Counts(c.sent, c.acknowledged, c.duplicates, c.failed, Counter(c.rejected))


class Transport(Protocol):
    """Sends device messages (DESIGN 4.6 payloads) to the service; counts them in ``tally``."""

    tally: Tally

    def send(self, device_id: str, kind: str, payload: bytes) -> bool:
        """Send one ``scd41`` or ``thermal`` payload; whether the service acknowledged it."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class HttpTransport:
    """The service's HTTP ingest at ``url`` with API key ``key``; ``client`` to use another
    (e.g. a test client), ``retries`` further tries after the first, pausing ``backoff_s`` [s]
    doubled at each (at most 2 s, or the service's ``Retry-After``)."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        client: httpx.Client | None = None,
        retries: int = 5,
        backoff_s: float = 0.1,
        timeout_s: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.tally = Tally()
        self.retries = retries
        self.backoff_s = backoff_s
        self._headers = {"X-API-Key": key, "Content-Type": "application/json"}
        self._own = client is None
        self._client = client or httpx.Client(
            timeout=timeout_s, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)
        )

    def close(self) -> None:
        if self._own:
            self._client.close()

    def _post(self, path: str, body: bytes) -> httpx.Response | str:
        """The answer to POST ``path``, tried again while busy; else why there is none."""
        why, pause = "no answer", self.backoff_s
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(pause)
                pause = min(2.0, pause * 2)
            try:
                answer = self._client.post(self.url + path, content=body, headers=self._headers)
            except httpx.TransportError as exc:
                why = f"{type(exc).__name__}: {exc}"
                logger.debug("POST %s: %s (try %d)", path, why, attempt + 1)
                continue
            if answer.status_code not in RETRY_STATUSES:
                return answer
            why = f"HTTP {answer.status_code}"
            after = answer.headers.get("Retry-After", "")
            if after.isdigit():
                pause = min(float(after), 10.0)
        return why

    def _refused(self, answer: httpx.Response) -> ServiceRefused:
        try:
            detail = answer.json().get("detail", answer.text)
        except ValueError:
            detail = answer.text
        return ServiceRefused(f"{self.url} answered {answer.status_code}: {detail}")

    def send(self, device_id: str, kind: str, payload: bytes) -> bool:
        answer = self._post(f"/v1/ingest/{device_id}/{kind}", payload)
        if isinstance(answer, str):
            logger.warning("%s %s message not delivered: %s", device_id, kind, answer)
            self.tally.record(device_id, "failed")
            return False
        if answer.status_code == 202:
            duplicate = answer.json().get("duplicates", 0) > 0
            self.tally.record(device_id, "duplicate" if duplicate else "acknowledged")
            return True
        if answer.status_code == 422:
            detail = answer.json().get("detail")
            reason = detail.get("reason") if isinstance(detail, dict) else None
            self.tally.record(device_id, "rejected", reason or "http_422")
            return False
        if answer.status_code in (401, 403, 404):
            raise self._refused(answer)
        logger.warning("%s %s message: HTTP %d", device_id, kind, answer.status_code)
        self.tally.record(device_id, "failed")
        return False

    def register(self, device_id: str, zone: str, name: str) -> str:
        """Register a device (admin scope): ``registered``, ``exists`` (409: registered before)
        or ``assumed`` (403: the key may not register; the device is taken to exist)."""
        body = json.dumps({"device_id": device_id, "zone": zone, "name": name}).encode()
        answer = self._post("/v1/devices", body)
        if isinstance(answer, str):
            raise ServiceRefused(f"{self.url} cannot be reached: {answer}")
        if answer.status_code == 201:
            return "registered"
        if answer.status_code == 409:
            return "exists"
        if answer.status_code == 403:
            return "assumed"
        raise self._refused(answer)


class MqttTransport:
    """The broker at ``url`` (``mqtt://host:port``, ``mqtts://`` for TLS; see
    :class:`embercast.service.mqtt.BrokerAddress`), each device on a connection of its own,
    logged in as itself: user name its device id, password ``passwords[device_id]`` (or the
    URL's user and password for every device, on a broker without per-device accounts). A
    message is published with QoS 1 to ``embercast/v1/devices/{device_id}/{kind}`` and
    acknowledged when the broker has it (PUBACK) within ``timeout_s`` [s]; what the service
    then makes of it (stored, duplicate, dead letter) is not seen over MQTT, so ``duplicates``
    and rejections stay 0 here (``/v1/ingest/dead-letters`` lists the service's). A broker
    that cannot be reached or refuses a device raises :class:`ServiceRefused`.

    Each device's session is persistent (client id ``{device_id}-sim``) and subscribed to its
    ``commands``: it answers each command before its deadline with ``ok`` true (counted in
    ``answered``). Before its first message it publishes ``reported`` (default
    :data:`SIM_REPORTED`) on its ``state`` topic, retained, as its twin's reported state."""

    def __init__(
        self,
        url: str,
        passwords: dict[str, str] | None = None,
        *,
        tls_ca: str | None = None,
        timeout_s: float = 30.0,
        reported: Mapping[str, Any] | None = None,
    ) -> None:
        from embercast.service.mqtt import BrokerAddress

        self.address = BrokerAddress.parse(url)
        self.passwords = dict(passwords or {})
        self.tally = Tally()
        self.tls_ca = tls_ca
        self.timeout_s = timeout_s
        self.reported = dict(SIM_REPORTED if reported is None else reported)
        self.answered: Counter[str] = Counter()
        """Commands answered, by device."""
        self._clients: dict[str, Any] = {}
        self._announced: set[str] = set()
        self._lock = threading.Lock()

    def connect(self, device_id: str) -> Any:
        """The connected client of ``device_id`` (made on first use); ServiceRefused when the
        broker cannot be reached or refuses the device."""
        import dataclasses

        from embercast.service.device_topics import commands_topic
        from embercast.service.mqtt import make_client

        with self._lock:
            client = self._clients.get(device_id)
        if client is not None:
            return client
        address = self.address
        if device_id in self.passwords or address.username is None:
            address = dataclasses.replace(
                address, username=device_id, password=self.passwords.get(device_id)
            )
        client = make_client(address, f"{device_id}-sim", persistent=True, tls_ca=self.tls_ca)
        answered, subscribed = threading.Event(), threading.Event()
        refusal: list[str] = []

        def connected(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
            if reason.is_failure:
                refusal.append(str(reason))
            else:  # at every connection: the session may be new
                c.subscribe(commands_topic(device_id), qos=1)
            answered.set()

        client.on_connect = connected
        client.on_subscribe = lambda *_: subscribed.set()
        client.on_message = lambda c, userdata, msg: self._answer(c, device_id, bytes(msg.payload))
        where = f"{address.host}:{address.port}"
        try:
            client.connect(address.host, address.port, keepalive=30)
        except OSError as exc:
            raise ServiceRefused(f"the broker at {where} cannot be reached: {exc}") from None
        client.loop_start()
        if not answered.wait(self.timeout_s) or refusal:
            client.loop_stop()
            why = refusal[0] if refusal else "no answer"
            raise ServiceRefused(f"the broker at {where} refused {device_id}: {why}")
        if not subscribed.wait(self.timeout_s):
            logger.warning("%s: no answer to its subscription to its commands", device_id)
        with self._lock:
            self._clients[device_id] = client
        return client

    def _answer(self, client: Any, device_id: str, payload: bytes) -> None:
        """Answer one command (on paho's thread: publish without waiting)."""
        from embercast.service.device_topics import ACK
        from embercast.service.messages import TOPIC_PREFIX

        try:
            command = json.loads(payload)
            command_id, deadline = str(command["command_id"]), float(command["deadline_s"])
        except (ValueError, TypeError, KeyError) as exc:
            logger.warning("%s: a command it cannot read (%s): %r", device_id, exc, payload[:200])
            return
        if deadline < time.time():
            logger.info("%s: command %s is past its deadline; not answered", device_id, command_id)
            return
        answer = {"command_id": command_id, "ok": True,
                  "result": {"simulated": True, "name": command.get("name")}}  # fmt: skip
        client.publish(f"{TOPIC_PREFIX}{device_id}/{ACK}", json.dumps(answer), qos=1)
        with self._lock:
            self.answered[device_id] += 1

    def _announce(self, client: Any, device_id: str) -> None:
        """Publish the device's reported state (retained), once."""
        from embercast.service.device_topics import STATE
        from embercast.service.messages import TOPIC_PREFIX

        with self._lock:
            if device_id in self._announced:
                return
            self._announced.add(device_id)
        body = json.dumps(self.reported).encode()
        try:
            info = client.publish(f"{TOPIC_PREFIX}{device_id}/{STATE}", body, qos=1, retain=True)
            info.wait_for_publish(self.timeout_s)
        except (RuntimeError, ValueError) as exc:
            logger.warning("%s: state not published: %s", device_id, exc)

    def send(self, device_id: str, kind: str, payload: bytes) -> bool:
        from embercast.service.messages import TOPIC_PREFIX

        client = self.connect(device_id)
        self._announce(client, device_id)
        try:
            info = client.publish(f"{TOPIC_PREFIX}{device_id}/{kind}", payload, qos=1)
            info.wait_for_publish(self.timeout_s)
            done = bool(info.is_published())
        except (RuntimeError, ValueError) as exc:
            logger.warning("%s %s message not published: %s", device_id, kind, exc)
            done = False
        self.tally.record(device_id, "acknowledged" if done else "failed")
        return done

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.disconnect()
            client.loop_stop()
