"""Load processes of the live-service benchmark (benchmarks/bench_service.py), each run apart
so that its CPU is its own and it does not compete with the service for one interpreter:

* ``fleet``: MQTT devices, each on its own connection logged in as itself (its device id and
  password: the broker's ACL confines it to its own topics), all driven by one selector through
  paho's external-loop calls (``loop_read``/``loop_write``/``loop_misc``), publishing
  pre-encoded messages (QoS 1) at their real rates: per reading at t, a raw-frame device sends
  its frames at t - 1 s and t, then the reading; an edge device sends its edge row at t, then
  the reading. Only ``ts`` is written into a message when it goes out.
* ``listen``: the service's server-sent events (``/v1/live/events``): when each reading's
  prediction (device and ``t_s``) became visible to a client.
* ``subscribe``: a plain MQTT subscriber to the device topics (the baseline: what the broker
  alone costs for the same messages).

Run as ``python service_load.py MODE CONFIG.json OUT.json``. A process prints ``ready`` once set
up, then ``count N`` (messages or predictions seen) twice a second; ``fleet`` then reads its
start time [Unix s] on stdin. ``listen`` and ``subscribe`` stop on SIGTERM. Each writes its
records and its own CPU time [s] to OUT.json. Only paho-mqtt and httpx are imported, so a
process starts in a fraction of a second.
"""

from __future__ import annotations

import heapq
import json
import pickle
import resource
import selectors
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PREFIX = "embercast/v1/devices/"
PERIOD_S = 5.0
"""Between two readings of a device (the SCD41's period) [s]."""
FRAME_LEAD_S = 1.0
"""The first frame of a pair comes this long before the reading [s]."""
CONNECT_BATCH = 200
"""Devices that connect before their CONNACKs are awaited."""


class Stop(Exception):
    """SIGTERM: finish and write what was seen."""


def cpu_s() -> float:
    """This process's CPU time so far (user and system) [s]."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def say(line: str) -> None:
    print(line, flush=True)  # the parent reads these lines


def progress(count: Callable[[], int], stop: threading.Event) -> None:
    """Print ``count N`` twice a second until ``stop``."""
    while not stop.wait(0.5):
        say(f"count {count()}")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


# --------------------------------------------------------------------------- fleet


class Fleet:
    """The devices of ``config`` on one selector: connect, send on schedule, await PUBACKs."""

    def __init__(self, config: dict[str, Any]) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.config = config
        self.streams: list[dict[str, Any]] = pickle.loads(Path(config["streams"]).read_bytes())
        self.edge = bool(config["edge"])
        self.selector = selectors.DefaultSelector()
        self.writing: dict[Any, bool] = {}
        self.connected = 0
        self.stopping = False
        self.refused: list[str] = []
        self.acked = 0
        self.dropped: list[str] = []
        """Connections lost (device: reason)."""
        self.sent = {"scd41": 0, "thermal": 0}
        self.clients = []
        for device_id, password, _, _ in config["devices"]:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=f"{device_id}-bench", clean_session=True,
                protocol=mqtt.MQTTv311,
            )  # fmt: skip
            client.username_pw_set(device_id, password)
            client.user_data_set(device_id)
            client.on_connect = self._connected
            client.on_publish = self._published
            client.on_disconnect = self._disconnected
            client.on_socket_open = self._opened
            client.on_socket_close = self._closed
            self.clients.append(client)

    # paho's callbacks
    def _connected(self, client: Any, device_id: str, flags: Any, reason: Any, _: Any) -> None:
        if reason.is_failure:
            self.refused.append(f"{device_id}: {reason}")
        else:
            self.connected += 1

    def _disconnected(self, client: Any, device_id: str, flags: Any, reason: Any, _: Any) -> None:
        if not self.stopping:
            self.dropped.append(f"{device_id}: {reason}")

    def _published(self, *_: Any) -> None:
        self.acked += 1

    def _opened(self, client: Any, _: Any, sock: Any) -> None:
        self.selector.register(sock, selectors.EVENT_READ, client)
        self.writing[sock] = False

    def _closed(self, client: Any, _: Any, sock: Any) -> None:
        self.selector.unregister(sock)
        self.writing.pop(sock, None)

    def _want(self, client: Any) -> None:
        """Watch the client's socket for writing while paho has bytes to send."""
        sock = client.socket()
        if sock is None or sock not in self.writing:
            return
        want = client.want_write()
        if want != self.writing[sock]:
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
            self.selector.modify(sock, events, client)
            self.writing[sock] = want

    def pump(self, timeout: float) -> None:
        for key, mask in self.selector.select(timeout):
            client = key.data
            if mask & selectors.EVENT_READ:
                client.loop_read()
            if mask & selectors.EVENT_WRITE:
                client.loop_write()
            self._want(client)

    def misc(self) -> None:
        for client in self.clients:
            client.loop_misc()

    def connect(self, timeout_s: float) -> None:
        host, port = self.config["host"], int(self.config["port"])
        deadline = time.monotonic() + timeout_s
        for first in range(0, len(self.clients), CONNECT_BATCH):
            batch = self.clients[first : first + CONNECT_BATCH]
            for client in batch:
                client.connect(host, port, keepalive=60)
                self._want(client)
            while self.connected + len(self.refused) < first + len(batch):
                if time.monotonic() > deadline:
                    raise SystemExit(f"{self.connected} of {len(self.clients)} devices connected")
                self.pump(0.05)
        if self.refused:
            raise SystemExit(f"the broker refused {len(self.refused)} devices: {self.refused[:3]}")

    def run(self, start: float) -> dict[str, Any]:
        """Send from ``start`` [Unix s] for ``duration_s``; then await the PUBACKs. Device j's
        reading k is at t = start + its phase + 5 k [Unix s] (its ``ts``), sent while t is
        before the end."""
        end = start + float(self.config["duration_s"])
        devices = self.config["devices"]
        bases = [round(start + float(phase_s), 3) for *_, phase_s in devices]
        topics = [(PREFIX + d + "/scd41", PREFIX + d + "/thermal") for d, *_ in devices]
        lead = 0.0 if self.edge else FRAME_LEAD_S
        first_part = 1 if self.edge else 0
        # (due [Unix s], device, step, part): part 0 the frame at t - 1 s, part 1 the rest
        plan = [(b - lead, j, 0, first_part) for j, b in enumerate(bases) if b < end]
        heapq.heapify(plan)
        readings: list[list[Any]] = []
        lags: list[float] = []
        began, next_misc = cpu_s(), time.monotonic() + 1.0
        while plan:
            now = time.time()
            while plan and plan[0][0] <= now:
                due, j, k, part = heapq.heappop(plan)
                lags.append(now - due)
                t = round(bases[j] + PERIOD_S * k, 3)
                self._send(j, k, part, t, topics[j], readings)
                if part == 0:
                    heapq.heappush(plan, (t, j, k, 1))
                elif (later := round(bases[j] + PERIOD_S * (k + 1), 3)) < end:
                    heapq.heappush(plan, (later - lead, j, k + 1, first_part))
            if time.monotonic() >= next_misc:
                self.misc()
                next_misc = time.monotonic() + 1.0
            self.pump(min(0.05, max(0.0, plan[0][0] - time.time())) if plan else 0.0)
        sent_s = time.time()
        published = sum(self.sent.values())
        deadline = time.monotonic() + 60.0
        while self.acked < published and time.monotonic() < deadline:
            self.pump(0.05)
        used, busy_s = cpu_s() - began, time.time() - start
        self.stopping = True
        for client in self.clients:
            client.disconnect()
        self.pump(0.1)
        return {
            "readings": readings,
            "sent": self.sent,
            "published": published,
            "acked": self.acked,
            "dropped": self.dropped,
            "cpu_s": used,
            "sending_s": sent_s - start,
            "busy_s": busy_s,
            "lag_p99_s": percentile(lags, 99),
        }

    def _send(
        self, j: int, k: int, part: int, t: float, topics: tuple[str, str], out: list[list[Any]]
    ) -> None:
        """Step ``k`` of device ``j``, its reading at ``t`` [Unix s]: part 0 the frame at
        t - 1 s; part 1 the frame (or edge row) at t, then the reading."""
        device_id, _, number, _ = self.config["devices"][j]
        stream = self.streams[number]
        p_frame, f_frame, reading, edge = stream["steps"][k % len(stream["steps"])]
        client = self.clients[j]
        if part == 0:
            self._publish(client, topics[1], "thermal", t - FRAME_LEAD_S, stream["frames"][p_frame])
            return
        thermal = edge if self.edge else stream["frames"][f_frame]
        if thermal is not None:
            self._publish(client, topics[1], "thermal", t, thermal)
        out.append([device_id, t, time.time()])
        self._publish(client, topics[0], "scd41", t, reading)

    def _publish(self, client: Any, topic: str, kind: str, ts: float, rest: bytes) -> None:
        payload = b'{"ts": ' + repr(round(ts, 3)).encode() + rest
        client.publish(topic, payload, qos=1)
        self.sent[kind] += 1
        self._want(client)


def fleet(config: dict[str, Any]) -> dict[str, Any]:
    devices = Fleet(config)
    t0 = time.monotonic()
    devices.connect(timeout_s=30.0 + len(devices.clients) / 50)
    connect_s = time.monotonic() - t0
    say("ready")
    stop = threading.Event()
    threading.Thread(target=progress, args=(lambda: devices.acked, stop), daemon=True).start()
    line = sys.stdin.readline()
    if not line.strip():
        raise SystemExit("no start time on stdin")
    try:
        result = devices.run(float(line))
    finally:
        stop.set()
    return result | {"connect_s": connect_s}


# --------------------------------------------------------------------------- watchers


def _stop_on_term() -> None:
    def handler(signum: int, frame: Any) -> None:
        raise Stop

    signal.signal(signal.SIGTERM, handler)


def listen(config: dict[str, Any]) -> dict[str, Any]:
    """Predictions seen on the service's event stream: [device, t_s, received] each, and the
    events the stream skipped (gaps in its ids: the service drops the oldest of a client that
    falls behind)."""
    import httpx

    records: list[list[Any]] = []
    skipped, last, began = 0, -1, cpu_s()
    stop = threading.Event()
    threading.Thread(target=progress, args=(lambda: len(records), stop), daemon=True).start()
    _stop_on_term()
    headers = {"X-API-Key": config["key"], "Accept": "text/event-stream"}
    timeout = httpx.Timeout(10.0, read=None)
    try:
        with httpx.stream("GET", config["url"], headers=headers, timeout=timeout) as answer:
            answer.raise_for_status()
            kind = ""
            for line in answer.iter_lines():
                now = time.time()
                if line.startswith("data: "):
                    if kind == "prediction":
                        data = json.loads(line[6:])
                        records.append([data["device_id"], data["prediction"]["t_s"], now])
                    elif kind == "hello":
                        say("ready")
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("id: "):
                    seq = int(line.rsplit("-", 1)[1])
                    if last >= 0 and seq > last + 1:
                        skipped += seq - last - 1
                    last = seq
    except Stop:
        pass
    finally:
        stop.set()
    return {"records": records, "skipped": skipped, "cpu_s": cpu_s() - began}


def subscribe(config: dict[str, Any]) -> dict[str, Any]:
    """Every device message the broker delivers to a plain subscriber: the readings as
    [device, ts, received], and a count of all."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    records: list[list[Any]] = []
    counted = [0]
    began = cpu_s()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="bench-plain-subscriber", clean_session=True,
        protocol=mqtt.MQTTv311,
    )  # fmt: skip
    client.username_pw_set(config["user"], config["password"])

    def connected(c: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        c.subscribe([(PREFIX + "+/scd41", 1), (PREFIX + "+/thermal", 1)])

    def message(c: Any, userdata: Any, msg: Any) -> None:
        now = time.time()
        counted[0] += 1
        if msg.topic.endswith("/scd41"):
            device_id = msg.topic[len(PREFIX) :].split("/", 1)[0]
            records.append([device_id, json.loads(msg.payload)["ts"], now])

    client.on_connect = connected
    client.on_subscribe = lambda *_: say("ready")
    client.on_message = message
    stop = threading.Event()
    threading.Thread(target=progress, args=(lambda: counted[0], stop), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: client.disconnect())
    client.connect(config["host"], int(config["port"]), keepalive=60)
    try:
        client.loop_forever()
    finally:
        stop.set()
    return {"records": records, "received": counted[0], "cpu_s": cpu_s() - began}


MODES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "fleet": fleet,
    "listen": listen,
    "subscribe": subscribe,
}


def main() -> None:
    mode, config, out = sys.argv[1:4]
    result = MODES[mode](json.loads(Path(config).read_text()))
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
